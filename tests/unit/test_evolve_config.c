/* evolve_config_preset: the presets' settings (core/evolve.c's table), the
 * names that choose them and the one that does not. */
#include <string.h>

#include "core/evolve.h"
#include "tests/harness.h"

static void check_preset(const char *name, const char *want, int population, double p_crossover,
                         double p_mutation, double p_eot, int elitism, double time_limit)
{
    evolve_config c;
    CHECK(evolve_config_preset(&c, name) == 0, "preset %s is known", name ? name : "(none)");
    CHECK(c.preset && !strcmp(c.preset, want), "%s: preset '%s'", want, c.preset);
    CHECK(c.population == population && c.offspring == population, "%s: population %d/%d", want,
          c.population, c.offspring);
    CHECK(c.p_crossover == p_crossover && c.p_mutation == p_mutation && c.p_eot == p_eot,
          "%s: operators %g %g %g", want, c.p_crossover, c.p_mutation, c.p_eot);
    CHECK(c.elitism == elitism && c.train_time_limit == time_limit, "%s: elitism %d, limit %g",
          want, c.elitism, c.train_time_limit);
    /* screening is the rungs' (core/rungs.c), not the preset's */
    CHECK(c.train_subset == -1 && c.train_epochs == -1, "%s: screening from the rungs", want);
}

static void test_presets(void)
{
    check_preset(NULL, "quick", 4, 0.25, 1.0, 0.2, 1, 900);
    check_preset("default", "quick", 4, 0.25, 1.0, 0.2, 1, 900);
    check_preset("quick", "quick", 4, 0.25, 1.0, 0.2, 1, 900);
    check_preset("paper", "paper", 44, 0.35, 0.8, 0.25, 2, 3600 * 4);
    evolve_config c;
    CHECK(evolve_config_preset(&c, "papers") == -1, "an unknown preset is refused");
}

int main(void)
{
    RUN(test_presets);
    return harness_done();
}

/* The workbench's key table: one table gives the bindings, the names and
 * the help screen, so these checks keep them from drifting apart. */
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tui/wb.h"

static const int all_requests[] = {
#define ONE(id, name, help) WB_REQ_##id,
    WB_REQ_INFO(WB_GROUP_NONE, ONE)};
#define N_REQ (sizeof all_requests / sizeof *all_requests)

static void test_codes_above_curses_keys(void)
{
    for (size_t i = 0; i < N_REQ; i++)
        CHECK(all_requests[i] > KEY_MAX, "request %zu collides with a curses key", i);
}

static void test_every_request_has_a_key_and_help(void)
{
    size_t n;
    char **help = wb_help_lines(&n);
    CHECK(help && n > N_REQ, "help has %zu lines", n);
    for (size_t i = 0; i < N_REQ; i++) {
        int bound = 0;
        for (int k = 0; k < KEY_MAX && !bound; k++)
            bound = wb_key_request(k) == all_requests[i];
        const char *name = wb_request_name(all_requests[i]);
        CHECK(bound, "request %s has no key", name);
        char tag[64];
        snprintf(tag, sizeof tag, "[%s]", name);
        int found = 0;
        for (size_t l = 0; l < n; l++)
            found += strstr(help[l], tag) != NULL;
        CHECK_EQ_INT(found, 1);
    }
    for (size_t l = 0; l < n; l++)
        free(help[l]);
    free(help);
}

static void test_key_names_round_trip(void)
{
    const char *toks[] = {"<Down>", "<Up>", "<Enter>", "<Esc>", "<Tab>",
                          "<PgDn>", "<lt>", "a",       "?"};
    for (size_t i = 0; i < sizeof toks / sizeof *toks; i++) {
        int k = wb_key_parse(toks[i], strlen(toks[i]));
        CHECK(k >= 0, "%s does not parse", toks[i]);
    }
    CHECK_EQ_INT(wb_key_parse("<C-l>", 5), 12);
    CHECK_EQ_INT(wb_key_parse("<lt>", 4), '<');
    CHECK_EQ_INT(wb_key_parse("<Nope>", 6), -1);
    CHECK_EQ_INT(wb_key_parse("ab", 2), -1);
    char buf[16];
    CHECK(!strcmp(wb_key_name(KEY_DOWN, buf, sizeof buf), "<Down>"), "%s", buf);
    CHECK(!strcmp(wb_key_name(12, buf, sizeof buf), "^L"), "%s", buf);
    CHECK(!strcmp(wb_key_name('q', buf, sizeof buf), "q"), "%s", buf);
    CHECK_EQ_INT(wb_key_request('q'), WB_REQ_QUIT);
    CHECK_EQ_INT(wb_key_request('a'), WB_REQ_APPROVE);
    CHECK_EQ_INT(wb_key_request('Z'), WB_REQ_NONE);
}

int main(void)
{
    RUN(test_codes_above_curses_keys);
    RUN(test_every_request_has_a_key_and_help);
    RUN(test_key_names_round_trip);
    return harness_done();
}

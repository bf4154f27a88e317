/* Prompt templates: rendering, placeholder errors, the shipped prompts/
 * folder, persona weights, notes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/llm.h"
#include "core/prompt.h"
#include "engine/net.h"
#include "tests/harness.h"

static void test_render(void)
{
    gerr err = GERR_INIT;
    prompt_var v[] = {{"a", "one"}, {"b", "two"}, {"empty", ""}};
    char *s = prompt_render("x {{a}} y {{ b }}{{a}}\n", "t.txt", v, 3, &err);
    CHECK(s && !strcmp(s, "x one y twoone\n"), "got '%s' (%s)", s ? s : "", err.msg);
    free(s);
    /* a line holding only an empty placeholder vanishes; one with text stays */
    s = prompt_render("top\n  {{empty}}\nmid {{empty}}.\nend", "t.txt", v, 3, &err);
    CHECK(s && !strcmp(s, "top\nmid .\nend"), "got '%s'", s ? s : "");
    free(s);
    /* values are not rendered again: braces inside a value stay */
    prompt_var w[] = {{"a", "{{b}}"}};
    s = prompt_render("{{a}}", "t.txt", w, 1, &err);
    CHECK(s && !strcmp(s, "{{b}}"), "got '%s'", s ? s : "");
    free(s);
    /* CRLF templates keep their line ends */
    s = prompt_render("a={{a}}\r\nb\r\n", "t.txt", v, 3, &err);
    CHECK(s && !strcmp(s, "a=one\r\nb\r\n"), "crlf '%s'", s ? s : "");
    free(s);
    /* single braces are just text */
    s = prompt_render("{ a } {b} }}", "t.txt", v, 3, &err);
    CHECK(s && !strcmp(s, "{ a } {b} }}"), "braces '%s'", s ? s : "");
    free(s);
}

static void test_render_errors(void)
{
    gerr err = GERR_INIT;
    prompt_var v[] = {{"a", "one"}, {"nothing", NULL}};
    char *s = prompt_render("ok\nline {{gen}}\n", "mutate.txt", v, 2, &err);
    CHECK(s == NULL, "unknown placeholder rendered");
    CHECK(strstr(err.msg, "mutate.txt:2: placeholder {{gen}} has no value (given: a)") != NULL,
          "%s", err.msg);
    s = prompt_render("{{nothing}}", "t.txt", v, 2, &err);
    CHECK(s == NULL && strstr(err.msg, "{{nothing}} has no value"), "NULL value: %s", err.msg);
    s = prompt_render("a\nb {{a\n}}", "t.txt", v, 2, &err);
    CHECK(s == NULL && strstr(err.msg, "t.txt:2:") && strstr(err.msg, "not {{name}}"),
          "unterminated: %s", err.msg);
    s = prompt_render("{{}}", "t.txt", v, 2, &err);
    CHECK(s == NULL && strstr(err.msg, "bad placeholder name"), "empty name: %s", err.msg);
    s = prompt_render("{{a-b}}", "t.txt", v, 2, &err);
    CHECK(s == NULL, "dash in name accepted");
}

static char shipped[1024];

static void test_shipped_set(void)
{
    prompt_set set;
    gerr err = GERR_INIT;
    int rc = prompt_set_load(&set, shipped, &err);
    CHECK(rc == 0, "prompts/ does not load: %s", err.msg);
    if (rc)
        return;
    const char *want[] = {"expert", "magoo", "plain", "scientist"};
    CHECK(set.n_personas >= 4, "personas: %d", set.n_personas);
    for (int i = 0; i < 4; i++)
        CHECK(prompt_find_persona(&set, want[i]) >= 0, "persona %s missing", want[i]);
    CHECK(strstr(set.personas[prompt_find_persona(&set, "magoo")].text, "Dr. MaGoo") != NULL,
          "Dr. MaGoo by name");

    const char *prog = "input x: 1x28x28\nclasses 10\n\ndef se(x):\n    s = gap(x)\n"
                       "    return x * sigmoid(linear(s, channels(x)))\n\n"
                       "x = se(x)\nreturn linear(gap(x), classes)\n";
    const char *gene =
        "def se(x):\n    s = gap(x)\n    return x * sigmoid(linear(s, channels(x)))\n";
    const char *notes[] = {"Keep it under 100k parameters."};
    const char *rej[] = {"Removed the gate entirely: it is the point of the block."};
    char *nt = prompt_format_notes(notes, 1, rej, 1);
    prompt_args a = {.program = prog,
                     .gene_name = "se",
                     .gene = gene,
                     .objectives = "val_acc 0.9012, params 48,210",
                     .notes = nt};
    char *sys = NULL, *user = NULL;
    int p = prompt_find_persona(&set, "expert");
    rc = prompt_build(&set, PROMPT_MUTATE, p, &a, &sys, &user, &err);
    CHECK(rc == 0, "mutate: %s", err.msg);
    if (rc == 0) {
        CHECK(strstr(sys, set.personas[p].text) != NULL, "persona in system");
        CHECK(strstr(sys, "dwconv(x, k=3") != NULL, "language reference in system");
        CHECK(strstr(user, prog) != NULL, "program in prompt");
        CHECK(strstr(user, "val_acc 0.9012") != NULL, "objectives");
        CHECK(strstr(user, "Keep it under 100k parameters.") != NULL, "note passed on");
        CHECK(strstr(user, "Removed the gate entirely") != NULL, "rejection passed on");
        CHECK(strstr(user, "`se`") != NULL, "gene name");
        CHECK(strstr(user, "{{") == NULL, "nothing left unrendered");
    }
    free(sys);
    free(user);

    /* no notes: no empty "notes" line pair */
    a.notes = NULL;
    a.objectives = NULL;
    rc = prompt_build(&set, PROMPT_MUTATE, p, &a, &sys, &user, &err);
    CHECK(rc == 0 && strstr(user, "not measured yet") && !strstr(user, "\n\n\n"), "no notes: %s",
          user ? user : err.msg);
    free(sys);
    free(user);

    /* crossover needs the other gene */
    rc = prompt_build(&set, PROMPT_CROSSOVER, p, &a, &sys, &user, &err);
    CHECK(rc == -1 && strstr(err.msg, "{{other_gene}} has no value"), "crossover w/o other: %s",
          err.msg);
    a.other_gene = "def se(x):\n    return x\n";
    a.other_objectives = "val_acc 0.88";
    rc = prompt_build(&set, PROMPT_CROSSOVER, p, &a, &sys, &user, &err);
    CHECK(rc == 0 && strstr(user, "return x\n") && strstr(user, "val_acc 0.88"), "crossover %s",
          err.msg);
    free(sys);
    free(user);

    /* EoT shows the elite's measured objectives next to the seed's */
    a.elite_gene_name = "stem";
    a.elite_gene = "def stem(x):\n    return relu(batchnorm(conv(x, 32, k=3, padding=same)))\n";
    a.seed_gene = "def stem(x):\n    return relu(conv(x, 32, k=3, padding=same))\n";
    a.elite_objectives = "val_acc 0.9150, params 51,000";
    a.seed_objectives = "val_acc 0.8990, params 50,900";
    rc = prompt_build(&set, PROMPT_EOT, p, &a, &sys, &user, &err);
    CHECK(rc == 0, "eot: %s", err.msg);
    if (rc == 0) {
        const char *e = strstr(user, "val_acc 0.9150"), *s = strstr(user, "val_acc 0.8990");
        CHECK(e && s, "both objectives shown");
        CHECK(strstr(user, "`stem`") && strstr(user, "`se`"), "both block names");
        CHECK(strstr(user, "batchnorm(conv(x, 32") != NULL, "elite gene");
    }
    free(sys);
    free(user);

    /* repair: the exact error and the failed answer */
    a.failed_answer = "Here it is:\n```gevo\ndef se(x):\n    return add(x, gap(x))\n```\n";
    a.error = "proposal:5:12: error: add(x, s): shapes 32x28x28 and 32x1x1 differ";
    a.failed_program = NULL;
    rc = prompt_build(&set, PROMPT_REPAIR, p, &a, &sys, &user, &err);
    CHECK(rc == 0, "repair: %s", err.msg);
    if (rc == 0) {
        CHECK(strstr(user, a.error) != NULL, "exact error");
        CHECK(strstr(user, a.failed_answer) != NULL, "verbatim answer");
        CHECK(strstr(user, "could not be applied") != NULL, "no program note");
    }
    free(sys);
    free(user);
    rc = prompt_build(&set, PROMPT_REPAIR, 99, &a, &sys, &user, &err);
    CHECK(rc == -1 && strstr(err.msg, "no persona number 99"), "bad persona: %s", err.msg);
    free(nt);
    prompt_set_release(&set);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A copy of prompts/ in a scratch folder, with one file replaced. */
static void copy_set(const char *dir)
{
    const char *files[] = {"system.txt", "mutate.txt",         "crossover.txt",    "eot.txt",
                           "repair.txt", "persona_expert.txt", "persona_plain.txt"};
    mkdir(dir, 0700);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char src[1200], *buf = NULL;
        size_t n = 0;
        snprintf(src, sizeof src, "%s/%s", shipped, files[i]);
        FILE *f = fopen(src, "r"), *m = open_memstream(&buf, &n);
        int ch;
        while (f && (ch = fgetc(f)) != EOF)
            fputc(ch, m);
        if (f)
            fclose(f);
        fclose(m);
        write_file(dir, files[i], buf);
        free(buf);
    }
}

static void test_load_errors(void)
{
    char dir[] = "/tmp/gevo-prompt-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char d[1100];
    prompt_set set;
    gerr err = GERR_INIT;

    snprintf(d, sizeof d, "%s/typo", dir);
    copy_set(d);
    write_file(d, "mutate.txt", "Rewrite {{gene_name}}:\n{{gene}}\n{{program}}\n{{notse}}\n");
    CHECK(prompt_set_load(&set, d, &err) == -1, "typo loads");
    CHECK(strstr(err.msg, "mutate.txt:4: unknown placeholder {{notse}}") != NULL, "%s", err.msg);

    snprintf(d, sizeof d, "%s/missing", dir);
    copy_set(d);
    write_file(d, "mutate.txt", "Rewrite {{gene_name}}:\n{{gene}}\n{{program}}\n");
    CHECK(prompt_set_load(&set, d, &err) == -1, "no notes loads");
    CHECK(strstr(err.msg, "mutate.txt: the template never uses {{notes}}") != NULL, "%s", err.msg);

    snprintf(d, sizeof d, "%s/wrongkind", dir);
    copy_set(d);
    write_file(d, "eot.txt", "{{failed_answer}}");
    CHECK(prompt_set_load(&set, d, &err) == -1 &&
              strstr(err.msg, "unknown placeholder {{failed_answer}}"),
          "repair var in eot: %s", err.msg);

    snprintf(d, sizeof d, "%s/nofile", dir);
    copy_set(d);
    char path[1200];
    snprintf(path, sizeof path, "%s/repair.txt", d);
    unlink(path);
    CHECK(prompt_set_load(&set, d, &err) == -1 && strstr(err.msg, "repair.txt") &&
              strstr(err.msg, "No such file"),
          "missing file: %s", err.msg);

    snprintf(d, sizeof d, "%s/ok", dir);
    copy_set(d);
    CHECK(prompt_set_load(&set, d, &err) == 0, "copy loads: %s", err.msg);
    CHECK_EQ_INT(set.n_personas, 2);
    prompt_set_release(&set);

    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static void test_personas(void)
{
    prompt_set set;
    gerr err = GERR_INIT;
    REQUIRE(prompt_set_load(&set, shipped, &err) == 0, "%s", err.msg);
    int e = prompt_find_persona(&set, "expert"), m = prompt_find_persona(&set, "magoo");
    int count[64] = {0};
    rng draw;
    rng_seed(&draw, 3);
    for (int i = 0; i < 4000; i++) {
        int k = prompt_pick_persona(&set, rng_uniform_double(&draw));
        CHECK(k >= 0 && k < set.n_personas, "pick %d", k);
        if (k >= 0)
            count[k]++;
    }
    for (int i = 0; i < set.n_personas; i++)
        CHECK(count[i] > 700 && count[i] < 1300, "equal weights: %s %d", set.personas[i].name,
              count[i]);

    CHECK(prompt_set_weight(&set, "expert", 3, &err) == 0 &&
              prompt_set_weight(&set, "magoo", 0, &err) == 0 &&
              prompt_set_weight(&set, "scientist", 0, &err) == 0,
          "%s", err.msg);
    memset(count, 0, sizeof count);
    for (int i = 0; i < 4000; i++)
        count[prompt_pick_persona(&set, rng_uniform_double(&draw))]++;
    CHECK_EQ_INT(count[m], 0);
    CHECK(count[e] > 2700 && count[e] < 3300, "3:1 weights gave %d of 4000", count[e]);
    /* boundaries of u */
    CHECK(prompt_pick_persona(&set, 0.0) == e || set.personas[0].weight == 0, "u=0");
    CHECK(prompt_pick_persona(&set, 0.999999999) >= 0, "u~1");

    CHECK(prompt_set_weight(&set, "expret", 2, &err) == -1 &&
              strstr(err.msg, "no persona 'expret'") && strstr(err.msg, "expert"),
          "typo: %s", err.msg);
    CHECK(prompt_set_weight(&set, "expert", -1, &err) == -1 && strstr(err.msg, "expert"),
          "negative: %s", err.msg);
    CHECK(set.personas[e].weight == 3, "a refused weight changed nothing");
    prompt_set_release(&set);
}

static void test_notes(void)
{
    char *s = prompt_format_notes(NULL, 0, NULL, 0);
    CHECK(s && !s[0], "empty");
    free(s);
    const char *n[] = {"Try dilation.", "", "Two\nlines"};
    s = prompt_format_notes(n, 3, NULL, 0);
    CHECK(s && strstr(s, "- Try dilation.\n- Two\n  lines\n") && !strstr(s, "rejected"),
          "notes '%s'", s ? s : "");
    free(s);
    const char *r[] = {"Too many parameters (2.1M)."};
    s = prompt_format_notes(NULL, 0, r, 1);
    CHECK(s && strstr(s, "rejected") && strstr(s, "- Too many parameters (2.1M).\n"),
          "rejections '%s'", s ? s : "");
    free(s);
}

/* The example program in system.txt is what the model imitates: it must
 * compile with the real compiler. */
static void test_system_example_compiles(void)
{
    prompt_set set;
    gerr err = GERR_INIT;
    REQUIRE(prompt_set_load(&set, shipped, &err) == 0, "%s", err.msg);
    const char *a = strstr(set.system, "# gevo-net in brief\n");
    const char *b = a ? strstr(a, "\nOperators") : NULL;
    CHECK(a && b, "system.txt lost its language example");
    if (a && b) {
        a = strchr(a, '\n') + 1;
        char *prog = malloc((size_t)(b - a) + 1);
        size_t n = 0;
        for (const char *p = a; p < b;) { /* drop the 4-space indentation */
            const char *eol = memchr(p, '\n', (size_t)(b - p));
            if (!eol)
                eol = b;
            const char *q = p;
            for (int i = 0; i < 4 && q < eol && *q == ' '; i++)
                q++;
            memcpy(prog + n, q, (size_t)(eol - q));
            n += (size_t)(eol - q);
            prog[n++] = '\n';
            p = eol + 1;
        }
        prog[n] = '\0';
        net_graph *g = NULL;
        net_error e;
        int rc = net_compile(prog, n, "system.txt example", NULL, &g, &e);
        char msg[1024] = "";
        if (rc)
            net_error_string(&e, msg, sizeof msg);
        CHECK(rc == 0, "the example does not compile: %s\n%s", msg, prog);
        CHECK(rc || g->classes == 10, "classes");
        net_graph_free(g);
        free(prog);
    }
    prompt_set_release(&set);
}

int main(void)
{
    snprintf(shipped, sizeof shipped, "%s/prompts", harness_root());
    RUN(test_render);
    RUN(test_render_errors);
    RUN(test_shipped_set);
    RUN(test_load_errors);
    RUN(test_personas);
    RUN(test_notes);
    RUN(test_system_example_compiles);
    return harness_done();
}

/* Proposal parsing, applying and validating: the realistic answers in
 * tests/fixtures/answers (their expectations in EXPECT.txt), and the
 * building blocks one by one. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/prompt.h"
#include "core/proposal.h"
#include "engine/base/file.h"
#include "tests/harness.h"

static char dir[1024];
static char *parent;

/* \n \r \t \\ in a check's text */
static void unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            *o++ = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static const char *const stages[] = {"ok", "parse", "apply", "invalid", "unchanged"};

static int listed_count;
static char listed[64][80];

static void check_fixture(char *fields[], int nf)
{
    const char *file = fields[0], *gene = fields[1];
    bool trunc = !strcmp(fields[2], "1");
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len;
    char *answer = harness_slurp(path, &len);
    CHECK(answer != NULL, "%s: missing", file);
    if (!answer)
        return;
    if (listed_count < 64)
        snprintf(listed[listed_count++], 80, "%s", file);
    proposal_outcome o;
    int rc = proposal_check(answer, len, trunc, parent, gene, NULL, NULL, &o);
    int want = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(fields[3], stages[i]))
            want = i;
    CHECK(want >= 0, "%s: unknown stage '%s' in EXPECT.txt", file, fields[3]);
    CHECK((int)o.stage == want, "%s: stage %s, expected %s (error: %s)", file,
          proposal_stage_name(o.stage), fields[3], o.error);
    CHECK((rc == 0) == (want == 0), "%s: return %d", file, rc);
    if (want == 0)
        CHECK(!o.error[0], "%s: error text on success: %s", file, o.error);
    else
        CHECK(o.error[0], "%s: no error text", file);
    for (int i = 4; i < nf; i++) {
        char *c = fields[i];
        char none[1] = "";
        char *arg = strchr(c, ':');
        if (arg)
            *arg++ = '\0';
        else
            arg = none;
        unescape(arg);
        const char *prog = o.program ? o.program : "";
        if (!strcmp(c, "has"))
            CHECK(strstr(prog, arg) != NULL, "%s: program lacks '%s':\n%s", file, arg, prog);
        else if (!strcmp(c, "not"))
            CHECK(strstr(prog, arg) == NULL, "%s: program has '%s'", file, arg);
        else if (!strcmp(c, "err"))
            CHECK(strstr(o.error, arg) != NULL, "%s: error lacks '%s': %s", file, arg, o.error);
        else if (!strcmp(c, "why"))
            CHECK(o.reasoning && strstr(o.reasoning, arg), "%s: reasoning lacks '%s': [%s]", file,
                  arg, o.reasoning ? o.reasoning : "");
        else if (!strcmp(c, "nowhy"))
            CHECK(o.reasoning && !strstr(o.reasoning, arg), "%s: reasoning has '%s'", file, arg);
        else if (!strcmp(c, "whole"))
            CHECK(o.whole_program, "%s: not taken as a whole program", file);
        else if (!strcmp(c, "edits"))
            CHECK_EQ_INT(o.n_edits, atoi(arg));
        else
            CHECK(0, "%s: unknown check '%s'", file, c);
    }
    if (want == 0) {
        CHECK(o.params > 0 && o.hash != 0, "%s: no measurements", file);
        CHECK(o.program && !strstr(o.program, "```"), "%s: a fence leaked into the program", file);
    }
    proposal_outcome_release(&o);
    free(answer);
}

static char **cur_fields;
static int cur_nf;

static void run_fixture(void)
{
    check_fixture(cur_fields, cur_nf);
}

static void test_fixtures(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/EXPECT.txt", dir);
    char *text = harness_slurp(path, NULL);
    CHECK(text != NULL, "no EXPECT.txt");
    if (!text)
        return;
    int count = 0;
    for (char *ln = strtok(text, "\n"); ln; ln = strtok(NULL, "\n")) {
        if (ln[0] == '#' || !ln[0])
            continue;
        char *fields[16];
        int nf = 0;
        char *p = ln;
        while (p && nf < 16) {
            char *sep = strstr(p, " | ");
            if (sep)
                *sep = '\0';
            fields[nf++] = p;
            p = sep ? sep + 3 : NULL;
        }
        CHECK(nf >= 4, "bad EXPECT line: %s", ln);
        if (nf < 4)
            continue;
        /* one test per answer, so the report names each */
        cur_fields = fields;
        cur_nf = nf;
        harness_run(fields[0], run_fixture);
        count++;
    }
    free(text);
    CHECK(count >= 30, "only %d answer fixtures", count);
    /* every fixture file is listed, so none goes untested */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".md"))
            continue;
        bool found = false;
        for (int i = 0; i < listed_count; i++)
            found |= !strcmp(listed[i], e->d_name);
        CHECK(found, "%s is not in EXPECT.txt", e->d_name);
    }
    if (d)
        closedir(d);
}

static void test_parse_shapes(void)
{
    proposal p;
    const char *a = "Intro.\n```gevo\ndef a(x):\n    return x\n```\nMiddle.\n~~~\n"
                    "def b(x):\n    return x\n~~~\nEnd.\n```python\ndef c(x):\n";
    CHECK(proposal_parse(&p, a, strlen(a)) == 0, "parse");
    CHECK_EQ_INT(p.n_blocks, 3);
    if (p.n_blocks == 3) {
        CHECK(!strcmp(p.blocks[0].lang, "gevo") && p.blocks[0].closed, "first");
        CHECK(!strcmp(p.blocks[0].text, "def a(x):\n    return x\n"), "text '%s'",
              p.blocks[0].text);
        CHECK(!strcmp(p.blocks[1].lang, "") && p.blocks[1].closed, "tilde");
        CHECK(!strcmp(p.blocks[2].lang, "python") && !p.blocks[2].closed, "unclosed");
        CHECK_EQ_INT(p.blocks[0].line, 2);
    }
    CHECK(!strcmp(p.reasoning, "Intro.\n\nMiddle.\n\nEnd."), "reasoning '%s'", p.reasoning);
    proposal_release(&p);

    /* empty and NUL-containing answers */
    CHECK(proposal_parse(&p, "", 0) == 0 && p.n_blocks == 0 && !p.reasoning[0], "empty");
    proposal_release(&p);
    const char nul[] = "a\0b\n```\ndef f(x):\n    return x\n```\n";
    CHECK(proposal_parse(&p, nul, sizeof nul - 1) == 0 && p.n_blocks == 1, "NUL");
    proposal_release(&p);

    /* a four-backtick fence holds a three-backtick line */
    const char *four = "````\ndef f(x):\n    return x\n```\n````\n";
    CHECK(proposal_parse(&p, four, strlen(four)) == 0 && p.n_blocks == 1 &&
              strstr(p.blocks[0].text, "```"),
          "nested fence");
    proposal_release(&p);
}

static void test_edits(void)
{
    const char *src = "def f(x):\n    y = relu(x)\n    return y\n\nx = f(x)\n";
    proposal_edit e = {(char *)"    y = relu(x)\n", (char *)"    y = gelu(x)\n"};
    char *out;
    gerr err = GERR_INIT;
    CHECK(proposal_apply_edits(src, &e, 1, &out, &err) == 0, "%s", err.msg);
    CHECK(out && !strcmp(out, "def f(x):\n    y = gelu(x)\n    return y\n\nx = f(x)\n"), "%s", out);
    free(out);
    /* indentation lost in SEARCH and REPLACE: matched and re-indented */
    proposal_edit e2 = {(char *)"y = relu( x )\nreturn y\n", (char *)"y = silu(x)\nreturn y + x\n"};
    CHECK(proposal_apply_edits(src, &e2, 1, &out, &err) == 0, "%s", err.msg);
    CHECK(out && !strcmp(out, "def f(x):\n    y = silu(x)\n    return y + x\n\nx = f(x)\n"),
          "reindent '%s'", out);
    free(out);
    /* last line without '\n' */
    proposal_edit e3 = {(char *)"x = f(x)\n", (char *)"x = f(f(x))\n"};
    CHECK(proposal_apply_edits("def f(x):\n    return x\nx = f(x)", &e3, 1, &out, &err) == 0 &&
              strstr(out, "f(f(x))"),
          "no final newline");
    free(out);
    proposal_edit e4 = {(char *)"\n\n", (char *)"x\n"};
    CHECK(proposal_apply_edits(src, &e4, 1, &out, &err) == -1 &&
              strstr(err.msg, "edit 1: the SEARCH part is empty"),
          "%s", err.msg);
    /* the second edit sees the first's result */
    proposal_edit two[2] = {{(char *)"relu", (char *)"gelu"},
                            {(char *)"gelu(x)", (char *)"tanh(x)"}};
    CHECK(proposal_apply_edits(src, two, 2, &out, &err) == 0 && strstr(out, "tanh(x)"),
          "sequential");
    free(out);
    proposal_edit bad[2] = {{(char *)"relu", (char *)"gelu"}, {(char *)"nothing", (char *)"x"}};
    CHECK(proposal_apply_edits(src, bad, 2, &out, &err) == -1 && strstr(err.msg, "edit 2"),
          "names the failing edit: %s", err.msg);
}

static void test_replace_gene(void)
{
    char *out;
    gerr err = GERR_INIT;
    CHECK(proposal_replace_gene(parent, "head", "def head(x):\n    return linear(gap(x), classes)",
                                &out, &err) == 0,
          "%s", err.msg);
    CHECK(out && strstr(out, "def head(x):\n    return linear(gap(x), classes)\n\nx = stem(x, 16)"),
          "replaced in place:\n%s", out);
    CHECK(out && strstr(out, "def block(x, c):") && strstr(out, "train optimizer"), "rest kept");
    free(out);
    CHECK(proposal_replace_gene(parent, "nope", "def nope(x):\n    return x\n", &out, &err) == -1,
          "unknown gene");
    CHECK(strstr(err.msg, "no block `nope`") && strstr(err.msg, "stem, se, block, head"), "%s",
          err.msg);
}

/* The repair step's building blocks: the exact error goes into the repair
 * prompt with the failed answer and the program it produced. */
static void test_repair_prompt(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/20_invalid_shapes.md", dir);
    size_t len;
    char *answer = harness_slurp(path, &len);
    proposal_outcome o;
    CHECK(proposal_check(answer, len, false, parent, "block", NULL, NULL, &o) == -1, "invalid");
    CHECK(o.stage == PROPOSAL_ERR_INVALID, "stage %s", proposal_stage_name(o.stage));
    CHECK(strstr(o.error, "proposal:") && strchr(o.error, '^'), "error with caret: %s", o.error);
    prompt_set set;
    gerr err = GERR_INIT;
    char ppath[1100];
    snprintf(ppath, sizeof ppath, "%s/prompts", harness_root());
    CHECK(prompt_set_load(&set, ppath, &err) == 0, "%s", err.msg);
    prompt_args a = {.gene_name = "block",
                     .failed_answer = answer,
                     .failed_program = o.program,
                     .error = o.error};
    char *sys, *user;
    CHECK(prompt_build(&set, PROMPT_REPAIR, 0, &a, &sys, &user, &err) == 0, "%s", err.msg);
    if (user) {
        CHECK(strstr(user, o.error) != NULL, "exact error in the repair prompt");
        CHECK(strstr(user, "y = se(y) + x") != NULL, "failed program shown");
    }
    free(sys);
    free(user);
    prompt_set_release(&set);
    proposal_outcome_release(&o);
    free(answer);
}

/* Every answer cut off at every length (as a truncated stream would):
 * never a crash, always either a candidate or an error text. */
static void test_every_prefix(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long runs = 0;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".md"))
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *answer = harness_slurp(path, &len);
        for (size_t k = 0; answer && k <= len; k += 1 + k / 64) {
            char *cut = malloc(k + 1);
            memcpy(cut, answer, k);
            cut[k] = '\0';
            proposal_outcome o;
            int rc = proposal_check(cut, k, k < len, parent, "block", NULL, NULL, &o);
            CHECK(rc == 0 ? o.stage == PROPOSAL_OK && o.program
                          : o.stage != PROPOSAL_OK && o.error[0],
                  "%s cut at %zu: rc %d stage %s", e->d_name, k, rc, proposal_stage_name(o.stage));
            proposal_outcome_release(&o);
            free(cut);
            runs++;
        }
        free(answer);
    }
    if (d)
        closedir(d);
    CHECK(runs > 1000, "only %ld cuts", runs);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/tests/fixtures/answers", harness_root());
    char path[1100];
    snprintf(path, sizeof path, "%s/parent.net", dir);
    parent = harness_slurp(path, NULL);
    CHECK(parent != NULL, "no parent.net");
    if (!parent)
        return harness_done();
    gerr err = GERR_INIT;
    CHECK(proposal_validate(parent, NULL, NULL, NULL, NULL, NULL, &err) == 0,
          "parent.net does not compile: %s", err.msg);
    RUN(test_fixtures);
    RUN(test_parse_shapes);
    RUN(test_edits);
    RUN(test_replace_gene);
    RUN(test_repair_prompt);
    RUN(test_every_prefix);
    free(parent);
    return harness_done();
}

/* The session repository: individuals, edits, notes, journal, queries,
 * the writer's lock and the no-secrets rule, on real repositories that
 * plain git then reads. */
#include <git2.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sessions/session.h"
#include "tests/harness.h"

/* The message of the last failing session call. */
static gerr serr = GERR_INIT;

static char tmp[256];

static const char seed_text[] =
    "input x: 1x28x28\nclasses 10\n\n"
    "def block(x, c):\n    return relu(conv(x, c, k=3, padding=same))\n\n"
    "x = block(x, 16)\nreturn linear(gap(x), classes)\n";
static const char mut_text[] =
    "input x: 1x28x28\nclasses 10\n\n"
    "def block(x, c):\n    return relu(conv(x, c, k=5, padding=same))\n\n"
    "x = block(x, 16)\nreturn linear(gap(x), classes)\n";

static void make_tmp(void)
{
    snprintf(tmp, sizeof tmp, "%s/gevo-session-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp))
        abort();
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static session *new_session(const char *name, char *dir, size_t size)
{
    char seed[512];
    snprintf(seed, sizeof seed, "%s/seed.net", tmp);
    write_text(seed, seed_text);
    snprintf(dir, size, "%s/%s", tmp, name);
    session_create_opts o = {
        .seed_path = seed, .data_dir = "/nonexistent-data", .prompts_dir = NULL};
    session *s = NULL;
    int rc = session_create(&s, dir, &o, &serr);
    CHECK(rc == 0, "session_create: %s", serr.msg);
    return s;
}

static char full_dir[512]; /* the session test_create_and_add leaves */

static void test_create_and_add(void)
{
    char *dir = full_dir;
    session *s = new_session("a", dir, sizeof full_dir);
    if (!s)
        return;
    CHECK(session_is_writer(s), "creator writes");
    char cmd[1024];
    int st;
    /* The researcher's identity, for the edit below. */
    snprintf(
        cmd, sizeof cmd,
        "cd %s && git config user.name 'Ada Lovelace' && git config user.email ada@example.org",
        dir);
    CHECK(system(cmd) == 0, "git config");

    char id1[SESSION_ID_MAX], id2[SESSION_ID_MAX], id3[SESSION_ID_MAX];
    session_new m = {.generation = 1,
                     .op = "mutation",
                     .persona = "expert",
                     .parents = {"g0-1"},
                     .n_parents = 1,
                     .model = "test-model",
                     .tokens_in = 1200,
                     .tokens_out = 300,
                     .latency_s = 2.5,
                     .summary = "widen the kernel to 5\nsecond line ignored",
                     .genome = mut_text,
                     .reasoning = "A larger receptive field.",
                     .prompt = "PROMPT TEXT",
                     .response = "RAW RESPONSE"};
    CHECK(session_add(s, &m, id1, &serr) == 0, "add: %s", serr.msg);
    CHECK(!strcmp(id1, "g1-1"), "first id of generation 1 is %s", id1);
    m.summary = "second";
    CHECK(session_add(s, &m, id2, &serr) == 0, "add 2: %s", serr.msg);
    CHECK(!strcmp(id2, "g1-2"), "second id is %s", id2);
    session_new x = {.generation = 2,
                     .op = "crossover",
                     .persona = "wildcard",
                     .parents = {"g1-1", "g1-2"},
                     .n_parents = 2,
                     .summary = "cross",
                     .genome = seed_text};
    CHECK(session_add(s, &x, id3, &serr) == 0, "crossover: %s", serr.msg);
    CHECK(!strcmp(id3, "g2-1"), "crossover id %s", id3);

    /* Bad inputs get errors. */
    char bad[SESSION_ID_MAX];
    session_new nop = m;
    nop.parents[0] = "g9-9";
    CHECK(session_add(s, &nop, bad, &serr) != 0 && strstr(serr.msg, "g9-9"), "missing parent: %s",
          serr.msg);
    nop = m;
    nop.genome = "";
    CHECK(session_add(s, &nop, bad, &serr) != 0, "empty genome refused");
    nop = x;
    nop.generation = 0;
    CHECK(session_add(s, &nop, bad, &serr) != 0, "parent from a later generation refused");

    /* Plain git reads it. */
    snprintf(cmd, sizeof cmd, "cd %s && git cat-file -p g2-1 | grep -c '^parent '", dir);
    char *out = harness_output(cmd, &st);
    CHECK(out && atoi(out) == 2, "crossover has two commit parents: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "cd %s && git log -1 --format=%%s g1-1", dir);
    out = harness_output(cmd, &st);
    CHECK(out && !strcmp(out, "g1-1 gen 1 mutation (expert): widen the kernel to 5\n"),
          "message: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "cd %s && git diff g0-1 g1-1 -- genome.net", dir);
    out = harness_output(cmd, &st);
    CHECK(st == 0 && out && strstr(out, "-    return relu(conv(x, c, k=3") &&
              strstr(out, "+    return relu(conv(x, c, k=5"),
          "git diff shows the mutation: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "cd %s && git show g1-1:prompt.txt && git show g1-1:meta.json", dir);
    out = harness_output(cmd, &st);
    CHECK(out && strstr(out, "PROMPT TEXT") && strstr(out, "\"tokens\"") &&
              strstr(out, "\"latency_s\": 2.5"),
          "prompt and meta in the tree: %s", out);
    free(out);

    /* libgit2's diff through the API. */
    char *patch = NULL;
    CHECK(session_diff(s, NULL, "g1-1", true, &patch, &serr) == 0 && patch &&
              strstr(patch, "+    return relu(conv(x, c, k=5"),
          "diff vs parent: %s", patch ? patch : serr.msg);
    free(patch);

    /* Lineage. */
    char(*lin)[SESSION_ID_MAX] = NULL;
    size_t nl = 0;
    CHECK(session_lineage(s, "g2-1", &lin, &nl, &serr) == 0 && nl == 4, "lineage of g2-1 has %zu",
          nl);
    if (lin && nl == 4)
        CHECK(!strcmp(lin[0], "g2-1") && !strcmp(lin[3], "g0-1"), "lineage order %s..%s", lin[0],
              lin[3]);
    free(lin);

    /* Result, then the researcher's edit: the note is still found. */
    const char *res = "{\"status\": \"ok\", \"val_acc\": 0.8125, \"params\": 4242, "
                      "\"flops\": 1.5e6, \"seconds\": 12.5}";
    CHECK(session_set_result(s, "g1-1", res, &serr) == 0, "result: %s", serr.msg);
    CHECK(session_set_result(s, "g1-2", "{\"val_acc\": 2}", &serr) != 0, "val_acc > 1 refused");
    CHECK(session_set_result(s, "g1-2", "{not json", &serr) != 0 && strstr(serr.msg, "JSON"),
          "bad JSON refused: %s", serr.msg);
    CHECK(session_set_result(s, "g1-2", "{\"status\": \"great\"}", &serr) != 0,
          "bad status refused");
    CHECK(session_edit(s, "g1-1", seed_text, "back to 3x3\nthe 5x5 kernel is too slow", &serr) == 0,
          "edit: %s", serr.msg);
    snprintf(cmd, sizeof cmd,
             "cd %s && git log -1 --format='%%an <%%ae>|%%s' g1-1 && git log -1 --format=%%s g1-1^",
             dir);
    out = harness_output(cmd, &st);
    CHECK(out && !strcmp(out,
                         "Ada Lovelace <ada@example.org>|g1-1 edited by Ada Lovelace: back to 3x3\n"
                         "g1-1 gen 1 mutation (expert): widen the kernel to 5\n"),
          "edit commit on top of the proposal: %s", out);
    free(out);
    char *txt = NULL;
    CHECK(session_get_result(s, "g1-1", &txt, &serr) == 0 && txt && !strcmp(txt, res),
          "result read back verbatim: %s", txt ? txt : "(none)");
    free(txt);
    CHECK(session_edit_diff(s, "g1-1", &patch, &serr) == 0 && patch &&
              strstr(patch, "-    return relu(conv(x, c, k=5"),
          "edit diff: %s", patch ? patch : serr.msg);
    free(patch);

    /* Review. */
    session_annotation ann[2] = {{.line = 5, .text = "kernel 5 is slow"},
                                 {.line = 0, .text = "overall fine"}};
    session_review rv = {.decision = "approved_edited",
                         .reason = "kept the idea",
                         .annotations = ann,
                         .n_annotations = 2};
    CHECK(session_set_review(s, "g1-1", &rv, &serr) == 0, "review: %s", serr.msg);
    session_review badr = {.decision = "maybe"};
    CHECK(session_set_review(s, "g1-1", &badr, &serr) != 0, "bad decision refused");
    session_review rej = {.decision = "rejected", .reason = "duplicate", .author = "bot"};
    CHECK(session_set_review(s, "g1-2", &rej, &serr) == 0, "reject: %s", serr.msg);
    CHECK(session_get_review(s, "g1-1", &txt, &serr) == 0 && txt && strstr(txt, "\"line\": 5") &&
              strstr(txt, "Ada Lovelace") && strstr(txt, "\"time\""),
          "review note: %s", txt ? txt : "(none)");
    free(txt);
    snprintf(cmd, sizeof cmd, "cd %s && git notes --ref=results show g1-1", dir);
    out = harness_output(cmd, &st);
    CHECK(st == 0 && out && strstr(out, "\"val_acc\": 0.8125"), "git notes show: %s", out);
    free(out);

    /* Listing. */
    session_info *v = NULL;
    size_t n = 0;
    CHECK(session_list(s, -1, &v, &n, &serr) == 0 && n == 4, "list all: %zu", n);
    if (n == 4) {
        CHECK(!strcmp(v[1].id, "g1-1") && v[1].edited && !strcmp(v[1].status, "ok") &&
                  v[1].val_acc == 0.8125 && v[1].params == 4242 &&
                  !strcmp(v[1].decision, "approved_edited"),
              "g1-1 listed: %s %s %f %ld %s", v[1].id, v[1].status, v[1].val_acc, v[1].params,
              v[1].decision);
        CHECK(!strcmp(v[2].status, "rejected"), "g1-2 status %s", v[2].status);
        CHECK(v[3].n_parents == 2 && !strcmp(v[3].parents[1], "g1-2"), "g2-1 parents");
        CHECK(!strcmp(v[0].status, "pending") && v[0].val_acc < 0, "seed pending");
    }
    free(v);
    CHECK(session_list(s, 1, &v, &n, &serr) == 0 && n == 2, "list generation 1: %zu", n);
    free(v);

    /* Resolve by hash prefix. */
    session_info info;
    char id[SESSION_ID_MAX];
    CHECK(session_info_get(s, "g2-1", &info, &serr) == 0, "info");
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", info.commit);
    CHECK(session_resolve(s, prefix, id, &serr) == 0 && !strcmp(id, "g2-1"), "resolve %s -> %s",
          prefix, id);
    CHECK(session_resolve(s, "g7-7", id, &serr) != 0, "unknown id refused");
    CHECK(session_resolve(s, "zzzz", id, &serr) != 0, "garbage refused");

    /* Journal. */
    const char *pop[] = {"g1-1", "g2-1"};
    CHECK(session_journal_add(s, 1, pop, 2, pop, 1, &serr) == 0, "journal: %s", serr.msg);
    CHECK(session_journal_add(s, 2, pop, 2, pop + 1, 1, &serr) == 0, "journal 2: %s", serr.msg);
    char(*ids)[SESSION_ID_MAX] = NULL;
    CHECK(session_journal_population(s, 1, &ids, &n, &serr) == 0 && n == 2 &&
              !strcmp(ids[1], "g2-1"),
          "journal population of 1");
    free(ids);
    snprintf(
        cmd, sizeof cmd,
        "cd %s && git log --format=%%s journal && git status --porcelain && git fsck --strict 2>&1",
        dir);
    out = harness_output(cmd, &st);
    CHECK(st == 0 && out &&
              !strncmp(out,
                       "generation 2: 2 individuals, front: g2-1\n"
                       "generation 1: 2 individuals, front: g1-1\n"
                       "generation 0: 1 individual, front: g0-1\n",
                       120) &&
              !strstr(out, "error"),
          "journal in git, clean tree, fsck: %s", out);
    free(out);

    /* Configuration. */
    CHECK(session_config_get(s, "data") &&
              !strcmp(session_config_get(s, "data"), "/nonexistent-data"),
          "config data");
    CHECK(session_config_set(s, "llm.model", "qwen", &serr) == 0 &&
              !strcmp(session_config_get(s, "llm.model"), "qwen"),
          "config set");
    /* A number or true/false in gevo.json is its text (read, not ignored). */
    json_t *cfg = session_config_node(s, "llm");
    json_object_set_new(cfg, "eta", json_integer(2));
    json_object_set_new(cfg, "epsilon", json_real(0.25));
    json_object_set_new(cfg, "flag", json_true());
    json_object_set_new(cfg, "list", json_array());
    const char *eta = session_config_get(s, "llm.eta");
    CHECK(eta && !strcmp(eta, "2"), "a number setting is its text: %s", eta ? eta : "NULL");
    CHECK(session_config_get(s, "llm.eta") == eta, "the same borrowed text when asked again");
    CHECK(session_config_get(s, "llm.epsilon") &&
              !strcmp(session_config_get(s, "llm.epsilon"), "0.25"),
          "a real setting is its text");
    CHECK(session_config_get(s, "llm.flag") && !strcmp(session_config_get(s, "llm.flag"), "true"),
          "true is its text");
    CHECK(!session_config_get(s, "llm.list"), "a list is no text");
    json_object_del(cfg, "epsilon");
    json_object_del(cfg, "flag");
    json_object_del(cfg, "list");
    CHECK(session_config_set(s, "llm.eta", "4", &serr) == 0 &&
              !strcmp(session_config_get(s, "llm.eta"), "4"),
          "set over a number");
    CHECK(session_config_set(s, "llm.api_key", "abc", &serr) != 0, "a key refused");
    CHECK(session_config_set(s, "llm.api_key_env", "sk-12/34", &serr) != 0, "not a variable name");
    session_close(s);

    /* Reopen: everything is there, numbering continues. */
    CHECK(session_open(&s, dir, SESSION_WRITE, &serr) == 0, "reopen: %s", serr.msg);
    if (!s)
        return;
    CHECK(!strcmp(session_config_get(s, "llm.model"), "qwen"), "config persisted");
    x.generation = 2;
    CHECK(session_add(s, &x, id, &serr) == 0 && !strcmp(id, "g2-2"), "numbering continues: %s", id);
    session_close(s);
}

static void test_lock(void)
{
    char dir[512];
    session *s = new_session("lock", dir, sizeof dir);
    if (!s)
        return;
    session *t = NULL;
    char host[128] = "";
    gethostname(host, sizeof host);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    CHECK(session_open(&t, dir, SESSION_WRITE, &serr) != 0 && strstr(serr.msg, pid) &&
              strstr(serr.msg, host),
          "second writer refused naming the holder: %s", serr.msg);
    CHECK(session_open(&t, dir, SESSION_WRITE_OR_READ, &serr) == 0 && t && !session_is_writer(t),
          "falls back to read-only");
    if (t) {
        CHECK(strstr(session_lock_holder(t), pid) != NULL, "holder: %s", session_lock_holder(t));
        session_info *v = NULL;
        size_t n = 0;
        CHECK(session_list(t, -1, &v, &n, &serr) == 0 && n == 1, "a reader lists while locked");
        free(v);
        char id[SESSION_ID_MAX];
        session_new m = {.generation = 1, .op = "mutation", .genome = "x"};
        CHECK(session_add(t, &m, id, &serr) != 0 && strstr(serr.msg, "read-only"),
              "a reader cannot write: %s", serr.msg);
        session_close(t);
    }
    session_close(s);

    /* A writer that dies leaves a stale lock that is taken over. */
    pid_t child = fork();
    if (child == 0) {
        session *c = NULL;
        if (session_open(&c, dir, SESSION_WRITE, &serr) != 0)
            _exit(3);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    int st = 0;
    waitpid(child, &st, 0);
    CHECK(WIFSIGNALED(st), "child killed");
    char lock[600];
    snprintf(lock, sizeof lock, "%s/.git/gevo.lock", dir);
    char *text = harness_slurp(lock, NULL);
    CHECK(text && atol(text) == (long)child, "lock names the dead writer: %s", text ? text : "");
    free(text);
    CHECK(session_open(&t, dir, SESSION_WRITE, &serr) == 0 && session_is_writer(t),
          "stale lock taken over: %s", serr.msg);
    session_close(t);
}

/* The commands on the session test_create_and_add built. */
static void test_commands(void)
{
    const char *gevo = getenv("GEVO");
    REQUIRE(gevo && access(gevo, X_OK) == 0,
            "$GEVO (the gevo binary) is not set; run through tests/run.sh");
    char cmd[1200];
    int st;
    snprintf(cmd, sizeof cmd, "%s log %s", gevo, full_dir);
    char *out = harness_output(cmd, &st);
    CHECK(st == 0 && out && strstr(out, "generation 1: 2 individuals, front: g1-1") &&
              strstr(out, "generation 2: 2 individuals, front: g2-1") && strstr(out, "81.2%") &&
              strstr(out, "4242") && strstr(out, "approved_edited (edited)") &&
              strstr(out, "rejected"),
          "gevo log: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s show %s g1-1", gevo, full_dir);
    out = harness_output(cmd, &st);
    CHECK(st == 0 && out && strstr(out, "operator mutation  persona expert") &&
              strstr(out, "parents    g0-1") && strstr(out, "A larger receptive field.") &&
              strstr(out, "\"val_acc\": 0.8125") && strstr(out, "kernel 5 is slow") &&
              strstr(out, "== researcher's edit ==") && strstr(out, "model      test-model"),
          "gevo show: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s show %s g1-2", gevo, full_dir);
    out = harness_output(cmd, &st);
    CHECK(st == 0 && out && strstr(out, "== diff against parent g0-1 ==") &&
              strstr(out, "+    return relu(conv(x, c, k=5"),
          "gevo show: the diff against the parent: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s export %s --json", gevo, full_dir);
    out = harness_output(cmd, &st);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    json_t *arr = json_object_get(j, "individuals");
    CHECK(st == 0 && json_array_size(arr) == 5, "export --json: %zu individuals",
          json_array_size(arr));
    json_t *g11 = json_array_get(arr, 1);
    CHECK(json_real_value(json_object_get(g11, "val_acc")) == 0.8125 &&
              json_integer_value(json_object_get(g11, "params")) == 4242 &&
              json_is_true(json_object_get(g11, "edited")),
          "export: g1-1's objectives");
    json_decref(j);
    free(out);
    snprintf(cmd, sizeof cmd, "%s export %s --csv", gevo, full_dir);
    out = harness_output(cmd, &st);
    CHECK(st == 0 && out && strstr(out, "\ng1-1,1,1,") &&
              strstr(out, ",ok,0.812500,4242,1500000,12.500,approved_edited,false,0\n") &&
              strstr(out, ",review,front,rung\n"),
          "export --csv: %s", out);
    free(out);
}

/* The planted key must not appear in any object, note, ref, log or file. */
static int contains(const void *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

struct scan {
    git_odb *odb;
    const char *secret;
    int found, objects;
};

static int scan_obj(const git_oid *id, void *arg)
{
    struct scan *sc = arg;
    git_odb_object *o = NULL;
    if (git_odb_read(&o, sc->odb, id) == 0) {
        sc->objects++;
        if (contains(git_odb_object_data(o), git_odb_object_size(o), sc->secret))
            sc->found++;
        git_odb_object_free(o);
    }
    return 0;
}

static void test_no_secret(void)
{
    const char *secret = "sk-gevo-TEST-7f3a9c1e55d24b8e";
    setenv("GEVO_TEST_API_KEY", secret, 1);
    char dir[512];
    session *s = new_session("secret", dir, sizeof dir);
    if (!s)
        return;
    CHECK(session_config_set(s, "llm.api_key_env", "GEVO_TEST_API_KEY", &serr) == 0,
          "key env name: %s", serr.msg);
    CHECK(session_config_set(s, "llm.base_url", secret, &serr) != 0, "the key as a value refused");
    char with[256];
    snprintf(with, sizeof with, "Authorization: Bearer %s", secret);
    char id[SESSION_ID_MAX];
    session_new m = {.generation = 1,
                     .op = "mutation",
                     .persona = "expert",
                     .parents = {"g0-1"},
                     .n_parents = 1,
                     .model = "m",
                     .summary = with,
                     .genome = mut_text,
                     .reasoning = with,
                     .prompt = with,
                     .response = with};
    CHECK(session_add(s, &m, id, &serr) == 0, "add: %s", serr.msg);
    char res[256];
    snprintf(res, sizeof res, "{\"status\": \"ok\", \"val_acc\": 0.5, \"log\": \"%s\"}", secret);
    CHECK(session_set_result(s, id, res, &serr) == 0, "result: %s", serr.msg);
    session_annotation a = {.line = 1, .text = with};
    session_review r = {
        .decision = "approved", .reason = with, .annotations = &a, .n_annotations = 1};
    CHECK(session_set_review(s, id, &r, &serr) == 0, "review");
    CHECK(session_edit(s, id, mut_text, with, &serr) == 0, "edit");
    const char *pop[] = {id};
    CHECK(session_journal_add(s, 1, pop, 1, pop, 1, &serr) == 0, "journal");
    char *p = NULL;
    CHECK(session_file(s, id, "prompt.txt", &p, &serr) == 0 && p && strstr(p, "[redacted]"),
          "prompt redacted: %s", p ? p : "");
    free(p);
    session_close(s);

    git_repository *repo = NULL;
    struct scan sc = {NULL, secret, 0, 0};
    CHECK(git_repository_open(&repo, dir) == 0 && git_repository_odb(&sc.odb, repo) == 0, "open");
    if (sc.odb) {
        git_odb_foreach(sc.odb, scan_obj, &sc);
        CHECK(sc.objects > 20 && sc.found == 0, "%d of %d objects contain the key", sc.found,
              sc.objects);
        git_odb_free(sc.odb);
    }
    git_repository_free(repo);
    char cmd[1024];
    int st;
    snprintf(cmd, sizeof cmd,
             "cd %s && git cat-file --batch-all-objects --batch | grep -c -a -F '%s'; "
             "grep -r -a -l -F '%s' . ; git notes --ref=results show %s",
             dir, secret, secret, id);
    char *out = harness_output(cmd, &st);
    CHECK(out && !strncmp(out, "0\n", 2) && !strstr(out + 2, "./") && strstr(out, "[redacted]"),
          "git sees no key in objects, refs, logs, config or files: %s", out);
    free(out);
    unsetenv("GEVO_TEST_API_KEY");
}

/* Failed proposals: refs/failed/gGEN-fN, numbered per generation, not
 * individuals; what they asked again for and with which note; the totals
 * count them with the individuals. */
static void test_failed(void)
{
    char dir[512];
    session *s = new_session("failed", dir, sizeof dir);
    if (!s)
        return;
    session_new f = {.generation = 1,
                     .op = "mutation",
                     .persona = "magoo",
                     .parents = {"g0-1"},
                     .n_parents = 1,
                     .model = "m1",
                     .tokens_in = 3000,
                     .tokens_out = 1500,
                     .cost_usd = 0.25,
                     .requests = 3,
                     .error = "no valid proposal after 3 attempts\nsecond line",
                     .prompt = "===== attempt 1 of 3 =====\nthe prompt\n",
                     .response = "===== attempt 1 of 3 =====\nnot a network\n",
                     .reasoning = "attempt 1: extract: no code block\n"};
    char a[SESSION_ID_MAX], b[SESSION_ID_MAX], c[SESSION_ID_MAX];
    CHECK(session_add_failed(s, &f, a, &serr) == 0, "add_failed: %s", serr.msg);
    f.retry_of = a;
    f.steering = "keep the stem";
    CHECK(session_add_failed(s, &f, b, &serr) == 0, "add_failed again: %s", serr.msg);
    f.generation = 2;
    f.retry_of = f.steering = NULL;
    CHECK(session_add_failed(s, &f, c, &serr) == 0, "add_failed gen 2: %s", serr.msg);
    CHECK(!strcmp(a, "g1-f1") && !strcmp(b, "g1-f2") && !strcmp(c, "g2-f1"), "ids %s %s %s", a, b,
          c);
    session_failed_info *v = NULL;
    size_t n = 0;
    CHECK(session_failed_list(s, 1, &v, &n, &serr) == 0 && n == 2, "list gen 1: %zu %s", n,
          serr.msg);
    if (n == 2) {
        CHECK(!strcmp(v[0].id, "g1-f1") && !strcmp(v[1].retry_of, "g1-f1") && !v[0].retry_of[0] &&
                  !strcmp(v[1].steering, "keep the stem") && !strcmp(v[0].persona, "magoo") &&
                  !strcmp(v[0].parents[0], "g0-1") && v[0].attempts == 3 &&
                  v[0].tokens_in == 3000 &&
                  !strcmp(v[0].error, "no valid proposal after 3 attempts\nsecond line"),
              "fields: %s %s %s %d %s", v[0].id, v[1].retry_of, v[0].persona, v[0].attempts,
              v[0].error);
    }
    free(v);
    char *t = NULL;
    CHECK(session_failed_file(s, "g1-f2", "reasoning.md", &t, &serr) == 0 && t &&
              !strcmp(t, "attempt 1: extract: no code block\n"),
          "reasoning.md: %s %s", t ? t : "(null)", serr.msg);
    free(t);
    t = NULL;
    CHECK(session_failed_file(s, "g1-f9", "reasoning.md", &t, &serr) != 0 &&
              strstr(serr.msg, "no failed proposal g1-f9"),
          "an unknown failed proposal: %s", serr.msg);
    free(t);
    /* not individuals: nothing to list, resolve or train */
    session_info *inds = NULL;
    CHECK(session_list(s, 1, &inds, &n, &serr) == 0 && n == 0, "no individual: %zu", n);
    free(inds);
    char id[SESSION_ID_MAX];
    CHECK(session_resolve(s, "g1-f1", id, &serr) != 0, "g1-f1 is no individual");
    CHECK(!session_valid_failed_id("g1-1", NULL, NULL) &&
              !session_valid_failed_id("g01-f1", NULL, NULL) &&
              session_valid_failed_id("g3-f12", NULL, NULL),
          "failed ids");
    session_totals tot;
    CHECK(session_totals_get(s, &tot, &serr) == 0 && tot.failed == 3 && tot.requests == 9 &&
              tot.tokens_in == 9000 && tot.cost_usd > 0.74 && tot.cost_usd < 0.76,
          "totals: %zu failed, %ld requests, %ld in, %.2f", tot.failed, tot.requests, tot.tokens_in,
          tot.cost_usd);
    char cmd[1024];
    int st;
    snprintf(cmd, sizeof cmd,
             "cd %s && git log -1 --format=%%B refs/failed/g1-f2 && "
             "git show refs/failed/g1-f2:meta.json && git fsck --strict 2>&1",
             dir);
    char *out = harness_output(cmd, &st);
    CHECK(st == 0 && out &&
              strstr(out, "g1-f2 gen 1 mutation (magoo) failed: no valid proposal after 3 "
                          "attempts\n") &&
              strstr(out, "asked again for: g1-f1\n") && strstr(out, "\"retry_of\": \"g1-f1\"") &&
              strstr(out, "\"steering\": \"keep the stem\""),
          "git reads the record: %s", out);
    free(out);
    session_close(s);
    /* a reader sees them; a reader cannot add one */
    CHECK(session_open(&s, dir, SESSION_READ, &serr) == 0, "open: %s", serr.msg);
    CHECK(session_failed_list(s, -1, &v, &n, &serr) == 0 && n == 3, "reader: %zu", n);
    free(v);
    CHECK(session_add_failed(s, &f, id, &serr) != 0, "a reader cannot record");
    session_close(s);
}

int main(void)
{
    git_libgit2_init();
    make_tmp();
    RUN(test_create_and_add);
    RUN(test_commands);
    RUN(test_lock);
    RUN(test_no_secret);
    RUN(test_failed);
    harness_rmtree(tmp);
    git_libgit2_shutdown();
    return harness_done();
}

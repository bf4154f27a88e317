/* The local evaluator with real `gevo train` workers ($GEVO) on a tiny IDX
 * data set written here: a 2-slot pool with 4 candidates, an invalid
 * program, a worker killed with SIGKILL, cancellation (running and
 * queued), time limits (the worker's own, and the evaluator's watchdog on
 * a worker that ignores SIGTERM), and reattaching to a worker started by
 * an evaluator that was freed. Waits are on events with generous limits,
 * never on speed. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/evaluator.h"
#include "engine/base/file.h"
#include "tests/harness.h"

#define WAIT_LIMIT 600.0 /* seconds: only a hang reaches this */

static char dir[256], data[300], work[300], good[300], bad[300], slow_sh[300];
static const char *gevo;

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s/gevo-eval-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(work, sizeof work, "%s/session/.gevo/work", dir);
    snprintf(good, sizeof good, "%s/good.net", dir);
    snprintf(bad, sizeof bad, "%s/bad.net", dir);
    snprintf(slow_sh, sizeof slow_sh, "%s/stubborn.sh", dir);
    mkdir(data, 0755);
    harness_write_quadrants(data, "train", 400, false, 1);
    harness_write_quadrants(data, "t10k", 100, false, 2);
    write_file(
        good,
        "input x: 1x8x8\nclasses 4\n"
        "def block(x, c):\n    return relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))\n"
        "x = maxpool(block(x, 4), 2)\n"
        "return linear(gap(x), classes)\n"
        "train optimizer=sgd lr=0.05 epochs=1 batch=32\n",
        0644);
    write_file(bad,
               "input x: 1x8x8\nclasses 4\n"
               "x = frobnicate(x, 4)\n"
               "return linear(gap(x), classes)\n",
               0644);
    /* a worker that ignores SIGTERM (ignored signals stay ignored across
       exec): only the watchdog's SIGKILL ends it */
    write_file(slow_sh,
               "#!/bin/sh\ntrap '' TERM\nfor a; do last=$a; done\n: > \"${last%/*}/ready\"\nexec "
               "sleep 1000\n",
               0755);
}

/* ---- waiting on events ----------------------------------------------------- */

typedef struct log_t {
    evaluator_event ev[4096];
    int n;
    int running, max_running; /* STARTED minus ended, and its peak */
} log_t;

static log_t lg;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void log_clear(void)
{
    for (int i = 0; i < lg.n; i++)
        evaluator_event_clear(&lg.ev[i]);
    memset(&lg, 0, sizeof lg);
}

static const evaluator_event *final_of(const char *id)
{
    for (int i = 0; i < lg.n; i++)
        if (!strcmp(lg.ev[i].id, id) &&
            (lg.ev[i].kind == EVALUATOR_FINISHED || lg.ev[i].kind == EVALUATOR_FAILED))
            return &lg.ev[i];
    return NULL;
}

static int count_kind(const char *id, evaluator_event_kind kind, const char *phase)
{
    int c = 0;
    for (int i = 0; i < lg.n; i++)
        if (!strcmp(lg.ev[i].id, id) && lg.ev[i].kind == kind &&
            (!phase || !strcmp(lg.ev[i].phase, phase)))
            c++;
    return c;
}

/* One round of the caller's loop: poll() on the evaluator's fds and
 * timeout, then collect events into the log. A caller that acknowledges
 * tells the evaluator it saved each outcome (as the workbench does); one
 * that does not stands for a workbench that died before it could. */
static void pump_events(evaluator *ev, bool acknowledge)
{
    struct pollfd pfd[16];
    int n = evaluator_pollfds(ev, pfd, 16);
    int t = evaluator_timeout_ms(ev);
    poll(pfd, (nfds_t)n, t < 0 || t > 1000 ? 1000 : t);
    evaluator_event e[8];
    int k;
    while ((k = evaluator_poll(ev, e, 8)) > 0)
        for (int i = 0; i < k; i++) {
            if (e[i].kind == EVALUATOR_STARTED)
                lg.running++;
            if (e[i].kind == EVALUATOR_FINISHED || e[i].kind == EVALUATOR_FAILED) {
                /* the caller saved it (here: the log has it) */
                if (acknowledge)
                    evaluator_collected(ev, e[i].id, NULL);
                /* a queued candidate cancelled never started */
                bool started = false;
                for (int j = 0; j < lg.n; j++)
                    if (!strcmp(lg.ev[j].id, e[i].id) && lg.ev[j].kind == EVALUATOR_STARTED)
                        started = true;
                if (started)
                    lg.running--;
            }
            if (lg.running > lg.max_running)
                lg.max_running = lg.running;
            /* progress can outnumber the log (a fast engine on tiny data
               sends an event per epoch); the last slots are kept for the
               events the tests wait for */
            int cap = (int)(sizeof lg.ev / sizeof *lg.ev);
            if (lg.n < cap - 64 || (e[i].kind != EVALUATOR_PROGRESS && lg.n < cap))
                lg.ev[lg.n++] = e[i];
            else
                evaluator_event_clear(&e[i]);
        }
}

static void pump(evaluator *ev)
{
    pump_events(ev, true);
}

static bool wait_final(evaluator *ev, const char *id)
{
    double t0 = now();
    while (!final_of(id) && now() - t0 < WAIT_LIMIT)
        pump(ev);
    return final_of(id) != NULL;
}

/* The candidate's FINISHED or FAILED event, waited for (a CHECK that it
 * came); NULL when it never came. */
static const evaluator_event *ended(evaluator *ev, const char *id)
{
    CHECK(wait_final(ev, id), "%s never ended", id);
    return final_of(id);
}

/* Until the candidate has shown a step of training (so it is busy). */
static bool wait_step(evaluator *ev, const char *id)
{
    double t0 = now();
    while (!count_kind(id, EVALUATOR_PROGRESS, "step") && !final_of(id) && now() - t0 < WAIT_LIMIT)
        pump(ev);
    return count_kind(id, EVALUATOR_PROGRESS, "step") > 0;
}

/* A local evaluator on work/ with its log emptied (NULL, a CHECK, when
 * it cannot be made). */
static evaluator *make(int slots, const char *exe, double grace)
{
    log_clear();
    evaluator_config cfg;
    evaluator_config_default(&cfg);
    gerr err = GERR_INIT;
    CHECK(evaluator_config_set(&cfg, "dir", work, &err) == 0, "%s", err.msg);
    cfg.slots = slots;
    cfg.threads = 1;
    cfg.grace = grace;
    snprintf(cfg.exe, sizeof cfg.exe, "%s", exe);
    evaluator *ev = eval_local_new(&cfg, &err);
    CHECK(ev != NULL, "eval_local_new: %s", err.msg);
    return ev;
}

/* Frees the evaluator and the events it logged. */
static void done(evaluator *ev)
{
    evaluator_free(ev);
    log_clear();
}

static const char *quick_args[] = {"--data", data,     "--no-test", "--epochs",
                                   "1",      "--seed", "3",         NULL};
static const char *long_args[] = {"--data", data, "--no-test", "--epochs", "10000", NULL};

static int submit(evaluator *ev, const char *id, const char *genome, const char **args,
                  double limit)
{
    evaluator_job job = {.id = id, .genome = genome, .args = args, .time_limit = limit};
    gerr err = GERR_INIT;
    int rc = evaluator_submit(ev, &job, &err);
    CHECK(rc == 0, "submit %s: %s", id, err.msg);
    return rc;
}

static long read_pid(const char *id)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/pid", work, id);
    FILE *f = fopen(p, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

/* ---- the tests -------------------------------------------------------------- */

/* 2 slots, 4 good candidates and an invalid one: never more than 2 at
 * once, every result collected with its progress, the invalid program
 * failed with its compile error. */
static void test_pool(void)
{
    evaluator *ev = make(2, gevo, 30);
    if (!ev)
        return;
    const char *ids[4] = {"c1", "c2", "c3", "c4"};
    for (int i = 0; i < 4; i++)
        submit(ev, ids[i], good, quick_args, 0);
    submit(ev, "invalid", bad, quick_args, 0);
    CHECK_EQ_INT(evaluator_active(ev), 5);
    for (int i = 0; i < 4; i++) {
        const evaluator_event *f = ended(ev, ids[i]);
        if (!f)
            continue;
        CHECK(f->kind == EVALUATOR_FINISHED && !strcmp(f->status, "ok"),
              "%s: kind %d status '%s' reason %s", ids[i], f->kind, f->status, f->reason);
        CHECK(f->result_json && strstr(f->result_json, "\"val_acc\""), "%s: result %s", ids[i],
              f->result_json ? f->result_json : "(none)");
        CHECK(strstr(f->result_path, "/c") && strstr(f->result_path, "result.json"), "path %s",
              f->result_path);
        CHECK(count_kind(ids[i], EVALUATOR_STARTED, NULL) == 1, "%s started once", ids[i]);
        CHECK(count_kind(ids[i], EVALUATOR_PROGRESS, "epoch") >= 1, "%s: no epoch progress",
              ids[i]);
        /* the epoch line carries its numbers */
        for (int k = 0; k < lg.n; k++)
            if (!strcmp(lg.ev[k].id, ids[i]) && lg.ev[k].kind == EVALUATOR_PROGRESS &&
                !strcmp(lg.ev[k].phase, "epoch")) {
                CHECK(lg.ev[k].epoch == 1 && lg.ev[k].epochs == 1 && lg.ev[k].steps > 0 &&
                          isfinite(lg.ev[k].loss) && lg.ev[k].val_acc >= 0 && lg.ev[k].val_acc <= 1,
                      "%s epoch event: epoch %d/%d steps %ld loss %g val %g", ids[i],
                      lg.ev[k].epoch, lg.ev[k].epochs, lg.ev[k].steps, lg.ev[k].loss,
                      lg.ev[k].val_acc);
                break;
            }
    }
    const evaluator_event *f = ended(ev, "invalid");
    if (f)
        CHECK(f->kind == EVALUATOR_FAILED && strstr(f->reason, "frobnicate") &&
                  strstr(f->reason, "genome.net:3:") && !strcmp(f->status, "error"),
              "invalid: kind %d reason '%s'", f->kind, f->reason);
    CHECK(lg.max_running == 2, "at most 2 at once, and 2 used: peak %d", lg.max_running);
    CHECK_EQ_INT(evaluator_active(ev), 0);
    CHECK_EQ_INT(evaluator_timeout_ms(ev), -1);
    /* the ids are collected: a reattach finds nothing to adopt */
    gerr err = GERR_INIT;
    CHECK_EQ_INT(evaluator_reattach(ev, &err), 0);
    done(ev);
}

/* Bad submissions are errors with a message, before anything runs. */
static void test_bad_jobs(void)
{
    evaluator *ev = make(1, gevo, 30);
    if (!ev)
        return;
    gerr err = GERR_INIT;
    evaluator_job j = {.id = "a/b", .genome = good};
    CHECK(evaluator_submit(ev, &j, &err) == -1 && strstr(err.msg, "only letters"), "bad id: %s",
          err.msg);
    j.id = "../x";
    CHECK(evaluator_submit(ev, &j, &err) == -1 && strstr(err.msg, "'.'"), "dot id: %s", err.msg);
    j.id = "";
    CHECK(evaluator_submit(ev, &j, &err) == -1, "empty id");
    j.id = "ok1";
    const char *owned[] = {"--data", data, "--thread=4", NULL};
    j.args = owned;
    CHECK(evaluator_submit(ev, &j, &err) == -1 && strstr(err.msg, "--thread=4"), "owned option: %s",
          err.msg);
    j.args = NULL;
    j.genome = "/nonexistent/x.net";
    CHECK(evaluator_submit(ev, &j, &err) == -1 && strstr(err.msg, "/nonexistent/x.net"),
          "missing genome: %s", err.msg);
    j.genome = good;
    j.time_limit = -1;
    CHECK(evaluator_submit(ev, &j, &err) == -1 && strstr(err.msg, "time limit"),
          "negative limit: %s", err.msg);
    CHECK(evaluator_cancel(ev, "nobody", &err) == -1 && strstr(err.msg, "nobody"),
          "cancel unknown: %s", err.msg);
    evaluator_config cfg;
    evaluator_config_default(&cfg);
    CHECK(cfg.slots == EVALUATOR_DEFAULT_SLOTS && cfg.threads == EVALUATOR_DEFAULT_THREADS,
          "defaults");
    CHECK(evaluator_config_set(&cfg, "slots", "0", &err) == -1 && strstr(err.msg, "slots"),
          "slots 0: %s", err.msg);
    CHECK(evaluator_config_set(&cfg, "slotz", "2", &err) == -1 && strstr(err.msg, "slotz"),
          "unknown key");
    CHECK(evaluator_config_set(&cfg, "threads", "2", &err) == 0 && cfg.threads == 2, "threads");
    snprintf(cfg.dir, sizeof cfg.dir, "%s/w2", dir);
    snprintf(cfg.exe, sizeof cfg.exe, "%s/data", dir);
    evaluator *bad_ev = eval_local_new(&cfg, &err);
    CHECK(bad_ev == NULL && strstr(err.msg, "not an executable"), "exe: %s", err.msg);
    evaluator_free(bad_ev);
    evaluator_free(ev);
}

/* SIGKILL to a busy worker: failed, "killed by signal 9". The worker is
 * detached: its own session and process group. */
static void test_killed(void)
{
    evaluator *ev = make(2, gevo, 30);
    if (!ev)
        return;
    submit(ev, "victim", good, long_args, 0);
    CHECK(wait_step(ev, "victim"), "victim never trained");
    long pid = read_pid("victim");
    CHECK(pid > 0, "no pid file");
    if (pid > 0) {
        CHECK(getsid((pid_t)pid) != getsid(0), "worker in our session %d", (int)getsid(0));
        CHECK(getpgid((pid_t)pid) != getpgid(0), "worker in our process group");
        kill((pid_t)pid, SIGKILL);
    }
    const evaluator_event *f = ended(ev, "victim");
    if (f)
        CHECK(f->kind == EVALUATOR_FAILED && strstr(f->reason, "killed by signal 9") &&
                  !f->cancelled,
              "victim: kind %d reason '%s'", f->kind, f->reason);
    done(ev);
}

/* Cancelling a running candidate (its worker gets SIGTERM and is gone
 * before the event) and a queued one (never started). */
static void test_cancel(void)
{
    evaluator *ev = make(1, gevo, 30);
    if (!ev)
        return;
    submit(ev, "run1", good, long_args, 0);
    submit(ev, "queued1", good, long_args, 0);
    gerr err = GERR_INIT;
    CHECK(evaluator_cancel(ev, "queued1", &err) == 0, "cancel queued: %s", err.msg);
    const evaluator_event *f = ended(ev, "queued1");
    if (f)
        CHECK(f->kind == EVALUATOR_FAILED && f->cancelled, "queued1: kind %d", f->kind);
    CHECK_EQ_INT(count_kind("queued1", EVALUATOR_STARTED, NULL), 0);
    CHECK(wait_step(ev, "run1"), "run1 never trained");
    long pid = read_pid("run1");
    CHECK(evaluator_cancel(ev, "run1", &err) == 0, "cancel: %s", err.msg);
    f = ended(ev, "run1");
    if (f)
        CHECK(f->kind == EVALUATOR_FAILED && f->cancelled && !strcmp(f->reason, "cancelled"),
              "run1: kind %d reason %s", f->kind, f->reason);
    /* SIGTERM let it write its partial result: stopped */
    if (f)
        CHECK(!strcmp(f->status, "stopped"), "run1 status '%s'", f->status);
    CHECK(pid > 0 && kill((pid_t)pid, 0) == -1 && errno == ESRCH, "worker %ld still there", pid);
    CHECK_EQ_INT(evaluator_active(ev), 0);
    done(ev);
}

/* The worker's own --time-limit ends training with status timeout (a
 * result); the watchdog stops a worker that outlives its limit plus the
 * grace period, with SIGKILL when it ignores SIGTERM. */
static void test_time_limits(void)
{
    evaluator *ev = make(2, gevo, 60);
    if (!ev)
        return;
    submit(ev, "limited", good, long_args, 1.0);
    const evaluator_event *f = ended(ev, "limited");
    if (f)
        CHECK(f->kind == EVALUATOR_FINISHED && !strcmp(f->status, "timeout"),
              "limited: kind %d status %s reason %s", f->kind, f->status, f->reason);
    evaluator_free(ev);

    ev = make(1, slow_sh, 0.2);
    if (!ev)
        return;
    submit(ev, "stubborn", good, NULL, 0.2);
    f = ended(ev, "stubborn");
    if (f)
        CHECK(f->kind == EVALUATOR_FAILED && strstr(f->reason, "time limit of 0.2 s exceeded") &&
                  strstr(f->reason, "killed by signal"),
              "stubborn: kind %d reason '%s'", f->kind, f->reason);
    /* the script writes "ready" after it ignores SIGTERM: if it did, only
       the SIGKILL after the grace period can have ended it */
    char ready[600];
    snprintf(ready, sizeof ready, "%s/stubborn/ready", work);
    if (f && access(ready, F_OK) == 0)
        CHECK(strstr(f->reason, "killed by signal 9") != NULL, "stubborn: reason '%s'", f->reason);

    /* cancelling one that ignores SIGTERM: SIGKILL after the grace period */
    submit(ev, "stubborn2", good, NULL, 0);
    snprintf(ready, sizeof ready, "%s/stubborn2/ready", work);
    double t0 = now();
    while (access(ready, F_OK) && !final_of("stubborn2") && now() - t0 < WAIT_LIMIT)
        pump(ev);
    gerr err = GERR_INIT;
    CHECK(evaluator_cancel(ev, "stubborn2", &err) == 0, "cancel: %s", err.msg);
    f = ended(ev, "stubborn2");
    if (f)
        CHECK(f->kind == EVALUATOR_FAILED && f->cancelled, "stubborn2: kind %d %s", f->kind,
              f->reason);
    char exitp[600];
    snprintf(exitp, sizeof exitp, "%s/stubborn2/exit", work);
    char *how = harness_slurp(exitp, NULL);
    CHECK(how && !strcmp(how, "signal 9\n"), "stubborn2 ended by '%s'", how ? how : "");
    free(how);
    done(ev);
}

/* A worker started by an evaluator that was then freed (as when the
 * workbench dies) is collected by a new evaluator on the same folder. */
static void test_reattach(void)
{
    evaluator *a = make(1, gevo, 30);
    if (!a)
        return;
    const char *args[] = {"--data", data, "--no-test", "--epochs", "100", NULL};
    submit(a, "orphan", good, args, 0);
    /* its STARTED event, then abandon it, never acknowledging an outcome:
       on a busy machine the worker (a tenth of a second of training) can
       end before the first poll, and its outcome, never saved, must still
       be collected by the next evaluator */
    double t0 = now();
    while (!count_kind("orphan", EVALUATOR_STARTED, NULL) && now() - t0 < WAIT_LIMIT)
        pump_events(a, false);
    long pid = read_pid("orphan");
    done(a);
    CHECK(pid > 0, "orphan has no pid");

    evaluator *b = make(1, gevo, 30);
    if (!b)
        return;
    gerr err = GERR_INIT;
    int n = evaluator_reattach(b, &err);
    CHECK(n == 1, "reattach found %d: %s", n, err.msg);
    const evaluator_event *f = ended(b, "orphan");
    if (f)
        CHECK(f->kind == EVALUATOR_FINISHED && !strcmp(f->status, "ok") && f->result_json,
              "orphan: kind %d %s %s", f->kind, f->status, f->reason);
    CHECK(count_kind("orphan", EVALUATOR_STARTED, NULL) == 1, "reattached STARTED");
    for (int i = 0; i < lg.n; i++)
        if (lg.ev[i].kind == EVALUATOR_STARTED)
            CHECK(lg.ev[i].reattached && lg.ev[i].pid == pid, "reattached event");
    /* collected once: another reattach finds nothing */
    CHECK_EQ_INT(evaluator_reattach(b, &err), 0);
    done(b);

    /* the starting process dies (SIGKILL, no clean-up at all) while its
       worker trains: the worker lives on and is collected. It never
       acknowledges an outcome either: stalled for the worker's 2 s limit
       between the submit and its first poll, it would see STARTED and
       the outcome at once, and an acknowledged outcome is rightly not
       reattached */
    pid_t child = fork();
    if (child == 0) {
        evaluator *c = make(1, gevo, 30);
        evaluator_job job = {.id = "survivor", .genome = good, .args = long_args, .time_limit = 2};
        if (!c || evaluator_submit(c, &job, &err))
            _exit(1);
        while (!count_kind("survivor", EVALUATOR_STARTED, NULL))
            pump_events(c, false);
        raise(SIGKILL);
    }
    int st = 0;
    waitpid(child, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
          "the starting process did not die as planned");
    b = make(1, gevo, 30);
    if (!b)
        return;
    n = evaluator_reattach(b, &err);
    CHECK(n == 1, "reattach after death found %d: %s", n, err.msg);
    f = ended(b, "survivor");
    /* --epochs 10000 with a 2 s limit: the worker stopped itself */
    if (f)
        CHECK(f->kind == EVALUATOR_FINISHED && !strcmp(f->status, "timeout"),
              "survivor: kind %d %s %s", f->kind, f->status, f->reason);
    done(b);
}

/* A worker's environment is chosen: what training needs and GEVO_*, never
 * the API key (the configured variable, GEVO_LLM_API_KEY*) nor anything
 * else of ours. The worker here dumps its own /proc/self/environ. */
static void test_worker_env(void)
{
    char dump_sh[400];
    snprintf(dump_sh, sizeof dump_sh, "%s/dump_env.sh", dir);
    write_file(dump_sh,
               "#!/bin/sh\nfor a; do last=$a; done\n"
               "tr '\\0' '\\n' </proc/$$/environ >\"${last%/*}/environ.txt\"\n",
               0755);
    setenv("MY_LLM_KEY", "sk-env-secret-1", 1);
    setenv("GEVO_LLM_API_KEY", "sk-env-secret-2", 1);
    setenv("GEVO_LLM_API_KEY_ENV", "MY_LLM_KEY", 1);
    setenv("OPENAI_API_KEY", "sk-env-secret-3", 1);
    setenv("GEVO_KEEP_ME", "kept", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("UNRELATED_THING", "dropped", 1);
    setenv("LSAN_OPTIONS", "verbosity=0", 1); /* the sanitizers' options are kept */
    evaluator_config cfg;
    evaluator_config_default(&cfg);
    snprintf(cfg.dir, sizeof cfg.dir, "%s", work);
    snprintf(cfg.exe, sizeof cfg.exe, "%s", dump_sh);
    snprintf(cfg.key_env, sizeof cfg.key_env, "MY_LLM_KEY");
    gerr err = GERR_INIT;
    evaluator *ev = eval_local_new(&cfg, &err);
    CHECK(ev != NULL, "%s", err.msg);
    if (!ev)
        return;
    log_clear();
    submit(ev, "envdump", good, quick_args, 0);
    CHECK(wait_final(ev, "envdump"), "the env dump never ended");
    evaluator_free(ev);
    char path[600], *text = NULL;
    snprintf(path, sizeof path, "%s/envdump/environ.txt", work);
    file_read(path, 1 << 20, &text, NULL, NULL);
    CHECK(text != NULL, "no %s", path);
    if (text) {
        CHECK(!strstr(text, "sk-env-secret"), "a key reached the worker:\n%s", text);
        CHECK(!strstr(text, "GEVO_LLM_API_KEY") && !strstr(text, "UNRELATED_THING"),
              "unlisted variables reached the worker:\n%s", text);
        CHECK(strstr(text, "\nPATH=") || !strncmp(text, "PATH=", 5), "PATH kept");
        CHECK(strstr(text, "LSAN_OPTIONS=verbosity=0"), "the sanitizers' options kept:\n%s", text);
        CHECK(strstr(text, "GEVO_KEEP_ME=kept") && strstr(text, "OMP_NUM_THREADS=1"),
              "GEVO_* and OMP_* kept:\n%s", text);
    }
    free(text);
    /* a key kept in a variable of the kept names is still the key's */
    snprintf(cfg.key_env, sizeof cfg.key_env, "ASAN_OPTIONS");
    CHECK(!evaluator_env_kept(&cfg, "ASAN_OPTIONS=sk-in-asan"),
          "the key's variable passed because its name is a sanitizer's");
    CHECK(evaluator_env_kept(&cfg, "UBSAN_OPTIONS=print_stacktrace=1"), "UBSAN_OPTIONS kept");
    unsetenv("MY_LLM_KEY");
    unsetenv("GEVO_LLM_API_KEY");
    unsetenv("GEVO_LLM_API_KEY_ENV");
    unsetenv("OPENAI_API_KEY");
    unsetenv("UNRELATED_THING");
}

static int event_index(const char *id, evaluator_event_kind kind)
{
    for (int i = 0; i < lg.n; i++)
        if (!strcmp(lg.ev[i].id, id) && lg.ev[i].kind == kind)
            return i;
    return -1;
}

/* Two slots, but a memory budget that holds one of the two big candidates
 * at a time: the second starts only after the first has ended (the order
 * of their events says so, whatever the machine's speed); one larger than
 * the whole budget fails at once with why; every worker gets the limit
 * (a limit below the network's need makes the worker itself refuse). */
static void test_memory_budget(void)
{
    evaluator_config cfg;
    evaluator_config_default(&cfg);
    gerr err = GERR_INIT;
    CHECK(evaluator_config_set(&cfg, "dir", work, &err) == 0, "%s", err.msg);
    CHECK(evaluator_config_set(&cfg, "memory", "1M", &err) == 0, "%s", err.msg);
    CHECK(evaluator_config_set(&cfg, "max_memory", "3G", &err) == 0, "%s", err.msg);
    CHECK(evaluator_config_set(&cfg, "memory", "lots", &err) == -1 && strstr(err.msg, "memory"),
          "a bad size is refused: %s", err.msg);
    cfg.slots = 2;
    cfg.threads = 1;
    snprintf(cfg.exe, sizeof cfg.exe, "%s", gevo);
    evaluator *ev = eval_local_new(&cfg, &err);
    CHECK(ev != NULL, "eval_local_new: %s", err.msg);
    if (!ev)
        return;
    log_clear();
    const char *ids[2] = {"big1", "big2"};
    for (int i = 0; i < 2; i++) {
        evaluator_job job = {.id = ids[i], .genome = good, .args = quick_args, .memory = 600e3};
        CHECK(evaluator_submit(ev, &job, &err) == 0, "submit %s: %s", ids[i], err.msg);
    }
    evaluator_job huge = {.id = "huge", .genome = good, .args = quick_args, .memory = 2e6};
    CHECK(evaluator_submit(ev, &huge, &err) == 0, "submit huge: %s", err.msg);
    for (int i = 0; i < 2; i++)
        CHECK(wait_final(ev, ids[i]), "%s never ended", ids[i]);
    CHECK(wait_final(ev, "huge"), "huge never ended");
    for (int i = 0; i < 2; i++) {
        const evaluator_event *f = final_of(ids[i]);
        CHECK(f && f->kind == EVALUATOR_FINISHED && !strcmp(f->status, "ok"), "%s: %s", ids[i],
              f ? f->reason : "no outcome");
    }
    int end1 = event_index("big1", EVALUATOR_FINISHED),
        start2 = event_index("big2", EVALUATOR_STARTED);
    CHECK(end1 >= 0 && start2 > end1, "big2 started (event %d) before big1 ended (event %d)",
          start2, end1);
    CHECK(lg.max_running == 1, "one big candidate at a time: peak %d", lg.max_running);
    const evaluator_event *f = final_of("huge");
    CHECK(f && f->kind == EVALUATOR_FAILED && strstr(f->reason, "1.0 MiB") &&
              strstr(f->reason, "never start"),
          "huge: %s", f ? f->reason : "no outcome");
    CHECK(count_kind("huge", EVALUATOR_STARTED, NULL) == 0, "huge never started");
    /* the limit reached the worker's command line */
    char path[600], *text = NULL;
    snprintf(path, sizeof path, "%s/big1/job.json", work);
    CHECK(file_read(path, 1 << 20, &text, NULL, NULL) == 0 && strstr(text, "\"--max-memory\"") &&
              strstr(text, "\"3221225472\""),
          "job.json argv: %s", text ? text : "(none)");
    free(text);
    done(ev);

    /* a limit below the network's need: the worker refuses to train */
    evaluator_config_default(&cfg);
    snprintf(cfg.dir, sizeof cfg.dir, "%s", work);
    snprintf(cfg.exe, sizeof cfg.exe, "%s", gevo);
    cfg.threads = 1;
    cfg.max_memory = 1024;
    ev = eval_local_new(&cfg, &err);
    CHECK(ev != NULL, "eval_local_new: %s", err.msg);
    if (!ev)
        return;
    submit(ev, "limited", good, quick_args, 0);
    f = ended(ev, "limited");
    CHECK(f && f->kind == EVALUATOR_FAILED && strstr(f->reason, "more than the limit of 1 KiB") &&
              strstr(f->reason, "--max-memory"),
          "limited: %s", f ? f->reason : "no outcome");
    done(ev);
}

int main(void)
{
    gevo = getenv("GEVO");
    if (!gevo || access(gevo, X_OK)) {
        printf("FAIL test_eval_local: $GEVO is not set to the gevo binary\n");
        return 1;
    }
    setup();
    RUN(test_bad_jobs);
    RUN(test_pool);
    RUN(test_killed);
    RUN(test_cancel);
    RUN(test_time_limits);
    RUN(test_reattach);
    RUN(test_worker_env);
    RUN(test_memory_budget);
    /* reap the monitors of freed evaluators, then clean up */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    harness_rmtree(dir);
    return harness_done();
}

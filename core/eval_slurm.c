/* eval_slurm: the Slurm evaluator (see evaluator.h). gevo runs on the login
 * node; each candidate is a batch job on a compute node running the same
 * worker as the local pool, writing into its folder under the work folder
 * (a shared file system):
 *
 *   <work>/<id>/train.sh           the worker's command line
 *   <work>/.slurm/<batch>/batch.sh the batch script: set-up line, then
 *                                  train.sh; writes <id>/exit at the end
 *   <work>/.slurm/<batch>/<index>  for a job array: a link to the folder
 *                                  of the candidate of task <index>, so
 *                                  sbatch --output=.../%a/progress.jsonl
 *                                  lands in that candidate's folder
 *
 * Candidates submitted before the next evaluator_poll go out together, as
 * one job array (option array=1, the default). Following them is layered,
 * cheapest first: every poll reads the progress files and looks for the
 * exit file the batch script writes (so a finished job is seen at once);
 * every `interval` seconds one squeue call asks for the state of all our
 * jobs; a job squeue no longer lists is asked of scontrol, then of sacct
 * (when accounting exists); a job none of them knows has vanished. Slurm
 * commands run synchronously with a time limit (a stuck controller delays
 * a poll by at most CMD_TIMEOUT seconds, it never hangs it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/evaluator.h"
#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/base/num.h"
#include "engine/base/strbuf.h"

extern char **environ;

#define CMD_TIMEOUT      60.0 /* seconds a Slurm command may take */
#define CMD_OUT_MAX      (8L << 20)
#define POLL_INTERVAL_MS 250 /* progress files and exit files */
#define MISSING_POLLS    2   /* queries without news of a job before it counts as vanished */

const char *const eval_slurm_keys[] = {"partition",   "account",  "qos",        "time",    "cpus",
                                       "mem",         "sbatch",   "setup",      "requeue", "array",
                                       "array_limit", "interval", "array_wait", NULL};

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- options -------------------------------------------------------------- */

typedef struct slurm_opts {
    char partition[128], account[128], qos[128], time[64], mem[64];
    char sbatch[1024], setup[1024];
    int cpus;    /* 0: the job's threads */
    int requeue; /* resubmissions allowed per candidate */
    bool array;
    int array_limit;   /* 0: none */
    double interval;   /* seconds between squeue calls */
    double array_wait; /* seconds without a new candidate before an array goes out */
} slurm_opts;

static bool all_in(const char *s, const char *set)
{
    return s[strspn(s, set)] == 0;
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

/* The sbatch options gevo sets itself (long name, short letter or 0, and
 * the Slurm option of gevo's own that sets it, if any). The user's
 * sbatch= words may not name one of them, not even by one of the prefixes
 * sbatch's getopt_long accepts for a long option, nor by its short letter
 * (alone or in a bundle such as -Ho). */
static const struct owned {
    const char *name;
    char short_opt;
    const char *key;
} owned_sbatch[] = {
    {"output", 'o', NULL},           {"error", 'e', NULL},        {"array", 'a', "array"},
    {"parsable", 0, NULL},           {"chdir", 'D', NULL},        {"wrap", 0, NULL},
    {"job-name", 'J', NULL},         {"export", 0, NULL},         {"export-file", 0, NULL},
    {"get-user-env", 0, NULL},       {"ntasks", 'n', NULL},       {"cpus-per-task", 'c', "cpus"},
    {"partition", 'p', "partition"}, {"account", 'A', "account"}, {"qos", 'q', "qos"},
    {"time", 't', "time"},           {"mem", 0, "mem"},           {"requeue", 0, "requeue"},
    {"no-requeue", 0, "requeue"},
};
/* sbatch's short options that take an argument: in a bundle, what
 * follows one of them is its argument, not more options */
#define SBATCH_SHORT_WITH_ARG "ABcCdDeFGiJLmMnNopqStUwx"

static int refuse_owned(const struct owned *o, const char *word, gerr *err)
{
    return gerr_set(err,
                    "slurm sbatch: --%s is set by gevo (it places each candidate's files and "
                    "follows its job; '%s' names it)%s%s%s",
                    o->name, word, o->key ? "; use the Slurm option " : "", o->key ? o->key : "",
                    o->key ? " instead" : "");
}

/* 0 when no word of an sbatch= line names an option gevo sets. */
static int check_sbatch_words(const char *line, gerr *err)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", line);
    for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save)) {
        size_t nk = sizeof owned_sbatch / sizeof *owned_sbatch;
        if (w[0] == '-' && w[1] == '-' && w[2]) {
            size_t len = strcspn(w + 2, "=");
            for (size_t k = 0; k < nk; k++)
                if (len <= strlen(owned_sbatch[k].name) &&
                    !strncmp(w + 2, owned_sbatch[k].name, len))
                    return refuse_owned(&owned_sbatch[k], w, err);
        } else if (w[0] == '-' && w[1] && w[1] != '-') {
            for (const char *c = w + 1; *c; c++) {
                for (size_t k = 0; k < nk; k++)
                    if (owned_sbatch[k].short_opt == *c)
                        return refuse_owned(&owned_sbatch[k], w, err);
                if (strchr(SBATCH_SHORT_WITH_ARG, *c))
                    break; /* the rest is its argument */
            }
        }
    }
    return 0;
}

static int opt_set(slurm_opts *o, const char *key, const char *v, gerr *err)
{
    char what[64];
    snprintf(what, sizeof what, "slurm %s", key);
    if (!strcmp(key, "partition") || !strcmp(key, "account") || !strcmp(key, "qos")) {
        char *dst = key[0] == 'p' ? o->partition : key[0] == 'a' ? o->account : o->qos;
        if (strlen(v) >= sizeof o->partition || !all_in(v, NAME_CHARS ","))
            return gerr_set(
                err, "slurm %s: '%s' is not a Slurm name (letters, digits, '.', '_', '-', ',')",
                key, v);
        strcpy(dst, v);
    } else if (!strcmp(key, "time")) {
        if (strlen(v) >= sizeof o->time || !all_in(v, "0123456789:-"))
            return gerr_set(
                err,
                "slurm time: '%s' is not a Slurm time (minutes, MM:SS, HH:MM:SS or D-HH:MM:SS)", v);
        strcpy(o->time, v);
    } else if (!strcmp(key, "mem")) {
        size_t d = strspn(v, "0123456789");
        if (strlen(v) >= sizeof o->mem ||
            (*v && (d == 0 || (v[d] && (strchr("KMGT", v[d]) == NULL || v[d + 1])))))
            return gerr_set(
                err, "slurm mem: '%s' is not a size (megabytes, or a number with K, M, G or T)", v);
        strcpy(o->mem, v);
    } else if (!strcmp(key, "sbatch") || !strcmp(key, "setup")) {
        char *dst = key[1] == 'b' ? o->sbatch : o->setup;
        if (strlen(v) >= sizeof o->sbatch || strpbrk(v, "\n\r"))
            return gerr_set(err, "slurm %s: needs one line of at most %zu characters", key,
                            sizeof o->sbatch - 1);
        if (dst == o->sbatch && check_sbatch_words(v, err))
            return -1;
        strcpy(dst, v);
    } else if (!strcmp(key, "cpus")) {
        return num_int(v, 1, 1024, &o->cpus, what, err);
    } else if (!strcmp(key, "requeue")) {
        return num_int(v, 0, 100, &o->requeue, what, err);
    } else if (!strcmp(key, "array")) {
        int x;
        if (num_int(v, 0, 1, &x, what, err))
            return -1;
        o->array = x != 0;
    } else if (!strcmp(key, "array_limit")) {
        return num_int(v, 0, 100000, &o->array_limit, what, err);
    } else if (!strcmp(key, "interval")) {
        return num_double(v, 0.2, 600, &o->interval, what, err);
    } else if (!strcmp(key, "array_wait")) {
        return num_double(v, 0, 600, &o->array_wait, what, err);
    } else {
        strbuf known = STRBUF_INIT;
        for (int k = 0; eval_slurm_keys[k]; k++)
            strbuf_addf(&known, "%s%s", k ? ", " : "", eval_slurm_keys[k]);
        gerr_set(err, "unknown Slurm option '%s' (known: %s)", key, known.buf);
        strbuf_release(&known);
        return -1;
    }
    return 0;
}

static int opts_parse(slurm_opts *o, const char *text, gerr *err)
{
    memset(o, 0, sizeof *o);
    o->array = true;
    o->interval = 2;
    o->array_wait = 2;
    if (!text)
        return 0;
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\n");
        char line[2048];
        if (n >= sizeof line)
            return gerr_set(err, "slurm option too long: %.40s...", p);
        memcpy(line, p, n);
        line[n] = 0;
        p += n + (p[n] == '\n');
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return gerr_set(err, "slurm option '%s': needs KEY=VALUE", s);
        *eq = 0;
        char *k_end = eq;
        while (k_end > s && (k_end[-1] == ' ' || k_end[-1] == '\t'))
            *--k_end = 0;
        if (opt_set(o, s, eq + 1, err))
            return -1;
    }
    return 0;
}

/* ---- running Slurm commands ------------------------------------------------ */

/* Runs argv (found on PATH) with stdin from /dev/null and the
 * environment env, collecting its stdout (*out, malloc'd) and the last
 * line of its stderr. Returns the exit status (0..255), or -1 with a
 * message in err when it could not run, was killed or took longer than
 * timeout seconds. */
static int run_cmd_t(char *const *argv, char *const *env, double timeout, char **out, gerr *err)
{
    *out = NULL;
    gerr_clear(err);
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
        gerr_errno(err, "%s: cannot make a pipe", argv[0]);
        evaluator_close_pipe(po);
        evaluator_close_pipe(pe);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc) {
        gerr_set(err, "cannot run %s: %s (is Slurm's client installed and on PATH?)", argv[0],
                 strerror(rc));
        close(po[0]);
        close(pe[0]);
        return -1;
    }
    strbuf sb = STRBUF_INIT;
    char ebuf[4096];
    size_t elen = 0;
    double deadline = now_real() + timeout;
    bool timed_out = false;
    struct pollfd pfd[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        int ms = (int)((deadline - now_real()) * 1000);
        if (ms <= 0) {
            timed_out = true;
            break;
        }
        if (poll(pfd, 2, ms) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char tmp[4096];
            ssize_t r = read(pfd[i].fd, tmp, sizeof tmp);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                continue;
            }
            if (i == 0) {
                if (sb.len + (size_t)r <= (size_t)CMD_OUT_MAX)
                    strbuf_add(&sb, tmp, (size_t)r);
            } else if ((size_t)r >= sizeof ebuf) {
                /* keep the tail: the last line says what went wrong */
                memcpy(ebuf, tmp + (size_t)r - (sizeof ebuf - 1), sizeof ebuf - 1);
                elen = sizeof ebuf - 1;
            } else {
                if (elen + (size_t)r >= sizeof ebuf) {
                    size_t drop = elen + (size_t)r - (sizeof ebuf - 1);
                    memmove(ebuf, ebuf + drop, elen - drop);
                    elen -= drop;
                }
                memcpy(ebuf + elen, tmp, (size_t)r);
                elen += (size_t)r;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    if (timed_out)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    ebuf[elen] = 0;
    while (elen > 0 && (ebuf[elen - 1] == '\n' || ebuf[elen - 1] == ' '))
        ebuf[--elen] = 0;
    char *nl = strrchr(ebuf, '\n');
    const char *etail = nl ? nl + 1 : ebuf;
    if (timed_out) {
        strbuf_release(&sb);
        return gerr_set(
            err, "%s took more than %g s (is slurmctld reachable, is Slurm configured here?)",
            argv[0], timeout);
    }
    if (sb.failed) {
        strbuf_release(&sb);
        return gerr_set(err, "%s: out of memory", argv[0]);
    }
    if (WIFSIGNALED(st)) {
        strbuf_release(&sb);
        return gerr_set(err, "%s was killed by signal %d", argv[0], WTERMSIG(st));
    }
    *out = strbuf_detach(&sb, NULL);
    if (!*out)
        return gerr_set(err, "%s: out of memory", argv[0]);
    if (WEXITSTATUS(st))
        gerr_set(err, "%s: %s", argv[0], *etail ? etail : "failed");
    return WEXITSTATUS(st);
}

/* ---- the jobs --------------------------------------------------------------- */

typedef enum sjob_state {
    SJ_QUEUED,
    SJ_SUBMITTED,
    SJ_RUNNING
} sjob_state;

typedef struct sjob {
    evaluator_jobhead h; /* first: the shared table holds it */
    char jobid[64];      /* Slurm's: "123" or "123_4" (array task) */
    char node[128];      /* where it runs, when known */
    double time_limit;
    int threads;
    sjob_state state;
    bool started_sent; /* the STARTED event went out */
    double started;    /* when seen running (our clock), 0 = not yet */
    double ended_seen; /* when Slurm first said it ended without an exit file */
    bool stop_cancel, stop_timeout;
    int requeues;
    int missing; /* queries in which no Slurm command knew it */
} sjob;

typedef struct slurm {
    slurm_opts o;
    char **env;         /* what Slurm's commands run with (evaluator_worker_env + SLURM_*) */
    char exports[4096]; /* sbatch --export: the names of env, SLURM_* aside */
    double next_query;
    int sacct; /* -1 unknown, 0 no accounting, 1 works */
    unsigned batch_seq;
    double last_submit; /* when the newest candidate was queued */
} slurm;

static slurm *S(evaluator *ev)
{
    return ev->impl;
}

static sjob *SJ(evaluator_jobhead *h)
{
    return (sjob *)h;
}

static int run_cmd(slurm *s, char *const *argv, char **out, gerr *err)
{
    return run_cmd_t(argv, s->env, CMD_TIMEOUT, out, err);
}

static void slurm_free_job(evaluator_jobhead *h)
{
    free(h);
}

/* 'text' for sh, with ' as '\'' */
static void sh_quote(FILE *f, const char *text)
{
    fputc('\'', f);
    for (const char *p = text; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

/* sbatch expands %j, %a, %x ... in --output and --error: a '%' of the path
 * itself is written %% */
static void add_pattern_path(strbuf *sb, const char *path)
{
    for (const char *p = path; *p; p++) {
        if (*p == '%')
            strbuf_addch(sb, '%');
        strbuf_addch(sb, *p);
    }
}

/* Writes the candidate's train.sh: its worker's command line. */
static int write_train_sh(const sjob *j, char *const *argv, gerr *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return gerr_set(err, "out of memory");
    fprintf(f, "# candidate %s: the worker gevo's Slurm evaluator runs (from the batch script)\n",
            j->h.id);
    for (int i = 0; argv[i]; i++) {
        if (i)
            fputc(' ', f);
        sh_quote(f, argv[i]);
    }
    fputc('\n', f);
    fclose(f);
    char path[PATH_MAX + 32];
    evaluator_job_path(&j->h, "train.sh", path, sizeof path);
    int rc = file_write(path, text, len, err);
    free(text);
    return rc;
}

/* job.json: how the candidate was submitted, for reattach and people. */
static void write_job_file(const sjob *j, const char *batch_dir)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(j->h.id));
    json_object_set_new(o, "engine", json_string("slurm"));
    json_object_set_new(o, "slurm_job", json_string(j->jobid));
    json_object_set_new(o, "batch", json_string(batch_dir));
    json_object_set_new(o, "time_limit", json_real(j->time_limit));
    json_object_set_new(o, "threads", json_integer(j->threads));
    json_object_set_new(o, "requeues", json_integer(j->requeues));
    json_object_set_new(o, "submitted", json_real(now_real()));
    char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!txt)
        return;
    char path[PATH_MAX + 32];
    evaluator_job_path(&j->h, "job.json", path, sizeof path);
    file_write(path, txt, strlen(txt), NULL);
    free(txt);
}

static void fail_job(evaluator *ev, sjob *j, const char *reason, bool cancelled)
{
    evaluator_push_failed(&ev->q, j->h.id, reason, cancelled);
    j->h.done = true;
}

/* ---- submitting ----------------------------------------------------------------- */

/* The batch script for n candidates (one job, or a job array whose task i
 * trains list[i] through the link <bdir>/<i>). */
static int write_batch(evaluator *ev, const char *bdir, sjob **list, int n, gerr *err)
{
    slurm *s = S(ev);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return gerr_set(err, "out of memory");
    fputs("#!/bin/sh\n# gevo: training candidates on Slurm (written by gevo's Slurm evaluator)\n",
          f);
    if (n == 1) {
        fputs("d=", f);
        sh_quote(f, list[0]->h.dir);
        fputc('\n', f);
    } else {
        fputs("d=", f);
        sh_quote(f, bdir);
        fputs("/\"$SLURM_ARRAY_TASK_ID\"\n", f);
    }
    fputs("cd \"$d\" || exit 1\n"
          "rm -f exit exit.tmp result.json\n",
          f);
    if (s->o.setup[0])
        fprintf(f, "%s\n", s->o.setup);
    fputs("/bin/sh ./train.sh\n"
          "rc=$?\n"
          "if [ $rc -gt 128 ]; then echo \"signal $((rc - 128))\"; else echo \"exit $rc\"; fi "
          ">exit.tmp && "
          "mv exit.tmp exit\n"
          "exit $rc\n",
          f);
    fclose(f);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/batch.sh", bdir);
    int rc = file_write(path, text, len, err);
    free(text);
    if (rc)
        return -1;
    if (chmod(path, 0755))
        return gerr_errno(err, "cannot make %s executable", path);
    for (int i = 0; n > 1 && i < n; i++) {
        char link[PATH_MAX + 32];
        snprintf(link, sizeof link, "%s/%d", bdir, i);
        unlink(link);
        if (symlink(list[i]->h.dir, link))
            return gerr_errno(err, "cannot link %s", link);
    }
    return 0;
}

/* Submits list[0..n) as one sbatch call; on failure every one of them
 * fails with sbatch's message. */
static void submit_batch(evaluator *ev, sjob **list, int n)
{
    slurm *s = S(ev);
    gerr err = GERR_INIT;
    char bdir[PATH_MAX];
    char *argv[96];
    int a = 0;
    char name[160], array[64], cpus[32], part[160], acct[160], qos[160], tim[96], mem[96],
        script[PATH_MAX + 32], copy[sizeof s->o.sbatch], exports[sizeof s->exports + 16];
    strbuf out = STRBUF_INIT, errp = STRBUF_INIT;
    snprintf(bdir, sizeof bdir, "%s/.slurm/%s-%ld-%d-%u", ev->cfg.dir, list[0]->h.id,
             (long)time(NULL), (int)getpid(), s->batch_seq++);
    if (evaluator_mkdir_p(bdir, &err) || write_batch(ev, bdir, list, n, &err))
        goto fail;
    argv[a++] = "sbatch";
    argv[a++] = "--parsable";
    snprintf(name, sizeof name, "gevo-%s%s", list[0]->h.id, n > 1 ? "+" : "");
    argv[a++] = "--job-name";
    argv[a++] = name;
    argv[a++] = "--chdir";
    argv[a++] = ev->cfg.dir;
    argv[a++] = "--ntasks=1";
    /* the job's environment: these names (with their values here) and
       Slurm's own, never the whole of ours (the API key) */
    snprintf(exports, sizeof exports, "--export=%s", s->exports[0] ? s->exports : "NONE");
    argv[a++] = exports;
    int threads = 1;
    double limit = 0;
    bool all_limited = true;
    for (int i = 0; i < n; i++) {
        if (list[i]->threads > threads)
            threads = list[i]->threads;
        if (list[i]->time_limit > limit)
            limit = list[i]->time_limit;
        if (!(list[i]->time_limit > 0))
            all_limited = false;
    }
    snprintf(cpus, sizeof cpus, "--cpus-per-task=%d", s->o.cpus ? s->o.cpus : threads);
    argv[a++] = cpus;
    strbuf_addstr(&out, "--output=");
    strbuf_addstr(&errp, "--error=");
    if (n > 1) {
        add_pattern_path(&out, bdir);
        strbuf_addstr(&out, "/%a/progress.jsonl");
        add_pattern_path(&errp, bdir);
        strbuf_addstr(&errp, "/%a/stderr.log");
        if (s->o.array_limit)
            snprintf(array, sizeof array, "--array=0-%d%%%d", n - 1, s->o.array_limit);
        else
            snprintf(array, sizeof array, "--array=0-%d", n - 1);
        argv[a++] = array;
    } else {
        add_pattern_path(&out, list[0]->h.dir);
        strbuf_addstr(&out, "/progress.jsonl");
        add_pattern_path(&errp, list[0]->h.dir);
        strbuf_addstr(&errp, "/stderr.log");
    }
    if (out.failed || errp.failed) {
        gerr_set(&err, "out of memory");
        goto fail;
    }
    argv[a++] = out.buf;
    argv[a++] = errp.buf;
    if (s->o.partition[0])
        argv[a++] = (snprintf(part, sizeof part, "--partition=%s", s->o.partition), part);
    if (s->o.account[0])
        argv[a++] = (snprintf(acct, sizeof acct, "--account=%s", s->o.account), acct);
    if (s->o.qos[0])
        argv[a++] = (snprintf(qos, sizeof qos, "--qos=%s", s->o.qos), qos);
    if (s->o.time[0]) {
        argv[a++] = (snprintf(tim, sizeof tim, "--time=%s", s->o.time), tim);
    } else if (all_limited) {
        /* the worker stops itself at its limit; Slurm's is a backstop */
        double secs = limit + 2 * ev->cfg.grace + 60;
        argv[a++] = (snprintf(tim, sizeof tim, "--time=%ld", (long)ceil(secs / 60)), tim);
    }
    if (s->o.mem[0])
        argv[a++] = (snprintf(mem, sizeof mem, "--mem=%s", s->o.mem), mem);
    argv[a++] = s->o.requeue ? "--requeue" : "--no-requeue";
    snprintf(copy, sizeof copy, "%s", s->o.sbatch);
    for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w && a < 90;
         w = strtok_r(NULL, " \t", &save))
        argv[a++] = w;
    snprintf(script, sizeof script, "%s/batch.sh", bdir);
    argv[a++] = script;
    argv[a] = NULL;
    char *stdout_text = NULL;
    int rc = run_cmd(s, argv, &stdout_text, &err);
    long jid = 0;
    if (rc == 0) {
        char *end;
        jid = stdout_text ? strtol(stdout_text, &end, 10) : 0;
        if (jid <= 0)
            gerr_set(&err, "sbatch printed no job id: %.200s", stdout_text ? stdout_text : "");
    }
    free(stdout_text);
    if (rc != 0 || jid <= 0)
        goto fail;
    double now = now_real();
    for (int i = 0; i < n; i++) {
        sjob *j = list[i];
        if (n > 1)
            snprintf(j->jobid, sizeof j->jobid, "%ld_%d", jid, i);
        else
            snprintf(j->jobid, sizeof j->jobid, "%ld", jid);
        j->state = SJ_SUBMITTED;
        j->started = 0;
        j->ended_seen = 0;
        j->missing = 0;
        write_job_file(j, bdir);
    }
    /* a first look soon: short jobs may be done before the interval */
    if (s->next_query > now + 1)
        s->next_query = now + 1;
    strbuf_release(&out);
    strbuf_release(&errp);
    return;
fail:
    for (int i = 0; i < n; i++) {
        char reason[1200];
        snprintf(reason, sizeof reason, "cannot submit to Slurm: %s",
                 err.msg[0] ? err.msg : "sbatch failed");
        fail_job(ev, list[i], reason, false);
    }
    strbuf_release(&out);
    strbuf_release(&errp);
}

/* The time the queue goes out: with arrays, once no candidate came for
 * array_wait seconds (approvals and proposals come one by one). */
static double flush_at(slurm *s)
{
    return s->o.array ? s->last_submit + s->o.array_wait : 0;
}

static void submit_queued(evaluator *ev)
{
    slurm *s = S(ev);
    if (now_real() < flush_at(s))
        return;
    sjob **list = NULL;
    size_t n = 0, alloc = 0;
    for (size_t i = 0; i < ev->jobs.n; i++) {
        sjob *j = SJ(ev->jobs.v[i]);
        if (j->h.done || j->state != SJ_QUEUED)
            continue;
        if (ALLOC_GROW(list, n + 1, alloc)) {
            free(list);
            return; /* the next poll tries again */
        }
        list[n++] = j;
    }
    if (s->o.array && n > 1) {
        submit_batch(ev, list, (int)n);
    } else {
        for (size_t i = 0; i < n; i++)
            submit_batch(ev, list + i, 1);
    }
    free(list);
}

/* ---- following ---------------------------------------------------------------------- */

typedef struct slurm_state {
    char state[32]; /* RUNNING, COMPLETED, NODE_FAIL, ... ; "" = unknown */
    char reason[128];
    char node[128];
} slurm_state;

static bool state_waiting(const char *st)
{
    static const char *const w[] = {"PENDING",     "CONFIGURING", "REQUEUED",      "REQUEUE_HOLD",
                                    "REQUEUE_FED", "RESIZING",    "SUSPENDED",     "STOPPED",
                                    "SIGNALING",   "STAGE_OUT",   "RESV_DEL_HOLD", NULL};
    for (int i = 0; w[i]; i++)
        if (!strcmp(st, w[i]))
            return true;
    return false;
}

static bool state_running(const char *st)
{
    return !strcmp(st, "RUNNING") || !strcmp(st, "COMPLETING");
}

/* "KEY=value" of one scontrol -o line */
static void scontrol_field(const char *line, const char *key, char *out, size_t size)
{
    out[0] = 0;
    size_t kl = strlen(key);
    for (const char *p = line; (p = strstr(p, key)); p += kl) {
        if ((p == line || p[-1] == ' ') && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t n = strcspn(v, " \n");
            if (n >= size)
                n = size - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return;
        }
    }
}

/* The state of one job from scontrol, then sacct. 0 when known. */
static int ask_one(slurm *s, const char *jobid, slurm_state *st)
{
    memset(st, 0, sizeof *st);
    gerr err = GERR_INIT;
    char *out = NULL;
    char *sc[] = {"scontrol", "show", "job", "-o", (char *)jobid, NULL};
    if (run_cmd(s, sc, &out, &err) == 0 && out) {
        scontrol_field(out, "JobState", st->state, sizeof st->state);
        scontrol_field(out, "Reason", st->reason, sizeof st->reason);
        scontrol_field(out, "NodeList", st->node, sizeof st->node);
    }
    free(out);
    if (st->state[0])
        return 0;
    if (s->sacct == 0)
        return -1;
    char *sa[] = {"sacct", "-n", "-P", "-X", "-j", (char *)jobid, "-o", "JobID,State,NodeList",
                  NULL};
    out = NULL;
    int rc = run_cmd(s, sa, &out, &err);
    if (rc != 0) {
        /* without slurmdbd: "Slurm accounting storage is disabled" */
        if (rc > 0 && strstr(err.msg, "disabled"))
            s->sacct = 0;
        free(out);
        return -1;
    }
    s->sacct = 1;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f1 = strchr(line, '|');
        if (!f1)
            continue;
        *f1++ = 0;
        if (strcmp(line, jobid))
            continue;
        char *f2 = strchr(f1, '|');
        if (f2)
            *f2++ = 0;
        size_t n = strcspn(f1, " "); /* "CANCELLED by 0" */
        snprintf(st->state, sizeof st->state, "%.*s", (int)n, f1);
        if (f2)
            snprintf(st->node, sizeof st->node, "%s", f2);
    }
    free(out);
    return st->state[0] ? 0 : -1;
}

static void send_started(evaluator *ev, sjob *j)
{
    if (j->started_sent)
        return;
    j->started_sent = true;
    evaluator_event *e = evaluator_queue_push(&ev->q);
    if (e)
        evaluator_event_init(e, EVALUATOR_STARTED, j->h.id);
}

/* Puts a candidate back in the queue for a new submission. */
static void requeue(sjob *j)
{
    static const char *const files[] = {"progress.jsonl", "stderr.log", "result.json", "exit",
                                        "job.json"};
    char path[PATH_MAX + 32];
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        evaluator_job_path(&j->h, files[k], path, sizeof path);
        unlink(path);
    }
    j->requeues++;
    j->state = SJ_QUEUED;
    j->started_sent = false;
    j->h.prog_off = 0;
    j->jobid[0] = 0;
}

/* The candidate's outcome. how: the exit file's text or NULL; st: what
 * Slurm last said (state "" when it forgot the job: vanished). */
static void finish(evaluator *ev, sjob *j, const char *how, const slurm_state *st)
{
    slurm *s = S(ev);
    char rpath[PATH_MAX + 32], epath[PATH_MAX + 32], tail[512];
    evaluator_job_path(&j->h, "result.json", rpath, sizeof rpath);
    evaluator_job_path(&j->h, "stderr.log", epath, sizeof epath);
    bool has_result = access(rpath, F_OK) == 0;
    const char *state = st ? st->state : NULL;
    const char *node = st && st->node[0] && strcmp(st->node, "(null)") ? st->node : j->node;
    /* Slurm ended it before the worker could write a result: say why, and
       requeue what was not the candidate's fault, if allowed */
    bool slurm_ended = !has_result && !how && !j->stop_cancel && !j->stop_timeout;
    if (slurm_ended && j->requeues < s->o.requeue &&
        (!state || !state[0] || !strcmp(state, "PREEMPTED") || !strcmp(state, "NODE_FAIL") ||
         !strcmp(state, "BOOT_FAIL"))) {
        requeue(j);
        return;
    }
    evaluator_event *e = evaluator_job_outcome(ev, &j->h, how);
    if (!e)
        return;
    evaluator_last_line(epath, tail, sizeof tail);
    char reason[sizeof e->reason];
    reason[0] = 0;
    if (j->stop_cancel) {
        e->kind = EVALUATOR_FAILED;
        e->cancelled = true;
        snprintf(reason, sizeof reason, "cancelled");
    } else if (j->stop_timeout) {
        e->kind = EVALUATOR_FAILED;
        snprintf(reason, sizeof reason,
                 "time limit of %g s exceeded (Slurm job %s cancelled %g s after it; %.800s)",
                 j->time_limit, j->jobid, ev->cfg.grace, e->reason[0] ? e->reason : e->status);
    } else if (slurm_ended) {
        const char *sn = state && state[0] ? state : NULL;
        char again[64] = "";
        if (j->requeues)
            snprintf(again, sizeof again, " (after %d resubmission%s)", j->requeues,
                     j->requeues > 1 ? "s" : "");
        if (!sn)
            snprintf(
                reason, sizeof reason,
                "Slurm job %s vanished (squeue, scontrol%s no longer know it) without a result%s",
                j->jobid, s->sacct == 1 ? " and sacct" : "", again);
        else if (!strcmp(sn, "TIMEOUT"))
            snprintf(reason, sizeof reason,
                     "Slurm job %s hit its time limit%s (raise the Slurm option time)", j->jobid,
                     again);
        else if (!strcmp(sn, "PREEMPTED"))
            snprintf(reason, sizeof reason, "Slurm job %s was preempted%s", j->jobid, again);
        else if (!strcmp(sn, "NODE_FAIL") || !strcmp(sn, "BOOT_FAIL"))
            snprintf(reason, sizeof reason, "Slurm job %s failed with its node%s%s (%s)%s",
                     j->jobid, node[0] ? " " : "", node, sn, again);
        else if (!strcmp(sn, "OUT_OF_MEMORY"))
            snprintf(reason, sizeof reason,
                     "Slurm job %s ran out of memory (raise the Slurm option mem)", j->jobid);
        else if (!strcmp(sn, "CANCELLED"))
            snprintf(reason, sizeof reason,
                     "Slurm job %s was cancelled outside gevo (scancel or an administrator)",
                     j->jobid);
        else if (!strcmp(sn, "DEADLINE"))
            snprintf(reason, sizeof reason, "Slurm job %s missed its deadline", j->jobid);
        else
            snprintf(reason, sizeof reason, "Slurm job %s ended %s without a result%s%s", j->jobid,
                     sn, tail[0] ? ": " : "", tail);
        e->kind = EVALUATOR_FAILED;
    }
    if (reason[0])
        snprintf(e->reason, sizeof e->reason, "%s", reason);
}

/* Asks Slurm about every submitted job and acts on what it says. */
static void query(evaluator *ev)
{
    slurm *s = S(ev);
    char ids[8192] = "";
    size_t used = 0;
    int n = 0;
    for (size_t i = 0; i < ev->jobs.n; i++) {
        sjob *j = SJ(ev->jobs.v[i]);
        if (j->h.done || j->state == SJ_QUEUED || !j->jobid[0])
            continue;
        size_t base = strcspn(j->jobid, "_");
        char b[64];
        snprintf(b, sizeof b, "%.*s", (int)base, j->jobid);
        /* once per array */
        bool seen = false;
        for (const char *p = ids; *p && !seen; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
            size_t l = strcspn(p, ",");
            seen = l == strlen(b) && !strncmp(p, b, l);
        }
        if (seen)
            continue;
        if (used + strlen(b) + 2 >= sizeof ids)
            break;
        used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%s", n ? "," : "", b);
        n++;
    }
    if (!n)
        return;
    gerr err = GERR_INIT;
    char *out = NULL;
    char *argv[] = {"squeue", "-h", "-r", "--states=all", "-j", ids, "-o", "%i|%T|%r|%N", NULL};
    int rc = run_cmd(s, argv, &out, &err);
    if (rc > 0 && strstr(err.msg, "nvalid job id")) {
        /* none of them is known any more: ask one by one below */
        free(out);
        out = strdup("");
        rc = out ? 0 : -1;
    }
    if (rc != 0) {
        /* the controller may be restarting: the exit files still work, and
           the next query tries again */
        free(out);
        return;
    }
    double now = now_real();
    for (size_t i = 0; i < ev->jobs.n; i++) {
        sjob *j = SJ(ev->jobs.v[i]);
        if (j->h.done || j->state == SJ_QUEUED || !j->jobid[0])
            continue;
        slurm_state st;
        memset(&st, 0, sizeof st);
        size_t il = strlen(j->jobid);
        for (const char *line = out; line && *line;) {
            size_t ll = strcspn(line, "\n");
            if (ll > il && !strncmp(line, j->jobid, il) && line[il] == '|') {
                char buf[512];
                snprintf(buf, sizeof buf, "%.*s", (int)(ll < sizeof buf ? ll : sizeof buf - 1),
                         line);
                char *f[4] = {buf, NULL, NULL, NULL};
                for (int k = 1; k < 4; k++) {
                    f[k] = f[k - 1] ? strchr(f[k - 1], '|') : NULL;
                    if (f[k])
                        *f[k]++ = 0;
                }
                if (f[1])
                    snprintf(st.state, sizeof st.state, "%s", f[1]);
                if (f[2])
                    snprintf(st.reason, sizeof st.reason, "%s", f[2]);
                if (f[3])
                    snprintf(st.node, sizeof st.node, "%s", f[3]);
                break;
            }
            line += ll + (line[ll] == '\n');
        }
        if (!st.state[0])
            ask_one(s, j->jobid, &st);
        if (!st.state[0] && j->state == SJ_SUBMITTED && strchr(j->jobid, '_')) {
            /* a pending array task leaves no record when cancelled: if its
               array is still listed, that is what happened to it */
            size_t bl = strcspn(j->jobid, "_") + 1;
            for (const char *line = out; *line;
                 line += strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n'))
                if (!strncmp(line, j->jobid, bl)) {
                    snprintf(st.state, sizeof st.state, "CANCELLED");
                    break;
                }
        }
        char how[64];
        if (!st.state[0]) {
            /* nobody knows it: gone, unless its exit file says how it ended */
            if (evaluator_job_exit(&j->h, how, sizeof how)) {
                finish(ev, j, how, NULL);
            } else if (++j->missing >= MISSING_POLLS) {
                finish(ev, j, NULL, &st);
            }
            continue;
        }
        j->missing = 0;
        if (st.node[0] && strcmp(st.node, "(null)"))
            snprintf(j->node, sizeof j->node, "%s", st.node);
        if (state_waiting(st.state)) {
            if (j->state == SJ_RUNNING) { /* requeued by Slurm itself */
                j->state = SJ_SUBMITTED;
                j->started = 0;
            }
        } else if (state_running(st.state)) {
            if (j->state == SJ_SUBMITTED) {
                j->state = SJ_RUNNING;
                j->started = now;
            }
            send_started(ev, j);
        } else {
            /* ended: the exit file, else (normal ends) give a shared file
               system a little time to show it */
            if (evaluator_job_exit(&j->h, how, sizeof how)) {
                finish(ev, j, how, &st);
            } else if ((!strcmp(st.state, "COMPLETED") || !strcmp(st.state, "FAILED")) &&
                       (j->ended_seen == 0 || now < j->ended_seen + ev->cfg.grace)) {
                if (j->ended_seen == 0)
                    j->ended_seen = now;
            } else {
                finish(ev, j, NULL, &st);
            }
        }
    }
    free(out);
}

static int scancel(slurm *s, const char *jobid, gerr *err)
{
    char *out = NULL;
    char *argv[] = {"scancel", (char *)jobid, NULL};
    int rc = run_cmd(s, argv, &out, err);
    free(out);
    return rc;
}

static void slurm_step(evaluator *ev)
{
    slurm *s = S(ev);
    submit_queued(ev);
    double now = now_real();
    for (size_t i = 0; i < ev->jobs.n; i++) {
        sjob *j = SJ(ev->jobs.v[i]);
        if (j->h.done || j->state == SJ_QUEUED)
            continue;
        long long before = j->h.prog_off;
        size_t qlen = (size_t)ev->q.len;
        evaluator_read_progress(&ev->q, j->h.dir, j->h.id, &j->h.prog_off);
        if (j->h.prog_off > before && !j->started_sent) {
            /* progress before squeue said running: STARTED goes first */
            evaluator_event started;
            evaluator_event_init(&started, EVALUATOR_STARTED, j->h.id);
            evaluator_event *e = evaluator_queue_push(&ev->q);
            if (e) {
                memmove(&ev->q.ev[ev->q.head + qlen + 1], &ev->q.ev[ev->q.head + qlen],
                        sizeof *e * ((size_t)ev->q.len - 1 - qlen));
                ev->q.ev[ev->q.head + qlen] = started;
                j->started_sent = true;
            }
        }
        if (j->h.prog_off > 0 && j->state == SJ_SUBMITTED) {
            j->state = SJ_RUNNING;
            j->started = now;
        }
        char how[64];
        if (evaluator_job_exit(&j->h, how, sizeof how)) {
            finish(ev, j, how, NULL);
            continue;
        }
        /* Slurm enforces time limits late; so do we, like the local pool */
        if (j->state == SJ_RUNNING && j->time_limit > 0 && !j->stop_timeout && !j->stop_cancel &&
            j->started > 0 && now > j->started + j->time_limit + ev->cfg.grace &&
            scancel(s, j->jobid, NULL) == 0)
            j->stop_timeout = true;
    }
    if (now >= s->next_query) {
        query(ev);
        s->next_query = now_real() + s->o.interval;
    }
    /* requeued candidates go out at once */
    submit_queued(ev);
}

/* ---- the ops ----------------------------------------------------------------------- */

static int slurm_submit(evaluator *ev, const evaluator_job *jb, gerr *err)
{
    slurm *s = S(ev);
    if (evaluator_check_job(ev, jb, err))
        return -1;
    sjob *j = calloc(1, sizeof *j);
    if (!j)
        return gerr_set(err, "out of memory");
    j->time_limit = jb->time_limit;
    j->threads = jb->threads ? jb->threads : ev->cfg.threads;
    char **argv = NULL;
    if (evaluator_job_init(&j->h, ev->cfg.dir, jb->id, err))
        goto fail;
    /* a job of an earlier process may still be in Slurm for this folder */
    json_t *o = evaluator_job_uncollected(&j->h);
    if (o) {
        const char *jid = json_string_value(json_object_get(o, "slurm_job"));
        slurm_state st;
        if (jid && ask_one(s, jid, &st) == 0 &&
            (state_waiting(st.state) || state_running(st.state))) {
            gerr_set(err,
                     "candidate %s is still Slurm job %s (%s, from an earlier run); reattach to "
                     "collect it or scancel it first",
                     jb->id, jid, st.state);
            json_decref(o);
            goto fail;
        }
        json_decref(o);
    }
    if (evaluator_stage(j->h.dir, jb, err))
        goto fail;
    argv = evaluator_worker_argv(ev, j->h.dir, jb);
    if (!argv) {
        gerr_set(err, "out of memory");
        goto fail;
    }
    if (write_train_sh(j, argv, err))
        goto fail;
    evaluator_argv_free(argv);
    argv = NULL;
    j->state = SJ_QUEUED;
    s->last_submit = now_real();
    if (evaluator_jobs_add(&ev->jobs, &j->h)) {
        gerr_set(err, "out of memory");
        goto fail;
    }
    return 0;
fail:
    evaluator_argv_free(argv);
    free(j);
    return -1;
}

static int slurm_cancel(evaluator *ev, const char *id, gerr *err)
{
    slurm *s = S(ev);
    sjob *j = SJ(evaluator_jobs_find(&ev->jobs, id));
    if (j->state == SJ_QUEUED) {
        fail_job(ev, j, "cancelled", true);
        return 0;
    }
    if (j->stop_cancel)
        return 0;
    gerr e2 = GERR_INIT;
    if (scancel(s, j->jobid, &e2) != 0)
        return gerr_set(err, "cannot cancel Slurm job %s of %s: %s", j->jobid, j->h.id, e2.msg);
    j->stop_cancel = true;
    /* its end comes from the next query */
    double soon = now_real() + 0.5;
    if (s->next_query > soon)
        s->next_query = soon;
    return 0;
}

static int slurm_pollfds(evaluator *ev, struct pollfd *pfd, int max)
{
    (void)ev;
    (void)pfd;
    (void)max;
    return 0; /* nothing to wait on: files and commands, on a timer */
}

static int slurm_timeout_ms(evaluator *ev)
{
    slurm *s = S(ev);
    bool active = false;
    for (size_t i = 0; i < ev->jobs.n; i++) {
        sjob *j = SJ(ev->jobs.v[i]);
        if (!j->h.done && j->state == SJ_QUEUED) {
            double ms = (flush_at(s) - now_real()) * 1000;
            return ms <= 0 ? 0 : ms < POLL_INTERVAL_MS ? (int)ms + 1 : POLL_INTERVAL_MS;
        }
        active |= !j->h.done;
    }
    return active ? POLL_INTERVAL_MS : -1;
}

static int slurm_adopt(evaluator *ev, const char *id, json_t *o)
{
    slurm *s = S(ev);
    const char *jid = json_string_value(json_object_get(o, "slurm_job"));
    if (!jid || !*jid)
        return 0; /* never submitted, or the local pool's */
    sjob *j = calloc(1, sizeof *j);
    if (!j || evaluator_job_init(&j->h, ev->cfg.dir, id, NULL)) {
        free(j);
        return -1;
    }
    snprintf(j->jobid, sizeof j->jobid, "%s", jid);
    json_t *v = json_object_get(o, "time_limit");
    j->time_limit = json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : 0;
    v = json_object_get(o, "threads");
    j->threads = json_is_integer(v) ? (int)json_integer_value(v) : ev->cfg.threads;
    v = json_object_get(o, "requeues");
    j->requeues = json_is_integer(v) ? (int)json_integer_value(v) : 0;
    j->state = SJ_SUBMITTED;
    j->started_sent = true;
    if (evaluator_jobs_add(&ev->jobs, &j->h)) {
        free(j);
        return -1;
    }
    evaluator_event *e = evaluator_queue_push(&ev->q);
    if (e) {
        evaluator_event_init(e, EVALUATOR_STARTED, j->h.id);
        e->reattached = true;
    }
    s->next_query = 0;
    return 1;
}

static void slurm_release(evaluator *ev)
{
    slurm *s = S(ev);
    if (!s)
        return;
    evaluator_argv_free(s->env);
    free(s);
}

static const evaluator_ops slurm_ops = EVALUATOR_OPS(slurm);

/* The names of env for sbatch --export (SLURM_* go anyway). */
static int export_list(slurm *s, gerr *err)
{
    strbuf sb = STRBUF_INIT;
    for (char **p = s->env; *p; p++) {
        if (!strncmp(*p, "SLURM_", 6))
            continue;
        strbuf_addf(&sb, "%s%.*s", sb.len ? "," : "", (int)strcspn(*p, "="), *p);
    }
    int rc = 0;
    if (sb.failed || sb.len >= sizeof s->exports)
        rc = gerr_set(err, "the environment passed to Slurm jobs is too large");
    else
        snprintf(s->exports, sizeof s->exports, "%s", sb.buf);
    strbuf_release(&sb);
    return rc;
}

evaluator *eval_slurm_new(const evaluator_config *cfg, const char *options, gerr *err)
{
    slurm_opts o;
    if (opts_parse(&o, options, err))
        return NULL;
    slurm *s = calloc(1, sizeof *s);
    if (!s)
        return gerr_set(err, "out of memory"), NULL;
    s->o = o;
    s->sacct = -1;
    /* the Slurm commands and so the jobs see the workers' environment and
       Slurm's own settings (SLURM_CONF), nothing else of ours */
    s->env = evaluator_worker_env(cfg, "SLURM_");
    if (!s->env) {
        free(s);
        return gerr_set(err, "out of memory"), NULL;
    }
    if (export_list(s, err)) {
        evaluator_argv_free(s->env);
        free(s);
        return NULL;
    }
    evaluator_config c = *cfg;
    c.slots = c.slots >= 1 && c.slots <= 256 ? c.slots : 1; /* Slurm decides what runs */
    evaluator *ev = evaluator_alloc(&c, &slurm_ops, s, err);
    if (!ev) {
        evaluator_argv_free(s->env);
        free(s);
        return NULL;
    }
    /* is there a Slurm to talk to? (a missing configuration makes the
       commands retry for a minute: do not wait that long here) */
    char *out = NULL;
    gerr e2 = GERR_INIT;
    char *argv[] = {"scontrol", "ping", NULL};
    int rc = run_cmd_t(argv, s->env, 15, &out, &e2);
    bool up = rc == 0 && out && strstr(out, "UP");
    if (!up) {
        const char *o1 = out ? out : "";
        gerr_set(err, "the Slurm evaluator cannot reach slurmctld: %.300s%s%.200s", e2.msg,
                 e2.msg[0] && o1[0] ? "; " : "", o1);
        char *nl = strchr(err ? err->msg : "", '\n');
        if (nl)
            *nl = 0;
    }
    free(out);
    if (!up) {
        evaluator_free(ev);
        return NULL;
    }
    return ev;
}

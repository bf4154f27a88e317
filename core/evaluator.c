/* evaluator: what every engine shares (see evaluator.h): the
 * configuration, candidate ids, checking a job and staging its folder, the
 * worker's command line, progress lines and outcomes, an event queue, and
 * the small file helpers the engines use on the shared work folder. The
 * engines themselves are eval_local.c and eval_slurm.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/evaluator.h"
#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/base/num.h"
#include "engine/base/strbuf.h"

extern char **environ;

/* ---- configuration ------------------------------------------------------- */

void evaluator_config_default(evaluator_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->slots = EVALUATOR_DEFAULT_SLOTS;
    cfg->threads = EVALUATOR_DEFAULT_THREADS;
    cfg->grace = 10;
    cfg->max_memory = -1;
}

int evaluator_config_set(evaluator_config *cfg, const char *key, const char *value, gerr *err)
{
    char what[64];
    snprintf(what, sizeof what, "evaluator %s", key);
    if (!strcmp(key, "slots"))
        return num_int(value, 1, 256, &cfg->slots, what, err);
    if (!strcmp(key, "threads"))
        return num_int(value, 1, 256, &cfg->threads, what, err);
    if (!strcmp(key, "grace"))
        return num_double(value, 0, 3600, &cfg->grace, what, err);
    if (!strcmp(key, "max_memory"))
        return num_bytes(value, 0, 1e18, &cfg->max_memory, what, err);
    if (!strcmp(key, "memory"))
        return num_bytes(value, 0, 1e18, &cfg->memory, what, err);
    if (!strcmp(key, "dir") || !strcmp(key, "exe")) {
        char *dst = key[0] == 'd' ? cfg->dir : cfg->exe;
        if (strlen(value) >= sizeof cfg->dir)
            return gerr_set(err, "evaluator %s: path too long", key);
        strcpy(dst, value);
        return 0;
    }
    return gerr_set(err,
                    "unknown evaluator setting '%s' (known: slots, threads, grace, max_memory, "
                    "memory, dir, exe)",
                    key);
}

/* ---- events --------------------------------------------------------------- */

void evaluator_event_clear(evaluator_event *e)
{
    if (!e)
        return;
    free(e->result_json);
    e->result_json = NULL;
}

void evaluator_event_init(evaluator_event *e, evaluator_event_kind kind, const char *id)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    snprintf(e->id, sizeof e->id, "%s", id);
    e->epoch = e->epochs = -1;
    e->step = e->steps = -1;
    e->loss = e->acc = e->val_acc = e->lr = e->images_per_sec = e->eta = e->elapsed = NAN;
}

evaluator_event *evaluator_queue_push(evaluator_queue *q)
{
    if (q->head > 0 && q->head + q->len == q->cap) {
        memmove(q->ev, q->ev + q->head, sizeof *q->ev * (size_t)q->len);
        q->head = 0;
    }
    if (q->head + q->len == q->cap) {
        int nc = q->cap ? q->cap * 2 : 16;
        evaluator_event *nq = realloc(q->ev, sizeof *nq * (size_t)nc);
        if (!nq)
            return NULL;
        q->ev = nq;
        q->cap = nc;
    }
    evaluator_event *e = &q->ev[q->head + q->len++];
    memset(e, 0, sizeof *e);
    return e;
}

int evaluator_queue_take(evaluator_queue *q, evaluator_event *out, int max)
{
    int n = 0;
    while (n < max && q->len > 0) {
        out[n++] = q->ev[q->head++];
        q->len--;
    }
    if (!q->len)
        q->head = 0;
    return n;
}

void evaluator_push_failed(evaluator_queue *q, const char *id, const char *reason, bool cancelled)
{
    evaluator_event *e = evaluator_queue_push(q);
    if (!e)
        return;
    evaluator_event_init(e, EVALUATOR_FAILED, id);
    e->cancelled = cancelled;
    snprintf(e->reason, sizeof e->reason, "%s", reason);
}

void evaluator_queue_release(evaluator_queue *q)
{
    for (int i = 0; i < q->len; i++)
        evaluator_event_clear(&q->ev[q->head + i]);
    free(q->ev);
    memset(q, 0, sizeof *q);
}

/* ---- ids and jobs ----------------------------------------------------------- */

int evaluator_check_id(const char *id, gerr *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= EVALUATOR_ID_MAX)
        return gerr_set(err, "candidate id must have 1 to %d characters", EVALUATOR_ID_MAX - 1);
    if (id[0] == '.')
        return gerr_set(err, "candidate id '%s' must not start with '.'", id);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return gerr_set(
                err, "candidate id '%s': only letters, digits, '.', '_' and '-' are allowed", id);
    }
    return 0;
}

static const char *const owned_options[] = {"out",        "progress",   "threads",
                                            "time-limit", "max-memory", "help"};

int evaluator_check_job(evaluator *ev, const evaluator_job *jb, gerr *err)
{
    if (!jb || evaluator_check_id(jb->id, err))
        return -1;
    if (!jb->genome || !*jb->genome)
        return gerr_set(err, "candidate %s: no genome file", jb->id);
    if (!(jb->time_limit >= 0 && jb->time_limit <= 1e9))
        return gerr_set(err, "candidate %s: time limit %g is not in 0..1e9 seconds", jb->id,
                        jb->time_limit);
    if (jb->threads < 0 || jb->threads > 256)
        return gerr_set(err, "candidate %s: threads %d is not in 0..256", jb->id, jb->threads);
    if (!(jb->memory >= 0 && jb->memory <= 1e18))
        return gerr_set(err, "candidate %s: memory %g is not in 0..1e18 bytes", jb->id, jb->memory);
    int n_args = 0;
    for (const char *const *a = jb->args; a && *a; a++, n_args++) {
        if (n_args >= 128)
            return gerr_set(err, "candidate %s: too many training options", jb->id);
        if (!strcmp(*a, "-h"))
            return gerr_set(err, "candidate %s: option -h is not a training option", jb->id);
        if (strncmp(*a, "--", 2) || !(*a)[2])
            continue;
        size_t len = strcspn(*a + 2, "=");
        for (size_t k = 0; k < sizeof owned_options / sizeof *owned_options; k++)
            if (!strncmp(*a + 2, owned_options[k], len) && len <= strlen(owned_options[k]))
                return gerr_set(err, "candidate %s: option %s is set by the evaluator, not the job",
                                jb->id, *a);
    }
    evaluator_jobhead *old = evaluator_jobs_find(&ev->jobs, jb->id);
    if (old && !old->done)
        return gerr_set(err, "candidate %s is already queued or running", jb->id);
    return 0;
}

int evaluator_stage(const char *dir, const evaluator_job *jb, gerr *err)
{
    if (evaluator_mkdir_p(dir, err))
        return -1;
    static const char *const stale[] = {"progress.jsonl", "stderr.log", "result.json",
                                        "job.json",       "pid",        "exit",
                                        "collected",      "genome.net", "train.sh"};
    char path[PATH_MAX + 32];
    for (size_t k = 0; k < sizeof stale / sizeof *stale; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, stale[k]);
        unlink(path);
    }
    char *genome = NULL;
    size_t glen = 0;
    if (file_read(jb->genome, 16u << 20, &genome, &glen, err))
        return gerr_prefix(err, "candidate %s", jb->id);
    snprintf(path, sizeof path, "%s/genome.net", dir);
    int wr = file_write(path, genome, glen, err);
    free(genome);
    return wr ? gerr_prefix(err, "candidate %s", jb->id) : 0;
}

/* ---- the job table ---------------------------------------------------------- */

evaluator_jobhead *evaluator_jobs_find(const evaluator_jobs *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i]->id, id))
            return t->v[i];
    return NULL;
}

int evaluator_jobs_add(evaluator_jobs *t, evaluator_jobhead *j)
{
    if (ALLOC_GROW(t->v, t->n + 1, t->alloc))
        return -1;
    t->v[t->n++] = j;
    return 0;
}

int evaluator_job_init(evaluator_jobhead *j, const char *dir, const char *id, gerr *err)
{
    snprintf(j->id, sizeof j->id, "%s", id);
    if (snprintf(j->dir, sizeof j->dir, "%s/%s", dir, id) >= (int)sizeof j->dir)
        return gerr_set(err, "candidate %s: the work folder's path is too long", id);
    return 0;
}

void evaluator_job_path(const evaluator_jobhead *j, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", j->dir, name);
}

struct json_t *evaluator_job_uncollected(const evaluator_jobhead *j)
{
    char path[PATH_MAX + 32], cpath[PATH_MAX + 32];
    evaluator_job_path(j, "job.json", path, sizeof path);
    evaluator_job_path(j, "collected", cpath, sizeof cpath);
    if (access(cpath, F_OK) == 0)
        return NULL;
    json_t *o = json_load_file(path, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

bool evaluator_job_exit(const evaluator_jobhead *j, char *how, size_t size)
{
    char path[PATH_MAX + 32], *t = NULL;
    evaluator_job_path(j, "exit", path, sizeof path);
    if (file_read(path, 4096, &t, NULL, NULL))
        return false;
    snprintf(how, size, "%s", t);
    how[strcspn(how, "\n")] = 0;
    free(t);
    return true;
}

evaluator_event *evaluator_job_outcome(evaluator *ev, evaluator_jobhead *j, const char *how)
{
    evaluator_read_progress(&ev->q, j->dir, j->id, &j->prog_off);
    char rpath[PATH_MAX + 32], epath[PATH_MAX + 32], tail[512];
    evaluator_job_path(j, "result.json", rpath, sizeof rpath);
    evaluator_job_path(j, "stderr.log", epath, sizeof epath);
    char *res = NULL;
    if (file_read(rpath, EVALUATOR_PROGRESS_MAX, &res, NULL, NULL))
        res = NULL;
    evaluator_last_line(epath, tail, sizeof tail);
    j->done = true;
    evaluator_event *e = evaluator_queue_push(&ev->q);
    if (!e) {
        free(res);
        return NULL;
    }
    evaluator_outcome(e, j->id, res, rpath, how && how[0] ? how : NULL, tail);
    return e;
}

/* ---- the interface ------------------------------------------------------------ */

evaluator *evaluator_alloc(const evaluator_config *cfg, const evaluator_ops *ops, void *impl,
                           gerr *err)
{
    if (!cfg || !cfg->dir[0])
        return gerr_set(err, "the %s evaluator needs a work folder", ops->name), NULL;
    if (cfg->slots < 1 || cfg->slots > 256 || cfg->threads < 1 || cfg->threads > 256)
        return gerr_set(err,
                        "evaluator: slots and threads must be in 1..256 (slots %d, threads %d)",
                        cfg->slots, cfg->threads),
               NULL;
    if (!(cfg->grace >= 0 && cfg->grace <= 3600))
        return gerr_set(err, "evaluator: grace %g is not in 0..3600 seconds", cfg->grace), NULL;
    if (evaluator_mkdir_p(cfg->dir, err))
        return NULL;
    evaluator *ev = calloc(1, sizeof *ev);
    if (!ev)
        return gerr_set(err, "out of memory"), NULL;
    ev->ops = ops;
    ev->cfg = *cfg;
    ev->impl = impl;
    /* absolute paths: workers and a later process must find the same files */
    char abs[PATH_MAX];
    if (!realpath(cfg->dir, abs) || strlen(abs) >= sizeof ev->cfg.dir) {
        gerr_errno(err, "cannot resolve the work folder %s", cfg->dir);
        free(ev);
        return NULL;
    }
    strcpy(ev->cfg.dir, abs);
    if (evaluator_find_exe(cfg->exe, ev->exe, sizeof ev->exe, err)) {
        free(ev);
        return NULL;
    }
    return ev;
}

int evaluator_submit(evaluator *ev, const evaluator_job *job, gerr *err)
{
    return ev->ops->submit(ev, job, err);
}

int evaluator_poll(evaluator *ev, evaluator_event *out, int max)
{
    ev->ops->step(ev);
    /* drop the ended: their outcome is queued */
    size_t k = 0;
    for (size_t i = 0; i < ev->jobs.n; i++) {
        if (ev->jobs.v[i]->done)
            ev->ops->free_job(ev->jobs.v[i]);
        else
            ev->jobs.v[k++] = ev->jobs.v[i];
    }
    ev->jobs.n = k;
    return evaluator_queue_take(&ev->q, out, max);
}

int evaluator_cancel(evaluator *ev, const char *id, gerr *err)
{
    evaluator_jobhead *j = id ? evaluator_jobs_find(&ev->jobs, id) : NULL;
    if (!j || j->done)
        return gerr_set(err, "no queued or running candidate '%s'", id ? id : "");
    return ev->ops->cancel(ev, id, err);
}

int evaluator_pollfds(evaluator *ev, struct pollfd *pfd, int max)
{
    return ev->ops->pollfds(ev, pfd, max);
}

int evaluator_timeout_ms(evaluator *ev)
{
    return ev->q.len > 0 ? 0 : ev->ops->timeout_ms(ev);
}

int evaluator_reattach(evaluator *ev, gerr *err)
{
    DIR *d = opendir(ev->cfg.dir);
    if (!d)
        return gerr_errno(err, "cannot read the work folder %s", ev->cfg.dir);
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (evaluator_check_id(de->d_name, NULL) || evaluator_jobs_find(&ev->jobs, de->d_name))
            continue;
        evaluator_jobhead probe;
        memset(&probe, 0, sizeof probe);
        if (evaluator_job_init(&probe, ev->cfg.dir, de->d_name, NULL))
            continue;
        json_t *o = evaluator_job_uncollected(&probe);
        if (!o)
            continue; /* collected, or never started */
        int rc = ev->ops->adopt(ev, de->d_name, o);
        json_decref(o);
        if (rc < 0) {
            closedir(d);
            return gerr_set(err, "out of memory");
        }
        found += rc;
    }
    closedir(d);
    return found;
}

int evaluator_active(evaluator *ev)
{
    int n = 0;
    for (size_t i = 0; i < ev->jobs.n; i++)
        n += !ev->jobs.v[i]->done;
    return n;
}

bool evaluator_tracks(evaluator *ev, const char *id)
{
    evaluator_jobhead *j = evaluator_jobs_find(&ev->jobs, id);
    return j && !j->done;
}

int evaluator_collected(evaluator *ev, const char *id, gerr *err)
{
    if (evaluator_check_id(id, err))
        return -1;
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s/collected", ev->cfg.dir, id);
    return file_write(path, "", 0, err);
}

void evaluator_free(evaluator *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->jobs.n; i++)
        ev->ops->free_job(ev->jobs.v[i]);
    free(ev->jobs.v);
    evaluator_queue_release(&ev->q);
    ev->ops->release(ev);
    free(ev);
}

/* ---- the worker ------------------------------------------------------------------ */

bool evaluator_env_kept(const evaluator_config *cfg, const char *name)
{
    /* the sanitizers' options too: a sanitized worker's report then goes
       where the tests collect every report (tests/run.sh) */
    static const char *const exact[] = {"PATH",         "HOME",         "USER",         "LOGNAME",
                                        "SHELL",        "TMPDIR",       "LANG",         "TZ",
                                        "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"};
    static const char *const prefix[] = {"LC_", "OPENBLAS_", "OMP_", "GEVO_"};
    size_t n = strcspn(name, "=");
    if (cfg->key_env[0] && strlen(cfg->key_env) == n && !strncmp(name, cfg->key_env, n))
        return false;
    if (!strncmp(name, "GEVO_LLM_API_KEY", 16))
        return false; /* the key, or the name of its variable: never the worker's business */
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (strlen(exact[i]) == n && !strncmp(name, exact[i], n))
            return true;
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
        if (!strncmp(name, prefix[i], strlen(prefix[i])))
            return true;
    return false;
}

char **evaluator_worker_env(const evaluator_config *cfg, const char *extra)
{
    char **env = NULL;
    size_t n = 0, alloc = 0;
    for (char **p = environ; p && *p; p++) {
        if (!evaluator_env_kept(cfg, *p) && !(extra && !strncmp(*p, extra, strlen(extra))))
            continue;
        if (ALLOC_GROW(env, n + 2, alloc))
            goto oom;
        if (!(env[n] = strdup(*p)))
            goto oom;
        env[++n] = NULL;
    }
    if (!env && !(env = calloc(1, sizeof *env)))
        return NULL;
    return env;
oom:
    if (env)
        env[n] = NULL;
    evaluator_argv_free(env);
    return NULL;
}

void evaluator_close_pipe(const int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
}

void evaluator_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

char **evaluator_worker_argv(const evaluator *ev, const char *dir, const evaluator_job *jb)
{
    int n_args = 0;
    for (const char *const *a = jb->args; a && *a; a++)
        n_args++;
    char **argv = calloc((size_t)n_args + 14, sizeof *argv);
    if (!argv)
        return NULL;
    int a = 0;
    char path[PATH_MAX + 32], num[64];
    argv[a++] = strdup(ev->exe);
    argv[a++] = strdup("train");
    argv[a++] = strdup("--progress");
    argv[a++] = strdup("--out");
    snprintf(path, sizeof path, "%s/result.json", dir);
    argv[a++] = strdup(path);
    argv[a++] = strdup("--threads");
    snprintf(num, sizeof num, "%d", jb->threads ? jb->threads : ev->cfg.threads);
    argv[a++] = strdup(num);
    if (jb->time_limit > 0) {
        argv[a++] = strdup("--time-limit");
        snprintf(num, sizeof num, "%.17g", jb->time_limit);
        argv[a++] = strdup(num);
    }
    if (ev->cfg.max_memory >= 0) {
        argv[a++] = strdup("--max-memory");
        snprintf(num, sizeof num, "%.0f", ev->cfg.max_memory);
        argv[a++] = strdup(num);
    }
    for (int k = 0; k < n_args; k++)
        argv[a++] = strdup(jb->args[k]);
    snprintf(path, sizeof path, "%s/genome.net", dir);
    argv[a++] = strdup(path);
    for (int k = 0; k < a; k++)
        if (!argv[k]) {
            evaluator_argv_free(argv);
            return NULL;
        }
    return argv;
}

/* ---- memory -------------------------------------------------------------------- */

double evaluator_job_memory(const evaluator *ev, const evaluator_job *jb)
{
    if (jb->memory > 0)
        return jb->memory;
    return ev->cfg.max_memory > 0 ? ev->cfg.max_memory : 0;
}

bool evaluator_memory_fits(const evaluator *ev, double used, double need)
{
    return !(ev->cfg.memory > 0) || used + need <= ev->cfg.memory;
}

int evaluator_memory_check(const evaluator *ev, double need, gerr *err)
{
    if (!(ev->cfg.memory > 0) || need <= ev->cfg.memory)
        return 0;
    char n[32], b[32];
    num_bytes_format(need, n, sizeof n);
    num_bytes_format(ev->cfg.memory, b, sizeof b);
    return gerr_set(err,
                    "its training plans to allocate %s, more than the memory budget of %s for all "
                    "the trainings running at once; it can never start",
                    n, b);
}

/* ---- progress and outcomes --------------------------------------------------- */

double evaluator_jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

long evaluator_jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

int evaluator_parse_progress(const char *line, const char *id, evaluator_event *e)
{
    json_t *o = json_loads(line, 0, NULL);
    const char *ev = o ? json_string_value(json_object_get(o, "event")) : NULL;
    int rc = -1;
    if (!ev)
        goto out;
    if (!strcmp(ev, "result")) {
        rc = 1;
        goto out;
    }
    if (strcmp(ev, "start") && strcmp(ev, "step") && strcmp(ev, "epoch") && strcmp(ev, "eval"))
        goto out;
    evaluator_event_init(e, EVALUATOR_PROGRESS, id);
    snprintf(e->phase, sizeof e->phase, "%s", ev);
    const char *what = json_string_value(json_object_get(o, "what"));
    if (what)
        snprintf(e->what, sizeof e->what, "%s", what);
    e->epoch = (int)evaluator_jint(o, "epoch");
    e->epochs = (int)evaluator_jint(o, "epochs");
    e->step = evaluator_jint(o, "step");
    e->steps = evaluator_jint(o, "steps");
    e->loss = evaluator_jnum(o, "loss");
    e->acc = evaluator_jnum(o, "acc");
    e->val_acc = evaluator_jnum(o, "val_acc");
    e->lr = evaluator_jnum(o, "lr");
    e->images_per_sec = evaluator_jnum(o, "images_per_sec");
    e->eta = evaluator_jnum(o, "eta");
    e->elapsed = evaluator_jnum(o, "elapsed");
    rc = 0;
out:
    json_decref(o);
    return rc;
}

void evaluator_read_progress(evaluator_queue *q, const char *dir, const char *id, long long *off)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/progress.jsonl", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) || st.st_size > EVALUATOR_PROGRESS_MAX) {
        close(fd);
        return;
    }
    if (st.st_size < *off)
        *off = 0; /* rewritten: a restarted (requeued) worker */
    if (st.st_size == *off) {
        close(fd);
        return;
    }
    size_t n = (size_t)(st.st_size - *off);
    char *buf = malloc(n + 1);
    ssize_t r = buf ? pread(fd, buf, n, (off_t)*off) : -1;
    close(fd);
    if (r <= 0) {
        free(buf);
        return;
    }
    buf[r] = 0;
    char *p = buf;
    evaluator_event step;
    bool have_step = false;
    for (;;) {
        char *nl = strchr(p, '\n');
        if (!nl)
            break; /* a line still being written */
        *nl = 0;
        evaluator_event e;
        if (evaluator_parse_progress(p, id, &e) == 0) {
            if (!strcmp(e.phase, "step")) {
                step = e;
                have_step = true;
            } else {
                evaluator_event *qe;
                if (have_step && (qe = evaluator_queue_push(q)))
                    *qe = step;
                have_step = false;
                if ((qe = evaluator_queue_push(q)))
                    *qe = e;
            }
        }
        p = nl + 1;
    }
    evaluator_event *qe;
    if (have_step && (qe = evaluator_queue_push(q)))
        *qe = step;
    *off += p - buf;
    free(buf);
}

void evaluator_outcome(evaluator_event *e, const char *id, char *result_json,
                       const char *result_path, const char *how, const char *stderr_tail)
{
    evaluator_event_init(e, EVALUATOR_FAILED, id);
    e->result_json = result_json;
    if (result_json && result_path)
        snprintf(e->result_path, sizeof e->result_path, "%s", result_path);
    const char *tail = stderr_tail && *stderr_tail ? stderr_tail : NULL;
    if (result_json) {
        json_error_t je;
        json_t *o = json_loads(result_json, 0, &je);
        const char *status = o ? json_string_value(json_object_get(o, "status")) : NULL;
        if (!status) {
            snprintf(e->reason, sizeof e->reason,
                     "the worker's result is not a training result (%s)",
                     o ? "no status" : je.text);
            json_decref(o);
            return;
        }
        snprintf(e->status, sizeof e->status, "%s", status);
        const char *msg = json_string_value(json_object_get(o, "message"));
        if (!strcmp(status, "error")) {
            snprintf(e->reason, sizeof e->reason, "%s",
                     msg && *msg ? msg
                     : tail      ? tail
                                 : "training failed");
        } else {
            e->kind = EVALUATOR_FINISHED;
            if (msg)
                snprintf(e->reason, sizeof e->reason, "%s", msg);
        }
        json_decref(o);
        return;
    }
    int n;
    if (how && sscanf(how, "signal %d", &n) == 1)
        snprintf(e->reason, sizeof e->reason, "killed by signal %d%s%s", n, tail ? ": " : "",
                 tail ? tail : "");
    else if (how && sscanf(how, "exit %d", &n) == 1)
        snprintf(e->reason, sizeof e->reason, "exited with status %d without a result%s%s", n,
                 tail ? ": " : "", tail ? tail : "");
    else
        snprintf(e->reason, sizeof e->reason,
                 "the worker ended without a result or an exit status%s%s", tail ? ": " : "",
                 tail ? tail : "");
}

/* ---- files ----------------------------------------------------------------------- */

void evaluator_last_line(const char *path, char *out, size_t size)
{
    if (!size)
        return;
    out[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t start = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, start);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = 0;
    char *nl = strrchr(buf, '\n');
    snprintf(out, size, "%s", nl ? nl + 1 : buf);
}

int evaluator_mkdir_p(const char *path, gerr *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return gerr_set(err, "path too long: %.80s...", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST)
                return gerr_errno(err, "cannot create %s", buf);
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode))
        return gerr_set(err, "%s is not a folder", path);
    return 0;
}

int evaluator_find_exe(const char *configured, char *out, size_t size, gerr *err)
{
    if (configured && configured[0]) {
        snprintf(out, size, "%s", configured);
    } else {
        ssize_t n = readlink("/proc/self/exe", out, size - 1);
        if (n <= 0)
            return gerr_errno(err, "cannot find the gevo program (/proc/self/exe)");
        out[n] = 0;
    }
    struct stat st;
    errno = 0;
    if (stat(out, &st) || !S_ISREG(st.st_mode) || access(out, X_OK))
        return errno ? gerr_errno(err, "the worker program %s is not an executable file", out)
                     : gerr_set(err, "the worker program %s is not an executable file", out);
    return 0;
}

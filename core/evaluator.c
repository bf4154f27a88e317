/* evaluator: what every engine shares (see evaluator.h): the
 * configuration, candidate ids, checking a job and staging its folder, the
 * worker's command line, progress lines and outcomes, an event queue, and
 * the small file helpers the engines use on the shared work folder. The
 * engines themselves are eval_local.c and eval_slurm.c. */
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

#include "core/errf.h"
#include "core/evaluator.h"

/* ---- configuration ------------------------------------------------------- */

void evaluator_config_default(evaluator_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->slots = EVALUATOR_DEFAULT_SLOTS;
    cfg->threads = EVALUATOR_DEFAULT_THREADS;
    cfg->grace = 10;
}

int evaluator_config_set(evaluator_config *cfg, const char *key, const char *value, char *err,
                         size_t errsize)
{
    char *end;
    if (!strcmp(key, "slots") || !strcmp(key, "threads")) {
        long v = strtol(value, &end, 10);
        if (end == value || *end || v < 1 || v > 256) {
            core_errf(err, errsize, "evaluator %s: needs an integer in 1..256, not '%s'", key,
                      value);
            return -1;
        }
        if (key[0] == 's')
            cfg->slots = (int)v;
        else
            cfg->threads = (int)v;
    } else if (!strcmp(key, "grace")) {
        double v = strtod(value, &end);
        if (end == value || *end || !(v >= 0 && v <= 3600)) {
            core_errf(err, errsize, "evaluator grace: needs seconds in 0..3600, not '%s'", value);
            return -1;
        }
        cfg->grace = v;
    } else if (!strcmp(key, "dir") || !strcmp(key, "exe")) {
        char *dst = key[0] == 'd' ? cfg->dir : cfg->exe;
        if (strlen(value) >= sizeof cfg->dir) {
            core_errf(err, errsize, "evaluator %s: path too long", key);
            return -1;
        }
        strcpy(dst, value);
    } else {
        core_errf(err, errsize,
                  "unknown evaluator setting '%s' (known: slots, threads, grace, dir, exe)", key);
        return -1;
    }
    return 0;
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

void evaluator_queue_free(evaluator_queue *q)
{
    for (int i = 0; i < q->len; i++)
        evaluator_event_clear(&q->ev[q->head + i]);
    free(q->ev);
    memset(q, 0, sizeof *q);
}

/* ---- ids and jobs ----------------------------------------------------------- */

int evaluator_check_id(const char *id, char *err, size_t errsize)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= EVALUATOR_ID_MAX) {
        core_errf(err, errsize, "candidate id must have 1 to %d characters", EVALUATOR_ID_MAX - 1);
        return -1;
    }
    if (id[0] == '.') {
        core_errf(err, errsize, "candidate id '%s' must not start with '.'", id);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            core_errf(err, errsize,
                      "candidate id '%s': only letters, digits, '.', '_' and '-' are allowed", id);
            return -1;
        }
    }
    return 0;
}

static const char *const owned_options[] = {"out", "progress", "threads", "time-limit", "help"};

int evaluator_check_job(const evaluator_job *jb, char *err, size_t errsize)
{
    if (!jb || evaluator_check_id(jb->id, err, errsize))
        return -1;
    if (!jb->genome || !*jb->genome) {
        core_errf(err, errsize, "candidate %s: no genome file", jb->id);
        return -1;
    }
    if (!(jb->time_limit >= 0 && jb->time_limit <= 1e9)) {
        core_errf(err, errsize, "candidate %s: time limit %g is not in 0..1e9 seconds", jb->id,
                  jb->time_limit);
        return -1;
    }
    if (jb->threads < 0 || jb->threads > 256) {
        core_errf(err, errsize, "candidate %s: threads %d is not in 0..256", jb->id, jb->threads);
        return -1;
    }
    int n_args = 0;
    for (const char *const *a = jb->args; a && *a; a++, n_args++) {
        if (n_args >= 128) {
            core_errf(err, errsize, "candidate %s: too many training options", jb->id);
            return -1;
        }
        if (strncmp(*a, "--", 2) || !(*a)[2])
            continue;
        size_t len = strcspn(*a + 2, "=");
        for (size_t k = 0; k < sizeof owned_options / sizeof *owned_options; k++)
            if (!strncmp(*a + 2, owned_options[k], len) && len <= strlen(owned_options[k])) {
                core_errf(err, errsize,
                          "candidate %s: option %s is set by the evaluator, not the job", jb->id,
                          *a);
                return -1;
            }
        if (!strcmp(*a, "-h")) {
            core_errf(err, errsize, "candidate %s: option -h is not a training option", jb->id);
            return -1;
        }
    }
    return 0;
}

int evaluator_stage(const char *dir, const evaluator_job *jb, char *err, size_t errsize)
{
    if (evaluator_mkdir_p(dir, err, errsize))
        return -1;
    static const char *const stale[] = {"progress.jsonl", "stderr.log", "result.json",
                                        "job.json",       "pid",        "exit",
                                        "collected",      "genome.net", "train.sh"};
    char path[PATH_MAX + 32];
    for (size_t k = 0; k < sizeof stale / sizeof *stale; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, stale[k]);
        unlink(path);
    }
    size_t glen;
    errno = 0;
    char *genome = evaluator_read_file(jb->genome, 16L << 20, &glen);
    if (!genome) {
        core_errf(err, errsize, "candidate %s: cannot read %s: %s", jb->id, jb->genome,
                  errno ? strerror(errno) : "too large");
        return -1;
    }
    snprintf(path, sizeof path, "%s/genome.net", dir);
    int wr = evaluator_write_file(path, genome, glen);
    free(genome);
    if (wr) {
        core_errf(err, errsize, "candidate %s: cannot write %s: %s", jb->id, path, strerror(errno));
        return -1;
    }
    return 0;
}

void evaluator_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

char **evaluator_worker_argv(const char *exe, const char *dir, const evaluator_job *jb, int threads)
{
    int n_args = 0;
    for (const char *const *a = jb->args; a && *a; a++)
        n_args++;
    char **argv = calloc((size_t)n_args + 12, sizeof *argv);
    if (!argv)
        return NULL;
    int a = 0;
    char path[PATH_MAX + 32], num[64];
    argv[a++] = strdup(exe);
    argv[a++] = strdup("train");
    argv[a++] = strdup("--progress");
    argv[a++] = strdup("--out");
    snprintf(path, sizeof path, "%s/result.json", dir);
    argv[a++] = strdup(path);
    argv[a++] = strdup("--threads");
    snprintf(num, sizeof num, "%d", jb->threads ? jb->threads : threads);
    argv[a++] = strdup(num);
    if (jb->time_limit > 0) {
        argv[a++] = strdup("--time-limit");
        snprintf(num, sizeof num, "%.17g", jb->time_limit);
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

/* ---- progress and outcomes --------------------------------------------------- */

static double jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static long jint(json_t *o, const char *key)
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
    e->epoch = (int)jint(o, "epoch");
    e->epochs = (int)jint(o, "epochs");
    e->step = jint(o, "step");
    e->steps = jint(o, "steps");
    e->loss = jnum(o, "loss");
    e->acc = jnum(o, "acc");
    e->val_acc = jnum(o, "val_acc");
    e->lr = jnum(o, "lr");
    e->images_per_sec = jnum(o, "images_per_sec");
    e->eta = jnum(o, "eta");
    e->elapsed = jnum(o, "elapsed");
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

char *evaluator_read_file(const char *path, long max, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) || st.st_size > max) {
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return NULL;
    }
    for (;;) {
        if (len + 1 >= cap) {
            if ((long)cap > max)
                break;
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    if (len_out)
        *len_out = len;
    return buf;
}

int evaluator_write_file(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (close(fd) || off != len || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

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

int evaluator_mkdir_p(const char *path, char *err, size_t errsize)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        core_errf(err, errsize, "path too long: %s", path);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST) {
                core_errf(err, errsize, "cannot create %s: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
        core_errf(err, errsize, "%s is not a folder", path);
        return -1;
    }
    return 0;
}

int evaluator_find_exe(const char *configured, char *out, size_t size, char *err, size_t errsize)
{
    if (configured && configured[0]) {
        snprintf(out, size, "%s", configured);
    } else {
        ssize_t n = readlink("/proc/self/exe", out, size - 1);
        if (n <= 0) {
            core_errf(err, errsize, "cannot find the gevo program (/proc/self/exe): %s",
                      strerror(errno));
            return -1;
        }
        out[n] = 0;
    }
    struct stat st;
    errno = 0;
    if (stat(out, &st) || !S_ISREG(st.st_mode) || access(out, X_OK)) {
        core_errf(err, errsize, "the worker program %s is not an executable file%s%s", out,
                  errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    return 0;
}

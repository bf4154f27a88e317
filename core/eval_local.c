/* eval_local: the local evaluator, a pool of detached `gevo train` workers
 * (see evaluator.h), plus the parts every engine shares.
 *
 * Each worker hangs under a small monitor process:
 *
 *   this process --fork--> monitor (setsid: own session, no terminal)
 *                             --fork--> worker: exec gevo train, stdout to
 *                                       progress.jsonl, stderr to stderr.log
 *                             waits for it, writes <id>/exit, exits
 *
 * The monitor lets a later process learn how the worker ended ("signal 9")
 * even though it was never its child, and its end closes a pipe we poll.
 * It is a fork of this process that only makes system calls
 * (async-signal-safe) and _exit()s, so it is safe in a threaded program.
 * Progress is read from the growing file, not a pipe, since the file
 * survives us. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
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

#define PROGRESS_MAX_BYTES (64L << 20) /* a progress file larger than this is not followed */
#define POLL_INTERVAL_MS 250

static void set_err(char *err, size_t errsize, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errsize, const char *fmt, ...)
{
    if (!err || !errsize) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}

/* Copies src into dst, cut to fit. */
static void scopy(char *dst, size_t size, const char *src)
{
    if (!size) return;
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- configuration ------------------------------------------------------- */

void evaluator_config_default(evaluator_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->slots = EVALUATOR_DEFAULT_SLOTS;
    cfg->threads = EVALUATOR_DEFAULT_THREADS;
    cfg->grace = 10;
}

int evaluator_config_set(evaluator_config *cfg, const char *key, const char *value, char *err, size_t errsize)
{
    char *end;
    if (!strcmp(key, "slots") || !strcmp(key, "threads")) {
        long v = strtol(value, &end, 10);
        if (end == value || *end || v < 1 || v > 256) {
            set_err(err, errsize, "evaluator %s: needs an integer in 1..256, not '%s'", key, value);
            return -1;
        }
        if (key[0] == 's')
            cfg->slots = (int)v;
        else
            cfg->threads = (int)v;
    } else if (!strcmp(key, "grace")) {
        double v = strtod(value, &end);
        if (end == value || *end || !(v >= 0 && v <= 3600)) {
            set_err(err, errsize, "evaluator grace: needs seconds in 0..3600, not '%s'", value);
            return -1;
        }
        cfg->grace = v;
    } else if (!strcmp(key, "dir") || !strcmp(key, "exe")) {
        char *dst = key[0] == 'd' ? cfg->dir : cfg->exe;
        if (strlen(value) >= sizeof cfg->dir) {
            set_err(err, errsize, "evaluator %s: path too long", key);
            return -1;
        }
        strcpy(dst, value);
    } else {
        set_err(err, errsize, "unknown evaluator setting '%s' (known: slots, threads, grace, dir, exe)", key);
        return -1;
    }
    return 0;
}

/* ---- shared by engines ---------------------------------------------------- */

void evaluator_event_clear(evaluator_event *e)
{
    if (!e) return;
    free(e->result_json);
    e->result_json = NULL;
}

int evaluator_check_id(const char *id, char *err, size_t errsize)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= EVALUATOR_ID_MAX) {
        set_err(err, errsize, "candidate id must have 1 to %d characters", EVALUATOR_ID_MAX - 1);
        return -1;
    }
    if (id[0] == '.') {
        set_err(err, errsize, "candidate id '%s' must not start with '.'", id);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-')) {
            set_err(err, errsize, "candidate id '%s': only letters, digits, '.', '_' and '-' are allowed", id);
            return -1;
        }
    }
    return 0;
}

static void event_init(evaluator_event *e, evaluator_event_kind kind, const char *id)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    snprintf(e->id, sizeof e->id, "%s", id);
    e->epoch = e->epochs = -1;
    e->step = e->steps = -1;
    e->loss = e->acc = e->val_acc = e->lr = e->images_per_sec = e->eta = e->elapsed = NAN;
}

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
    if (!ev) goto out;
    if (!strcmp(ev, "result")) {
        rc = 1;
        goto out;
    }
    if (strcmp(ev, "start") && strcmp(ev, "step") && strcmp(ev, "epoch") && strcmp(ev, "eval")) goto out;
    event_init(e, EVALUATOR_PROGRESS, id);
    snprintf(e->phase, sizeof e->phase, "%s", ev);
    const char *what = json_string_value(json_object_get(o, "what"));
    if (what) snprintf(e->what, sizeof e->what, "%s", what);
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

void evaluator_outcome(evaluator_event *e, const char *id, char *result_json, const char *result_path,
                       const char *how, const char *stderr_tail)
{
    event_init(e, EVALUATOR_FAILED, id);
    e->result_json = result_json;
    if (result_json && result_path) snprintf(e->result_path, sizeof e->result_path, "%s", result_path);
    const char *tail = stderr_tail && *stderr_tail ? stderr_tail : NULL;
    if (result_json) {
        json_error_t je;
        json_t *o = json_loads(result_json, 0, &je);
        const char *status = o ? json_string_value(json_object_get(o, "status")) : NULL;
        if (!status) {
            snprintf(e->reason, sizeof e->reason, "the worker's result is not a training result (%s)",
                     o ? "no status" : je.text);
            json_decref(o);
            return;
        }
        snprintf(e->status, sizeof e->status, "%s", status);
        const char *msg = json_string_value(json_object_get(o, "message"));
        if (!strcmp(status, "error")) {
            snprintf(e->reason, sizeof e->reason, "%s", msg && *msg ? msg : tail ? tail : "training failed");
        } else {
            e->kind = EVALUATOR_FINISHED;
            if (msg) snprintf(e->reason, sizeof e->reason, "%s", msg);
        }
        json_decref(o);
        return;
    }
    int n;
    if (how && sscanf(how, "signal %d", &n) == 1)
        snprintf(e->reason, sizeof e->reason, "killed by signal %d%s%s", n, tail ? ": " : "", tail ? tail : "");
    else if (how && sscanf(how, "exit %d", &n) == 1)
        snprintf(e->reason, sizeof e->reason, "exited with status %d without a result%s%s", n, tail ? ": " : "",
                 tail ? tail : "");
    else
        snprintf(e->reason, sizeof e->reason, "the worker ended without a result or an exit status%s%s",
                 tail ? ": " : "", tail ? tail : "");
}

/* ---- small file helpers --------------------------------------------------- */

/* The whole file (NUL-terminated), or NULL. */
static char *read_text(const char *path, long max, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
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
            if ((long)cap > max) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    if (len_out) *len_out = len;
    return buf;
}

static int write_text(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (close(fd) || off != len || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The last non-empty line of a file (at most size-1 bytes of it). */
static void last_line(const char *path, char *out, size_t size)
{
    out[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t start = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, start);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = 0;
    char *nl = strrchr(buf, '\n');
    const char *line = nl ? nl + 1 : buf;
    scopy(out, size, line);
}

static int mkdir_p(const char *path, char *err, size_t errsize)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        set_err(err, errsize, "path too long: %s", path);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST) {
                set_err(err, errsize, "cannot create %s: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
        set_err(err, errsize, "%s is not a folder", path);
        return -1;
    }
    return 0;
}

/* The start time of a process (field 22 of /proc/PID/stat), so a reused
 * pid is not mistaken for our worker; 0 when there is no such live
 * process (a zombie counts as gone). */
static unsigned long long proc_start(pid_t pid)
{
    if (pid <= 0) return 0;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p || !p[1]) return 0;
    char state = 0;
    unsigned long long start = 0;
    /* after ") ": state, then fields 4..21, then starttime (22) */
    if (sscanf(p + 2, "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", &state,
               &start) != 2)
        return 0;
    if (state == 'Z' || state == 'X') return 0;
    return start ? start : 1;
}

static bool proc_alive(pid_t pid, unsigned long long start)
{
    unsigned long long s = proc_start(pid);
    return s && (!start || s == start);
}

/* ---- the pool ---------------------------------------------------------------- */

typedef enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;
typedef enum job_stop { STOP_NONE, STOP_TIMEOUT, STOP_CANCEL } job_stop;

typedef struct job {
    char id[EVALUATOR_ID_MAX];
    char dir[PATH_MAX];
    char **argv; /* from submit until started */
    double time_limit;
    job_state state;
    pid_t worker, monitor;
    unsigned long long worker_start, monitor_start;
    bool monitor_gone;
    int exit_fd;  /* read end of a pipe the monitor holds: EOF when it ends */
    double started;
    double term_at; /* when SIGTERM went out, 0 = not yet */
    bool killed;
    job_stop stop;
    long long prog_off;
} job;

typedef struct local {
    job **jobs;
    int n_jobs, cap_jobs;
    evaluator_event *q; /* events not yet handed out, a FIFO */
    int q_head, q_len, q_cap;
    char exe[PATH_MAX];
} local;

static local *L(evaluator *ev) { return ev->impl; }

static evaluator_event *push_event(local *l)
{
    if (l->q_head > 0 && l->q_head + l->q_len == l->q_cap) {
        memmove(l->q, l->q + l->q_head, sizeof *l->q * (size_t)l->q_len);
        l->q_head = 0;
    }
    if (l->q_head + l->q_len == l->q_cap) {
        int nc = l->q_cap ? l->q_cap * 2 : 16;
        evaluator_event *nq = realloc(l->q, sizeof *nq * (size_t)nc);
        if (!nq) return NULL;
        l->q = nq;
        l->q_cap = nc;
    }
    evaluator_event *e = &l->q[l->q_head + l->q_len++];
    memset(e, 0, sizeof *e);
    return e;
}

static job *find_job(local *l, const char *id)
{
    for (int i = 0; i < l->n_jobs; i++)
        if (!strcmp(l->jobs[i]->id, id)) return l->jobs[i];
    return NULL;
}

static int count_running(local *l)
{
    int n = 0;
    for (int i = 0; i < l->n_jobs; i++) n += l->jobs[i]->state == JOB_RUNNING;
    return n;
}

static void free_argv(char **argv)
{
    if (!argv) return;
    for (char **p = argv; *p; p++) free(*p);
    free(argv);
}

static void job_free(job *j)
{
    if (!j) return;
    if (j->exit_fd >= 0) close(j->exit_fd);
    free_argv(j->argv);
    free(j);
}

static int add_job(local *l, job *j)
{
    if (l->n_jobs == l->cap_jobs) {
        int nc = l->cap_jobs ? l->cap_jobs * 2 : 8;
        job **nj = realloc(l->jobs, sizeof *nj * (size_t)nc);
        if (!nj) return -1;
        l->jobs = nj;
        l->cap_jobs = nc;
    }
    l->jobs[l->n_jobs++] = j;
    return 0;
}

static void job_path(const job *j, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", j->dir, name);
}

/* Writes job.json and pid, for reattach and for people. */
static void write_job_file(const job *j, char *const *argv)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(j->id));
    json_t *a = json_array();
    for (char *const *p = argv; p && *p; p++) json_array_append_new(a, json_string(*p));
    json_object_set_new(o, "argv", a);
    json_object_set_new(o, "time_limit", json_real(j->time_limit));
    json_object_set_new(o, "started", json_real(j->started));
    json_object_set_new(o, "worker_pid", json_integer(j->worker));
    json_object_set_new(o, "worker_start", json_integer((json_int_t)j->worker_start));
    json_object_set_new(o, "monitor_pid", json_integer(j->monitor));
    json_object_set_new(o, "monitor_start", json_integer((json_int_t)j->monitor_start));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    char path[PATH_MAX + 16];
    if (s) {
        job_path(j, "job.json", path, sizeof path);
        write_text(path, s, strlen(s));
        free(s);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)j->worker);
    job_path(j, "pid", path, sizeof path);
    write_text(path, pid, (size_t)n);
}

/* async-signal-safe helpers for the forked processes */
static size_t fmt_uint(char *out, unsigned v)
{
    char tmp[16];
    size_t n = 0, k = 0;
    do tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof tmp);
    while (n) out[k++] = tmp[--n];
    return k;
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static int fd_above_2(int fd)
{
    if (fd < 0 || fd > 2) return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

/* Starts j's worker. Returns 0, or -1 with a message. */
static int spawn(local *l, job *j, char *err, size_t errsize)
{
    char prog[PATH_MAX + 32], errp[PATH_MAX + 32], exitp[PATH_MAX + 32], exit_tmp[PATH_MAX + 32];
    job_path(j, "progress.jsonl", prog, sizeof prog);
    job_path(j, "stderr.log", errp, sizeof errp);
    job_path(j, "exit", exitp, sizeof exitp);
    job_path(j, "exit.tmp", exit_tmp, sizeof exit_tmp);
    int out_fd = fd_above_2(open(prog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    int err_fd = fd_above_2(open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    int null_fd = fd_above_2(open("/dev/null", O_RDWR | O_CLOEXEC));
    int pp[2] = {-1, -1}, ep[2] = {-1, -1};
    if (out_fd < 0 || err_fd < 0 || null_fd < 0 || pipe2(pp, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
        set_err(err, errsize, "cannot start a worker for %s: %s", j->id, strerror(errno));
        goto fail;
    }
    pp[0] = fd_above_2(pp[0]);
    pp[1] = fd_above_2(pp[1]);
    ep[0] = fd_above_2(ep[0]);
    ep[1] = fd_above_2(ep[1]);
    char *const *argv = j->argv;
    const char *exe = l->exe;
    pid_t mon = fork();
    if (mon < 0) {
        set_err(err, errsize, "cannot start a worker for %s: fork: %s", j->id, strerror(errno));
        goto fail;
    }
    if (mon == 0) {
        /* the monitor: own session, so a hang-up of our terminal does not
           reach it or the worker; ignores the signals meant for the worker */
        setsid();
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGPIPE, &sa, NULL);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGCHLD, &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        pid_t w = fork();
        if (w == 0) {
            sigaction(SIGHUP, &sa, NULL);
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGTERM, &sa, NULL);
            sigaction(SIGPIPE, &sa, NULL);
            dup2(null_fd, 0);
            dup2(out_fd, 1);
            dup2(err_fd, 2);
            close_range(3, ~0U, 0);
            execv(exe, argv);
            static const char msg[] = "gevo: cannot execute the worker program (errno ";
            char num[16];
            write_all(2, msg, sizeof msg - 1);
            write_all(2, num, fmt_uint(num, (unsigned)errno));
            write_all(2, ")\n", 2);
            _exit(127);
        }
        int wpid = w > 0 ? (int)w : 0;
        write_all(pp[1], (const char *)&wpid, sizeof wpid);
        if (w < 0) _exit(1);
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        /* keep only ep[1]: its closing at our exit tells the parent */
        if (ep[1] > 3) close_range(3, (unsigned)ep[1] - 1, 0);
        close_range((unsigned)ep[1] + 1, ~0U, 0);
        int st;
        while (waitpid(w, &st, 0) < 0)
            if (errno != EINTR) _exit(1);
        char line[32];
        size_t n;
        if (WIFSIGNALED(st)) {
            memcpy(line, "signal ", 7);
            n = 7 + fmt_uint(line + 7, (unsigned)WTERMSIG(st));
        } else {
            memcpy(line, "exit ", 5);
            n = 5 + fmt_uint(line + 5, (unsigned)WEXITSTATUS(st));
        }
        line[n++] = '\n';
        int fd = open(exit_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            write_all(fd, line, n);
            close(fd);
            rename(exit_tmp, exitp);
        }
        _exit(0);
    }
    close(pp[1]);
    close(ep[1]);
    close(out_fd);
    close(err_fd);
    close(null_fd);
    int wpid = 0;
    ssize_t r;
    do r = read(pp[0], &wpid, sizeof wpid);
    while (r < 0 && errno == EINTR);
    close(pp[0]);
    if (r != (ssize_t)sizeof wpid || wpid <= 0) {
        set_err(err, errsize, "cannot start a worker for %s: the monitor could not fork", j->id);
        close(ep[0]);
        waitpid(mon, NULL, 0);
        return -1;
    }
    j->monitor = mon;
    j->worker = (pid_t)wpid;
    j->monitor_start = proc_start(mon);
    j->worker_start = proc_start(j->worker);
    j->exit_fd = ep[0];
    j->started = now_real();
    j->state = JOB_RUNNING;
    write_job_file(j, j->argv);
    free_argv(j->argv);
    j->argv = NULL;
    return 0;
fail:
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
    if (null_fd >= 0) close(null_fd);
    for (int i = 0; i < 2; i++) {
        if (pp[i] >= 0) close(pp[i]);
        if (ep[i] >= 0) close(ep[i]);
    }
    return -1;
}

static void start_queued(evaluator *ev)
{
    local *l = L(ev);
    int running = count_running(l);
    for (int i = 0; i < l->n_jobs && running < ev->cfg.slots; i++) {
        job *j = l->jobs[i];
        if (j->state != JOB_QUEUED) continue;
        char err[1024];
        evaluator_event *e = push_event(l);
        if (spawn(l, j, err, sizeof err)) {
            if (e) {
                event_init(e, EVALUATOR_FAILED, j->id);
                snprintf(e->reason, sizeof e->reason, "%s", err);
            }
            j->state = JOB_DONE;
            continue;
        }
        running++;
        if (e) {
            event_init(e, EVALUATOR_STARTED, j->id);
            e->pid = (int)j->worker;
        }
    }
}

/* New complete lines of progress.jsonl as events; step lines in a row are
 * folded into the latest, so a slow caller is not flooded. */
static void read_progress(local *l, job *j)
{
    char path[PATH_MAX + 32];
    job_path(j, "progress.jsonl", path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) || st.st_size <= j->prog_off || st.st_size > PROGRESS_MAX_BYTES) {
        close(fd);
        return;
    }
    size_t n = (size_t)(st.st_size - j->prog_off);
    char *buf = malloc(n + 1);
    ssize_t r = buf ? pread(fd, buf, n, (off_t)j->prog_off) : -1;
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
        if (!nl) break; /* a line still being written */
        *nl = 0;
        evaluator_event e;
        if (evaluator_parse_progress(p, j->id, &e) == 0) {
            if (!strcmp(e.phase, "step")) {
                step = e;
                have_step = true;
            } else {
                evaluator_event *q;
                if (have_step && (q = push_event(l))) *q = step;
                have_step = false;
                if ((q = push_event(l))) *q = e;
            }
        }
        p = nl + 1;
    }
    evaluator_event *q;
    if (have_step && (q = push_event(l))) *q = step;
    j->prog_off += p - buf;
    free(buf);
}

static void signal_worker(job *j, int sig)
{
    if (proc_alive(j->worker, j->worker_start)) kill(j->worker, sig);
}

/* Has j's worker ended? how receives the exit file's text ("" if none). */
static bool job_ended(job *j, char *how, size_t size)
{
    how[0] = 0;
    if (!j->monitor_gone && j->monitor > 0) {
        /* reap our own monitor; ECHILD when another process started it */
        pid_t r = waitpid(j->monitor, NULL, WNOHANG);
        if (r == j->monitor) j->monitor_gone = true;
    }
    bool alive = (!j->monitor_gone && proc_alive(j->monitor, j->monitor_start)) ||
                 proc_alive(j->worker, j->worker_start);
    char path[PATH_MAX + 16];
    job_path(j, "exit", path, sizeof path);
    char *s = read_text(path, 4096, NULL);
    if (s) {
        snprintf(how, size, "%s", s);
        char *nl = strchr(how, '\n');
        if (nl) *nl = 0;
        free(s);
        return true;
    }
    return !alive;
}

static void finish_job(local *l, evaluator *ev, job *j, const char *how)
{
    read_progress(l, j);
    char rpath[PATH_MAX + 32], epath[PATH_MAX + 32], tail[512];
    job_path(j, "result.json", rpath, sizeof rpath);
    job_path(j, "stderr.log", epath, sizeof epath);
    char *res = read_text(rpath, PROGRESS_MAX_BYTES, NULL);
    last_line(epath, tail, sizeof tail);
    evaluator_event *e = push_event(l);
    if (!e) {
        free(res);
    } else {
        evaluator_outcome(e, j->id, res, rpath, how[0] ? how : NULL, tail);
        if (j->stop == STOP_CANCEL) {
            e->kind = EVALUATOR_FAILED;
            e->cancelled = true;
            snprintf(e->reason, sizeof e->reason, "cancelled");
        } else if (j->stop == STOP_TIMEOUT) {
            char was[sizeof e->reason];
            snprintf(was, sizeof was, "%s", e->reason);
            e->kind = EVALUATOR_FAILED;
            snprintf(e->reason, sizeof e->reason, "time limit of %g s exceeded (stopped %g s after it; %.900s)",
                     j->time_limit, ev->cfg.grace, was[0] ? was : e->status);
        }
    }
    char cpath[PATH_MAX + 16];
    job_path(j, "collected", cpath, sizeof cpath);
    write_text(cpath, "", 0);
    if (j->exit_fd >= 0) close(j->exit_fd);
    j->exit_fd = -1;
    j->state = JOB_DONE;
}

static void step_jobs(evaluator *ev)
{
    local *l = L(ev);
    double now = now_real();
    for (int i = 0; i < l->n_jobs; i++) {
        job *j = l->jobs[i];
        if (j->state != JOB_RUNNING) continue;
        read_progress(l, j);
        char how[64];
        if (job_ended(j, how, sizeof how)) {
            finish_job(l, ev, j, how);
            continue;
        }
        if (j->time_limit > 0 && !j->term_at && now > j->started + j->time_limit + ev->cfg.grace) {
            j->stop = STOP_TIMEOUT;
            j->term_at = now;
            signal_worker(j, SIGTERM);
        }
        if (j->term_at && !j->killed && now > j->term_at + ev->cfg.grace) {
            j->killed = true;
            signal_worker(j, SIGKILL);
        }
    }
    start_queued(ev);
    /* drop the finished */
    int k = 0;
    for (int i = 0; i < l->n_jobs; i++) {
        if (l->jobs[i]->state == JOB_DONE)
            job_free(l->jobs[i]);
        else
            l->jobs[k++] = l->jobs[i];
    }
    l->n_jobs = k;
}

/* ---- the ops ------------------------------------------------------------------ */

static const char *const owned_options[] = {"out", "progress", "threads", "time-limit", "help"};

static int local_submit(evaluator *ev, const evaluator_job *jb, char *err, size_t errsize)
{
    local *l = L(ev);
    if (!jb || evaluator_check_id(jb->id, err, errsize)) return -1;
    if (!jb->genome || !*jb->genome) {
        set_err(err, errsize, "candidate %s: no genome file", jb->id);
        return -1;
    }
    if (!(jb->time_limit >= 0 && jb->time_limit <= 1e9)) {
        set_err(err, errsize, "candidate %s: time limit %g is not in 0..1e9 seconds", jb->id, jb->time_limit);
        return -1;
    }
    if (jb->threads < 0 || jb->threads > 256) {
        set_err(err, errsize, "candidate %s: threads %d is not in 0..256", jb->id, jb->threads);
        return -1;
    }
    int n_args = 0;
    for (const char *const *a = jb->args; a && *a; a++, n_args++) {
        if (n_args >= 128) {
            set_err(err, errsize, "candidate %s: too many training options", jb->id);
            return -1;
        }
        if (strncmp(*a, "--", 2) || !(*a)[2]) continue;
        size_t len = strcspn(*a + 2, "=");
        for (size_t k = 0; k < sizeof owned_options / sizeof *owned_options; k++)
            if (!strncmp(*a + 2, owned_options[k], len) && len <= strlen(owned_options[k])) {
                set_err(err, errsize, "candidate %s: option %s is set by the evaluator, not the job", jb->id, *a);
                return -1;
            }
        if (!strcmp(*a, "-h")) {
            set_err(err, errsize, "candidate %s: option -h is not a training option", jb->id);
            return -1;
        }
    }
    job *old = find_job(l, jb->id);
    if (old) {
        set_err(err, errsize, "candidate %s is already %s", jb->id, old->state == JOB_QUEUED ? "queued" : "running");
        return -1;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        set_err(err, errsize, "out of memory");
        return -1;
    }
    j->exit_fd = -1;
    j->time_limit = jb->time_limit;
    snprintf(j->id, sizeof j->id, "%s", jb->id);
    if (snprintf(j->dir, sizeof j->dir, "%s/%s", ev->cfg.dir, jb->id) >= (int)sizeof j->dir) {
        set_err(err, errsize, "work folder path too long");
        goto fail;
    }
    /* a worker of an earlier process may still be at work in the folder */
    char path[PATH_MAX + 32], cpath[PATH_MAX + 32];
    job_path(j, "job.json", path, sizeof path);
    job_path(j, "collected", cpath, sizeof cpath);
    if (access(path, F_OK) == 0 && access(cpath, F_OK) != 0) {
        json_t *o = json_load_file(path, 0, NULL);
        pid_t wp = (pid_t)jint(o, "worker_pid");
        unsigned long long ws = (unsigned long long)jint(o, "worker_start");
        json_decref(o);
        if (proc_alive(wp, ws)) {
            set_err(err, errsize, "candidate %s is still being trained by process %d (from an earlier run); "
                                  "reattach to collect it or cancel it first",
                    jb->id, (int)wp);
            goto fail;
        }
    }
    if (mkdir_p(j->dir, err, errsize)) goto fail;
    static const char *const stale[] = {"progress.jsonl", "stderr.log", "result.json", "job.json",
                                        "pid", "exit", "collected", "genome.net"};
    for (size_t k = 0; k < sizeof stale / sizeof *stale; k++) {
        job_path(j, stale[k], path, sizeof path);
        unlink(path);
    }
    size_t glen;
    char *genome = read_text(jb->genome, 16L << 20, &glen);
    if (!genome) {
        set_err(err, errsize, "candidate %s: cannot read %s: %s", jb->id, jb->genome,
                errno ? strerror(errno) : "too large");
        goto fail;
    }
    char gpath[PATH_MAX + 32];
    job_path(j, "genome.net", gpath, sizeof gpath);
    int wr = write_text(gpath, genome, glen);
    free(genome);
    if (wr) {
        set_err(err, errsize, "candidate %s: cannot write %s: %s", jb->id, gpath, strerror(errno));
        goto fail;
    }
    /* exe train --progress --out R --threads T [--time-limit S] ARGS... GENOME */
    j->argv = calloc((size_t)n_args + 12, sizeof *j->argv);
    if (!j->argv) goto oom;
    int a = 0;
    char rpath[PATH_MAX + 32], num[64];
    job_path(j, "result.json", rpath, sizeof rpath);
    j->argv[a++] = strdup(l->exe);
    j->argv[a++] = strdup("train");
    j->argv[a++] = strdup("--progress");
    j->argv[a++] = strdup("--out");
    j->argv[a++] = strdup(rpath);
    j->argv[a++] = strdup("--threads");
    snprintf(num, sizeof num, "%d", jb->threads ? jb->threads : ev->cfg.threads);
    j->argv[a++] = strdup(num);
    if (jb->time_limit > 0) {
        j->argv[a++] = strdup("--time-limit");
        snprintf(num, sizeof num, "%.17g", jb->time_limit);
        j->argv[a++] = strdup(num);
    }
    for (int k = 0; k < n_args; k++) j->argv[a++] = strdup(jb->args[k]);
    j->argv[a++] = strdup(gpath);
    for (int k = 0; k < a; k++)
        if (!j->argv[k]) goto oom;
    j->state = JOB_QUEUED;
    if (add_job(l, j)) goto oom;
    start_queued(ev);
    return 0;
oom:
    set_err(err, errsize, "out of memory");
fail:
    job_free(j);
    return -1;
}

static int local_poll(evaluator *ev, evaluator_event *out, int max)
{
    local *l = L(ev);
    step_jobs(ev);
    int n = 0;
    while (n < max && l->q_len > 0) {
        out[n++] = l->q[l->q_head++];
        l->q_len--;
    }
    if (!l->q_len) l->q_head = 0;
    return n;
}

static int local_cancel(evaluator *ev, const char *id, char *err, size_t errsize)
{
    local *l = L(ev);
    job *j = id ? find_job(l, id) : NULL;
    if (!j || j->state == JOB_DONE) {
        set_err(err, errsize, "no queued or running candidate '%s'", id ? id : "");
        return -1;
    }
    if (j->state == JOB_QUEUED) {
        evaluator_event *e = push_event(l);
        if (e) {
            event_init(e, EVALUATOR_FAILED, j->id);
            e->cancelled = true;
            snprintf(e->reason, sizeof e->reason, "cancelled");
        }
        j->state = JOB_DONE;
        return 0;
    }
    if (j->stop != STOP_CANCEL) {
        j->stop = STOP_CANCEL;
        if (!j->term_at) {
            j->term_at = now_real();
            signal_worker(j, SIGTERM);
        }
    }
    return 0;
}

static int local_pollfds(evaluator *ev, struct pollfd *pfd, int max)
{
    local *l = L(ev);
    int n = 0;
    for (int i = 0; i < l->n_jobs && n < max; i++)
        if (l->jobs[i]->state == JOB_RUNNING && l->jobs[i]->exit_fd >= 0) {
            pfd[n].fd = l->jobs[i]->exit_fd;
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }
    return n;
}

static int local_active(evaluator *ev)
{
    local *l = L(ev);
    int n = 0;
    for (int i = 0; i < l->n_jobs; i++) n += l->jobs[i]->state != JOB_DONE;
    return n;
}

static int local_timeout_ms(evaluator *ev)
{
    local *l = L(ev);
    if (l->q_len > 0) return 0;
    bool queued = false, running = false;
    for (int i = 0; i < l->n_jobs; i++) {
        queued |= l->jobs[i]->state == JOB_QUEUED;
        running |= l->jobs[i]->state == JOB_RUNNING;
    }
    if (queued && count_running(l) < ev->cfg.slots) return 0;
    return running || queued ? POLL_INTERVAL_MS : -1;
}

static int local_reattach(evaluator *ev, char *err, size_t errsize)
{
    local *l = L(ev);
    DIR *d = opendir(ev->cfg.dir);
    if (!d) {
        set_err(err, errsize, "cannot read the work folder %s: %s", ev->cfg.dir, strerror(errno));
        return -1;
    }
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (evaluator_check_id(de->d_name, NULL, 0) || find_job(l, de->d_name)) continue;
        job *j = calloc(1, sizeof *j);
        if (!j) break;
        j->exit_fd = -1;
        scopy(j->id, sizeof j->id, de->d_name);
        snprintf(j->dir, sizeof j->dir, "%s/%s", ev->cfg.dir, de->d_name);
        char path[PATH_MAX + 32];
        job_path(j, "collected", path, sizeof path);
        json_t *o = NULL;
        if (access(path, F_OK) != 0) {
            job_path(j, "job.json", path, sizeof path);
            o = json_load_file(path, 0, NULL);
        }
        if (!json_is_object(o)) { /* collected, or never started */
            json_decref(o);
            job_free(j);
            continue;
        }
        j->worker = (pid_t)jint(o, "worker_pid");
        j->monitor = (pid_t)jint(o, "monitor_pid");
        j->worker_start = (unsigned long long)jint(o, "worker_start");
        j->monitor_start = (unsigned long long)jint(o, "monitor_start");
        j->time_limit = jnum(o, "time_limit");
        if (!(j->time_limit >= 0)) j->time_limit = 0;
        j->started = jnum(o, "started");
        if (!isfinite(j->started)) j->started = now_real();
        json_decref(o);
        j->state = JOB_RUNNING;
        if (add_job(l, j)) {
            job_free(j);
            break;
        }
        evaluator_event *e = push_event(l);
        if (e) {
            event_init(e, EVALUATOR_STARTED, j->id);
            e->reattached = true;
            e->pid = (int)j->worker;
        }
        found++;
    }
    closedir(d);
    return found;
}

static void local_free(evaluator *ev)
{
    local *l = L(ev);
    for (int i = 0; i < l->n_jobs; i++) job_free(l->jobs[i]);
    free(l->jobs);
    for (int i = 0; i < l->q_len; i++) evaluator_event_clear(&l->q[l->q_head + i]);
    free(l->q);
    free(l);
    free(ev);
}

static const evaluator_ops local_ops = {
    .name = "local",
    .submit = local_submit,
    .poll = local_poll,
    .cancel = local_cancel,
    .pollfds = local_pollfds,
    .timeout_ms = local_timeout_ms,
    .reattach = local_reattach,
    .active = local_active,
    .free = local_free,
};

evaluator *eval_local_new(const evaluator_config *cfg, char *err, size_t errsize)
{
    if (!cfg || !cfg->dir[0]) {
        set_err(err, errsize, "the local evaluator needs a work folder");
        return NULL;
    }
    if (cfg->slots < 1 || cfg->slots > 256 || cfg->threads < 1 || cfg->threads > 256) {
        set_err(err, errsize, "evaluator: slots and threads must be in 1..256 (slots %d, threads %d)", cfg->slots,
                cfg->threads);
        return NULL;
    }
    if (!(cfg->grace >= 0 && cfg->grace <= 3600)) {
        set_err(err, errsize, "evaluator: grace %g is not in 0..3600 seconds", cfg->grace);
        return NULL;
    }
    if (mkdir_p(cfg->dir, err, errsize)) return NULL;
    evaluator *ev = calloc(1, sizeof *ev);
    local *l = calloc(1, sizeof *l);
    if (!ev || !l) {
        free(ev);
        free(l);
        set_err(err, errsize, "out of memory");
        return NULL;
    }
    ev->ops = &local_ops;
    ev->cfg = *cfg;
    ev->impl = l;
    /* absolute paths: workers and a later process must find the same files */
    char abs[PATH_MAX];
    if (!realpath(cfg->dir, abs) || strlen(abs) >= sizeof ev->cfg.dir) {
        set_err(err, errsize, "cannot resolve the work folder %s: %s", cfg->dir, strerror(errno));
        goto fail;
    }
    strcpy(ev->cfg.dir, abs);
    if (cfg->exe[0]) {
        snprintf(l->exe, sizeof l->exe, "%s", cfg->exe);
    } else {
        ssize_t n = readlink("/proc/self/exe", l->exe, sizeof l->exe - 1);
        if (n <= 0) {
            set_err(err, errsize, "cannot find the gevo program (/proc/self/exe): %s", strerror(errno));
            goto fail;
        }
        l->exe[n] = 0;
    }
    struct stat st;
    errno = 0;
    if (stat(l->exe, &st) || !S_ISREG(st.st_mode) || access(l->exe, X_OK)) {
        set_err(err, errsize, "the worker program %s is not an executable file%s%s", l->exe, errno ? ": " : "",
                errno ? strerror(errno) : "");
        goto fail;
    }
    return ev;
fail:
    free(l);
    free(ev);
    return NULL;
}

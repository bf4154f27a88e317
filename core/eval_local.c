/* eval_local: the local evaluator, a pool of detached `gevo train` workers
 * (see evaluator.h; the parts every engine shares are in evaluator.c).
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

#include "core/errf.h"
#include "core/evaluator.h"

#define POLL_INTERVAL_MS 250

/* Copies src into dst, cut to fit. */
static void scopy(char *dst, size_t size, const char *src)
{
    if (!size)
        return;
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
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

/* ---- processes ------------------------------------------------------------ */

/* The start time of a process (field 22 of /proc/PID/stat), so a reused
 * pid is not mistaken for our worker; 0 when there is no such live
 * process (a zombie counts as gone). */
static unsigned long long proc_start(pid_t pid)
{
    if (pid <= 0)
        return 0;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p || !p[1])
        return 0;
    char state = 0;
    unsigned long long start = 0;
    /* after ") ": state, then fields 4..21, then starttime (22) */
    if (sscanf(p + 2,
               "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
               &state, &start) != 2)
        return 0;
    if (state == 'Z' || state == 'X')
        return 0;
    return start ? start : 1;
}

static bool proc_alive(pid_t pid, unsigned long long start)
{
    unsigned long long s = proc_start(pid);
    return s && (!start || s == start);
}

/* ---- the pool ---------------------------------------------------------------- */

typedef enum job_state {
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_DONE
} job_state;
typedef enum job_stop {
    STOP_NONE,
    STOP_TIMEOUT,
    STOP_CANCEL
} job_stop;

typedef struct job {
    char id[EVALUATOR_ID_MAX];
    char dir[PATH_MAX];
    char **argv; /* from submit until started */
    double time_limit;
    job_state state;
    pid_t worker, monitor;
    unsigned long long worker_start, monitor_start;
    bool monitor_gone;
    int exit_fd; /* read end of a pipe the monitor holds: EOF when it ends */
    double started;
    double term_at; /* when SIGTERM went out, 0 = not yet */
    bool killed;
    job_stop stop;
    long long prog_off;
} job;

typedef struct local {
    job **jobs;
    int n_jobs, cap_jobs;
    evaluator_queue q; /* events not yet handed out */
    char exe[PATH_MAX];
} local;

static local *L(evaluator *ev)
{
    return ev->impl;
}

static evaluator_event *push_event(local *l)
{
    return evaluator_queue_push(&l->q);
}

static job *find_job(local *l, const char *id)
{
    for (int i = 0; i < l->n_jobs; i++)
        if (!strcmp(l->jobs[i]->id, id))
            return l->jobs[i];
    return NULL;
}

static int count_running(local *l)
{
    int n = 0;
    for (int i = 0; i < l->n_jobs; i++)
        n += l->jobs[i]->state == JOB_RUNNING;
    return n;
}

static void job_free(job *j)
{
    if (!j)
        return;
    if (j->exit_fd >= 0)
        close(j->exit_fd);
    evaluator_argv_free(j->argv);
    free(j);
}

static int add_job(local *l, job *j)
{
    if (l->n_jobs == l->cap_jobs) {
        int nc = l->cap_jobs ? l->cap_jobs * 2 : 8;
        job **nj = realloc(l->jobs, sizeof *nj * (size_t)nc);
        if (!nj)
            return -1;
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
    for (char *const *p = argv; p && *p; p++)
        json_array_append_new(a, json_string(*p));
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
        evaluator_write_file(path, s, strlen(s));
        free(s);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)j->worker);
    job_path(j, "pid", path, sizeof path);
    evaluator_write_file(path, pid, (size_t)n);
}

/* async-signal-safe helpers for the forked processes */
static size_t fmt_uint(char *out, unsigned v)
{
    char tmp[16];
    size_t n = 0, k = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof tmp);
    while (n)
        out[k++] = tmp[--n];
    return k;
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static int fd_above_2(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
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
        core_errf(err, errsize, "cannot start a worker for %s: %s", j->id, strerror(errno));
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
        core_errf(err, errsize, "cannot start a worker for %s: fork: %s", j->id, strerror(errno));
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
        if (w < 0)
            _exit(1);
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        /* keep only ep[1]: its closing at our exit tells the parent */
        if (ep[1] > 3)
            close_range(3, (unsigned)ep[1] - 1, 0);
        close_range((unsigned)ep[1] + 1, ~0U, 0);
        int st;
        while (waitpid(w, &st, 0) < 0)
            if (errno != EINTR)
                _exit(1);
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
    do
        r = read(pp[0], &wpid, sizeof wpid);
    while (r < 0 && errno == EINTR);
    close(pp[0]);
    if (r != (ssize_t)sizeof wpid || wpid <= 0) {
        core_errf(err, errsize, "cannot start a worker for %s: the monitor could not fork", j->id);
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
    evaluator_argv_free(j->argv);
    j->argv = NULL;
    return 0;
fail:
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    if (null_fd >= 0)
        close(null_fd);
    for (int i = 0; i < 2; i++) {
        if (pp[i] >= 0)
            close(pp[i]);
        if (ep[i] >= 0)
            close(ep[i]);
    }
    return -1;
}

static void start_queued(evaluator *ev)
{
    local *l = L(ev);
    int running = count_running(l);
    for (int i = 0; i < l->n_jobs && running < ev->cfg.slots; i++) {
        job *j = l->jobs[i];
        if (j->state != JOB_QUEUED)
            continue;
        char err[1024];
        evaluator_event *e = push_event(l);
        if (spawn(l, j, err, sizeof err)) {
            if (e) {
                evaluator_event_init(e, EVALUATOR_FAILED, j->id);
                snprintf(e->reason, sizeof e->reason, "%s", err);
            }
            j->state = JOB_DONE;
            continue;
        }
        running++;
        if (e) {
            evaluator_event_init(e, EVALUATOR_STARTED, j->id);
            e->pid = (int)j->worker;
        }
    }
}

static void read_progress(local *l, job *j)
{
    evaluator_read_progress(&l->q, j->dir, j->id, &j->prog_off);
}

static void signal_worker(job *j, int sig)
{
    if (proc_alive(j->worker, j->worker_start))
        kill(j->worker, sig);
}

/* Has j's worker ended? how receives the exit file's text ("" if none). */
static bool job_ended(job *j, char *how, size_t size)
{
    how[0] = 0;
    if (!j->monitor_gone && j->monitor > 0) {
        /* reap our own monitor; ECHILD when another process started it */
        pid_t r = waitpid(j->monitor, NULL, WNOHANG);
        if (r == j->monitor)
            j->monitor_gone = true;
    }
    bool alive = (!j->monitor_gone && proc_alive(j->monitor, j->monitor_start)) ||
                 proc_alive(j->worker, j->worker_start);
    char path[PATH_MAX + 16];
    job_path(j, "exit", path, sizeof path);
    char *s = evaluator_read_file(path, 4096, NULL);
    if (s) {
        snprintf(how, size, "%s", s);
        char *nl = strchr(how, '\n');
        if (nl)
            *nl = 0;
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
    char *res = evaluator_read_file(rpath, EVALUATOR_PROGRESS_MAX, NULL);
    evaluator_last_line(epath, tail, sizeof tail);
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
            snprintf(e->reason, sizeof e->reason,
                     "time limit of %g s exceeded (stopped %g s after it; %.900s)", j->time_limit,
                     ev->cfg.grace, was[0] ? was : e->status);
        }
    }
    char cpath[PATH_MAX + 16];
    job_path(j, "collected", cpath, sizeof cpath);
    evaluator_write_file(cpath, "", 0);
    if (j->exit_fd >= 0)
        close(j->exit_fd);
    j->exit_fd = -1;
    j->state = JOB_DONE;
}

static void step_jobs(evaluator *ev)
{
    local *l = L(ev);
    double now = now_real();
    for (int i = 0; i < l->n_jobs; i++) {
        job *j = l->jobs[i];
        if (j->state != JOB_RUNNING)
            continue;
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

static int local_submit(evaluator *ev, const evaluator_job *jb, char *err, size_t errsize)
{
    local *l = L(ev);
    if (evaluator_check_job(jb, err, errsize))
        return -1;
    job *old = find_job(l, jb->id);
    if (old) {
        core_errf(err, errsize, "candidate %s is already %s", jb->id,
                  old->state == JOB_QUEUED ? "queued" : "running");
        return -1;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        core_errf(err, errsize, "out of memory");
        return -1;
    }
    j->exit_fd = -1;
    j->time_limit = jb->time_limit;
    snprintf(j->id, sizeof j->id, "%s", jb->id);
    if (snprintf(j->dir, sizeof j->dir, "%s/%s", ev->cfg.dir, jb->id) >= (int)sizeof j->dir) {
        core_errf(err, errsize, "work folder path too long");
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
            core_errf(err, errsize,
                      "candidate %s is still being trained by process %d (from an earlier run); "
                      "reattach to collect it or cancel it first",
                      jb->id, (int)wp);
            goto fail;
        }
    }
    if (evaluator_stage(j->dir, jb, err, errsize))
        goto fail;
    j->argv = evaluator_worker_argv(l->exe, j->dir, jb, ev->cfg.threads);
    if (!j->argv)
        goto oom;
    j->state = JOB_QUEUED;
    if (add_job(l, j))
        goto oom;
    start_queued(ev);
    return 0;
oom:
    core_errf(err, errsize, "out of memory");
fail:
    job_free(j);
    return -1;
}

static int local_poll(evaluator *ev, evaluator_event *out, int max)
{
    local *l = L(ev);
    step_jobs(ev);
    return evaluator_queue_take(&l->q, out, max);
}

static int local_cancel(evaluator *ev, const char *id, char *err, size_t errsize)
{
    local *l = L(ev);
    job *j = id ? find_job(l, id) : NULL;
    if (!j || j->state == JOB_DONE) {
        core_errf(err, errsize, "no queued or running candidate '%s'", id ? id : "");
        return -1;
    }
    if (j->state == JOB_QUEUED) {
        evaluator_event *e = push_event(l);
        if (e) {
            evaluator_event_init(e, EVALUATOR_FAILED, j->id);
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
    for (int i = 0; i < l->n_jobs; i++)
        n += l->jobs[i]->state != JOB_DONE;
    return n;
}

static int local_timeout_ms(evaluator *ev)
{
    local *l = L(ev);
    if (l->q.len > 0)
        return 0;
    bool queued = false, running = false;
    for (int i = 0; i < l->n_jobs; i++) {
        queued |= l->jobs[i]->state == JOB_QUEUED;
        running |= l->jobs[i]->state == JOB_RUNNING;
    }
    if (queued && count_running(l) < ev->cfg.slots)
        return 0;
    return running || queued ? POLL_INTERVAL_MS : -1;
}

static int local_reattach(evaluator *ev, char *err, size_t errsize)
{
    local *l = L(ev);
    DIR *d = opendir(ev->cfg.dir);
    if (!d) {
        core_errf(err, errsize, "cannot read the work folder %s: %s", ev->cfg.dir, strerror(errno));
        return -1;
    }
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (evaluator_check_id(de->d_name, NULL, 0) || find_job(l, de->d_name))
            continue;
        job *j = calloc(1, sizeof *j);
        if (!j)
            break;
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
        if (!json_is_object(o) ||
            json_object_get(o, "slurm_job")) { /* collected, never started, or Slurm's */
            json_decref(o);
            job_free(j);
            continue;
        }
        j->worker = (pid_t)jint(o, "worker_pid");
        j->monitor = (pid_t)jint(o, "monitor_pid");
        j->worker_start = (unsigned long long)jint(o, "worker_start");
        j->monitor_start = (unsigned long long)jint(o, "monitor_start");
        j->time_limit = jnum(o, "time_limit");
        if (!(j->time_limit >= 0))
            j->time_limit = 0;
        j->started = jnum(o, "started");
        if (!isfinite(j->started))
            j->started = now_real();
        json_decref(o);
        j->state = JOB_RUNNING;
        if (add_job(l, j)) {
            job_free(j);
            break;
        }
        evaluator_event *e = push_event(l);
        if (e) {
            evaluator_event_init(e, EVALUATOR_STARTED, j->id);
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
    for (int i = 0; i < l->n_jobs; i++)
        job_free(l->jobs[i]);
    free(l->jobs);
    evaluator_queue_free(&l->q);
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
        core_errf(err, errsize, "the local evaluator needs a work folder");
        return NULL;
    }
    if (cfg->slots < 1 || cfg->slots > 256 || cfg->threads < 1 || cfg->threads > 256) {
        core_errf(err, errsize,
                  "evaluator: slots and threads must be in 1..256 (slots %d, threads %d)",
                  cfg->slots, cfg->threads);
        return NULL;
    }
    if (!(cfg->grace >= 0 && cfg->grace <= 3600)) {
        core_errf(err, errsize, "evaluator: grace %g is not in 0..3600 seconds", cfg->grace);
        return NULL;
    }
    if (evaluator_mkdir_p(cfg->dir, err, errsize))
        return NULL;
    evaluator *ev = calloc(1, sizeof *ev);
    local *l = calloc(1, sizeof *l);
    if (!ev || !l) {
        free(ev);
        free(l);
        core_errf(err, errsize, "out of memory");
        return NULL;
    }
    ev->ops = &local_ops;
    ev->cfg = *cfg;
    ev->impl = l;
    /* absolute paths: workers and a later process must find the same files */
    char abs[PATH_MAX];
    if (!realpath(cfg->dir, abs) || strlen(abs) >= sizeof ev->cfg.dir) {
        core_errf(err, errsize, "cannot resolve the work folder %s: %s", cfg->dir, strerror(errno));
        goto fail;
    }
    strcpy(ev->cfg.dir, abs);
    if (evaluator_find_exe(cfg->exe, l->exe, sizeof l->exe, err, errsize))
        goto fail;
    return ev;
fail:
    free(l);
    free(ev);
    return NULL;
}

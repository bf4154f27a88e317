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

#include "core/evaluator.h"
#include "engine/base/file.h"

#define POLL_INTERVAL_MS 250

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
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

typedef enum job_stop {
    STOP_NONE,
    STOP_TIMEOUT,
    STOP_CANCEL
} job_stop;

typedef struct job {
    evaluator_jobhead h; /* first: the shared table holds it */
    char **argv;         /* while queued: from submit until started */
    double time_limit;
    bool running;
    pid_t worker, monitor;
    unsigned long long worker_start, monitor_start;
    bool monitor_gone;
    int exit_fd; /* read end of a pipe the monitor holds: EOF when it ends */
    double started;
    double term_at; /* when SIGTERM went out, 0 = not yet */
    bool killed;
    job_stop stop;
} job;

static job *J(evaluator_jobhead *h)
{
    return (job *)h;
}

static int count_running(evaluator *ev)
{
    int n = 0;
    for (size_t i = 0; i < ev->jobs.n; i++)
        n += !ev->jobs.v[i]->done && J(ev->jobs.v[i])->running;
    return n;
}

/* The bytes the running workers planned. */
static double memory_running(evaluator *ev)
{
    double used = 0;
    for (size_t i = 0; i < ev->jobs.n; i++)
        if (!ev->jobs.v[i]->done && J(ev->jobs.v[i])->running)
            used += ev->jobs.v[i]->memory;
    return used;
}

/* The candidate to start next: the first queued one, in submission order.
 * None overtakes it, so a big candidate waiting for memory is not starved
 * by small ones behind it. */
static job *next_queued(evaluator *ev)
{
    for (size_t i = 0; i < ev->jobs.n; i++) {
        job *j = J(ev->jobs.v[i]);
        if (!j->h.done && !j->running)
            return j;
    }
    return NULL;
}

/* Whether j can start now: a slot is free and its planned memory fits in
 * the budget beside the running workers'. */
static bool can_start(evaluator *ev, const job *j)
{
    return j && count_running(ev) < ev->cfg.slots &&
           evaluator_memory_fits(ev, memory_running(ev), j->h.memory);
}

static void local_free_job(evaluator_jobhead *h)
{
    job *j = J(h);
    if (!j)
        return;
    if (j->exit_fd >= 0)
        close(j->exit_fd);
    evaluator_argv_free(j->argv);
    free(j);
}

static job *new_job(void)
{
    job *j = calloc(1, sizeof *j);
    if (j)
        j->exit_fd = -1;
    return j;
}

/* Writes job.json and pid, for reattach and for people. */
static void write_job_file(const job *j, char *const *argv)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(j->h.id));
    json_t *a = json_array();
    for (char *const *p = argv; p && *p; p++)
        json_array_append_new(a, json_string(*p));
    json_object_set_new(o, "argv", a);
    json_object_set_new(o, "time_limit", json_real(j->time_limit));
    json_object_set_new(o, "memory", json_real(j->h.memory));
    json_object_set_new(o, "started", json_real(j->started));
    json_object_set_new(o, "worker_pid", json_integer(j->worker));
    json_object_set_new(o, "worker_start", json_integer((json_int_t)j->worker_start));
    json_object_set_new(o, "monitor_pid", json_integer(j->monitor));
    json_object_set_new(o, "monitor_start", json_integer((json_int_t)j->monitor_start));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    char path[PATH_MAX + 16];
    if (s) {
        evaluator_job_path(&j->h, "job.json", path, sizeof path);
        file_write(path, s, strlen(s), NULL);
        free(s);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)j->worker);
    evaluator_job_path(&j->h, "pid", path, sizeof path);
    file_write(path, pid, (size_t)n, NULL);
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
static int spawn(evaluator *ev, job *j, gerr *err)
{
    char prog[PATH_MAX + 32], errp[PATH_MAX + 32], exitp[PATH_MAX + 32], exit_tmp[PATH_MAX + 32];
    evaluator_job_path(&j->h, "progress.jsonl", prog, sizeof prog);
    evaluator_job_path(&j->h, "stderr.log", errp, sizeof errp);
    evaluator_job_path(&j->h, "exit", exitp, sizeof exitp);
    evaluator_job_path(&j->h, "exit.tmp", exit_tmp, sizeof exit_tmp);
    int out_fd = fd_above_2(open(prog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    int err_fd = fd_above_2(open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    int null_fd = fd_above_2(open("/dev/null", O_RDWR | O_CLOEXEC));
    int pp[2] = {-1, -1}, ep[2] = {-1, -1};
    if (out_fd < 0 || err_fd < 0 || null_fd < 0 || pipe2(pp, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
        gerr_errno(err, "cannot start a worker for %s", j->h.id);
        goto fail;
    }
    pp[0] = fd_above_2(pp[0]);
    pp[1] = fd_above_2(pp[1]);
    ep[0] = fd_above_2(ep[0]);
    ep[1] = fd_above_2(ep[1]);
    char *const *argv = j->argv;
    const char *exe = ev->exe;
    /* the worker's environment is chosen, not inherited: never the key */
    char **envp = evaluator_worker_env(&ev->cfg, NULL);
    if (!envp) {
        gerr_set(err, "cannot start a worker for %s: out of memory", j->h.id);
        goto fail;
    }
    pid_t mon = fork();
    if (mon < 0) {
        gerr_errno(err, "cannot start a worker for %s: fork", j->h.id);
        evaluator_argv_free(envp);
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
            execve(exe, argv, envp);
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
    evaluator_argv_free(envp);
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
        gerr_set(err, "cannot start a worker for %s: the monitor could not fork", j->h.id);
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
    j->running = true;
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
    evaluator_close_pipe(pp);
    evaluator_close_pipe(ep);
    return -1;
}

/* Starts queued candidates in order while they can start (can_start). */
static void start_queued(evaluator *ev)
{
    job *j;
    while (can_start(ev, j = next_queued(ev))) {
        gerr err = GERR_INIT;
        if (spawn(ev, j, &err)) {
            evaluator_push_failed(&ev->q, j->h.id, err.msg, false);
            j->h.done = true;
            continue;
        }
        evaluator_event *e = evaluator_queue_push(&ev->q);
        if (e) {
            evaluator_event_init(e, EVALUATOR_STARTED, j->h.id);
            e->pid = (int)j->worker;
        }
    }
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
    return evaluator_job_exit(&j->h, how, size) || !alive;
}

/* The outcome, amended by why gevo stopped the worker, if it did. */
static void finish_job(evaluator *ev, job *j, const char *how)
{
    evaluator_event *e = evaluator_job_outcome(ev, &j->h, how);
    if (e && j->stop == STOP_CANCEL) {
        e->kind = EVALUATOR_FAILED;
        e->cancelled = true;
        snprintf(e->reason, sizeof e->reason, "cancelled");
    } else if (e && j->stop == STOP_TIMEOUT) {
        char was[sizeof e->reason];
        snprintf(was, sizeof was, "%s", e->reason);
        e->kind = EVALUATOR_FAILED;
        snprintf(e->reason, sizeof e->reason,
                 "time limit of %g s exceeded (stopped %g s after it; %.900s)", j->time_limit,
                 ev->cfg.grace, was[0] ? was : e->status);
    }
    if (j->exit_fd >= 0)
        close(j->exit_fd);
    j->exit_fd = -1;
}

static void local_step(evaluator *ev)
{
    double now = now_real();
    for (size_t i = 0; i < ev->jobs.n; i++) {
        job *j = J(ev->jobs.v[i]);
        if (j->h.done || !j->running)
            continue;
        evaluator_read_progress(&ev->q, j->h.dir, j->h.id, &j->h.prog_off);
        char how[64];
        if (job_ended(j, how, sizeof how)) {
            finish_job(ev, j, how);
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
}

/* ---- the ops ------------------------------------------------------------------ */

static int local_submit(evaluator *ev, const evaluator_job *jb, gerr *err)
{
    if (evaluator_check_job(ev, jb, err))
        return -1;
    job *j = new_job();
    if (!j)
        return gerr_set(err, "out of memory");
    j->time_limit = jb->time_limit;
    if (evaluator_job_init(&j->h, ev->cfg.dir, jb->id, err))
        goto fail;
    /* a worker of an earlier process may still be at work in the folder */
    json_t *o = evaluator_job_uncollected(&j->h);
    if (o) {
        pid_t wp = (pid_t)evaluator_jint(o, "worker_pid");
        unsigned long long ws = (unsigned long long)evaluator_jint(o, "worker_start");
        json_decref(o);
        if (proc_alive(wp, ws)) {
            gerr_set(err,
                     "candidate %s is still being trained by process %d (from an earlier run); "
                     "reattach to collect it or cancel it first",
                     jb->id, (int)wp);
            goto fail;
        }
    }
    if (evaluator_stage(j->h.dir, jb, err))
        goto fail;
    j->argv = evaluator_worker_argv(ev, j->h.dir, jb);
    j->h.memory = evaluator_job_memory(ev, jb);
    if (!j->argv || evaluator_jobs_add(&ev->jobs, &j->h)) {
        gerr_set(err, "out of memory");
        goto fail;
    }
    /* one that could never fit fails now, with why, rather than wait */
    gerr why = GERR_INIT;
    if (evaluator_memory_check(ev, j->h.memory, &why)) {
        evaluator_push_failed(&ev->q, j->h.id, why.msg, false);
        j->h.done = true;
    }
    start_queued(ev);
    return 0;
fail:
    local_free_job(&j->h);
    return -1;
}

static int local_cancel(evaluator *ev, const char *id, gerr *err)
{
    (void)err;
    job *j = J(evaluator_jobs_find(&ev->jobs, id));
    if (!j->running) {
        evaluator_push_failed(&ev->q, j->h.id, "cancelled", true);
        j->h.done = true;
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
    int n = 0;
    for (size_t i = 0; i < ev->jobs.n && n < max; i++) {
        job *j = J(ev->jobs.v[i]);
        if (!j->h.done && j->running && j->exit_fd >= 0) {
            pfd[n].fd = j->exit_fd;
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }
    }
    return n;
}

static int local_timeout_ms(evaluator *ev)
{
    job *next = next_queued(ev);
    if (can_start(ev, next))
        return 0;
    /* a queued candidate waiting for a slot or for memory waits for a
       running one to end, which the next poll notices */
    return next || count_running(ev) ? POLL_INTERVAL_MS : -1;
}

static int local_adopt(evaluator *ev, const char *id, json_t *o)
{
    if (json_object_get(o, "slurm_job"))
        return 0; /* Slurm's */
    job *j = new_job();
    if (!j || evaluator_job_init(&j->h, ev->cfg.dir, id, NULL)) {
        local_free_job(j ? &j->h : NULL);
        return -1;
    }
    j->worker = (pid_t)evaluator_jint(o, "worker_pid");
    j->monitor = (pid_t)evaluator_jint(o, "monitor_pid");
    j->worker_start = (unsigned long long)evaluator_jint(o, "worker_start");
    j->monitor_start = (unsigned long long)evaluator_jint(o, "monitor_start");
    j->time_limit = evaluator_jnum(o, "time_limit");
    if (!(j->time_limit >= 0))
        j->time_limit = 0;
    j->started = evaluator_jnum(o, "started");
    if (!isfinite(j->started))
        j->started = now_real();
    /* it runs: its plan counts against the budget (written by the process
       that started it; an older job.json has none: the limit instead) */
    j->h.memory = evaluator_jnum(o, "memory");
    if (!(j->h.memory >= 0))
        j->h.memory = ev->cfg.max_memory > 0 ? ev->cfg.max_memory : 0;
    j->running = true;
    if (evaluator_jobs_add(&ev->jobs, &j->h)) {
        local_free_job(&j->h);
        return -1;
    }
    evaluator_event *e = evaluator_queue_push(&ev->q);
    if (e) {
        evaluator_event_init(e, EVALUATOR_STARTED, id);
        e->reattached = true;
        e->pid = (int)j->worker;
    }
    return 1;
}

static void local_release(evaluator *ev)
{
    (void)ev;
}

static const evaluator_ops local_ops = EVALUATOR_OPS(local);

evaluator *eval_local_new(const evaluator_config *cfg, gerr *err)
{
    return evaluator_alloc(cfg, &local_ops, NULL, err);
}

/* Crash safety: a child writes individuals, results, reviews, edits and
 * journal entries in a loop, reporting each completed write on a pipe; the
 * parent SIGKILLs it at a random moment, then checks that `git fsck
 * --strict` accepts the repository and that every reported write is there
 * when the session is reopened. The next child must take over the stale
 * lock. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sessions/session.h"
#include "tests/harness.h"

/* The message of the last failing session call. */
static gerr serr = GERR_INIT;

#define KILLS           110
#define ROUNDS_PER_REPO 22 /* a fresh repository now and then keeps fsck quick */

static char tmp[256];

static void genome_of(const char *id, int edited, char *buf, size_t size)
{
    snprintf(buf, size,
             "input x: 1x28x28\nclasses 10\n# %s%s\nx = relu(conv(x, 8, k=3))\n"
             "return linear(gap(x), classes)\n",
             id, edited ? " edited" : "");
}

static void result_of(const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "{\"status\": \"ok\", \"val_acc\": 0.5, \"params\": 100, \"id\": \"%s\"}",
             id);
}

static void report(int fd, const char *kind, const char *what)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s %s\n", kind, what);
    if (write(fd, line, (size_t)n) != n)
        _exit(5);
}

/* The writer: never returns. */
static void child(const char *dir, int fd, unsigned seed)
{
    session *s = NULL;
    if (session_open(&s, dir, SESSION_WRITE, &serr) != 0) {
        fprintf(stderr, "child: %s\n", serr.msg);
        _exit(3);
    }
    int gen = session_last_generation(s, &serr) + 1;
    for (int k = 0;; k++) {
        char id[SESSION_ID_MAX], genome[256], res[256];
        char parent[SESSION_ID_MAX];
        snprintf(parent, sizeof parent, "g0-1");
        genome_of("next", 0, genome, sizeof genome);
        session_new in = {.generation = gen,
                          .op = "mutation",
                          .persona = "expert",
                          .parents = {parent},
                          .n_parents = 1,
                          .model = "m",
                          .summary = "kill test",
                          .genome = genome,
                          .reasoning = "r",
                          .prompt = "p",
                          .response = "q"};
        if (session_add(s, &in, id, &serr) != 0)
            _exit(7);
        /* A proposal's genome is fixed text; an edit writes one naming the id. */
        report(fd, "I", id);
        result_of(id, res, sizeof res);
        if (session_set_result(s, id, res, &serr) != 0)
            _exit(8);
        report(fd, "R", id);
        if (k % 3 == 0) {
            session_annotation a = {.line = 2, .text = "note"};
            session_review r = {.decision = "approved",
                                .reason = id,
                                .annotations = &a,
                                .n_annotations = 1,
                                .author = "tester"};
            if (session_set_review(s, id, &r, &serr) != 0)
                _exit(9);
            report(fd, "V", id);
        }
        if (k % 4 == 1) {
            genome_of(id, 1, genome, sizeof genome);
            if (session_edit(s, id, genome, "kill-test edit", &serr) != 0)
                _exit(10);
            report(fd, "E", id);
        }
        if (k % 5 == 2) {
            const char *pop[1] = {id};
            if (session_journal_add(s, gen, pop, 1, pop, 1, &serr) != 0)
                _exit(11);
            char g[16];
            snprintf(g, sizeof g, "%d", gen);
            report(fd, "J", g);
            gen++;
        }
    }
    (void)seed;
}

/* Complete lines in buf[0..len). */
static int lines_in(const char *buf, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    return n;
}

/* fd has data (or its end) within 30 s: a writer that hangs does not
 * hang the test. */
static bool readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 30000) > 0;
}

typedef struct reported {
    char kind;
    char what[SESSION_ID_MAX];
} reported;

static int check_round(const char *dir, reported *r, int n, int round)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd %s && git fsck --strict --no-progress >%s/fsck.out 2>&1", dir,
             tmp);
    int fsck = system(cmd);
    int bad = 0;
    if (fsck != 0) {
        snprintf(cmd, sizeof cmd, "tail -5 %s/fsck.out", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot show fsck output\n");
        CHECK(0, "round %d: git fsck --strict failed", round);
        return 1;
    }
    session *s = NULL;
    if (session_open(&s, dir, SESSION_READ, &serr) != 0) {
        CHECK(0, "round %d: reopen: %s", round, serr.msg);
        return 1;
    }
    /* Edits first: they decide which genome to expect. */
    for (int i = 0; i < n && !bad; i++) {
        char *text = NULL, want[256];
        const char *id = r[i].what;
        switch (r[i].kind) {
        case 'I': {
            int edited = 0;
            for (int k = 0; k < n; k++)
                edited |= r[k].kind == 'E' && !strcmp(r[k].what, id);
            session_info info;
            if (session_info_get(s, id, &info, &serr) != 0) {
                CHECK(0, "round %d: individual %s lost: %s", round, id, serr.msg);
                bad = 1;
                break;
            }
            genome_of(edited ? id : "next", edited, want, sizeof want);
            if (edited && !info.edited) {
                CHECK(0, "round %d: edit of %s lost", round, id);
                bad = 1;
            } else if (session_genome(s, id, &text, &serr) != 0 ||
                       (!info.edited && strcmp(text, want)) || (edited && strcmp(text, want))) {
                CHECK(0, "round %d: genome of %s wrong", round, id);
                bad = 1;
            }
            break;
        }
        case 'R':
            result_of(id, want, sizeof want);
            if (session_get_result(s, id, &text, &serr) != 0 || !text || strcmp(text, want)) {
                CHECK(0, "round %d: result of %s lost", round, id);
                bad = 1;
            }
            break;
        case 'V':
            if (session_get_review(s, id, &text, &serr) != 0 || !text ||
                !strstr(text, "\"approved\"")) {
                CHECK(0, "round %d: review of %s lost", round, id);
                bad = 1;
            }
            break;
        case 'J': {
            char(*ids)[SESSION_ID_MAX] = NULL;
            size_t cnt = 0;
            if (session_journal_population(s, atoi(id), &ids, &cnt, &serr) != 0 || cnt != 1) {
                CHECK(0, "round %d: journal of generation %s lost: %s", round, id, serr.msg);
                bad = 1;
            }
            free(ids);
            break;
        }
        default: break;
        }
        free(text);
    }
    session_close(s);
    return bad;
}

static void test_kill(void)
{
    unsigned seed = 12345;
    char seedfile[300], dir[300] = "";
    snprintf(seedfile, sizeof seedfile, "%s/seed.net", tmp);
    FILE *f = fopen(seedfile, "w");
    if (!f)
        return;
    fputs("input x: 1x28x28\nclasses 10\nreturn linear(gap(x), classes)\n", f);
    fclose(f);
    int kills = 0, writes = 0, failures = 0, max_seen = 0;
    for (int round = 0; round < KILLS && failures == 0; round++) {
        if (round % ROUNDS_PER_REPO == 0) {
            snprintf(dir, sizeof dir, "%s/s%d", tmp, round);
            session *s = NULL;
            session_create_opts o = {.seed_path = seedfile, .data_dir = ""};
            REQUIRE(session_create(&s, dir, &o, &serr) == 0, "create: %s", serr.msg);
            session_close(s);
        }
        int p[2];
        if (pipe(p) != 0)
            return;
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child(dir, p[1], seed + (unsigned)round);
            _exit(0);
        }
        close(p[1]);
        /* The kill comes after a random number of reported writes (none
         * for every tenth round: before the lock is taken), then up to
         * 5 ms more: somewhere inside the next write, however fast or
         * loaded the machine is. */
        char buf[1 << 16];
        size_t len = 0;
        ssize_t r;
        int target = round % 10 == 0 ? 0 : 1 + (int)(rand_r(&seed) % 12);
        while (lines_in(buf, len) < target && len < sizeof buf - 1 && readable(p[0]) &&
               (r = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)r;
        long us = round % 10 == 0 ? 0 : (long)(rand_r(&seed) % 5000);
        struct timespec ts = {0, us * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        if (!WIFSIGNALED(st)) {
            CHECK(0, "round %d: the writer exited by itself (status %d)", round,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            failures++;
        } else {
            kills++;
        }
        /* Everything it reported, read after its death. */
        while (len < sizeof buf - 1 && (r = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)r;
        close(p[0]);
        buf[len] = 0;
        reported rep[2048];
        int n = 0;
        for (char *line = strtok(buf, "\n"); line && n < 2048; line = strtok(NULL, "\n")) {
            if (strlen(line) > 2 && strlen(line) < SESSION_ID_MAX + 2) {
                rep[n].kind = line[0];
                snprintf(rep[n].what, sizeof rep[n].what, "%s", line + 2);
                n++;
            }
        }
        writes += n;
        if (n > max_seen)
            max_seen = n;
        failures += check_round(dir, rep, n, round);
    }
    printf("kill test: %d kills, %d reported writes checked (at most %d in one run)\n", kills,
           writes, max_seen);
    CHECK(kills >= 100, "only %d kills", kills);
    CHECK(writes > kills / 2, "the writers reported only %d writes: the test did not exercise them",
          writes);
    /* A final writer takes over, writes, and git still agrees. */
    session *s = NULL;
    CHECK(session_open(&s, dir, SESSION_WRITE, &serr) == 0, "final takeover: %s", serr.msg);
    if (s) {
        char id[SESSION_ID_MAX];
        session_new in = {.generation = session_last_generation(s, &serr) + 1,
                          .op = "mutation",
                          .parents = {"g0-1"},
                          .n_parents = 1,
                          .genome = "x\n"};
        CHECK(session_add(s, &in, id, &serr) == 0, "write after takeover: %s", serr.msg);
        const char *pop[1] = {id};
        CHECK(session_journal_add(s, in.generation, pop, 1, pop, 1, &serr) == 0,
              "journal after takeover: %s", serr.msg);
        session_close(s);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "cd %s && git fsck --strict --no-progress >/dev/null 2>&1", dir);
        CHECK(system(cmd) == 0, "final fsck");
    }
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s/gevo-kill-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp))
        return 1;
    RUN(test_kill);
    harness_rmtree(tmp);
    return harness_done();
}

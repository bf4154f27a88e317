/* A small test harness: every check prints one line, PASS or FAIL, that
 * tests/run.sh counts into the closing "N passed, N failed" line.
 *
 *   static void test_something(void) { CHECK(x == 1, "x is %d", x); }
 *   int main(void) { RUN(test_something); return harness_done(); }
 *
 * A test is one RUN(): it passes when none of its CHECKs failed. */
#ifndef GEVO_TESTS_HARNESS_H
#define GEVO_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void harness_run(const char *name, void (*fn)(void));
int harness_done(void);
/* A test program whose setup failed (in main, outside any RUN): the
 * message, a FAIL line run.sh counts, and 1, the status main returns:
 *     if (fake_llm_start(&srv))
 *         return SETUP_FAILED("could not start the fake LLM server");  */
int harness_setup_failed(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define SETUP_FAILED(...) harness_setup_failed(__FILE__, __LINE__, __VA_ARGS__)
/* Root of the source tree (tests run from it), for fixtures. */
const char *harness_root(void);
/* What the shell command cmd writes to stdout (malloc'd; NULL when it
 * cannot be started or out of memory); *status gets its exit status (-1
 * when it did not exit) when status is not NULL. */
char *harness_output(const char *cmd, int *status);
/* Removes dir and everything below it (no shell); complains on stderr
 * when it cannot. */
void harness_rmtree(const char *dir);
/* A fresh folder /tmp/gevo-NAME.XXXXXX into dir, and the data cache
 * (GEVO_CACHE_DIR) in its cache/ subfolder, so a test decodes data into
 * its own place; -1 when it cannot be made. */
int harness_scratch(char *dir, size_t size, const char *name);
/* The whole file (at most 1 MiB, malloc'd, NUL-terminated; *len its
 * length when len is not NULL), or NULL when it cannot be read. */
char *harness_slurp(const char *path, size_t *len);
/* v as 4 big-endian bytes at p (IDX headers). */
void harness_put_be32(uint8_t *p, uint32_t v);
/* Writes dir/PREFIX-images-idx3-ubyte and dir/PREFIX-labels-idx1-ubyte
 * (".gz" added and gzipped when gz): n images of 1x8x8 where class k in
 * 0..3 has a bright 4x4 quadrant k plus noise drawn from seed, a set a
 * small network learns in one epoch. */
void harness_write_quadrants(const char *dir, const char *prefix, int n, bool gz, uint32_t seed);

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond))                                       \
            harness_fail(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                       \
    do {                                                                                         \
        long long a_ = (long long)(a), b_ = (long long)(b);                                      \
        if (a_ != b_)                                                                            \
            harness_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_); \
    } while (0)
/* CHECK for what the rest of a test needs: when cond is false, the
 * message and the test (a void function) ends here. */
#define REQUIRE(cond, ...)                                 \
    do {                                                   \
        if (!(cond)) {                                     \
            harness_fail(__FILE__, __LINE__, __VA_ARGS__); \
            return;                                        \
        }                                                  \
    } while (0)
#define RUN(fn) harness_run(#fn, fn)

#endif

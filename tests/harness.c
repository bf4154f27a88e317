#include "tests/harness.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <zlib.h>

#include "engine/base/file.h"
#include "engine/base/strbuf.h"

static int failed_checks; /* in the running test */
static int passed, failed;

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (failed_checks++ > 20)
        return; /* one broken loop must not flood */
    printf("  %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

void harness_run(const char *name, void (*fn)(void))
{
    failed_checks = 0;
    fn();
    if (failed_checks) {
        printf("FAIL %s\n", name);
        failed++;
    } else {
        printf("PASS %s\n", name);
        passed++;
    }
    fflush(stdout);
}

int harness_done(void)
{
    return failed ? 1 : 0;
}

int harness_setup_failed(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("  %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\nFAIL setup\n");
    fflush(stdout);
    failed++;
    return 1;
}

int harness_scratch(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "/tmp/gevo-%s.XXXXXX", name);
    if (!mkdtemp(dir))
        return -1;
    char cache[1200];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    return setenv("GEVO_CACHE_DIR", cache, 1);
}

char *harness_slurp(const char *path, size_t *len)
{
    char *p = NULL;
    file_read(path, 1 << 20, &p, len, NULL);
    return p;
}

const char *harness_root(void)
{
    const char *r = getenv("GEVO_ROOT");
    return r && *r ? r : ".";
}

char *harness_output(const char *cmd, int *status)
{
    if (status)
        *status = -1;
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    strbuf out = STRBUF_INIT;
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, p)) > 0)
        strbuf_add(&out, chunk, r);
    int st = pclose(p);
    if (status)
        *status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return strbuf_detach(&out, NULL);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        perror(path);
    return 0;
}

void harness_rmtree(const char *dir)
{
    if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

void harness_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void write_whole(const char *path, const uint8_t *data, size_t n, bool gz)
{
    bool ok;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ok = f && gzwrite(f, data, (unsigned)n) == (int)n;
        ok = f && gzclose(f) == Z_OK && ok;
    } else {
        FILE *f = fopen(path, "wb");
        ok = f && fwrite(data, 1, n, f) == n;
        ok = f && fclose(f) == 0 && ok;
    }
    if (!ok) {
        fprintf(stderr, "cannot write %s\n", path);
        abort();
    }
}

void harness_write_quadrants(const char *dir, const char *prefix, int n, bool gz, uint32_t seed)
{
    char ip[1024], lp[1024];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte%s", dir, prefix, gz ? ".gz" : "");
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte%s", dir, prefix, gz ? ".gz" : "");
    uint8_t *img = malloc((size_t)16 + (size_t)n * 64), *lab = malloc((size_t)8 + (size_t)n);
    if (!img || !lab)
        abort();
    harness_put_be32(img, 0x00000803);
    harness_put_be32(img + 4, (uint32_t)n);
    harness_put_be32(img + 8, 8);
    harness_put_be32(img + 12, 8);
    harness_put_be32(lab, 0x00000801);
    harness_put_be32(lab + 4, (uint32_t)n);
    uint32_t s = seed;
    for (int i = 0; i < n; i++) {
        int k = i % 4;
        lab[8 + i] = (uint8_t)k;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                s = s * 1664525u + 1013904223u;
                int q = (y >= 4) * 2 + (x >= 4);
                img[16 + i * 64 + y * 8 + x] = (uint8_t)((int)(s >> 26) + (q == k ? 150 : 20));
            }
    }
    write_whole(ip, img, (size_t)16 + (size_t)n * 64, gz);
    write_whole(lp, lab, (size_t)8 + (size_t)n, gz);
    free(img);
    free(lab);
}

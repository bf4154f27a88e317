#include "tests/harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>

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

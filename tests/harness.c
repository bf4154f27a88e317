#include "tests/harness.h"

#include <stdarg.h>
#include <stdlib.h>

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

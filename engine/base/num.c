/* num: see num.h. */
#include "engine/base/num.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const char *skip_space(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

int num_long(const char *s, long lo, long hi, long *out, const char *what, gerr *err)
{
    if (!s)
        return gerr_set(err, "%s: a whole number is missing", what);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *skip_space(end))
        return gerr_set(err, "%s: '%.40s' is not a whole number", what, s);
    if (errno == ERANGE || v < lo || v > hi)
        return gerr_set(err, "%s: %.40s is out of range (%ld to %ld)", what, s, lo, hi);
    *out = v;
    return 0;
}

int num_int(const char *s, int lo, int hi, int *out, const char *what, gerr *err)
{
    long v;
    if (num_long(s, lo, hi, &v, what, err) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* strtod over s: whether a number (not NaN) starts it; *end after it. */
static bool read_double(const char *s, double *v, char **end)
{
    errno = 0;
    *v = strtod(s, end);
    return *end != s && !isnan(*v);
}

/* v, just read by read_double, is finite, did not overflow and lies in
 * lo..hi. */
static bool in_range(double v, double lo, double hi)
{
    return errno != ERANGE && isfinite(v) && v >= lo && v <= hi;
}

int num_double(const char *s, double lo, double hi, double *out, const char *what, gerr *err)
{
    if (!s)
        return gerr_set(err, "%s: a number is missing", what);
    char *end;
    double v;
    if (!read_double(s, &v, &end) || *skip_space(end))
        return gerr_set(err, "%s: '%.40s' is not a number", what, s);
    if (!in_range(v, lo, hi))
        return gerr_set(err, "%s: %.40s is out of range (%g to %g)", what, s, lo, hi);
    *out = v;
    return 0;
}

int num_bool(const char *s, bool *out, const char *what, gerr *err)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; s && i < 4; i++) {
        if (!strcasecmp(s, yes[i]))
            return *out = true, 0;
        if (!strcasecmp(s, no[i]))
            return *out = false, 0;
    }
    return gerr_set(err, "%s: '%.40s' is not true or false", what, s ? s : "");
}

int num_bytes(const char *s, double lo, double hi, double *out, const char *what, gerr *err)
{
    if (!s)
        return gerr_set(err, "%s: a size is missing", what);
    char *end;
    double v;
    if (!read_double(s, &v, &end) || v < 0)
        return gerr_set(err, "%s: '%.40s' is not a size (such as 512M or 2G)", what, s);
    double scale = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': scale = 1024.0; break;
    case 'M': scale = 1024.0 * 1024; break;
    case 'G': scale = 1024.0 * 1024 * 1024; break;
    case 'T': scale = 1024.0 * 1024 * 1024 * 1024; break;
    }
    if (scale > 1 && *++end && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*skip_space(end))
        return gerr_set(err, "%s: '%.40s' is not a size (such as 512M or 2G)", what, s);
    v *= scale;
    if (!in_range(v, lo, hi))
        return gerr_set(err, "%s: %.40s is out of range (%.0f to %.0f bytes)", what, s, lo, hi);
    *out = v;
    return 0;
}

void num_bytes_format(double b, char *buf, size_t size)
{
    if (b >= 1073741824.0)
        snprintf(buf, size, "%.1f GiB", b / 1073741824.0);
    else if (b >= 1048576.0)
        snprintf(buf, size, "%.1f MiB", b / 1048576.0);
    else
        snprintf(buf, size, "%.0f KiB", b / 1024.0);
}

/* clock: seconds on the monotonic clock, for measuring how long something
 * took (never a date: it starts at an arbitrary point, and does not jump
 * when the system time is set). */
#ifndef GEVO_BASE_CLOCK_H
#define GEVO_BASE_CLOCK_H

#include <time.h>

static inline double clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif

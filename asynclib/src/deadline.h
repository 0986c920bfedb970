/* Relative timeouts (double seconds) as absolute timespecs for
 * pthread_cond_timedwait, without overflow: the conversion of a huge or
 * infinite double to time_t is undefined behaviour, and a timespec built
 * from it makes timedwait fail with EINVAL at once (a spin, not a wait). */
#ifndef ASYNCLIB_DEADLINE_H
#define ASYNCLIB_DEADLINE_H

#include <math.h>
#include <stdbool.h>
#include <time.h>

/* Beyond this (about 31.7 years) a timeout means "no limit": it is then
 * longer than any process runs, and now + it fits any time_t. */
#define AL_TIMEOUT_UNLIMITED 1e9

/* Sets *ts to `timeout` seconds after now on clock and returns true; returns
 * false (no limit) for a negative, infinite or larger than
 * AL_TIMEOUT_UNLIMITED timeout. The caller has refused NaN. */
static inline bool al__deadline_after(clockid_t clock, double timeout, struct timespec *ts)
{
    if (!(timeout >= 0 && timeout <= AL_TIMEOUT_UNLIMITED))
        return false;
    clock_gettime(clock, ts);
    double whole = floor(timeout);
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((timeout - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return true;
}

#endif

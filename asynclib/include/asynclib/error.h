/* Error codes of asynclib and of the layers above it.
 *
 * Every fallible public function returns 0 (or a non-negative count) on
 * success and a negative code on failure: either a negated errno value
 * (-ENOMEM, -EINVAL, -ECONNRESET, ...) or one of the AL_E* codes below for
 * what errno has no name for. The AL_E* codes lie below -1000, far from any
 * errno value. al_strerror() names either kind. Thread-safe.
 */
#ifndef ASYNCLIB_ERROR_H
#define ASYNCLIB_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum al_error {
    AL_ECANCELLED = -1001,     /* the future or task was cancelled */
    AL_ETIMEOUT = -1002,       /* a timeout expired (wait_for, timeout scopes) */
    AL_EINVALIDSTATE = -1003,  /* wrong state for the call (result of a pending future, ...) */
    AL_ELOOPCLOSED = -1004,    /* the loop is closed */
    AL_ELOOPRUNNING = -1005,   /* the loop (or another loop on this thread) is running */
    AL_ENOTIOLOOP = -1006,     /* an I/O call on a pure loop */
    AL_EWRONGTHREAD = -1007,   /* debug mode: called from a thread that does not own the loop */
    AL_ESTOPPED = -1008,       /* run_until_complete: loop stopped before the future completed */
    AL_ENOTINTASK = -1009,     /* a call that must suspend was made outside a task */
    AL_EWRONGLOOP = -1010,     /* the object belongs to another loop */
    AL_EINCOMPLETE = -1011,    /* EOF before the requested number of bytes */
    AL_ELIMITOVERRUN = -1012,  /* a stream buffer limit was exceeded */
    AL_EQUEUEEMPTY = -1013,    /* get_nowait on an empty queue */
    AL_EQUEUEFULL = -1014,     /* put_nowait on a full queue */
    AL_EQUEUESHUTDOWN = -1015, /* the queue was shut down */
    AL_EBROKENBARRIER = -1016, /* the barrier was reset or aborted */
    AL_EGROUP = -1017,         /* several errors: see the object's error list (TaskGroup) */
    AL_EFAILED = -1018,        /* a callback or task failed without a more precise code */
};

/* Message for a code returned by any asynclib, selectors or asyncio call:
 * AL_E* codes, negated errno values, and 0 ("success"). Never NULL; the
 * string is static. */
const char *al_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif

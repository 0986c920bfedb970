/* Error codes of asynclib and of the layers above it.
 *
 * Every fallible public function returns 0 (or a non-negative count) on
 * success and a negative code on failure: either a negated errno value
 * (-ENOMEM, -EINVAL, -ECONNRESET, ...) or one of the AL_E* codes below for
 * what errno has no name for. AL_E* codes lie in [AL_ERROR_LAST,
 * AL_ERROR_FIRST] = [-1999, -1001], far from any negated errno value (>
 * -4096). Each layer has a range of its own, disjoint from the others
 * (selectors: SEL_E*, -2001 to -2099, in <selectors/sel_errors.h>).
 *
 * AL_ERROR_LIST is the one list of the codes: an X-macro X(name, value,
 * message) that generates the enum below, al_strerror and al_err_name, so
 * a code, its name and its message are written once. Thread-safe.
 */
#ifndef ASYNCLIB_ERROR_H
#define ASYNCLIB_ERROR_H

#include <asynclib/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* clang-format off */
#define AL_ERROR_LIST(X)                                                                           \
    /* the future or task was cancelled */                                                         \
    X(AL_ECANCELLED, -1001, "cancelled")                                                           \
    /* a timeout expired (wait_for, timeout scopes) */                                             \
    X(AL_ETIMEOUT, -1002, "timed out")                                                             \
    /* wrong state for the call (result of a pending future, ...) */                               \
    X(AL_EINVALIDSTATE, -1003, "invalid state")                                                    \
    /* the loop is closed */                                                                       \
    X(AL_ELOOPCLOSED, -1004, "event loop is closed")                                               \
    /* the loop (or another loop on this thread) is running */                                     \
    X(AL_ELOOPRUNNING, -1005, "an event loop is already running")                                  \
    /* an I/O call on a pure loop */                                                               \
    X(AL_ENOTIOLOOP, -1006, "not an I/O event loop")                                               \
    /* debug mode: called from a thread that does not own the loop */                              \
    X(AL_EWRONGTHREAD, -1007, "called from a thread other than the loop's")                        \
    /* run_until_complete: loop stopped before the future completed */                             \
    X(AL_ESTOPPED, -1008, "event loop stopped before the future completed")                        \
    /* a call that must suspend was made outside a task */                                         \
    X(AL_ENOTINTASK, -1009, "not called from inside a task")                                       \
    /* the object belongs to another loop */                                                       \
    X(AL_EWRONGLOOP, -1010, "object belongs to another event loop")                                \
    /* EOF before the requested number of bytes */                                                 \
    X(AL_EINCOMPLETE, -1011, "incomplete read: end of stream before the expected bytes")           \
    /* a stream buffer limit was exceeded */                                                       \
    X(AL_ELIMITOVERRUN, -1012, "buffer limit overrun")                                             \
    /* get_nowait on an empty queue */                                                             \
    X(AL_EQUEUEEMPTY, -1013, "queue is empty")                                                     \
    /* put_nowait on a full queue */                                                               \
    X(AL_EQUEUEFULL, -1014, "queue is full")                                                       \
    /* the queue was shut down */                                                                  \
    X(AL_EQUEUESHUTDOWN, -1015, "queue is shut down")                                              \
    /* the barrier was reset or aborted */                                                         \
    X(AL_EBROKENBARRIER, -1016, "barrier is broken")                                               \
    /* several errors: see the object's error list (TaskGroup) */                                  \
    X(AL_EGROUP, -1017, "several errors (see the error list)")                                     \
    /* a callback or task failed without a more precise code */                                    \
    X(AL_EFAILED, -1018, "failed")                                                                 \
    /* the loop is closing: the task unwinds (see task.h) */                                       \
    X(AL_ELOOPCLOSING, -1019, "event loop closed: the task is unwinding")
/* clang-format on */

enum al_error {
#define AL__ERROR_ENUM(name, value, message) name = value,
    AL_ERROR_LIST(AL__ERROR_ENUM)
#undef AL__ERROR_ENUM
};

#define AL_ERROR_FIRST (-1001)
#define AL_ERROR_LAST (-1999)

/* Message for a code: an AL_E* code's, a negated errno value's (the C
 * library's text, untranslated), "success" for 0, and "unknown error" for
 * anything else (including errno values the C library does not know, and
 * other layers' codes: use sel_strerror for SEL_E*). Never NULL; the
 * string is static. */
AL_API const char *al_strerror(int code);

/* Symbolic name of a code: "AL_ECANCELLED", "ECONNRESET" (for
 * -ECONNRESET), "0" for 0, "UNKNOWN" for anything else (as for
 * al_strerror). Never NULL; the string is static. */
AL_API const char *al_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif

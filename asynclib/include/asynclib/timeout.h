/* Timeout scopes: asyncio.timeout() / timeout_at() (CPython 3.12
 * timeouts.py).
 *
 * A scope belongs to the task that enters it. When its deadline passes the
 * task is cancelled; al_timeout_exit() converts that cancellation, and only
 * that one, into AL_ETIMEOUT, using the task's cancelling()/uncancel()
 * counts, so scopes nest and compose with external cancellation and task
 * groups:
 *
 *     al_timeout to = AL_TIMEOUT_INIT;
 *     int rc = al_timeout_enter(&to, 0.5);
 *     if (rc == 0)
 *         rc = al_timeout_exit(&to, work());   // AL_ETIMEOUT if it expired
 *
 * Ownership: the al_timeout is the caller's (usually on the task's stack,
 * also in AL_TASK_SHARED_STACK tasks: the loop never holds its address,
 * only the task's); its fields are private and only the owning task reads
 * or writes them. It must start as AL_TIMEOUT_INIT (or zeroed) and once
 * entered must be exited before it goes out of scope (its timer runs until
 * then). A scope is used once.
 *
 * Times: al_timeout_enter takes a delay in seconds, the others absolute
 * loop times (al_loop_time); AL_FOREVER means no deadline; a deadline not
 * in the future expires in the next loop iteration. NaN is -EINVAL.
 *
 * Misuse fails with AL_EINVALIDSTATE and changes nothing: entering twice,
 * rescheduling or exiting a scope that is not entered (or already
 * expiring, expired or exited). Entering outside a task is AL_ENOTINTASK.
 *
 * Threads: the loop's thread, inside the owning task.
 */
#ifndef ASYNCLIB_TIMEOUT_H
#define ASYNCLIB_TIMEOUT_H

#include <asynclib/export.h>
#include <asynclib/task.h>

#include <math.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef AL_FOREVER
#define AL_FOREVER INFINITY /* no timeout */
#endif

typedef struct al_timeout {
    int state; /* private: 0 created, entered, expiring, expired, exited */
    double when;
    al_task *task;
    al_handle *handle;
    int cancelling;
} al_timeout;

#define AL_TIMEOUT_INIT                                                                            \
    {                                                                                              \
        0, 0.0, NULL, NULL, 0                                                                      \
    }

/* Enters the scope in the current task with a deadline delay seconds from
 * now (AL_FOREVER: none yet). */
AL_API int al_timeout_enter(al_timeout *to, double delay);
/* Same with an absolute deadline. */
AL_API int al_timeout_enter_at(al_timeout *to, double when);
/* Leaves the scope: status is what the body returned. Returns AL_ETIMEOUT
 * if this scope expired, status is AL_ECANCELLED and no other cancellation
 * of the task is pending; else status unchanged. A cancellation requested
 * before the scope was entered and not yet received by the task then
 * counts as pending: it propagates even if the deadline had passed
 * (CPython's timeout(0) turns it into TimeoutError, cpython#134471). AL_EINVALIDSTATE if the
 * scope is not entered (status is then ignored). */
AL_API int al_timeout_exit(al_timeout *to, int status);
/* Moves the deadline (absolute; AL_FOREVER disables it). Only while
 * entered and not yet expiring: else AL_EINVALIDSTATE. */
AL_API int al_timeout_reschedule(al_timeout *to, double when);
/* True once the deadline fired (expiring or expired). */
AL_API bool al_timeout_expired(const al_timeout *to);
/* The deadline, AL_FOREVER when none (NaN before enter). */
AL_API double al_timeout_when(const al_timeout *to);

/* Inside a task: runs fn(arg, result) under a timeout of delay seconds and
 * returns its converted status. */
AL_API int al_with_timeout(double delay, al_task_fn fn, void *arg, void **result);

#ifdef __cplusplus
}
#endif
#endif

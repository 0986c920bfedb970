/* Combinators: gather, wait, wait_for, as_completed, shield.
 *
 * The C form of asyncio's tasks.py helpers, over futures (a task is a
 * future: pass al_task_future(t)). All of them take futures of the running
 * loop; they never run the children themselves.
 *
 * Ownership: futures passed in are borrowed for the call; a combinator
 * that outlives the call (gather, shield, as_completed) takes its own
 * references. Futures returned through `out` parameters are new references
 * (release with al_future_unref) unless stated "borrowed".
 *
 * Timeouts are relative seconds on the loop clock; AL_FOREVER means none;
 * 0 or a negative value expires in the next loop iteration (as asyncio's
 * call_later); NaN is -EINVAL.
 *
 * Closing the loop while a combinator is pending leaks nothing: a task
 * waiting inside one unwinds (its call returns AL_ELOOPCLOSING and
 * releases what it holds, see task.h), and the combinator's internal
 * state lives until the done-callbacks it registered have run or have
 * been dropped (the close drops queued calls and the registrations still
 * on pending futures of the loop, a future completed on a closed loop
 * cannot queue them, a pending future freed drops its registrations): a
 * gather or shield over a future nobody completes lets go of it at the
 * close. An as_completed iterator is the caller's to free. Only a task
 * that ignores the close (task.h) is dropped without unwinding: what it
 * held inside wait, wait_for, gather_wait or a TaskGroup is released
 * with it, and a TaskGroup it had entered is freed with it (do not free
 * it again).
 *
 * Threads: the loop's thread only. The calls marked "inside a task"
 * suspend the calling task and fail with AL_ENOTINTASK elsewhere.
 */
#ifndef ASYNCLIB_COMBINATORS_H
#define ASYNCLIB_COMBINATORS_H

#include <asynclib/export.h>
#include <asynclib/task.h>
#include <asynclib/timeout.h> /* AL_FOREVER */

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gather ------------------------------------------------------------------ */

/* The result of a gather future: one entry per argument, in argument order
 * (duplicates repeated). status[i] is 0 (values[i] is the child's result
 * value), the child's error, or AL_ECANCELLED for a cancelled child; with
 * return_errors false every status is 0. values[i] is borrowed from the
 * child, which the result keeps referenced: valid while the gather future
 * lives. */
typedef struct al_gather_result {
    size_t n;
    int *status;
    void **values;
} al_gather_result;

/* asyncio.gather: *out receives a new future that completes when all of
 * fs[0..n) are done, with an al_gather_result (read it with
 * al_future_result; owned by the future). Each distinct future is watched
 * once (duplicates run once and repeat their value). n == 0: *out is
 * already done with an empty result.
 *
 * return_errors false: the first child that fails (in completion order)
 * completes the gather with its error; a cancelled child completes it with
 * the error AL_ECANCELLED while al_future_cancelled(*out) stays false
 * (asyncio's CancelledError exception, R59). The other children go on.
 * return_errors true: failures are values (status[i]).
 *
 * Cancelling *out (al_future_cancel, or cancelling a task that awaits it)
 * is asyncio's _GatheringFuture.cancel: it cancels every child with the
 * same message and returns 1 if at least one child took the request; 0 if
 * none could (every child already done, even if the gather's own
 * callbacks have not run yet: its result then stands), and 0 on a done
 * gather (which, unlike a plain future's cancel, does not count as
 * retrieving its error). The gather itself is never cancelled at once: it
 * ends when its children report, so a task awaiting it resumes only after
 * they reacted. With return_errors false the first child that ends
 * cancelled ends it (error AL_ECANCELLED, as above); otherwise, once the
 * last child reported, a gather whose cancel reached a child ends with the
 * error AL_ECANCELLED whatever return_errors says (bpo-32684), with the
 * last child's cancel message (al_future_cancel_message). A task awaiting
 * the gather whose cancel reached no child is cancelled itself when it
 * resumes (asyncio's _must_cancel).
 *
 * Errors: -EINVAL (NULL loop/out, NULL child, n > 0 with NULL fs),
 * AL_EWRONGLOOP (a child of another loop), -ENOMEM, AL_ELOOPCLOSED. */
AL_API int al_gather(al_loop *loop, al_future *const *fs, size_t n, bool return_errors,
                     al_future **out);

/* Inside a task: gather and await. Returns the gather's status (0 and the
 * result in *out) like al_await. If the calling task is cancelled meanwhile,
 * the cancel goes to the gather (see al_gather): the children are
 * cancelled and AL_ECANCELLED is returned when the gather ends, as
 * awaiting asyncio.gather does. out (may be NULL) receives a new
 * reference to the gather future even on failure, once it was created. */
AL_API int al_gather_wait(al_future *const *fs, size_t n, bool return_errors, al_future **out);

/* ---- wait --------------------------------------------------------------------- */

enum al_return_when {
    AL_FIRST_COMPLETED = 1, /* return when any future is done */
    AL_FIRST_EXCEPTION = 2, /* ... when any fails (not cancelled), else all done */
    AL_ALL_COMPLETED = 3,   /* ... when all are done */
};

/* Inside a task: asyncio.wait. Waits until return_when holds or the timeout
 * expires (no timeout error: look at the sets), then fills done[] and
 * pending[] (caller's arrays of at least n entries, either may be NULL;
 * borrowed pointers, distinct, in argument order) and the counts. Never
 * cancels the futures, also when the calling task is cancelled (R54).
 * Returns 0; AL_ECANCELLED if the calling task was cancelled (the sets are
 * then filled too); -EINVAL for n == 0, NULL, a bad return_when or a NaN
 * timeout; AL_EWRONGLOOP; AL_ENOTINTASK; -ENOMEM. */
AL_API int al_wait(al_future *const *fs, size_t n, double timeout, int return_when,
                   al_future **done, size_t *ndone, al_future **pending, size_t *npending);

/* ---- wait_for ------------------------------------------------------------------- */

/* Inside a task: asyncio.wait_for (3.12, over a timeout scope). Waits for f
 * and returns its status (0: read the value with al_future_result(f)). On
 * timeout f is cancelled and waited for; if it ended cancelled the result
 * is AL_ETIMEOUT, else f's own status (it swallowed the cancellation or
 * failed while cancelling). timeout <= 0: a done f gives its status at
 * once, a pending one is cancelled at once (then as above). Cancelling the
 * caller cancels f (R70). -EINVAL (NULL, NaN), AL_EWRONGLOOP,
 * AL_ENOTINTASK. */
AL_API int al_wait_for(al_future *f, double timeout);

/* ---- as_completed --------------------------------------------------------------- */

typedef struct al_as_completed al_as_completed;

/* asyncio.as_completed as an iterator over the distinct futures of
 * fs[0..n), in completion order. The timeout (AL_FOREVER for none) runs
 * from this call. *out is owned by the caller: al_as_completed_free. The
 * iterator holds references to the futures. Errors: -EINVAL, AL_EWRONGLOOP,
 * -ENOMEM, AL_ELOOPCLOSED. */
AL_API int al_as_completed_new(al_loop *loop, al_future *const *fs, size_t n, double timeout,
                               al_as_completed **out);
/* Inside a task: the next future to complete. Returns 0 like every call:
 * *f is the next future (a new reference; it is done), or NULL once every
 * future was returned (the end; again on every later call):
 *
 *     al_future *f;
 *     while ((rc = al_as_completed_next(it, &f)) == 0 && f) { ...; al_future_unref(f); }
 *
 * Errors (*f untouched): AL_ETIMEOUT once the timeout expired and no
 * completed future is left (again on every later call); AL_ECANCELLED if
 * the calling task was cancelled (the futures are untouched and the
 * iterator stays usable); AL_ENOTINTASK; AL_EINVALIDSTATE if another task
 * is already waiting in next; -EINVAL (NULL it or f); -ENOMEM. */
AL_API int al_as_completed_next(al_as_completed *it, al_future **f);
/* Number of futures not yet returned by next. */
AL_API size_t al_as_completed_remaining(const al_as_completed *it);
/* Stops watching and releases the iterator (not while a task waits in
 * next: AL_EINVALIDSTATE, unless the loop was closed meanwhile and that
 * task ignored the close). NULL is ignored. */
AL_API int al_as_completed_free(al_as_completed *it);

/* ---- shield ------------------------------------------------------------------------ */

/* asyncio.shield: *out receives a new future that mirrors f (result, error,
 * cancellation); cancelling *out does not cancel f. If f is already done,
 * *out is a new reference to f itself. The mirrored result value is
 * borrowed from f: keep f referenced while you read it through *out.
 * Errors: -EINVAL, -ENOMEM, AL_ELOOPCLOSED. */
AL_API int al_shield(al_future *f, al_future **out);

#ifdef __cplusplus
}
#endif
#endif

/* The pure event loop: a ready queue, a timer heap, and one blocking step.
 *
 * This is asyncio's BaseEventLoop without any I/O. One iteration computes a
 * timeout (0 when callbacks are ready or stop() was requested, else the
 * time to the earliest timer, else forever), blocks in ops->wait(timeout),
 * moves due timers to the ready queue in deadline order, and runs exactly
 * the callbacks that were ready at that moment; callbacks they schedule run
 * in the next iteration.
 *
 * Threads: a loop belongs to the thread that runs it. Only
 * al_call_soon_threadsafe() and al_loop_wakeup() may be called from other
 * threads; in debug mode other calls from a foreign thread fail with
 * AL_EWRONGTHREAD while the loop runs.
 *
 * Ownership: al_loop_new*() returns a loop owned by the caller, released
 * with al_loop_free(). Futures, tasks and handles that the user still holds
 * keep the loop's memory alive (not its resources) until they are released,
 * so no pointer a user holds ever dangles.
 */
#ifndef ASYNCLIB_LOOP_H
#define ASYNCLIB_LOOP_H

#include <asynclib/export.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct al_loop al_loop;
typedef struct al_handle al_handle;
typedef struct al_future al_future;
typedef struct al_task al_task;

/* A callback. Returns 0, or a negative code that the loop reports to its
 * exception handler (the loop goes on). */
typedef int (*al_callback_fn)(al_loop *loop, void *arg);

/* ---- creation and lifetime ------------------------------------------- */

/* A loop on the real monotonic clock (CLOCK_MONOTONIC); its wait sleeps on
 * a condition variable that al_loop_wakeup() signals. NULL on ENOMEM.
 * Debug mode is on when the environment has ASYNCLIB_DEBUG=1. */
AL_API al_loop *al_loop_new(void);

/* A loop on a virtual clock that starts at 0.0 and moves only when the loop
 * would otherwise sleep: it jumps straight to the next deadline. While work
 * from other threads is outstanding (executor jobs) it waits in real time
 * for it instead. Deterministic and instant for timing tests. NULL on ENOMEM. */
AL_API al_loop *al_loop_new_virtual(void);

/* Advances a virtual loop's clock by `seconds` (asyncio's test
 * TestLoop.advance_time), as if the loop had been busy that long: the
 * next iteration runs every timer that fell due meanwhile, in deadline
 * order (equal deadlines in scheduling order). Use it to test your own
 * timeouts. The loop's thread only (or any thread while no loop runs it);
 * callable from its callbacks and tasks. Errors, nothing changed: -EINVAL
 * (NULL loop; seconds negative, NaN or infinite), -ENOTSUP (not a virtual
 * loop), -ERANGE (the clock would overflow), AL_ELOOPCLOSED,
 * AL_EWRONGTHREAD (debug mode, foreign thread). */
AL_API int al_loop_advance_time(al_loop *loop, double seconds);

/* A pointer of the user's, stored with the loop and never touched by it
 * (libuv's loop->data): NULL until set. set_data fails only for a NULL
 * loop (-EINVAL). Not synchronised: set it before other threads read it. */
AL_API int al_loop_set_data(al_loop *loop, void *data);
AL_API void *al_loop_get_data(const al_loop *loop);

/* Closes the loop if needed and drops the caller's reference. Fails with
 * AL_ELOOPRUNNING (and does nothing) while the loop runs; -EINVAL on NULL. */
AL_API int al_loop_free(al_loop *loop);

/* Closes the loop: first unwinds its pending tasks (each parked task is
 * resumed with AL_ELOOPCLOSING so that its cleanup runs; a task that never
 * ran is dropped; see task.h), then drops pending callbacks and timers
 * (their drop hooks release what the library's own callbacks held, also
 * on futures that will never complete), shuts the default executor down
 * without waiting, releases the subclass's resources. Idempotent.
 * AL_ELOOPRUNNING while running, or when called from a task's cleanup
 * while the close unwinds it. May be called from a task of another loop.
 * Afterwards every scheduling call fails with AL_ELOOPCLOSED. */
AL_API int al_loop_close(al_loop *loop);

AL_API bool al_loop_is_running(const al_loop *loop);
AL_API bool al_loop_is_closed(const al_loop *loop);

/* The loop running on the calling thread, or NULL where asyncio's
 * get_running_loop() raises RuntimeError. Borrowed. Any thread (each
 * thread sees its own running loop). Not to be confused with
 * al_loop_is_running(loop), which asks whether a given loop runs. */
AL_API al_loop *al_get_running_loop(void);
/* The former name of al_get_running_loop, for code not yet updated. */
__attribute__((deprecated("renamed al_get_running_loop"))) static inline al_loop *
al_loop_running(void)
{
    return al_get_running_loop();
}

/* Name of the implementation ("real", "virtual", or the subclass's). */
AL_API const char *al_loop_name(const al_loop *loop);

/* ---- running ----------------------------------------------------------- */

/* Iterates until al_loop_stop(). Returns 0 after a stop, AL_ELOOPCLOSED,
 * AL_ELOOPRUNNING (this loop, or another loop on this thread, is running). */
AL_API int al_loop_run_forever(al_loop *loop);

/* Runs until future f is done (asyncio's run_until_complete). Returns 0
 * once f is done, with f's status in *status (may be NULL): 0 when f has a
 * result, its error, or AL_ECANCELLED; reading it marks an error as
 * retrieved. Otherwise, and then *status is untouched: AL_ESTOPPED when the
 * loop was stopped first (f stays pending), or a refusal that changed
 * nothing (no callback is left on f, nothing is queued): -EINVAL (NULL
 * loop or f), AL_EWRONGLOOP (f belongs to another loop), AL_ELOOPCLOSED,
 * AL_ELOOPRUNNING (this loop, or another loop on this thread, is running).
 * The future stays owned by the caller. */
AL_API int al_loop_run_until_done(al_loop *loop, al_future *f, int *status);

/* al_loop_run_until_done returning f's status directly: f's status when f
 * got done, else the codes above. The two share one space (a future may
 * fail with any code, AL_ELOOPRUNNING included): use al_loop_run_until_done
 * to tell a refusal from a failure without reading the future. */
AL_API int al_loop_run_until_complete(al_loop *loop, al_future *f);

/* Asks the loop to stop after the current iteration. Before run_forever,
 * the next run does exactly one iteration. */
AL_API int al_loop_stop(al_loop *loop);

/* Runs a single iteration; it blocks until the next timer (or forever) when
 * nothing is ready, like any iteration. */
AL_API int al_loop_run_once(al_loop *loop);

/* Monotonic loop time in seconds (virtual time on a virtual loop). */
AL_API double al_loop_time(al_loop *loop);

/* ---- scheduling -------------------------------------------------------- */

/* Queues fn(loop, arg) to run in the next iteration, after every callback
 * already queued (FIFO). If out is not NULL, *out receives a new reference
 * to the handle (release it with al_handle_unref) that can cancel the call.
 * Errors: -EINVAL (NULL loop or fn), AL_ELOOPCLOSED, -ENOMEM,
 * AL_EWRONGTHREAD (debug mode, foreign thread). Nothing is queued on error. */
AL_API int al_call_soon(al_loop *loop, al_callback_fn fn, void *arg, al_handle **out);

/* Like al_call_soon, callable from any thread; wakes the loop if it sleeps
 * (one wakeup per batch of calls: wakeups are coalesced). Called on the
 * thread running the loop, or while no thread runs it on the loop's owner
 * (the thread that created it, or that ran it last), it is exactly
 * al_call_soon (the same FIFO). From any other thread the call is queued
 * under a lock and joins the ready queue after the loop's next wait; so
 * also from the creating thread once another thread runs the loop. */
AL_API int al_call_soon_threadsafe(al_loop *loop, al_callback_fn fn, void *arg);

/* Runs fn after delay seconds (negative means now, as a timer; NaN is
 * -EINVAL and queues nothing). Equal deadlines fire in scheduling order.
 * Any other value is valid: +infinity (AL_FOREVER) never fires (the timer
 * stays until cancelled, and a loop with nothing else to do waits to be
 * woken); a huge finite delay is a timer that far away (a virtual loop
 * jumps straight to it when nothing else is due). */
AL_API int al_call_later(al_loop *loop, double delay, al_callback_fn fn, void *arg,
                         al_handle **out);

/* Runs fn at absolute loop time `when` (al_loop_time() scale); values as
 * for al_call_later (-infinity or any past time: now). */
AL_API int al_call_at(al_loop *loop, double when, al_callback_fn fn, void *arg, al_handle **out);

/* Interrupts the loop's wait. Any thread. */
AL_API void al_loop_wakeup(al_loop *loop);

/* ---- handles ----------------------------------------------------------- */

/* Cancels the call if it has not run: it never runs. Idempotent; a no-op
 * after it ran. */
AL_API void al_handle_cancel(al_handle *h);
AL_API bool al_handle_cancelled(const al_handle *h);
/* Deadline of a timer handle, or NaN for a call_soon handle. */
AL_API double al_handle_when(const al_handle *h);
/* Releases the caller's reference. NULL is ignored. */
AL_API void al_handle_unref(al_handle *h);

/* ---- errors: the exception handler --------------------------------------- */

/* What went wrong. Pointers are borrowed for the duration of the handler
 * call only. */
typedef struct al_error_context {
    const char *message;     /* never NULL */
    int error;               /* the code, or 0 (for instance a slow callback) */
    al_callback_fn callback; /* the callback that failed, or NULL */
    void *callback_arg;
    al_future *future; /* the future concerned, or NULL */
    al_task *task;     /* the task concerned, or NULL */
} al_error_context;

typedef void (*al_exception_handler_fn)(al_loop *loop, const al_error_context *ctx, void *user);

/* Sets the handler; fn NULL restores the default one. */
AL_API int al_loop_set_exception_handler(al_loop *loop, al_exception_handler_fn fn, void *user);
/* Prints the context to stderr, one line: "asynclib: MESSAGE: ERROR (...)". */
AL_API void al_loop_default_exception_handler(al_loop *loop, const al_error_context *ctx);
/* Passes ctx to the current handler. */
AL_API void al_loop_call_exception_handler(al_loop *loop, const al_error_context *ctx);

/* ---- debug mode -------------------------------------------------------- */

/* In debug mode, calls from a foreign thread fail with AL_EWRONGTHREAD
 * while the loop runs, and callbacks or task steps that run longer than the
 * slow-callback duration (default 0.1 s) are reported to the exception
 * handler as "Executing <...> took N seconds". */
AL_API int al_loop_set_debug(al_loop *loop, bool enabled);
AL_API bool al_loop_get_debug(const al_loop *loop);
AL_API int al_loop_set_slow_callback_duration(al_loop *loop, double seconds);

#ifdef __cplusplus
}
#endif
#endif

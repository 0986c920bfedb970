/* Task: the future that drives a C function on its own stack.
 *
 * A task runs fn(arg, &result) as a stackful coroutine. From any depth of
 * its call stack the function may suspend with al_await(future), al_sleep()
 * and everything built on them; other tasks and callbacks run meanwhile.
 * The function's return value decides how the task ends: 0 (or any
 * non-negative value) -> result (*result, default NULL), AL_ECANCELLED ->
 * cancelled, any other negative code -> that error.
 *
 * Cancellation follows asyncio: al_task_cancel(t, msg) cancels the future t
 * is waiting on (or, when t is not waiting, makes its next suspension
 * return AL_ECANCELLED); the pending al_await returns AL_ECANCELLED; the
 * function may clean up, swallow it (and go on) or return it. A task that
 * returns 0 after a cancellation it never received ends cancelled.
 * cancelling()/uncancel() count requests so timeouts and task groups
 * compose.
 *
 * Ownership: a task is a future (al_task_future(); the same object) and is
 * reference-counted like one. The loop holds a reference to every task
 * until it is done, so a task never vanishes mid-run; al_task_new's *out,
 * when asked for, is the caller's own reference. A result value stored in
 * *result belongs to the task: the result_dtor releases it with the task,
 * or at once if the task ends with an error or cancelled instead.
 *
 * Closing a loop unwinds the tasks still pending, as CPython closes a
 * pending coroutine (GeneratorExit runs its finally blocks). Each is
 * reported once to the exception handler (asyncio's "Task was destroyed
 * but it is pending!"), then:
 *   - a task parked in a suspension (al_await, al_sleep and everything
 *     built on them: combinators, timeouts, locks, queues, ...) is resumed
 *     once, from al_loop_close, and that suspension returns
 *     AL_ELOOPCLOSING; every later suspension returns AL_ELOOPCLOSING at
 *     once, without suspending (an await of a future already done returns
 *     its status, as always), so the body's cleanup runs to its end and
 *     releases what it holds. Meanwhile al_current_task() is the task and
 *     al_get_running_loop() its loop; al_task_new on that loop fails with
 *     AL_ELOOPCLOSED and al_loop_close with AL_ELOOPRUNNING.
 *   - a task that never ran is dropped without running (as CPython closes
 *     a never-started coroutine).
 *   - a task that keeps suspending (more than 100000 suspensions after the
 *     close began: a retry loop would never end) is taken to ignore the
 *     close, as CPython reports a coroutine that ignores GeneratorExit: its
 *     stack is dropped without further unwinding and "Task ignored loop
 *     close" is reported (error AL_ELOOPCLOSING). What its frames held is
 *     released only where the library guarded it (its own combinators).
 * Every such task ends cancelled with the message "event loop closed",
 * whatever its body returned (a result it stored is released). al_run()
 * cancels leftovers and lets them finish first, which is the way to end
 * tasks with their own outcome.
 *
 * Threads: the loop's thread only.
 */
#ifndef ASYNCLIB_TASK_H
#define ASYNCLIB_TASK_H

#include <asynclib/export.h>
#include <asynclib/future.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The body of a task. Returns 0 (with *result set, or left NULL), or a
 * negative code. */
typedef int (*al_task_fn)(void *arg, void **result);

/* Eager start of one task (al_task_options.eager). */
enum al_eager {
    AL_EAGER_DEFAULT = 0, /* the loop's setting (al_loop_set_eager_tasks) */
    AL_EAGER_ON = 1,      /* eager, whatever the loop's setting */
    AL_EAGER_OFF = 2      /* lazy (first step in the next iteration), idem */
};

/* Options of al_task_new. Zero-initialised (`al_task_options o = {0}`, or
 * any designated initialiser that leaves a field out) means the default of
 * every field.
 *
 * Memory: a task's stack is reserved, and its pages cost memory only once
 * touched. Code compiled with -fstack-clash-protection (this project's
 * builds, and the default of some distributions' compilers) touches every
 * page of a large local array when its function is entered: a 64 KiB
 * buffer on a task's stack then costs 64 KiB per task at once, even while
 * the task is parked. Put big buffers on the heap (asyncio-echo's streams
 * server went from 70 KB to 9 KB per idle connection that way). */
typedef struct al_task_options {
    const char *name;          /* copied; NULL -> "Task-N" */
    size_t stack_size;         /* bytes; 0 -> default (256 KiB); else 16 KiB .. 1 GiB */
    int eager;                 /* an enum al_eager value; 0: the loop's setting */
    al_value_dtor result_dtor; /* destructor for the task's result value, or NULL */
    unsigned flags;            /* AL_TASK_* flags below, or 0 */
} al_task_options;

/* All defaults: the same as zero. */
#define AL_TASK_OPTIONS_DEFAULT                                                                    \
    {                                                                                              \
        NULL, 0, AL_EAGER_DEFAULT, NULL, 0                                                         \
    }

/* Flags of al_task_options. */
enum {
    /* Run on the thread's shared stack: while parked, the task keeps only
     * its live frames (copied to the heap, a few hundred bytes) instead of
     * a stack of its own, so a million parked tasks fit in a few hundred
     * MiB. Cost: a memcpy of the frames at each switch. Caveat: while the
     * task is parked its locals live elsewhere, so a pointer to one of its
     * locals handed to anyone else (another task, a callback, a future's
     * value) is invalid until it runs again. The library itself never
     * keeps such a pointer across a suspension: its calls (timeout scopes
     * on the stack included) work the same in both modes. stack_size must be 0 or at
     * most 256 KiB. Where unsupported (ucontext builds, sanitizers) the task
     * gets a private stack. */
    AL_TASK_SHARED_STACK = 1u
};

/* Creates a task running fn(arg, ...) on loop; opts may be NULL. Its first
 * step runs in the next iteration, or at once inside this call for an eager
 * task on a running loop (a task that never suspends is then already done
 * when this returns). out may be NULL (the loop keeps the task until done).
 * Errors: -EINVAL (NULL loop/fn, stack size out of range, unknown flags,
 * an eager value outside enum al_eager),
 * AL_ELOOPCLOSED, AL_EWRONGTHREAD, -ENOMEM; nothing is created on error. */
AL_API int al_task_new(al_loop *loop, al_task_fn fn, void *arg, const al_task_options *opts,
                       al_task **out);

/* The task as a future (same object, no new reference). */
AL_API al_future *al_task_future(al_task *t);
/* The future as a task, or NULL if f is not a task. */
AL_API al_task *al_future_task(al_future *f);
AL_API void al_task_unref(al_task *t);

/* Requests cancellation (message copied, may be NULL). Returns 1, or 0 if
 * the task is already done. */
AL_API int al_task_cancel(al_task *t, const char *message);
/* Number of pending cancellation requests (it stops counting at INT_MAX). */
AL_API int al_task_cancelling(const al_task *t);
/* Decrements the count (not below 0) and returns the new value; at 0 a
 * cancellation not yet delivered is withdrawn. */
AL_API int al_task_uncancel(al_task *t);

/* Name: "Task-N" by default. Borrowed while t lives. */
AL_API const char *al_task_name(const al_task *t);
AL_API int al_task_set_name(al_task *t, const char *name);

/* The task whose step is running on this thread, or NULL. Borrowed. */
AL_API al_task *al_current_task(void);
/* Fills out[0..max) with the loop's not-done tasks (borrowed) and returns
 * how many there are (may exceed max). */
AL_API size_t al_loop_all_tasks(al_loop *loop, al_task **out, size_t max);

/* A task factory (asyncio's set_task_factory): when set, al_task_new(loop,
 * fn, arg, opts, out) calls factory(loop, fn, arg, opts, &task, user),
 * which must create the task, typically by calling al_task_new itself
 * (calls from inside the factory create the task directly) with adjusted
 * options, and may instrument it; it returns 0 and a task reference in
 * *task, or a negative code that al_task_new returns. */
typedef int (*al_task_factory_fn)(al_loop *loop, al_task_fn fn, void *arg,
                                  const al_task_options *opts, al_task **task, void *user);
/* Sets the loop's factory; NULL restores the plain al_task_new. */
AL_API int al_loop_set_task_factory(al_loop *loop, al_task_factory_fn factory, void *user);

/* Loop-wide default for eager start (asyncio's eager_task_factory). */
AL_API int al_loop_set_eager_tasks(al_loop *loop, bool eager);

/* ---- suspending (inside a task only) -------------------------------------- */

/* Suspends the current task until f is done; returns f's status as
 * al_future_error() (0 when f has a result: read it with
 * al_future_result). Returns AL_ECANCELLED if the task is cancelled
 * meanwhile (f is then cancelled too, as in asyncio). Errors without
 * suspending: AL_ENOTINTASK outside a task, AL_EWRONGLOOP for another
 * loop's future, AL_EINVALIDSTATE when a task awaits itself, -EINVAL. */
AL_API int al_await(al_future *f);

/* Suspends for delay seconds (<= 0: exactly one loop iteration;
 * AL_FOREVER: until cancelled). 0, or AL_ECANCELLED; -EINVAL for NaN;
 * AL_ENOTINTASK outside a task. */
AL_API int al_sleep(double delay);

/* ---- holds: what a frame keeps across a suspension ------------------------
 *
 * A call that keeps a resource across a suspension (a reference, a timer,
 * a socket) releases it itself once the suspension returns, however it
 * returns: a loop close resumes the task with AL_ELOOPCLOSING, so the
 * frame unwinds through that same code. Only a frame that never returns
 * loses what it kept: a task that ignores the close is dropped without
 * unwinding. For that case, and only for it, the call registers the
 * resource as a hold of the running task before it suspends and takes the
 * hold back when it resumes:
 *
 *     bool held = al_task_hold(t, release, res) == 0; // else unguarded
 *     rc = al_await(f);
 *     if (held)
 *         al_task_unhold(t, release, res);            // res is ours again
 *     ... release res as usual ...
 *
 * A task that ends with holds left (its frame never took them back) calls
 * each release(arg) as it ends, latest first, before its done-callbacks
 * are scheduled. Every blocking call of the library (timeout scopes,
 * gather_wait, wait, TaskGroup, and the I/O layer's) follows this rule.
 * A hold costs no allocation while the task has fewer than two
 * done-callbacks. Threads: the loop's thread. */
typedef void (*al_release_fn)(void *arg);

/* Registers release(arg) as a hold of t (release must not be NULL).
 * 0, -EINVAL, -ENOMEM, AL_EINVALIDSTATE if t is already done. */
AL_API int al_task_hold(al_task *t, al_release_fn release, void *arg);
/* Takes a hold back without calling release: true if it was registered
 * (arg is the caller's again), false if not (t ended and released it, or
 * it never was). */
AL_API bool al_task_unhold(al_task *t, al_release_fn release, void *arg);

/* ---- asyncio.run ------------------------------------------------------------ */

/* Runs fn(arg) as the main task of a new real-clock loop, until it is done;
 * then cancels the tasks left, waits for them, shuts the executor down and
 * frees the loop. Returns the main task's status; *result (may be NULL)
 * receives its result value, owned by the caller. AL_ELOOPRUNNING inside a
 * running loop.
 *
 * Ctrl+C, as asyncio.Runner: while the main task runs, the first SIGINT
 * cancels it (with the message "interrupted") and al_run returns -EINTR if
 * it ended cancelled; a second SIGINT ends the process the default way.
 * This holds only when SIGINT has its default disposition and is not
 * blocked when al_run starts (a program with its own handler keeps it);
 * SIGINT is then blocked in the calling thread, and in threads it creates,
 * until the main task is done. Call from the thread that should own the
 * loop; one al_run per thread. */
AL_API int al_run(al_task_fn fn, void *arg, void **result);

/* al_run on a loop the caller made (asyncio.run(main, loop_factory=...),
 * asyncio.Runner): any implementation, a virtual loop for tests included,
 * with the caller's settings (debug, exception handler, task factory,
 * eager tasks, executor workers). Runs fn(arg) as its main task with the
 * same Ctrl+C handling, cancels and waits for the tasks left, shuts the
 * executor down and closes the loop; the loop stays the caller's (free it
 * with al_loop_free; al_loop_get_data etc. still work). Returns what al_run
 * returns. Refusals leave the loop untouched: -EINVAL (NULL loop or fn),
 * AL_ELOOPCLOSED, AL_ELOOPRUNNING (this or another loop runs on this
 * thread), and the errors of al_task_new (-ENOMEM, AL_EWRONGTHREAD, or
 * those of the loop's task factory). */
AL_API int al_run_on(al_loop *loop, al_task_fn fn, void *arg, void **result);

#ifdef __cplusplus
}
#endif
#endif

/* Future: the one thing everything waits on.
 *
 * A future is pending, then exactly once done: with a result (a void *
 * value), with an error (a negative code), or cancelled (with an optional
 * message). Done-callbacks are never run inline: completing the future
 * queues each one with call_soon, in registration order (also when added to
 * an already-done future).
 *
 * Ownership: futures are reference-counted; al_future_new() returns one
 * reference, al_future_ref/unref add and drop one. A task awaiting a future
 * holds its own reference meanwhile. The result value belongs to the future
 * once set: its destructor (if given) runs when the future is freed, unless
 * al_future_take_result() moved it out. An error that nobody retrieved
 * (al_future_result, al_future_error, al_await, or a cancel attempt, as in
 * asyncio) is reported to the loop's exception handler when the future is
 * freed; the handler sees the future but must not keep a reference to it.
 * Each queued done-callback holds a reference until it has run, so dropping
 * yours right after completing a future is safe. Freeing a future that
 * still has done-callbacks drops them (they never run). A future may
 * outlive its loop (al_loop_free): it can still be read and completed, but
 * callbacks can no longer be scheduled (reported instead).
 *
 * Threads: the loop's thread only (use al_call_soon_threadsafe to complete
 * a future from another thread).
 */
#ifndef ASYNCLIB_FUTURE_H
#define ASYNCLIB_FUTURE_H

#include <asynclib/export.h>
#include <asynclib/loop.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*al_value_dtor)(void *value);
/* A done-callback: runs in a later loop iteration with the future done.
 * A negative return is reported to the exception handler. */
typedef int (*al_done_fn)(al_future *f, void *arg);

/* A pending future bound to loop. -EINVAL, AL_ELOOPCLOSED, -ENOMEM. */
AL_API int al_future_new(al_loop *loop, al_future **out);
/* Adds a reference; returns f. */
AL_API al_future *al_future_ref(al_future *f);
/* Drops a reference; NULL is ignored. */
AL_API void al_future_unref(al_future *f);

AL_API al_loop *al_future_loop(const al_future *f);
AL_API bool al_future_done(const al_future *f);
AL_API bool al_future_cancelled(const al_future *f);

/* Completes f with value (owned by f from now on; dtor may be NULL).
 * AL_EINVALIDSTATE if f is done (the value is not taken: the caller keeps
 * it); -EINVAL if f is NULL or a task (tasks complete themselves). */
AL_API int al_future_set_result(al_future *f, void *value, al_value_dtor dtor);
/* Completes f with error (< 0, not AL_ECANCELLED: use al_future_cancel).
 * AL_EINVALIDSTATE if done; -EINVAL for a bad code, NULL or a task. */
AL_API int al_future_set_error(al_future *f, int error);
/* Requests the cancellation of f (message copied, may be NULL); returns 1
 * if requested, 0 if not. Each kind of future has its own cancel, as in
 * asyncio (Future.cancel, Task.cancel, _GatheringFuture.cancel):
 *   - a plain future (al_future_new, al_shield's outer, ...) is cancelled
 *     at once if pending (1); 0 if it was already done (then its error, if
 *     any, counts as retrieved);
 *   - a task: al_task_cancel() (the task ends later, when its body returns);
 *   - a gather future (al_gather): its children are cancelled, it ends when
 *     they report (see al_gather).
 * So after a 1, al_future_cancelled(f) is true at once only for a plain
 * future. */
AL_API int al_future_cancel(al_future *f, const char *message);

/* 0 and *value (borrowed: valid while f lives) when f has a result; its
 * error; AL_ECANCELLED; AL_EINVALIDSTATE while pending. Marks an error as
 * retrieved. value may be NULL. */
AL_API int al_future_result(al_future *f, void **value);
/* Like al_future_result, but moves the value out: its destructor will not
 * run, the caller owns it. */
AL_API int al_future_take_result(al_future *f, void **value);
/* asyncio's exception(): 0 (result), the error, AL_ECANCELLED, or
 * AL_EINVALIDSTATE while pending; marks the error retrieved. */
AL_API int al_future_error(al_future *f);
/* The cancellation message, or NULL. Borrowed: valid while f lives. */
AL_API const char *al_future_cancel_message(const al_future *f);

/* Makes a done future pending again, for its owner to wait on anew (a
 * stream reader reuses one for every read it waits on, instead of a new
 * future each time). Only the caller may hold f: -EBUSY while any other
 * reference exists (a task awaiting it, a queued done-callback), so
 * nothing that saw f done sees it pending. Before the reset f is released
 * as by its last al_future_unref: its value's destructor runs, an error
 * nobody retrieved is reported to the exception handler, the cancellation
 * message is freed. Errors (f unchanged): AL_EINVALIDSTATE if f is
 * pending; -EINVAL for NULL or a future that is not a plain one (a task, a
 * gather future); AL_ELOOPCLOSED if its loop is closed (as al_future_new).
 * Loop thread only. */
AL_API int al_future_reset(al_future *f);

/* Registers fn(f, arg), FIFO. -EINVAL for NULL; -ENOMEM. */
AL_API int al_future_add_done_callback(al_future *f, al_done_fn fn, void *arg);
/* Unregisters every (fn, arg) pair equal to these; returns how many (0
 * once the future is done: its callbacks are already scheduled). Safe to
 * call from a done-callback, on any future. */
AL_API int al_future_remove_done_callback(al_future *f, al_done_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif

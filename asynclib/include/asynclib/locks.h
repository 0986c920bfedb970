/* Synchronisation primitives: asyncio's Lock, Event, Condition, Semaphore,
 * BoundedSemaphore and Barrier.
 *
 * Semantics are asyncio's (3.13), including its fairness and cancellation
 * guarantees: waiters are served FIFO; a waiter that was woken but is
 * cancelled before it runs passes its wake-up on (lock, semaphore unit,
 * condition notification), so no wake-up is ever lost; a newcomer never
 * overtakes a woken waiter.
 *
 * Every object belongs to the loop it was created with. Calls that may
 * suspend (acquire, wait, wait_for, lock_with) must run inside a task of
 * that loop: AL_ENOTINTASK outside any task, AL_EWRONGLOOP in a task of
 * another loop; they return AL_ECANCELLED when the calling task is
 * cancelled while suspended (the task may go on or return it) and -ENOMEM
 * on allocation failure of a new waiter (waiter nodes are recycled, so a
 * steady-state wait allocates nothing). The other calls never suspend and
 * may also be made from plain callbacks.
 *
 * Freeing: *_free() on an object that a task is still waiting on (or about
 * to return from a wait on) fails with AL_EINVALIDSTATE and frees nothing:
 * the waiting task still points at it. Once the loop is closed (its parked
 * tasks unwound and left, see task.h) freeing always succeeds. NULL is
 * ignored (returns 0).
 *
 * Threads: the loop's thread only.
 */
#ifndef ASYNCLIB_LOCKS_H
#define ASYNCLIB_LOCKS_H

#include <asynclib/export.h>
#include <asynclib/loop.h>

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct al_lock al_lock;
typedef struct al_event al_event;
typedef struct al_condition al_condition;
typedef struct al_semaphore al_semaphore;
typedef struct al_barrier al_barrier;

/* ---- Lock ------------------------------------------------------------------ */
/* A mutual-exclusion lock not owned by any task (any code may release it). */

/* A new unlocked lock, owned by the caller. -EINVAL (NULL), -ENOMEM. */
AL_API int al_lock_new(al_loop *loop, al_lock **out);
/* Frees the lock (locked or not). AL_EINVALIDSTATE while tasks wait on it. */
AL_API int al_lock_free(al_lock *lock);
/* Acquires the lock, waiting FIFO behind earlier waiters. 0 or the
 * suspending-call errors above; on error the lock is not acquired. */
AL_API int al_lock_acquire(al_lock *lock);
/* Releases the lock and wakes the first waiter. AL_EINVALIDSTATE if the
 * lock is not locked (asyncio's RuntimeError); -EINVAL for NULL. */
AL_API int al_lock_release(al_lock *lock);
/* Whether the lock is held (a woken waiter that has not run yet does not
 * hold it yet, but no newcomer can take it before that waiter). */
AL_API bool al_lock_locked(const al_lock *lock);
/* Scoped use ("async with lock"): acquires, calls fn(arg), releases
 * whatever fn returns, and returns fn's result; returns the acquire error
 * without calling fn if the lock could not be acquired. fn runs inside the
 * calling task and may suspend. */
AL_API int al_lock_with(al_lock *lock, int (*fn)(void *arg), void *arg);

/* ---- Event ------------------------------------------------------------------ */
/* A flag that tasks wait for. */

/* A new event, not set. -EINVAL, -ENOMEM. */
AL_API int al_event_new(al_loop *loop, al_event **out);
/* AL_EINVALIDSTATE while tasks wait on it. */
AL_API int al_event_free(al_event *ev);
/* Returns 0 at once if set, else waits until set. Every waiter present at
 * al_event_set() wakes, even if the event is cleared before it runs. */
AL_API int al_event_wait(al_event *ev);
/* Sets the flag and wakes every waiter (they run in a later iteration). */
AL_API int al_event_set(al_event *ev);
/* Clears the flag. */
AL_API int al_event_clear(al_event *ev);
AL_API bool al_event_is_set(const al_event *ev);

/* ---- Condition -------------------------------------------------------------- */
/* A condition variable over a Lock (its own, or one shared by the caller). */

/* lock NULL: the condition creates and owns its lock. Otherwise the
 * condition uses lock (borrowed: it must outlive the condition; several
 * conditions may share it). -EINVAL, AL_EWRONGLOOP (lock of another loop),
 * -ENOMEM. */
AL_API int al_condition_new(al_loop *loop, al_lock *lock, al_condition **out);
/* Frees the condition (and its own lock). AL_EINVALIDSTATE while tasks wait
 * on it or on its own lock. */
AL_API int al_condition_free(al_condition *cond);
/* The underlying lock (borrowed). */
AL_API al_lock *al_condition_lock(al_condition *cond);
/* al_lock_acquire / al_lock_release / al_lock_locked on the lock. */
AL_API int al_condition_acquire(al_condition *cond);
AL_API int al_condition_release(al_condition *cond);
AL_API bool al_condition_locked(const al_condition *cond);
/* Releases the lock, waits to be notified, re-acquires the lock. However
 * it returns (notified: 0; cancelled before or after the notification or
 * while re-acquiring: AL_ECANCELLED) the lock is held again -- except on
 * -ENOMEM while re-acquiring. A notified waiter that is cancelled passes
 * the notification to the next waiter (gh-112202). AL_EINVALIDSTATE
 * without waiting if the lock is not held. */
AL_API int al_condition_wait(al_condition *cond);
/* Waits until pred(arg) returns true: checks it first (a true predicate
 * returns 0 at once, even without the lock), then waits and re-checks after
 * each notification. Errors as al_condition_wait. */
AL_API int al_condition_wait_for(al_condition *cond, bool (*pred)(void *arg), void *arg);
/* Wakes up to n waiters, FIFO (n may exceed the number of waiters).
 * AL_EINVALIDSTATE if the lock is not held; -EINVAL for n < 0. */
AL_API int al_condition_notify(al_condition *cond, int n);
/* Wakes every waiter. AL_EINVALIDSTATE if the lock is not held. */
AL_API int al_condition_notify_all(al_condition *cond);

/* ---- Semaphore, BoundedSemaphore --------------------------------------------- */

/* A semaphore with the given initial value: -EINVAL if value < 0. */
AL_API int al_semaphore_new(al_loop *loop, long value, al_semaphore **out);
/* A bounded semaphore: releasing it above its initial value is -EINVAL. */
AL_API int al_bounded_semaphore_new(al_loop *loop, long value, al_semaphore **out);
/* AL_EINVALIDSTATE while tasks wait on it. */
AL_API int al_semaphore_free(al_semaphore *sem);
/* Takes a unit, waiting FIFO if none is free or others wait already. A
 * unit released while tasks wait is reserved for the first of them; if
 * that task is cancelled before it runs, the unit goes to the next. */
AL_API int al_semaphore_acquire(al_semaphore *sem);
/* Gives a unit back and wakes the first waiter. -EINVAL when a bounded
 * semaphore would exceed its initial value, -EOVERFLOW when the value is
 * LONG_MAX (nothing changes). */
AL_API int al_semaphore_release(al_semaphore *sem);
/* True if an acquire would have to wait: no free unit, or a waiter that is
 * not cancelled exists (even if units are free: FIFO). */
AL_API bool al_semaphore_locked(const al_semaphore *sem);
/* Free units (units reserved for woken waiters are not counted). */
AL_API long al_semaphore_value(const al_semaphore *sem);

/* ---- Barrier ------------------------------------------------------------------ */
/* A barrier for `parties` tasks: filling -> (trip) draining -> filling;
 * reset -> resetting -> filling; abort -> broken (for good). */

/* parties < 1 is -EINVAL. */
AL_API int al_barrier_new(al_loop *loop, int parties, al_barrier **out);
/* AL_EINVALIDSTATE while tasks wait on it. */
AL_API int al_barrier_free(al_barrier *b);
/* Waits until `parties` tasks are waiting, then all pass; *index (may be
 * NULL) receives a distinct value 0..parties-1: the last arrival (which
 * trips the barrier) gets parties-1, the others 0, 1, ... in the order
 * they leave. A waiter cancelled while the barrier fills gives its place up, so
 * the tasks that pass together always get distinct indices (asyncio can
 * hand one out twice: CPython gh-155233). Waits first while the barrier
 * drains or resets.
 * AL_EBROKENBARRIER if the barrier is broken, or reset/aborted while
 * waiting; AL_ECANCELLED (the task no longer counts as waiting). */
AL_API int al_barrier_wait(al_barrier *b, int *index);
/* Back to the empty filling state; current waiters fail with
 * AL_EBROKENBARRIER. Unlike asyncio's coroutine it takes effect at once
 * (it never waits) and may be called from callbacks. */
AL_API int al_barrier_reset(al_barrier *b);
/* Breaks the barrier: current and future waits fail with
 * AL_EBROKENBARRIER (until al_barrier_reset). Never waits. */
AL_API int al_barrier_abort(al_barrier *b);
AL_API int al_barrier_parties(const al_barrier *b);
/* Tasks waiting while filling (0 while draining, resetting, broken). */
AL_API int al_barrier_n_waiting(const al_barrier *b);
AL_API bool al_barrier_broken(const al_barrier *b);

#ifdef __cplusplus
}
#endif
#endif

/* The one hook between the pure loop and a layer that can wait on more
 * than time: the C form of subclassing BaseEventLoop.
 *
 * A loop implementation supplies an operations table and an opaque impl
 * pointer. The pure loop owns the ready queue and the timers and calls
 * ops->wait(timeout) as the only blocking step of every iteration; the I/O
 * loop's wait is a selector's select plus queueing of the ready fd
 * callbacks. All callbacks run on the loop's thread except wakeup.
 *
 * Worked examples: the two pure loops (al_loop_new, al_loop_new_virtual,
 * in asynclib/src/clock.c) are built exactly this way. Their impl holds
 * everything they wait on (a mutex, a condition variable, a woken flag,
 * the virtual clock and its count of work in flight); the core's struct
 * holds none of it. An implementation:
 *   1. allocates its impl (if al_loop_new_with_ops fails, it still owns it);
 *   2. reads it back with al_loop_impl(loop) in every operation;
 *   3. releases what only the loop's thread uses (a selector) in close,
 *      and what wakeup and time still use (the wakeup channel, a lock, the
 *      impl itself) in destroy: wakeup may be called from another thread
 *      after close, until the loop's memory goes.
 */
#ifndef ASYNCLIB_LOOP_OPS_H
#define ASYNCLIB_LOOP_OPS_H

#include <asynclib/loop.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct al_loop_ops {
    const char *name;
    /* Monotonic seconds. */
    double (*time)(al_loop *loop);
    /* Blocks for at most timeout seconds (< 0: until woken; 0: poll) or until
     * wakeup. timeout is never NaN or infinite but may be huge (a timer
     * years away): a wait may cap it and return early, the loop recomputes.
     * Returns 0 or a negative code (reported, the loop goes on). */
    int (*wait)(al_loop *loop, double timeout);
    /* Any thread: makes the current or next wait return promptly. */
    void (*wakeup)(al_loop *loop);
    /* Releases what only the loop's thread uses (a selector); called once,
     * by al_loop_close (also via al_loop_free). May be NULL. time and
     * wakeup must keep working after it (see destroy). */
    void (*close)(al_loop *loop);
    /* Loop thread: work on another thread that will complete a future of
     * this loop began (delta +1) or ended (-1): an executor job. A loop
     * whose clock does not follow real time (the virtual loop) waits in
     * real time while any is in flight. May be NULL (ignored). */
    void (*external)(al_loop *loop, int delta);
    /* Releases the rest of impl once the loop's memory goes (its last
     * reference dropped, after close); nothing calls into ops afterwards.
     * May be NULL. */
    void (*destroy)(al_loop *loop);
} al_loop_ops;

/* A loop driven by ops; impl is the implementation's state, owned by it and
 * released in ops->close and ops->destroy. NULL on ENOMEM or a table without
 * time, wait or wakeup (impl is then still the caller's). ops must outlive
 * the loop (a static table). Members added later go at the end, so a table
 * written for an older version stays valid (use designated initializers). */
al_loop *al_loop_new_with_ops(const al_loop_ops *ops, void *impl);

/* The implementation state given to al_loop_new_with_ops and the
 * operations table. Any thread. */
void *al_loop_impl(const al_loop *loop);
const al_loop_ops *al_loop_get_ops(const al_loop *loop);

#ifdef __cplusplus
}
#endif
#endif

/* The one hook between the pure loop and a layer that can wait on more
 * than time: the C form of subclassing BaseEventLoop.
 *
 * A loop implementation supplies an operations table and an opaque impl
 * pointer. The pure loop owns the ready queue and the timers and calls
 * ops->wait(timeout) as the only blocking step of every iteration; the I/O
 * loop's wait is a selector's select plus queueing of the ready fd
 * callbacks. All callbacks run on the loop's thread except wakeup.
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
     * wakeup. Returns 0 or a negative code (reported, the loop goes on). */
    int (*wait)(al_loop *loop, double timeout);
    /* Any thread: makes the current or next wait return promptly. */
    void (*wakeup)(al_loop *loop);
    /* Releases the implementation's resources; called once, by close. */
    void (*close)(al_loop *loop);
} al_loop_ops;

/* A loop driven by ops; impl is the implementation's state, owned by it and
 * released in ops->close. NULL on ENOMEM or a table without time, wait or
 * wakeup. */
al_loop *al_loop_new_with_ops(const al_loop_ops *ops, void *impl);

/* The implementation state given to al_loop_new_with_ops (NULL for the pure
 * loops) and the operations table. */
void *al_loop_impl(const al_loop *loop);
const al_loop_ops *al_loop_get_ops(const al_loop *loop);

#ifdef __cplusplus
}
#endif
#endif

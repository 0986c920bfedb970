/* Queues: asyncio's Queue, PriorityQueue and LifoQueue, with 3.13's
 * shutdown().
 *
 * Items are void * values that the queue stores and hands back; it never
 * looks at them (a PriorityQueue only passes them to the caller's
 * comparison). NULL is a valid item like any other (the item destructor,
 * if set, is then called with NULL too). Ownership of an item passes to the queue on a successful
 * put and back to the caller on a successful get. Items the queue drops
 * itself (al_queue_shutdown(q, true), al_queue_free) are passed to the item
 * destructor if one was set, else forgotten.
 *
 * maxsize <= 0 means unbounded. put and get wait FIFO; a cancelled get
 * never loses an item (an item reserved for it goes to the next getter) and
 * a cancelled put never inserts.
 *
 * task_done/join count unfinished items: every successful put adds one,
 * every al_queue_task_done removes one, join waits for zero. So a consumer
 * calls al_queue_task_done once for each item it got, whatever happens
 * while it processes the item: a consumer that is cancelled (or fails)
 * while holding an item must still call it, or every join waits forever.
 *
 * Calls that may suspend (put, get, join) must run inside a task of the
 * queue's loop: AL_ENOTINTASK outside any task, AL_EWRONGLOOP in a task of
 * another loop; they return AL_ECANCELLED when the task is cancelled while
 * suspended, -ENOMEM if storage cannot grow. The other calls never suspend
 * and may be used from plain callbacks.
 *
 * Freeing a queue that tasks still wait on fails with AL_EINVALIDSTATE and
 * frees nothing (once the loop is closed it always succeeds: its tasks
 * unwound, see task.h).
 *
 * Threads: the loop's thread only.
 */
#ifndef ASYNCLIB_QUEUES_H
#define ASYNCLIB_QUEUES_H

#include <asynclib/export.h>
#include <asynclib/future.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct al_queue al_queue;

/* Orders a PriorityQueue: negative if a comes out before b, 0 if equal
 * (equal items come out in an unspecified order), positive otherwise. */
typedef int (*al_queue_cmp)(const void *a, const void *b, void *user);

/* A FIFO queue. -EINVAL (NULL), -ENOMEM. */
AL_API int al_queue_new(al_loop *loop, long maxsize, al_queue **out);
/* A LIFO queue (last put, first got). */
AL_API int al_lifo_queue_new(al_loop *loop, long maxsize, al_queue **out);
/* A priority queue: get returns the smallest item under cmp(a, b, user).
 * -EINVAL if cmp is NULL. */
AL_API int al_priority_queue_new(al_loop *loop, long maxsize, al_queue_cmp cmp, void *user,
                                 al_queue **out);
/* Destructor for items the queue drops itself (shutdown(immediate), free). */
AL_API int al_queue_set_item_dtor(al_queue *q, al_value_dtor dtor);
/* Frees the queue and drops its items. AL_EINVALIDSTATE while tasks wait
 * on it. NULL is ignored. */
AL_API int al_queue_free(al_queue *q);

/* Puts item, waiting while the queue is full. AL_EQUEUESHUTDOWN if the
 * queue is (or gets) shut down; on any error item was not inserted. */
AL_API int al_queue_put(al_queue *q, void *item);
/* Puts without waiting: AL_EQUEUEFULL, AL_EQUEUESHUTDOWN, -ENOMEM. */
AL_API int al_queue_put_nowait(al_queue *q, void *item);
/* Removes and returns an item in *item, waiting while the queue is empty.
 * AL_EQUEUESHUTDOWN once the queue is shut down and empty. */
AL_API int al_queue_get(al_queue *q, void **item);
/* Gets without waiting: AL_EQUEUEEMPTY (AL_EQUEUESHUTDOWN if shut down). */
AL_API int al_queue_get_nowait(al_queue *q, void **item);

/* One got item is fully processed. "task" here means a work item, not an
 * al_task: the name is asyncio's (Queue.task_done), kept on purpose. Call
 * it once per item got, also when processing it failed or was cancelled
 * (see above). -EINVAL if called more times than items were put (asyncio's
 * ValueError). */
AL_API int al_queue_task_done(al_queue *q);
/* Waits until every item put has been marked done (at once if none). */
AL_API int al_queue_join(al_queue *q);

/* Shuts the queue down: puts fail with AL_EQUEUESHUTDOWN from now on, gets
 * fail once the queue is empty; blocked putters and getters wake and
 * re-check. immediate: the items left are dropped (item destructor) and
 * each counts as done, so join returns unless an item is still being
 * processed. Idempotent. */
AL_API int al_queue_shutdown(al_queue *q, bool immediate);
AL_API bool al_queue_is_shutdown(const al_queue *q);

AL_API size_t al_queue_qsize(const al_queue *q);
/* maxsize as given (<= 0: unbounded). */
AL_API long al_queue_maxsize(const al_queue *q);
AL_API bool al_queue_empty(const al_queue *q);
/* Whether a put would wait (never for an unbounded queue). */
AL_API bool al_queue_full(const al_queue *q);

#ifdef __cplusplus
}
#endif
#endif

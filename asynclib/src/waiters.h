/* The waiter queue shared by every synchronisation primitive and queue.
 *
 * A FIFO of parked tasks. Each waiter is a node that embeds a plain
 * al_future (first member, so the future's last unref frees the node); the
 * parked task al_await()s it. Nodes are recycled through a small FIFO free
 * list per queue, so a wait allocates nothing once the queue is warm: a
 * node is reused only when the queue holds its last reference (the loop's
 * done-callback handle, which runs the woken task, releases its own only
 * after that task step returns).
 *
 * Wake-ups follow asyncio: waking a waiter completes its future (the task
 * runs one iteration later); the node stays linked until its task runs and
 * unlinks it, so a queue always knows every node it lent out (and can free
 * them if the loop closes under parked tasks). A waiter that is woken and then
 * cancelled before it runs is told so (*woken), so the primitive can pass
 * the wake-up on: no wake-up is ever lost.
 *
 * Loop thread only.
 */
#ifndef ASYNCLIB_WAITERS_H
#define ASYNCLIB_WAITERS_H

#include "future_internal.h"
#include "list.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct al_waiter al_waiter;
struct al_waiter {
    al_future fut; /* first: the future's last unref frees the node */
    al_link link;  /* in q->waiters while linked, else in q->pool */
    bool linked;
};

typedef struct al_waitq {
    al_loop *loop;
    al_list waiters; /* linked waiters, oldest first */
    al_list pool;    /* free nodes, oldest first */
} al_waitq;

void al__waitq_init(al_waitq *q, al_loop *loop);
/* Releases the free list and any node still linked (only possible once the
 * loop closed and dropped the parked tasks' stacks). */
void al__waitq_destroy(al_waitq *q);

/* 0 if the caller runs inside a task of loop; AL_ENOTINTASK, AL_EWRONGLOOP. */
int al__check_task(al_loop *loop);

/* Parks the current task at the tail until it is woken. Returns 0 when
 * woken, AL_ECANCELLED when the task was cancelled (*woken then says
 * whether a wake-up had already been delivered to it), -ENOMEM (*woken
 * false: nothing was parked). The waiter is unlinked on return in every
 * case. Call al__check_task first. */
int al__waitq_wait(al_waitq *q, bool *woken);

/* Wakes the head waiter if it is still pending (asyncio Lock's
 * _wake_up_first: a head already woken or cancelled will act itself). */
bool al__waitq_wake_first(al_waitq *q);
/* Wakes the first pending waiter, skipping woken and cancelled ones (they
 * are on their way: asyncio's queues pop them, which is the same to every
 * observer). Returns whether one was woken. */
bool al__waitq_wake_next(al_waitq *q);
/* Wakes up to n pending waiters, FIFO; returns how many. */
size_t al__waitq_wake_n(al_waitq *q, size_t n);
/* Whether a linked waiter is not cancelled (woken or still waiting). */
bool al__waitq_has_live(const al_waitq *q);
/* Linked waiters (including woken and cancelled ones not yet run). */
static inline size_t al__waitq_len(const al_waitq *q)
{
    return q->waiters.len;
}

#endif

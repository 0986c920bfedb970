/* The waiter queue: FIFO of parked tasks, hand-off-on-cancel support, no
 * allocation per wait once warm. See waiters.h. */
#include "waiters.h"

#include <asynclib/error.h>
#include <asynclib/task.h>

#include <errno.h>
#include <stdlib.h>

/* Free nodes kept per queue: enough for a burst, bounded so one spike of
 * waiters does not pin memory for the primitive's lifetime. */
#define AL_WAITQ_POOL_MAX 256

void al__waitq_init(al_waitq *q, al_loop *loop)
{
    *q = (al_waitq){.loop = loop};
}

static al_waiter *waiter_of(al_link *link)
{
    return link ? AL_CONTAINER(link, al_waiter, link) : NULL;
}

static void unlink_waiter(al_waitq *q, al_waiter *w)
{
    al__list_remove(&q->waiters, &w->link);
    w->linked = false;
}

static void link_tail(al_waitq *q, al_waiter *w)
{
    al__list_push_back(&q->waiters, &w->link);
    w->linked = true;
}

void al__waitq_destroy(al_waitq *q)
{
    al_waiter *w;
    while ((w = waiter_of(q->waiters.head))) {
        unlink_waiter(q, w);
        al_future_unref(&w->fut);
    }
    while ((w = waiter_of(al__list_pop_front(&q->pool))))
        al_future_unref(&w->fut);
}

int al__check_task(al_loop *loop)
{
    al_task *t = al_current_task();
    if (!t)
        return AL_ENOTINTASK;
    if (al_future_loop(al_task_future(t)) != loop)
        return AL_EWRONGLOOP;
    return 0;
}

static al_waiter *waiter_get(al_waitq *q)
{
    al_waiter *w = waiter_of(q->pool.head);
    /* Oldest first: by now the loop has released its reference. */
    if (w && w->fut.refs == 1) {
        al__list_remove(&q->pool, &w->link);
        al__future_reset(&w->fut); /* a pending future again */
        return w;
    }
    /* calloc, not al__obj_alloc: that cache holds blocks of a future's
     * size. When the last unref frees a node it lands in that cache, which
     * is fine: a node is larger than the future it will be reused as. */
    w = calloc(1, sizeof *w);
    if (w)
        al__future_init(&w->fut, q->loop, &al__future_plain);
    return w;
}

static void waiter_put(al_waitq *q, al_waiter *w)
{
    if (q->pool.len >= AL_WAITQ_POOL_MAX) {
        al_future_unref(&w->fut);
        return;
    }
    al__list_push_back(&q->pool, &w->link);
}

int al__waitq_wait(al_waitq *q, bool *woken)
{
    *woken = false;
    al_waiter *w = waiter_get(q);
    if (!w)
        return -ENOMEM;
    link_tail(q, w);
    int rc = al_await(&w->fut);
    if (w->linked)
        unlink_waiter(q, w);
    *woken = w->fut.state == AL_RESULT;
    waiter_put(q, w);
    return rc;
}

static bool pending(const al_waiter *w)
{
    return w->fut.state == AL_PENDING;
}

bool al__waitq_wake_first(al_waitq *q)
{
    al_waiter *head = waiter_of(q->waiters.head);
    if (!head || !pending(head))
        return false;
    al__future_finish(&head->fut, AL_RESULT, 0, NULL, NULL, NULL);
    return true;
}

size_t al__waitq_wake_n(al_waitq *q, size_t n)
{
    size_t woken = 0;
    for (al_link *l = q->waiters.head; l && woken < n; l = l->next) {
        al_waiter *w = waiter_of(l);
        if (pending(w)) {
            al__future_finish(&w->fut, AL_RESULT, 0, NULL, NULL, NULL);
            woken++;
        }
    }
    return woken;
}

bool al__waitq_wake_next(al_waitq *q)
{
    return al__waitq_wake_n(q, 1) == 1;
}

bool al__waitq_has_live(const al_waitq *q)
{
    for (al_link *l = q->waiters.head; l; l = l->next) {
        if (waiter_of(l)->fut.state != AL_CANCELLED)
            return true;
    }
    return false;
}

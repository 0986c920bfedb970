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

static void unlink_waiter(al_waitq *q, al_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
    q->len--;
}

static void link_tail(al_waitq *q, al_waiter *w)
{
    w->prev = q->tail;
    w->next = NULL;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->linked = true;
    q->len++;
}

void al__waitq_destroy(al_waitq *q)
{
    while (q->head) {
        al_waiter *w = q->head;
        unlink_waiter(q, w);
        al_future_unref(&w->fut);
    }
    while (q->pool_head) {
        al_waiter *w = q->pool_head;
        q->pool_head = w->next;
        al_future_unref(&w->fut);
    }
    q->pool_tail = NULL;
    q->npool = 0;
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
    al_waiter *w = q->pool_head;
    /* Oldest first: by now the loop has released its reference. */
    if (w && w->fut.refs == 1) {
        q->pool_head = w->next;
        if (!q->pool_head)
            q->pool_tail = NULL;
        q->npool--;
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
    if (q->npool >= AL_WAITQ_POOL_MAX) {
        al_future_unref(&w->fut);
        return;
    }
    w->next = NULL;
    if (q->pool_tail)
        q->pool_tail->next = w;
    else
        q->pool_head = w;
    q->pool_tail = w;
    q->npool++;
}

int al__waitq_wait(al_waitq *q, bool *woken)
{
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
    if (!q->head || !pending(q->head))
        return false;
    al__future_finish(&q->head->fut, AL_RESULT, 0, NULL, NULL, NULL);
    return true;
}

size_t al__waitq_wake_n(al_waitq *q, size_t n)
{
    size_t woken = 0;
    for (al_waiter *w = q->head; w && woken < n; w = w->next) {
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
    for (const al_waiter *w = q->head; w; w = w->next) {
        if (w->fut.state != AL_CANCELLED)
            return true;
    }
    return false;
}

/* Queue, LifoQueue, PriorityQueue: asyncio's queues.py (3.13, with
 * shutdown) over the shared waiter queue. Waking skips getters and putters
 * already woken, as asyncio pops them from its deques; a woken waiter that
 * is cancelled before it runs wakes the next one, so an item (or a free
 * slot) is never left unclaimed. */
#include "waiters.h"

#include <asynclib/error.h>
#include <asynclib/locks.h>
#include <asynclib/queues.h>
#include <asynclib/task.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum queue_kind { Q_FIFO, Q_LIFO, Q_PRIORITY };

struct al_queue {
    al_loop *loop;
    enum queue_kind kind;
    long maxsize;
    /* Storage: a ring (FIFO) or a plain array used as a stack (LIFO) or a
     * binary min-heap (priority); both of the latter keep head == 0. */
    void **items;
    size_t head, len, cap; /* cap is 0 or a power of two */
    al_queue_cmp cmp;
    void *cmp_user;
    al_value_dtor item_dtor;
    al_waitq getters, putters;
    size_t unfinished;
    al_event *finished; /* set while unfinished == 0 */
    bool shutdown;
    unsigned busy;
};

static int queue_new(al_loop *loop, enum queue_kind kind, long maxsize, al_queue_cmp cmp,
                     void *user, al_queue **out)
{
    if (!loop || !out)
        return -EINVAL;
    al_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    if (al_event_new(loop, &q->finished) < 0) {
        free(q);
        return -ENOMEM;
    }
    al_event_set(q->finished);
    q->loop = loop;
    q->kind = kind;
    q->maxsize = maxsize;
    q->cmp = cmp;
    q->cmp_user = user;
    al__waitq_init(&q->getters, loop);
    al__waitq_init(&q->putters, loop);
    *out = q;
    return 0;
}

int al_queue_new(al_loop *loop, long maxsize, al_queue **out)
{
    return queue_new(loop, Q_FIFO, maxsize, NULL, NULL, out);
}

int al_lifo_queue_new(al_loop *loop, long maxsize, al_queue **out)
{
    return queue_new(loop, Q_LIFO, maxsize, NULL, NULL, out);
}

int al_priority_queue_new(al_loop *loop, long maxsize, al_queue_cmp cmp, void *user, al_queue **out)
{
    if (!cmp)
        return -EINVAL;
    return queue_new(loop, Q_PRIORITY, maxsize, cmp, user, out);
}

int al_queue_set_item_dtor(al_queue *q, al_value_dtor dtor)
{
    if (!q)
        return -EINVAL;
    q->item_dtor = dtor;
    return 0;
}

/* ---- storage ------------------------------------------------------------------- */

static void *slot_get(const al_queue *q, size_t i)
{
    return q->items[(q->head + i) & (q->cap - 1)];
}

static void slot_set(al_queue *q, size_t i, void *item)
{
    q->items[(q->head + i) & (q->cap - 1)] = item;
}

/* Doubles the storage, unrolling the ring so head becomes 0. */
static int grow(al_queue *q)
{
    size_t cap = q->cap ? q->cap * 2 : 16;
    void **items = malloc(cap * sizeof *items);
    if (!items)
        return -ENOMEM;
    for (size_t i = 0; i < q->len; i++)
        items[i] = slot_get(q, i);
    free(q->items);
    q->items = items;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static bool before(const al_queue *q, size_t a, size_t b)
{
    return q->cmp(q->items[a], q->items[b], q->cmp_user) < 0;
}

static void swap(al_queue *q, size_t a, size_t b)
{
    void *t = q->items[a];
    q->items[a] = q->items[b];
    q->items[b] = t;
}

static void heap_up(al_queue *q, size_t i)
{
    while (i > 0 && before(q, i, (i - 1) / 2)) {
        swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(al_queue *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->len && before(q, l, m))
            m = l;
        if (r < q->len && before(q, r, m))
            m = r;
        if (m == i)
            return;
        swap(q, i, m);
        i = m;
    }
}

static int store_put(al_queue *q, void *item)
{
    if (q->len == q->cap && grow(q) < 0)
        return -ENOMEM;
    slot_set(q, q->len++, item);
    if (q->kind == Q_PRIORITY)
        heap_up(q, q->len - 1);
    return 0;
}

static void *store_get(al_queue *q)
{
    void *item;
    if (q->kind == Q_FIFO) {
        item = slot_get(q, 0);
        q->head = (q->head + 1) & (q->cap - 1);
        q->len--;
    } else if (q->kind == Q_LIFO) {
        item = q->items[--q->len];
    } else {
        item = q->items[0];
        q->items[0] = q->items[--q->len];
        heap_down(q, 0);
    }
    return item;
}

static void drop_items(al_queue *q)
{
    while (q->len) {
        void *item = store_get(q);
        if (q->item_dtor)
            q->item_dtor(item);
    }
}

int al_queue_free(al_queue *q)
{
    if (!q)
        return 0;
    if (q->busy && !al_loop_is_closed(q->loop))
        return AL_EINVALIDSTATE;
    drop_items(q);
    free(q->items);
    al__waitq_destroy(&q->getters);
    al__waitq_destroy(&q->putters);
    al_event_free(q->finished);
    free(q);
    return 0;
}

/* ---- state --------------------------------------------------------------------- */

size_t al_queue_qsize(const al_queue *q)
{
    return q ? q->len : 0;
}

long al_queue_maxsize(const al_queue *q)
{
    return q ? q->maxsize : 0;
}

bool al_queue_empty(const al_queue *q)
{
    return !q || q->len == 0;
}

bool al_queue_full(const al_queue *q)
{
    return q && q->maxsize > 0 && q->len >= (size_t)q->maxsize;
}

bool al_queue_is_shutdown(const al_queue *q)
{
    return q && q->shutdown;
}

/* ---- put / get ------------------------------------------------------------------ */

int al_queue_put_nowait(al_queue *q, void *item)
{
    if (!q)
        return -EINVAL;
    if (q->shutdown)
        return AL_EQUEUESHUTDOWN;
    if (al_queue_full(q))
        return AL_EQUEUEFULL;
    int rc = store_put(q, item);
    if (rc < 0)
        return rc;
    q->unfinished++;
    al_event_clear(q->finished);
    al__waitq_wake_next(&q->getters);
    return 0;
}

int al_queue_get_nowait(al_queue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    if (q->len == 0)
        return q->shutdown ? AL_EQUEUESHUTDOWN : AL_EQUEUEEMPTY;
    *item = store_get(q);
    al__waitq_wake_next(&q->putters);
    return 0;
}

/* Parks on ws (getters or putters) once. On an error, a wake-up we were
 * given but cannot use goes to the next waiter when `can_pass` (there is
 * still an item, or a free slot). */
static int park(al_queue *q, al_waitq *ws, bool (*can_pass)(const al_queue *))
{
    q->busy++;
    bool woken;
    int rc = al__waitq_wait(ws, &woken);
    if (rc < 0 && woken && can_pass(q))
        al__waitq_wake_next(ws);
    q->busy--;
    return rc;
}

static bool has_room(const al_queue *q)
{
    return !al_queue_full(q);
}

static bool has_item(const al_queue *q)
{
    return q->len > 0;
}

int al_queue_put(al_queue *q, void *item)
{
    if (!q)
        return -EINVAL;
    int rc = al__check_task(q->loop);
    if (rc < 0)
        return rc;
    while (al_queue_full(q)) {
        if (q->shutdown)
            return AL_EQUEUESHUTDOWN;
        rc = park(q, &q->putters, has_room);
        if (rc < 0)
            return rc;
    }
    return al_queue_put_nowait(q, item);
}

int al_queue_get(al_queue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    int rc = al__check_task(q->loop);
    if (rc < 0)
        return rc;
    while (q->len == 0) {
        if (q->shutdown)
            return AL_EQUEUESHUTDOWN;
        rc = park(q, &q->getters, has_item);
        if (rc < 0)
            return rc;
    }
    return al_queue_get_nowait(q, item);
}

/* ---- task_done / join / shutdown ------------------------------------------------- */

int al_queue_task_done(al_queue *q)
{
    if (!q || q->unfinished == 0)
        return -EINVAL;
    if (--q->unfinished == 0)
        al_event_set(q->finished);
    return 0;
}

int al_queue_join(al_queue *q)
{
    if (!q)
        return -EINVAL;
    int rc = al__check_task(q->loop);
    if (rc < 0 || q->unfinished == 0)
        return rc;
    q->busy++;
    rc = al_event_wait(q->finished);
    q->busy--;
    return rc;
}

int al_queue_shutdown(al_queue *q, bool immediate)
{
    if (!q)
        return -EINVAL;
    q->shutdown = true;
    if (immediate) {
        /* Dropped items count as done, so join only waits for items that
         * are still being processed. */
        while (q->len) {
            void *item = store_get(q);
            if (q->item_dtor)
                q->item_dtor(item);
            if (q->unfinished > 0)
                q->unfinished--;
        }
        if (q->unfinished == 0)
            al_event_set(q->finished);
    }
    /* Every blocked caller re-checks and sees the shutdown. */
    al__waitq_wake_n(&q->getters, (size_t)-1);
    al__waitq_wake_n(&q->putters, (size_t)-1);
    return 0;
}

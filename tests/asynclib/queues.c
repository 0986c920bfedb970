/* Queue / LifoQueue / PriorityQueue conformance: asyncio's test_queues.py
 * (rules R117-R124, 3.13 shutdown) and issue 4's bad-input list. "s0" is
 * asyncio's `await asyncio.sleep(0)`: one loop iteration. */
#include "al_conf.h"

#include <asynclib/queues.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static conf_log tlog;
static al_queue *q;

static void run_main(al_task_fn fn)
{
    memset(&tlog, 0, sizeof tlog);
    conf_run_main(fn, NULL);
}

static int int_cmp(const void *a, const void *b, void *user)
{
    ck_assert_ptr_eq(user, &tlog);
    return CONF_PV(a) - CONF_PV(b);
}

static int getter(void *arg, void **result)
{
    (void)arg;
    return al_queue_get(q, result);
}

static int putter(void *arg, void **result)
{
    (void)result;
    return al_queue_put(q, arg);
}

/* ---- R117: order ------------------------------------------------------------------------------
 */

static void check_order(al_queue *queue, int a, int b, int c)
{
    void *v;
    ck_assert_int_eq(al_queue_put(queue, CONF_VP(1)), 0);
    ck_assert_int_eq(al_queue_put(queue, CONF_VP(3)), 0);
    ck_assert_int_eq(al_queue_put(queue, CONF_VP(2)), 0);
    ck_assert_int_eq(al_queue_qsize(queue), 3);
    int want[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(al_queue_get(queue, &v), 0);
        ck_assert_int_eq(CONF_PV(v), want[i]);
    }
    ck_assert(al_queue_empty(queue));
    ck_assert_int_eq(al_queue_free(queue), 0);
}

static int order_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_queue *x;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &x), 0);
    check_order(x, 1, 3, 2);
    ck_assert_int_eq(al_lifo_queue_new(conf_cur_loop(), 0, &x), 0);
    check_order(x, 2, 3, 1);
    ck_assert_int_eq(al_priority_queue_new(conf_cur_loop(), 0, int_cmp, &tlog, &x), 0);
    check_order(x, 1, 2, 3);
    return 0;
}

START_TEST(queue_order)
{
    run_main(order_main);
}
END_TEST

/* Many items through each kind, with the ring wrapping and growing. */
static int heavy_order_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_queue *f, *l, *p;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &f), 0);
    ck_assert_int_eq(al_lifo_queue_new(conf_cur_loop(), 0, &l), 0);
    ck_assert_int_eq(al_priority_queue_new(conf_cur_loop(), 0, int_cmp, &tlog, &p), 0);
    int next_in = 0, next_out = 0;
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        int n = (int)(rand_r(&seed) % 7);
        for (int i = 0; i < n; i++)
            ck_assert_int_eq(al_queue_put_nowait(f, CONF_VP(next_in++)), 0);
        int m = (int)(rand_r(&seed) % 7);
        for (int i = 0; i < m && !al_queue_empty(f); i++) {
            void *v;
            ck_assert_int_eq(al_queue_get_nowait(f, &v), 0);
            ck_assert_int_eq(CONF_PV(v), next_out++);
        }
    }
    for (int i = 0; i < 500; i++) {
        int v = (int)(rand_r(&seed) % 1000);
        ck_assert_int_eq(al_queue_put_nowait(p, CONF_VP(v)), 0);
        ck_assert_int_eq(al_queue_put_nowait(l, CONF_VP(i)), 0);
    }
    int last = -1;
    for (int i = 0; i < 500; i++) {
        void *v;
        ck_assert_int_eq(al_queue_get_nowait(p, &v), 0);
        ck_assert_int_ge(CONF_PV(v), last);
        last = CONF_PV(v);
        ck_assert_int_eq(al_queue_get_nowait(l, &v), 0);
        ck_assert_int_eq(CONF_PV(v), 499 - i);
    }
    ck_assert_int_eq(al_queue_free(f), 0);
    ck_assert_int_eq(al_queue_free(l), 0);
    ck_assert_int_eq(al_queue_free(p), 0);
    return 0;
}

START_TEST(queue_order_many)
{
    run_main(heavy_order_main);
}
END_TEST

/* ---- R118: maxsize, nowait errors -------------------------------------------------------------
 */

static int put_three(void *arg, void **result)
{
    (void)arg, (void)result;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(al_queue_put(q, CONF_VP(i)), 0);
        conf_log_add(&tlog, i);
    }
    return 0;
}

static int maxsize_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 2, &q), 0);
    ck_assert_int_eq(al_queue_maxsize(q), 2);
    al_task *t = conf_spawn(put_three, NULL);
    conf_s0();
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 0, 1); /* blocked after two */
    ck_assert(al_queue_full(q));
    void *v;
    ck_assert_int_eq(al_queue_get(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 0, 1, 2);
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 1);
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 2);
    ck_assert(conf_done(t));
    ck_assert_int_eq(conf_join(t), 0);
    ck_assert_int_eq(al_queue_get_nowait(q, &v), AL_EQUEUEEMPTY);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(2)), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(3)), AL_EQUEUEFULL);
    ck_assert_int_eq(al_queue_qsize(q), 2);
    ck_assert_int_eq(al_queue_free(q), 0);
    /* maxsize <= 0: unbounded, never full. */
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), -5, &q), 0);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(i)), 0);
    ck_assert(!al_queue_full(q));
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_maxsize_and_nowait)
{
    run_main(maxsize_main);
}
END_TEST

/* ---- R119: waiting putters / getters, cancelled races ------------------------------------------
 */

static int waiting_main(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    /* get_with_waiting_putters */
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 1, &q), 0);
    al_task *pa = conf_spawn(putter, CONF_VP('a')), *pb = conf_spawn(putter, CONF_VP('b'));
    conf_s0();
    ck_assert_int_eq(al_queue_get(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 'a');
    ck_assert_int_eq(al_queue_get(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 'b');
    ck_assert_int_eq(conf_join(pa) | conf_join(pb), 0);
    ck_assert_int_eq(al_queue_free(q), 0);
    /* put_with_waiting_getters */
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    al_task *g = conf_spawn(getter, NULL);
    conf_s0();
    ck_assert_int_eq(al_queue_put(q, CONF_VP('a')), 0);
    ck_assert_int_eq(conf_join_value(g, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 'a');
    /* get_cancelled_race */
    al_task *g1 = conf_spawn(getter, NULL), *g2 = conf_spawn(getter, NULL);
    conf_s0();
    al_task_cancel(g1, NULL);
    conf_s0();
    ck_assert(conf_done(g1));
    ck_assert_int_eq(al_queue_put(q, CONF_VP('a')), 0);
    conf_s0();
    ck_assert_int_eq(conf_join_value(g2, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 'a');
    ck_assert_int_eq(conf_join(g1), AL_ECANCELLED);
    ck_assert_int_eq(al_queue_free(q), 0);
    /* put_cancelled_race */
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 1, &q), 0);
    pa = conf_spawn(putter, CONF_VP('a'));
    pb = conf_spawn(putter, CONF_VP('b'));
    al_task *pc = conf_spawn(putter, CONF_VP('X'));
    conf_s0();
    ck_assert(conf_done(pa) && !conf_done(pb));
    al_task_cancel(pc, NULL);
    conf_s0();
    ck_assert(conf_done(pc));
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 'a');
    conf_s0();
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 'b');
    ck_assert_int_eq(conf_join(pb), 0);
    ck_assert_int_eq(conf_join(pa), 0);
    ck_assert_int_eq(conf_join(pc), AL_ECANCELLED);
    ck_assert(al_queue_empty(q)); /* 'X' was never inserted */
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_waiting_putters_getters_races)
{
    run_main(waiting_main);
}
END_TEST

/* ---- R120: a cancelled get never loses an item; a cancelled put never inserts -------------------
 */

static int cancel_drop_main(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    al_task *r = conf_spawn(getter, NULL);
    conf_s0();
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(2)), 0);
    al_task_cancel(r, NULL);
    ck_assert_int_eq(conf_join(r), AL_ECANCELLED);
    r = conf_spawn(getter, NULL);
    ck_assert_int_eq(conf_join_value(r, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 1); /* 2 would mean 1 was dropped */
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    /* many pending readers */
    al_task *r1 = conf_spawn(getter, NULL), *r2 = conf_spawn(getter, NULL),
            *r3 = conf_spawn(getter, NULL);
    conf_s0();
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(2)), 0);
    al_task_cancel(r1, NULL);
    ck_assert_int_eq(conf_join(r1), AL_ECANCELLED);
    void *v2, *v3;
    ck_assert_int_eq(conf_join_value(r3, &v3), 0);
    ck_assert_int_eq(conf_join_value(r2, &v2), 0);
    ck_assert_int_eq(CONF_PV(v2) + CONF_PV(v3), 3);
    ck_assert_int_ne(CONF_PV(v2), CONF_PV(v3));
    ck_assert_int_eq(al_queue_free(q), 0);
    /* put_cancel_drop */
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 1, &q), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    al_task *w = conf_spawn(putter, CONF_VP(2));
    conf_s0();
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 1);
    al_task_cancel(w, NULL);
    ck_assert_int_eq(conf_join(w), AL_ECANCELLED);
    w = conf_spawn(putter, CONF_VP(2));
    ck_assert_int_eq(conf_join(w), 0);
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 2);
    ck_assert_int_eq(al_queue_qsize(q), 0);
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_cancel_never_loses_or_inserts)
{
    run_main(cancel_drop_main);
}
END_TEST

/* ---- R121: timed-out getters / cancelled putters leave no waiter --------------------------------
 */

static int timed_getter(void *arg, void **result)
{
    al_handle *h;
    ck_assert_int_eq(
        al_call_later(conf_cur_loop(), 0.005 * CONF_PV(arg), conf_cancel_cb, conf_self(), &h), 0);
    int rc = al_queue_get(q, result);
    al_handle_cancel(h);
    al_handle_unref(h);
    return rc;
}

static int not_held_main(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    al_task *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = conf_spawn(timed_getter, CONF_VP(i + 1));
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(conf_join(t[i]), AL_ECANCELLED);
    /* No stale getter is left to swallow this item. */
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(7)), 0);
    conf_s0();
    ck_assert_int_eq(al_queue_qsize(q), 1);
    ck_assert_int_eq(al_queue_free(q), 0);
    /* Cancelled putters leave nothing behind either. */
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 1, &q), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    for (int i = 0; i < 3; i++)
        t[i] = conf_spawn(putter, CONF_VP(i + 10));
    conf_s0();
    for (int i = 0; i < 3; i++)
        al_task_cancel(t[i], NULL);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(t[i]), AL_ECANCELLED);
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    conf_s0();
    ck_assert_int_eq(al_queue_qsize(q), 0);
    /* cancel after get_nowait popped the putter: a plain cancellation. */
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    al_task *p = conf_spawn(putter, CONF_VP(2));
    conf_s0();
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    al_task_cancel(p, NULL);
    ck_assert_int_eq(conf_join(p), AL_ECANCELLED);
    ck_assert_int_eq(al_queue_qsize(q), 0);
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_cancelled_waiters_not_held)
{
    run_main(not_held_main);
}
END_TEST

/* ---- R122: task_done / join
 * ------------------------------------------------------------------------ */

static long accumulator;

static int worker(void *arg, void **result)
{
    (void)arg, (void)result;
    for (;;) {
        void *v;
        int rc = al_queue_get(q, &v);
        if (rc < 0)
            return rc;
        accumulator += CONF_PV(v);
        ck_assert_int_eq(al_queue_task_done(q), 0);
    }
}

static int task_done_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    ck_assert_int_eq(al_queue_join(q), 0); /* empty: at once */
    ck_assert_int_eq(al_queue_task_done(q), -EINVAL);
    accumulator = 0;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(i)), 0);
    al_task *w1 = conf_spawn(worker, NULL), *w2 = conf_spawn(worker, NULL);
    ck_assert_int_eq(al_queue_join(q), 0);
    ck_assert_int_eq(accumulator, 4950);
    al_task_cancel(w1, NULL);
    al_task_cancel(w2, NULL);
    ck_assert_int_eq(conf_join(w1), AL_ECANCELLED);
    ck_assert_int_eq(conf_join(w2), AL_ECANCELLED);
    ck_assert_int_eq(al_queue_task_done(q), -EINVAL);
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_task_done_join)
{
    run_main(task_done_main);
}
END_TEST

/* ---- R123-R124: shutdown
 * ------------------------------------------------------------------------------ */

static int joiner(void *arg, void **result)
{
    (void)arg, (void)result;
    return al_queue_join(q);
}

static int shutdown_empty_main(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    al_task *g = conf_spawn(getter, NULL);
    conf_s0();
    ck_assert(!al_queue_is_shutdown(q));
    ck_assert_int_eq(al_queue_shutdown(q, false), 0);
    ck_assert(al_queue_is_shutdown(q));
    ck_assert_int_eq(conf_join(g), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_join(q), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_put(q, CONF_VP(1)), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_get_nowait(q, &v), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_get(q, &v), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_shutdown(q, false), 0); /* idempotent */
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_shutdown_empty)
{
    run_main(shutdown_empty_main);
}
END_TEST

static int shutdown_nonempty_main(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 1, &q), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(5)), 0);
    al_task *p = conf_spawn(putter, CONF_VP(6));
    al_task *j = conf_spawn(joiner, NULL);
    conf_s0();
    ck_assert_int_eq(al_queue_shutdown(q, false), 0);
    ck_assert_int_eq(conf_join(p), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_get(q, &v), 0); /* items still come out */
    ck_assert_int_eq(CONF_PV(v), 5);
    conf_s0();
    ck_assert(!conf_done(j)); /* waits for task_done */
    ck_assert_int_eq(al_queue_task_done(q), 0);
    ck_assert_int_eq(conf_join(j), 0);
    ck_assert_int_eq(al_queue_get(q, &v), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_shutdown_nonempty)
{
    run_main(shutdown_nonempty_main);
}
END_TEST

static int freed;

static void count_free(void *item)
{
    (void)item;
    freed++;
}

static int shutdown_immediate_main(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    freed = 0;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    ck_assert_int_eq(al_queue_set_item_dtor(q, count_free), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(i)), 0);
    al_task *j = conf_spawn(joiner, NULL);
    conf_s0();
    ck_assert_int_eq(al_queue_shutdown(q, true), 0);
    ck_assert_int_eq(freed, 3);
    ck_assert(al_queue_empty(q));
    ck_assert_int_eq(conf_join(j), 0); /* dropped items count as done */
    ck_assert_int_eq(al_queue_get(q, &v), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_task_done(q), -EINVAL);
    ck_assert_int_eq(al_queue_free(q), 0);
    /* with_unfinished: an item still being processed holds join. */
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(2)), 0);
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    j = conf_spawn(joiner, NULL);
    conf_s0();
    ck_assert_int_eq(al_queue_shutdown(q, true), 0);
    conf_s0();
    ck_assert(!conf_done(j));
    ck_assert_int_eq(al_queue_task_done(q), 0);
    ck_assert_int_eq(conf_join(j), 0);
    ck_assert_int_eq(al_queue_task_done(q), -EINVAL);
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_shutdown_immediate)
{
    run_main(shutdown_immediate_main);
}
END_TEST

/* Shut down with putters and getters blocked on a LIFO and a priority
 * queue: all of them wake and fail. */
static int shutdown_blocked_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_priority_queue_new(conf_cur_loop(), 1, int_cmp, &tlog, &q), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    al_task *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = conf_spawn(putter, CONF_VP(i));
    conf_s0();
    ck_assert_int_eq(al_queue_shutdown(q, true), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(p[i]), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_free(q), 0);
    ck_assert_int_eq(al_lifo_queue_new(conf_cur_loop(), 0, &q), 0);
    for (int i = 0; i < 3; i++)
        p[i] = conf_spawn(getter, NULL);
    conf_s0();
    ck_assert_int_eq(al_queue_shutdown(q, false), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(p[i]), AL_EQUEUESHUTDOWN);
    ck_assert_int_eq(al_queue_free(q), 0);
    return 0;
}

START_TEST(queue_shutdown_wakes_blocked)
{
    run_main(shutdown_blocked_main);
}
END_TEST

/* ---- bad input
 * ---------------------------------------------------------------------------------------- */

static al_queue *other_q;

static int wrong_loop_main(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    ck_assert_int_eq(al_queue_get(other_q, &v), AL_EWRONGLOOP);
    ck_assert_int_eq(al_queue_put(other_q, NULL), AL_EWRONGLOOP);
    ck_assert_int_eq(al_queue_join(other_q), AL_EWRONGLOOP);
    return 0;
}

START_TEST(queue_bad_input)
{
    al_loop *loop = conf_loop_new(), *other = conf_loop_new();
    void *v;
    ck_assert_int_eq(al_queue_new(NULL, 0, &q), -EINVAL);
    ck_assert_int_eq(al_queue_new(loop, 0, NULL), -EINVAL);
    ck_assert_int_eq(al_priority_queue_new(loop, 0, NULL, NULL, &q), -EINVAL);
    ck_assert_int_eq(al_queue_put_nowait(NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_queue_get_nowait(NULL, &v), -EINVAL);
    ck_assert_int_eq(al_queue_task_done(NULL), -EINVAL);
    ck_assert_int_eq(al_queue_shutdown(NULL, false), -EINVAL);
    ck_assert_int_eq(al_queue_free(NULL), 0);
    ck_assert_int_eq(al_queue_new(loop, 0, &q), 0);
    ck_assert_int_eq(al_queue_get_nowait(q, NULL), -EINVAL);
    /* Outside a task: waits are refused, the rest works. */
    ck_assert_int_eq(al_queue_get(q, &v), AL_ENOTINTASK);
    ck_assert_int_eq(al_queue_put(q, NULL), AL_ENOTINTASK);
    ck_assert_int_eq(al_queue_join(q), AL_ENOTINTASK);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
    ck_assert_int_eq(al_queue_get_nowait(q, &v), 0);
    ck_assert_int_eq(al_queue_new(other, 0, &other_q), 0);
    ck_assert_int_eq(conf_run_task(loop, wrong_loop_main, NULL, NULL), 0);
    ck_assert_int_eq(al_queue_free(other_q), 0);
    ck_assert_int_eq(al_queue_free(q), 0);
    al_loop_free(other);
    al_loop_free(loop);
}
END_TEST

static int free_waiters_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    al_task *g = conf_spawn(getter, NULL);
    conf_s0();
    ck_assert_int_eq(al_queue_free(q), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(3)), 0);
    /* Woken, not yet run: it will still read the queue. */
    ck_assert_int_eq(al_queue_free(q), AL_EINVALIDSTATE);
    void *v;
    ck_assert_int_eq(conf_join_value(g, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 3);
    ck_assert_int_eq(al_queue_free(q), 0);
    /* Items left at free go to the item destructor; a getter parked when
     * the loop closes does not stop the free afterwards. */
    ck_assert_int_eq(al_queue_new(conf_cur_loop(), 0, &q), 0);
    ck_assert_int_eq(al_queue_set_item_dtor(q, free), 0);
    ck_assert_int_eq(al_task_new(conf_cur_loop(), getter, NULL, NULL, NULL), 0);
    conf_s0();
    return 0;
}

START_TEST(queue_free_with_waiters)
{
    al_loop *loop = conf_loop_new();
    al_loop_set_exception_handler(loop, conf_quiet_handler, NULL);
    ck_assert_int_eq(conf_run_task(loop, free_waiters_main, NULL, NULL), 0);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(al_queue_put_nowait(q, malloc(16)), 0);
    ck_assert_int_eq(al_queue_free(q), 0);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_queues)
{
    Suite *s = suite_create("queues");
    TCase *tc = al_tcase("queue");
    tcase_add_test(tc, queue_order);
    tcase_add_test(tc, queue_order_many);
    tcase_add_test(tc, queue_maxsize_and_nowait);
    tcase_add_test(tc, queue_waiting_putters_getters_races);
    tcase_add_test(tc, queue_cancel_never_loses_or_inserts);
    tcase_add_test(tc, queue_cancelled_waiters_not_held);
    tcase_add_test(tc, queue_task_done_join);
    suite_add_tcase(s, tc);
    tc = al_tcase("shutdown");
    tcase_add_test(tc, queue_shutdown_empty);
    tcase_add_test(tc, queue_shutdown_nonempty);
    tcase_add_test(tc, queue_shutdown_immediate);
    tcase_add_test(tc, queue_shutdown_wakes_blocked);
    suite_add_tcase(s, tc);
    tc = al_tcase("bad_input");
    tcase_add_test(tc, queue_bad_input);
    tcase_add_test(tc, queue_free_with_waiters);
    suite_add_tcase(s, tc);
    return s;
}

/* More cancellation corners from test_tasks.py: the task and its future
 * both cancelled, an awaited task that swallows the cancellation, two tasks
 * on one future, a pending cancellation delivered by sleep(0). */
#include "al_conf.h"

#include <errno.h>

static int await_then_12(void *arg, void **result)
{
    int rc = al_await(arg);
    if (rc < 0)
        return rc;
    *result = CONF_VP(12);
    return 0;
}

/* test_cancel_both_task_and_inner_future */
/* Setup shared by the cases below: a future, a task, one iteration. */
static al_future *new_future(al_loop *loop)
{
    al_future *f = NULL;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    return f;
}

static al_task *start_task(al_loop *loop, al_task_fn fn, void *arg)
{
    al_task *t = NULL;
    ck_assert_int_eq(al_task_new(loop, fn, arg, NULL, &t), 0);
    return t;
}

static void one_iteration(al_loop *loop)
{
    al_loop_stop(loop); /* stop before run: exactly one iteration */
    al_loop_run_forever(loop);
}

START_TEST(cancel_both_task_and_inner_future)
{
    al_loop *loop = conf_loop_new();
    al_future *f = new_future(loop);
    al_task *t = start_task(loop, await_then_12, f);
    one_iteration(loop);
    ck_assert_int_eq(al_future_cancel(f, NULL), 1);
    ck_assert_int_eq(al_task_cancel(t, NULL), 1); /* f is done: must-cancel */
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(f));
    ck_assert(al_future_cancelled(al_task_future(t)));
    al_task_unref(t);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* The task got its result but has not run yet; cancel() then delivers the
 * cancellation instead of the result (asyncio: must_cancel wins). */
START_TEST(cancel_after_result_before_wakeup)
{
    al_loop *loop = conf_loop_new();
    al_future *f = new_future(loop);
    al_task *t = start_task(loop, await_then_12, f);
    one_iteration(loop);
    al_future_set_result(f, NULL, NULL);
    ck_assert_int_eq(al_task_cancel(t, "late"), 1);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
    ck_assert_str_eq(al_future_cancel_message(al_task_future(t)), "late");
    ck_assert(!al_future_cancelled(f));
    al_task_unref(t);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* The awaited task swallows the cancellation: cancel() of the outer task
 * was passed on (returned true), so the outer one gets the inner result. */
static int swallow_body(void *arg, void **result)
{
    int rc = al_await(arg);
    ck_assert_int_eq(rc, AL_ECANCELLED);
    ck_assert_int_eq(al_task_uncancel(conf_self()), 0);
    *result = CONF_VP(42);
    return 0;
}

static al_task *inner_task;

static int outer_awaits_inner(void *arg, void **result)
{
    inner_task = conf_spawn(swallow_body, arg);
    int rc = al_await(al_task_future(inner_task));
    if (rc < 0)
        return rc;
    return al_future_result(al_task_future(inner_task), result);
}

START_TEST(cancel_inner_task_swallows)
{
    al_loop *loop = conf_loop_new();
    al_future *f = new_future(loop);
    al_task *outer = start_task(loop, outer_awaits_inner, f);
    one_iteration(loop);
    one_iteration(loop); /* outer parked on inner, inner on f */
    ck_assert_int_eq(al_task_cancel(outer, NULL), 1);
    ck_assert_int_eq(al_task_cancelling(outer), 1);
    ck_assert_int_eq(al_task_cancelling(inner_task), 1);
    ck_assert(al_future_cancelled(f));
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(outer)), 0);
    void *v;
    ck_assert_int_eq(al_future_result(al_task_future(outer), &v), 0);
    ck_assert_int_eq(CONF_PV(v), 42);
    ck_assert(!al_future_cancelled(al_task_future(inner_task)));
    al_task_unref(inner_task);
    al_task_unref(outer);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* Two tasks await one future: cancelling one cancels the future, so the
 * other sees the cancellation too (asyncio; shield() is the remedy). */
START_TEST(cancel_shared_future)
{
    al_loop *loop = conf_loop_new();
    al_future *f = new_future(loop);
    al_task *a = start_task(loop, await_then_12, f);
    al_task *b = start_task(loop, await_then_12, f);
    one_iteration(loop);
    al_task_cancel(a, NULL);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(b)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(al_task_future(a)));
    ck_assert(al_future_cancelled(al_task_future(b)));
    ck_assert_int_eq(al_task_cancelling(b), 0); /* b itself was never asked */
    al_task_unref(a);
    al_task_unref(b);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* A pending cancellation is delivered by the next suspension, sleep(0)
 * included, after exactly one iteration; awaiting a done future is not a
 * suspension and does not deliver it. */
static conf_log order_log;

static int mark_cb(al_loop *loop, void *arg)
{
    (void)loop;
    conf_log_add(&order_log, CONF_PV(arg));
    return 0;
}

static int self_cancel_sleep0(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_future *done;
    al_future_new(conf_cur_loop(), &done);
    al_future_set_result(done, NULL, NULL);
    al_task_cancel(conf_self(), NULL);
    ck_assert_int_eq(al_await(done), 0); /* no suspension: nothing delivered */
    al_future_unref(done);
    al_call_soon(conf_cur_loop(), mark_cb, CONF_VP(1), NULL);
    int rc = al_sleep(0);
    conf_log_add(&order_log, 2);
    ck_assert_int_eq(rc, AL_ECANCELLED);
    conf_s0(); /* delivered once */
    return rc;
}

START_TEST(cancel_delivered_by_sleep0)
{
    al_loop *loop = conf_loop_new();
    order_log = (conf_log){0};
    ck_assert_int_eq(conf_run_task(loop, self_cancel_sleep0, NULL, NULL), AL_ECANCELLED);
    CONF_LOG_EXPECT(&order_log, 1, 2);
    al_loop_free(loop);
}
END_TEST

/* Cancelling a task many times before it starts: one cancellation, the
 * count says how many requests, the last message wins. */
static int never_runs(void *arg, void **result)
{
    (void)arg;
    (void)result;
    ck_abort_msg("body ran");
    return 0;
}

START_TEST(cancel_repeatedly_before_start)
{
    al_loop *loop = conf_loop_new();
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, never_runs, NULL, NULL, &t), 0);
    ck_assert_int_eq(al_task_cancel(t, "one"), 1);
    ck_assert_int_eq(al_task_cancel(t, "two"), 1);
    ck_assert_int_eq(al_task_cancel(t, "three"), 1);
    ck_assert_int_eq(al_task_cancelling(t), 3);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
    ck_assert_str_eq(al_future_cancel_message(al_task_future(t)), "three");
    al_task_unref(t);
    /* Withdrawn before start: it runs normally. */
    ck_assert_int_eq(al_task_new(loop, await_then_12, NULL, NULL, &t), 0);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_task_uncancel(t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), -EINVAL);
    al_task_unref(t);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_task_cancel)
{
    Suite *s = suite_create("task_cancel");
    TCase *tc = al_tcase("task_cancel");
    tcase_add_test(tc, cancel_both_task_and_inner_future);
    tcase_add_test(tc, cancel_after_result_before_wakeup);
    tcase_add_test(tc, cancel_inner_task_swallows);
    tcase_add_test(tc, cancel_shared_future);
    tcase_add_test(tc, cancel_delivered_by_sleep0);
    tcase_add_test(tc, cancel_repeatedly_before_start);
    suite_add_tcase(s, tc);
    return s;
}

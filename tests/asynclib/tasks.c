/* Task conformance: asyncio's test_tasks.py (rules R30-R50) and the task
 * half of issue 3's bad-input list. */
#include "al_conf.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static conf_log tlog;

static al_future *new_future(void)
{
    al_future *f = NULL;
    ck_assert_int_eq(al_future_new(conf_cur_loop(), &f), 0);
    return f;
}

/* ---- R30: basics ------------------------------------------------------------ */

static int inner_value(void *arg, void **result)
{
    conf_s0();
    *result = arg;
    return 0;
}

static int outer_sum(void *arg, void **result)
{
    (void)arg;
    al_task *a = conf_spawn(inner_value, CONF_VP(42));
    al_task *b = conf_spawn(inner_value, CONF_VP(1000));
    void *va, *vb;
    ck_assert_int_eq(al_await(al_task_future(a)), 0);
    ck_assert_int_eq(al_future_result(CONF_F(a), &va), 0);
    ck_assert_int_eq(al_await(al_task_future(b)), 0);
    ck_assert_int_eq(al_future_result(CONF_F(b), &vb), 0);
    al_task_unref(a);
    al_task_unref(b);
    *result = CONF_VP(CONF_PV(va) + CONF_PV(vb));
    return 0;
}

START_TEST(task_basics)
{
    al_loop *loop = conf_loop_new();
    void *v = NULL;
    ck_assert_int_eq(conf_run_task(loop, outer_sum, NULL, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 1042);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    al_loop_free(loop);
}
END_TEST

static int return_error(void *arg, void **result)
{
    (void)result;
    return CONF_PV(arg);
}

static int return_positive(void *arg, void **result)
{
    *result = arg;
    return 3;
}

START_TEST(task_error_and_result_dtor)
{
    al_loop *loop = conf_loop_new();
    conf_reports rec = {0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    ck_assert_int_eq(conf_run_task(loop, return_error, CONF_VP(-EPIPE), NULL), -EPIPE);
    ck_assert_int_eq(rec.count, 0); /* retrieved by run_until_complete */
    /* A positive return is success, not an "error" with a positive code. */
    void *v = NULL;
    ck_assert_int_eq(conf_run_task(loop, return_positive, CONF_VP(8), &v), 0);
    ck_assert_int_eq(CONF_PV(v), 8);

    /* Nobody holds it: reported when the loop drops it. */
    ck_assert_int_eq(al_task_new(loop, return_error, CONF_VP(-EPIPE), NULL, NULL), 0);
    al_future *f;
    al_future_new(loop, &f);
    al_future_set_result(f, NULL, NULL);
    al_loop_run_until_complete(loop, f);
    al_future_unref(f);
    ck_assert_int_eq(rec.count, 1);
    ck_assert_int_eq(rec.last_error, -EPIPE);
    ck_assert_str_eq(rec.last_message, "Task exception was never retrieved");
    al_loop_free(loop);
}
END_TEST

/* ---- R31: names, set_result refused, bad function ------------------------ */

START_TEST(task_names_and_set_methods)
{
    al_loop *loop = conf_loop_new();
    al_task *a, *b, *c;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, NULL, &a), 0);
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, NULL, &b), 0);
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.name = "named";
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, &o, &c), 0);
    ck_assert_ptr_nonnull(al_task_name(a));
    ck_assert_int_eq(strncmp(al_task_name(a), "Task-", 5), 0);
    ck_assert_int_eq(atoi(al_task_name(b) + 5), atoi(al_task_name(a) + 5) + 1);
    ck_assert_str_eq(al_task_name(c), "named");
    ck_assert_int_eq(al_task_set_name(a, "renamed"), 0);
    ck_assert_str_eq(al_task_name(a), "renamed");
    ck_assert_int_eq(al_task_set_name(a, NULL), -EINVAL);

    /* Tasks complete themselves: set_result / set_error from outside fail
     * and leave the task untouched (asyncio: RuntimeError). */
    ck_assert_int_eq(al_future_set_result(al_task_future(a), CONF_VP(1), NULL), -EINVAL);
    ck_assert_int_eq(al_future_set_error(al_task_future(a), -EIO), -EINVAL);
    ck_assert(!al_future_done(al_task_future(a)));
    ck_assert_ptr_eq(al_future_task(al_task_future(a)), a);

    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(c)), 0);
    ck_assert(al_future_done(al_task_future(a)));
    ck_assert_int_eq(al_future_set_result(al_task_future(a), CONF_VP(1), NULL), -EINVAL);
    al_task_unref(a);
    al_task_unref(b);
    al_task_unref(c);
    al_loop_free(loop);
}
END_TEST

/* Default names count up across digit carries (9 -> 10, 99 -> 100, ...). */
START_TEST(task_default_names_sequence)
{
    al_loop *loop = conf_loop_new();
    conf_reports rec = {0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, NULL, &t), 0);
    long first = atol(al_task_name(t) + 5);
    al_task_unref(t);
    for (long i = 1; i <= 1200; i++) {
        ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, NULL, &t), 0);
        char want[32];
        snprintf(want, sizeof want, "Task-%ld", first + i);
        ck_assert_str_eq(al_task_name(t), want);
        al_task_unref(t);
        if (i % 300 == 0) { /* another loop in between must not confuse it */
            al_loop *other = conf_loop_new();
            ck_assert_int_eq(al_task_new(other, conf_noop, NULL, NULL, &t), 0);
            ck_assert_str_eq(al_task_name(t), "Task-1");
            al_task_unref(t);
            al_loop_stop(other);
            al_loop_run_forever(other);
            al_loop_free(other);
        }
    }
    al_loop_stop(loop);
    al_loop_run_forever(loop); /* they all finish */
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    ck_assert_int_eq(rec.count, 0);
    al_loop_free(loop);
}
END_TEST

START_TEST(task_bad_creation)
{
    al_loop *loop = conf_loop_new();
    al_task *t = NULL;
    ck_assert_int_eq(al_task_new(loop, NULL, NULL, NULL, &t), -EINVAL);
    ck_assert_int_eq(al_task_new(NULL, conf_noop, NULL, NULL, &t), -EINVAL);
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.stack_size = 1;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, &o, &t), -EINVAL);
    o.stack_size = SIZE_MAX;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, &o, &t), -EINVAL);
    o.stack_size = (size_t)1 << 40;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, &o, &t), -EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    o.stack_size = 0; /* the default */
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, &o, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    al_task_unref(t);
    o.stack_size = 16 * 1024; /* a small stack */
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, &o, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    al_task_unref(t);
    al_loop_close(loop);
    t = NULL;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, NULL, &t), AL_ELOOPCLOSED);
    ck_assert_ptr_null(t);
    al_loop_free(loop);
}
END_TEST

/* ---- R32: current task ------------------------------------------------------- */

static al_task *seen_in_cb = CONF_VP(1);
static int current_in_cb(al_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    seen_in_cb = al_current_task();
    return 0;
}

static al_future *hand[2];
static al_task *ids[2];

static int interleave_a(void *arg, void **result)
{
    (void)arg;
    (void)result;
    ids[0] = conf_self();
    ck_assert_int_eq(al_await(hand[0]), 0);
    ck_assert_ptr_eq(conf_self(), ids[0]);
    al_future_set_result(hand[1], NULL, NULL);
    return 0;
}

static int interleave_b(void *arg, void **result)
{
    (void)arg;
    (void)result;
    ids[1] = conf_self();
    al_future_set_result(hand[0], NULL, NULL);
    ck_assert_int_eq(al_await(hand[1]), 0);
    ck_assert_ptr_eq(conf_self(), ids[1]);
    return 0;
}

static int current_is_self(void *arg, void **result)
{
    (void)arg;
    *result = conf_self();
    return 0;
}

START_TEST(task_current)
{
    al_loop *loop = conf_loop_new();
    ck_assert_ptr_null(al_current_task());
    void *v = NULL;
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, current_is_self, NULL, NULL, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    al_future_result(CONF_F(t), &v);
    ck_assert_ptr_eq(v, t);
    al_task_unref(t);
    al_call_soon(loop, current_in_cb, NULL, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_ptr_null(seen_in_cb);
    ck_assert_ptr_null(al_current_task());

    /* test_current_task_with_interleaving_tasks */
    al_future_new(loop, &hand[0]);
    al_future_new(loop, &hand[1]);
    al_task *a, *b;
    ck_assert_int_eq(al_task_new(loop, interleave_a, NULL, NULL, &a), 0);
    ck_assert_int_eq(al_task_new(loop, interleave_b, NULL, NULL, &b), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(a)), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(b)), 0);
    ck_assert_ptr_eq(ids[0], a);
    ck_assert_ptr_eq(ids[1], b);
    al_task_unref(a);
    al_task_unref(b);
    al_future_unref(hand[0]);
    al_future_unref(hand[1]);
    al_loop_free(loop);
}
END_TEST

/* ---- R33: cancel a sleeping or yielding task --------------------------------- */

static int sleeper(void *arg, void **result)
{
    (void)result;
    double d = arg ? *(double *)arg : 10.0;
    int rc = al_sleep(d);
    conf_log_add(&tlog, rc == AL_ECANCELLED ? 1 : 2);
    return rc;
}

static int yielder(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (;;) {
        int rc = al_sleep(0);
        if (rc < 0)
            return rc;
    }
}

static int cancel_sleeping_main(void *arg, void **result)
{
    (void)result;
    al_task *t = conf_spawn(arg ? yielder : sleeper, NULL);
    conf_s0();
    conf_s0();
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert(!al_future_done(al_task_future(t)));
    ck_assert_int_eq(al_await(al_task_future(t)), AL_ECANCELLED);
    ck_assert(al_future_done(al_task_future(t)));
    ck_assert(al_future_cancelled(al_task_future(t)));
    ck_assert_int_eq(al_task_cancel(t, NULL), 0); /* done: false */
    al_task_unref(t);
    return 0;
}

START_TEST(task_cancel_sleeping_and_yielding)
{
    al_loop *loop = conf_loop_new();
    memset(&tlog, 0, sizeof tlog);
    ck_assert_int_eq(conf_run_task(loop, cancel_sleeping_main, NULL, NULL), 0);
    CONF_LOG_EXPECT(&tlog, 1);
    double t0 = al_loop_time(loop);
    ck_assert_int_eq(conf_run_task(loop, cancel_sleeping_main, CONF_VP(1), NULL), 0);
    ck_assert_double_lt(al_loop_time(loop) - t0, 1.0);
    al_loop_free(loop);
}
END_TEST

/* ---- R34: cancelling the awaited future / the task ----------------------------- */

static int cancel_inner_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_future *f = new_future();
    al_task *t = conf_spawn(conf_await_arg, f);
    conf_s0();
    ck_assert_int_eq(al_future_cancel(f, NULL), 1); /* the awaited future */
    ck_assert_int_eq(al_await(al_task_future(t)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(al_task_future(t)));
    al_task_unref(t);
    al_future_unref(f);

    f = new_future();
    t = conf_spawn(conf_await_arg, f);
    conf_s0();
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert(al_future_cancelled(f)); /* at once */
    ck_assert(!al_future_done(al_task_future(t)));
    ck_assert_int_eq(al_await(al_task_future(t)), AL_ECANCELLED);
    al_task_unref(t);
    al_future_unref(f);
    return 0;
}

START_TEST(task_cancel_inner_future)
{
    al_loop *loop = conf_loop_new();
    ck_assert_int_eq(conf_run_task(loop, cancel_inner_main, NULL, NULL), 0);
    al_loop_free(loop);
}
END_TEST

/* ---- R35/R36: catching and ignoring ------------------------------------------------- */

static al_future *fs[3];

static int catching(void *arg, void **result)
{
    (void)arg;
    ck_assert_int_eq(al_await(fs[0]), 0);
    ck_assert_int_eq(al_await(fs[1]), AL_ECANCELLED);
    *result = CONF_VP(42);
    return 0;
}

static int ignoring(void *arg, void **result)
{
    (void)arg;
    ck_assert_int_eq(al_await(fs[0]), 0);
    ck_assert_int_eq(al_await(fs[1]), AL_ECANCELLED);
    int rc = al_await(fs[2]);
    if (rc < 0)
        return rc;
    void *v;
    al_future_result(fs[2], &v);
    *result = v;
    return 0;
}

static int set_f2_cb(al_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    al_future_set_result(fs[2], CONF_VP(42), NULL);
    return 0;
}

static void run_catch_or_ignore(al_task_fn fn)
{
    al_loop *loop = conf_loop_new();
    for (int i = 0; i < 3; i++)
        al_future_new(loop, &fs[i]);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, fn, NULL, NULL, &t), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop); /* parks on fs[0] */
    al_future_set_result(fs[0], NULL, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop); /* now parked on fs[1] */
    ck_assert(!al_future_done(fs[1]));
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert(al_future_cancelled(fs[1])); /* fut2 cancelled at once */
    if (fn == ignoring)
        al_call_soon(loop, set_f2_cb, NULL, NULL);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    void *v;
    ck_assert_int_eq(al_future_result(CONF_F(t), &v), 0);
    ck_assert_int_eq(CONF_PV(v), 42);
    ck_assert(!al_future_cancelled(al_task_future(t)));
    if (fn == ignoring)
        ck_assert(!al_future_cancelled(fs[2]));
    al_task_unref(t);
    for (int i = 0; i < 3; i++)
        al_future_unref(fs[i]);
    al_loop_free(loop);
}

START_TEST(task_cancel_catching)
{
    run_catch_or_ignore(catching);
}
END_TEST

START_TEST(task_cancel_ignoring)
{
    run_catch_or_ignore(ignoring);
}
END_TEST

/* ---- R37: self-cancel ------------------------------------------------------------ */

static int self_cancel_sleep(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task_cancel(conf_self(), NULL);
    double t0 = conf_now();
    int rc = al_sleep(100);
    ck_assert_int_eq(rc, AL_ECANCELLED);
    ck_assert_double_lt(conf_now() - t0, 1.0); /* cancelled at once */
    return rc;
}

static int self_cancel_return(void *arg, void **result)
{
    (void)arg;
    al_task_cancel(conf_self(), "at end");
    *result = CONF_VP(12);
    return 0;
}

START_TEST(task_cancel_current)
{
    al_loop *loop = conf_loop_new();
    ck_assert_int_eq(conf_run_task(loop, self_cancel_sleep, NULL, NULL), AL_ECANCELLED);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, self_cancel_return, NULL, NULL, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(al_task_future(t)));
    ck_assert_str_eq(al_future_cancel_message(al_task_future(t)), "at end");
    al_task_unref(t);
    al_loop_free(loop);
}
END_TEST

/* ---- R38: self-cancel, then await a nested task ----------------------------------- */

static al_future *nested_fut;
static al_task *nested_task;

static int nested_body(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return al_await(nested_fut);
}

static int cancel_awaited_outer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    nested_task = conf_spawn(nested_body, NULL);
    conf_s0();
    al_task_cancel(conf_self(), NULL);
    return al_await(al_task_future(nested_task));
}

START_TEST(task_cancel_awaited_task)
{
    al_loop *loop = conf_loop_new();
    al_future_new(loop, &nested_fut);
    ck_assert_int_eq(conf_run_task(loop, cancel_awaited_outer, NULL, NULL), AL_ECANCELLED);
    ck_assert(al_future_cancelled(al_task_future(nested_task)));
    ck_assert(al_future_cancelled(nested_fut));
    al_task_unref(nested_task);
    al_future_unref(nested_fut);
    al_loop_free(loop);
}
END_TEST

/* ---- R39: messages -------------------------------------------------------------- */

static const char *cancel_msg_arg;

static int message_outer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task *t = conf_spawn(sleeper, NULL);
    conf_s0();
    al_task_cancel(t, cancel_msg_arg);
    int rc = al_await(al_task_future(t));
    al_task_unref(t);
    return rc; /* propagates the inner cancellation and its message */
}

static int message_before_start(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task *t = conf_spawn(sleeper, NULL);
    al_task_cancel(t, cancel_msg_arg);
    int rc = al_await(al_task_future(t));
    ck_assert_int_eq(tlog.n, 0); /* the body never ran */
    al_task_unref(t);
    return rc;
}

START_TEST(task_cancel_message)
{
    const char *msgs[] = {NULL, "my message"};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 2; i++) {
            memset(&tlog, 0, sizeof tlog);
            cancel_msg_arg = msgs[i];
            al_loop *loop = conf_loop_new();
            al_task *t;
            ck_assert_int_eq(
                al_task_new(loop, k ? message_before_start : message_outer, NULL, NULL, &t), 0);
            ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
            const char *m = al_future_cancel_message(al_task_future(t));
            if (msgs[i])
                ck_assert_str_eq(m, msgs[i]);
            else
                ck_assert_ptr_null(m);
            al_task_unref(t);
            al_loop_free(loop);
        }
    }
}
END_TEST

/* ---- R40-R42: cancelling() and uncancel() ------------------------------------------- */

static int uncancel_body(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = al_sleep(10);
    if (rc == AL_ECANCELLED) {
        conf_log_add(&tlog, al_task_uncancel(conf_self()));
        rc = al_sleep(10);
    }
    return rc;
}

START_TEST(task_cancelling_and_uncancel)
{
    al_loop *loop = conf_loop_new();
    memset(&tlog, 0, sizeof tlog);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, uncancel_body, NULL, NULL, &t), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(al_task_cancelling(t), 0);
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(al_task_cancelling(t), 1);
    ck_assert(!al_future_cancelled(al_task_future(t)));
    /* R40: a second request is also accepted and counted. */
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(al_task_cancelling(t), 2);
    ck_assert_int_eq(al_task_uncancel(t), 1);
    al_loop_stop(loop);
    al_loop_run_forever(loop); /* catches, uncancels, sleeps again */
    CONF_LOG_EXPECT(&tlog, 0);
    ck_assert_int_eq(al_task_cancelling(t), 0);
    ck_assert(!al_future_done(al_task_future(t)));
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(al_task_future(t)));
    /* No longer effective once done. */
    al_task_uncancel(t);
    ck_assert(al_future_cancelled(al_task_future(t)));
    ck_assert_int_eq(al_task_cancel(t, NULL), 0);
    ck_assert_int_eq(al_task_uncancel(t), 0);
    ck_assert_int_eq(al_task_uncancel(t), 0); /* never below 0 */
    al_task_unref(t);
    ck_assert_int_eq(al_task_uncancel(NULL), -EINVAL);
    ck_assert_int_eq(al_task_cancel(NULL, NULL), -EINVAL);
    al_loop_free(loop);
}
END_TEST

static int await_then_42(void *arg, void **result)
{
    int rc = al_await(arg);
    if (rc < 0)
        return rc;
    *result = CONF_VP(42);
    return 0;
}

START_TEST(task_uncancel_resets_must_cancel)
{
    al_loop *loop = conf_loop_new();
    al_future *f;
    al_future_new(loop, &f);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, await_then_42, f, NULL, &t), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    al_future_set_result(f, NULL, NULL); /* runnable */
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(al_task_cancelling(t), 1);
    ck_assert_int_eq(al_task_uncancel(t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    void *v;
    al_future_result(CONF_F(t), &v);
    ck_assert_int_eq(CONF_PV(v), 42);
    al_task_unref(t);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* ---- R43: a hand-made timeout with uncancel ------------------------------------ */

typedef struct structured {
    double sleep, timeout;
    bool timed_out, block_done, outer_reached;
    int result;
} structured;

static structured *cur_st;
static al_task *st_task;

static int timeout_cb(al_loop *loop, void *arg)
{
    (void)arg;
    (void)loop;
    cur_st->timed_out = true;
    al_task_cancel(st_task, NULL);
    return 0;
}

static int structured_body(void *arg, void **result)
{
    (void)result;
    structured *st = arg;
    cur_st = st;
    st_task = conf_self();
    al_handle *h;
    ck_assert_int_eq(al_call_later(conf_cur_loop(), st->timeout, timeout_cb, NULL, &h), 0);
    int rc = al_sleep(st->sleep);
    if (rc == 0)
        st->block_done = true;
    al_handle_cancel(h);
    al_handle_unref(h);
    if (st->timed_out && al_task_uncancel(st_task) == 0 && rc == AL_ECANCELLED)
        rc = AL_ETIMEOUT;
    ck_assert_int_eq(al_task_cancelling(st_task), 0);
    st->result = rc;
    conf_s0(); /* outer code, unaffected */
    st->outer_reached = true;
    return 0;
}

START_TEST(task_uncancel_structured_blocks)
{
    al_loop *loop = conf_loop_new();
    structured a = {.sleep = 0.2, .timeout = 0.1};
    ck_assert_int_eq(conf_run_task(loop, structured_body, &a, NULL), 0);
    ck_assert(a.timed_out);
    ck_assert(!a.block_done);
    ck_assert(a.outer_reached);
    ck_assert_int_eq(a.result, AL_ETIMEOUT);
    structured b = {.sleep = 0.01, .timeout = 0.2};
    ck_assert_int_eq(conf_run_task(loop, structured_body, &b, NULL), 0);
    ck_assert(!b.timed_out);
    ck_assert(b.block_done);
    ck_assert(b.outer_reached);
    ck_assert_int_eq(b.result, 0);
    al_loop_free(loop);
}
END_TEST

/* ---- R44: an error raised while handling the cancellation ----------------------- */

static int cancel_to_error(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = al_sleep(10);
    ck_assert_int_eq(rc, AL_ECANCELLED);
    return -ENOTRECOVERABLE; /* C's "SystemExit": some other error */
}

START_TEST(task_error_during_cancel)
{
    al_loop *loop = conf_loop_new();
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, cancel_to_error, NULL, NULL, &t), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), -ENOTRECOVERABLE);
    ck_assert(al_future_done(al_task_future(t)));
    ck_assert(!al_future_cancelled(al_task_future(t)));
    al_task_unref(t);
    al_loop_free(loop);
}
END_TEST

/* ---- R45: cancellation passes through nested calls -------------------------- */

static int proof;
static al_future *waiter;

static int inner_call(void)
{
    int rc = al_await(waiter);
    if (rc == AL_ECANCELLED) {
        proof += 1;
        return rc;
    }
    ck_abort_msg("got past the await in inner()");
    return 0;
}

static int outer_call(void *arg, void **result)
{
    (void)arg;
    (void)result;
    if (inner_call() == AL_ECANCELLED)
        proof += 100;
    else
        proof += 10;
    return 0;
}

START_TEST(task_yield_future_passes_cancel)
{
    al_loop *loop = conf_loop_new();
    proof = 0;
    al_future_new(loop, &waiter);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, outer_call, NULL, NULL, &t), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    ck_assert_int_eq(proof, 101);
    ck_assert(al_future_cancelled(waiter));
    al_task_unref(t);
    al_future_unref(waiter);
    al_loop_free(loop);
}
END_TEST

/* ---- R47: the loop keeps tasks alive; leftovers at close ---------------------------- */

static int keep_flag;

static int keep_body(void *arg, void **result)
{
    (void)result;
    int rc = al_await(arg);
    keep_flag = rc == 0 ? 1 : 2;
    return 0;
}

START_TEST(task_loop_keeps_task_alive)
{
    al_loop *loop = conf_loop_new();
    keep_flag = 0;
    al_future *f;
    al_future_new(loop, &f);
    ck_assert_int_eq(al_task_new(loop, keep_body, f, NULL, NULL), 0); /* no user reference */
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 1);
    al_task *t = NULL;
    ck_assert_uint_eq(al_loop_all_tasks(loop, &t, 1), 1);
    ck_assert_ptr_nonnull(t);
    ck_assert(!al_future_done(al_task_future(t)));
    al_future_set_result(f, NULL, NULL);
    al_future_unref(f); /* the task holds its own reference */
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(keep_flag, 1);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    al_loop_free(loop);
}
END_TEST

START_TEST(task_pending_at_close)
{
    al_loop *loop = conf_loop_new();
    conf_reports rec = {0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    al_future *f;
    al_future_new(loop, &f);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, conf_await_arg, f, NULL, &t), 0);
    ck_assert_int_eq(al_task_new(loop, conf_await_arg, f, NULL, NULL), 0);
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, NULL, NULL), 0); /* never started */
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(rec.count, 2);
    ck_assert_str_eq(rec.last_message, "Task was destroyed but it is pending!");
    ck_assert(al_future_cancelled(al_task_future(t)));
    ck_assert_int_eq(al_task_cancel(t, NULL), 0);
    al_task_unref(t);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* ---- R48-R50: sleep --------------------------------------------------------------- */

START_TEST(task_cancel_sleeping_task_by_timer)
{
    al_loop *loop = conf_loop_new();
    memset(&tlog, 0, sizeof tlog);
    double d = 5000;
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, sleeper, &d, NULL, &t), 0);
    double t0 = al_loop_time(loop);
    ck_assert_int_eq(al_call_later(loop, 0.1, conf_cancel_cb, t, NULL), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
    double took = al_loop_time(loop) - t0;
    if (conf_is_virtual())
        ck_assert_double_eq_tol(took, 0.1, 1e-9);
    else
        ck_assert(took >= 0.09 && took < 5);
    CONF_LOG_EXPECT(&tlog, 1);
    al_task_unref(t);
    al_loop_free(loop);
}
END_TEST

static int sleep_zero_body(void *arg, void **result)
{
    (void)result;
    int *x = arg;
    ck_assert_int_eq(al_call_soon(conf_cur_loop(), conf_count_cb, x, NULL), 0);
    ck_assert_int_eq(*x, 0);
    conf_s0();
    ck_assert_int_eq(*x, 1);
    ck_assert_int_eq(al_sleep(-1), 0); /* negative: same as 0 */
    return 0;
}

START_TEST(task_sleep_zero)
{
    al_loop *loop = conf_loop_new();
    int x = 0;
    ck_assert_int_eq(conf_run_task(loop, sleep_zero_body, &x, NULL), 0);
    al_loop_free(loop);
}
END_TEST

/* al_sleep(0) is exactly one iteration: two tasks alternate strictly. */
static int pingpong(void *arg, void **result)
{
    (void)result;
    for (int i = 0; i < 3; i++) {
        conf_log_add(&tlog, CONF_PV(arg));
        al_sleep(0);
    }
    return 0;
}

START_TEST(task_sleep_zero_alternates)
{
    al_loop *loop = conf_loop_new();
    memset(&tlog, 0, sizeof tlog);
    al_task *a, *b;
    al_task_new(loop, pingpong, CONF_VP(1), NULL, &a);
    al_task_new(loop, pingpong, CONF_VP(2), NULL, &b);
    al_loop_run_until_complete(loop, al_task_future(b));
    CONF_LOG_EXPECT(&tlog, 1, 2, 1, 2, 1, 2);
    al_task_unref(a);
    al_task_unref(b);
    al_loop_free(loop);
}
END_TEST

static int sleep_halves(void *arg, void **result)
{
    (void)arg;
    ck_assert_int_eq(al_sleep(0.05), 0);
    ck_assert_int_eq(al_sleep(0.05), 0);
    ck_assert_int_eq(al_sleep(NAN), -EINVAL);
    *result = CONF_VP(7);
    return 0;
}

START_TEST(task_sleep)
{
    al_loop *loop = conf_loop_new();
    double t0 = al_loop_time(loop);
    void *v;
    ck_assert_int_eq(conf_run_task(loop, sleep_halves, NULL, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 7);
    double took = al_loop_time(loop) - t0;
    if (conf_is_virtual())
        ck_assert_double_eq_tol(took, 0.1, 1e-9);
    else
        ck_assert(took >= 0.099);
    al_loop_free(loop);
}
END_TEST

/* test_sleep_cancel: the cancelled sleep's timer goes away: the loop does
 * not wait for it (virtual time does not jump to its deadline). */
static int sleep_cancel_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    double d = 10;
    al_task *t = conf_spawn(sleeper, &d);
    conf_s0();
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_await(al_task_future(t)), AL_ECANCELLED);
    al_task_unref(t);
    return 0;
}

START_TEST(task_sleep_cancel)
{
    al_loop *loop = conf_loop_new();
    double t0 = al_loop_time(loop);
    ck_assert_int_eq(conf_run_task(loop, sleep_cancel_main, NULL, NULL), 0);
    ck_assert_double_lt(al_loop_time(loop) - t0, 5.0);
    al_loop_free(loop);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------ */

static al_loop *other_loop;

static int bad_awaits(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task *self = conf_self();
    ck_assert_int_eq(al_await(NULL), -EINVAL);
    ck_assert_int_eq(al_await(al_task_future(self)), AL_EINVALIDSTATE);
    al_future *f;
    ck_assert_int_eq(al_future_new(other_loop, &f), 0);
    ck_assert_int_eq(al_await(f), AL_EWRONGLOOP);
    al_future_unref(f);
    /* None of these suspended or disturbed the task. */
    ck_assert_ptr_eq(conf_self(), self);
    ck_assert_int_eq(al_task_cancelling(self), 0);
    /* Awaiting an already-done future does not suspend and returns its
     * status (asyncio: no yield). */
    f = new_future();
    al_future_set_error(f, -EIO);
    ck_assert_int_eq(al_await(f), -EIO);
    al_future_unref(f);
    return 0;
}

static int await_in_cb_rc, sleep_in_cb_rc;
static int await_in_callback(al_loop *loop, void *arg)
{
    (void)loop;
    await_in_cb_rc = al_await(arg);
    sleep_in_cb_rc = al_sleep(0);
    return 0;
}

START_TEST(task_bad_awaits)
{
    al_loop *loop = conf_loop_new();
    other_loop = conf_loop_new();
    al_future *f;
    al_future_new(loop, &f);
    /* Outside any task: from the main stack, and from a plain callback. */
    ck_assert_int_eq(al_await(f), AL_ENOTINTASK);
    ck_assert_int_eq(al_sleep(0), AL_ENOTINTASK);
    ck_assert_int_eq(al_sleep(1), AL_ENOTINTASK);
    al_call_soon(loop, await_in_callback, f, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(await_in_cb_rc, AL_ENOTINTASK);
    ck_assert_int_eq(sleep_in_cb_rc, AL_ENOTINTASK);
    ck_assert(!al_future_done(f));
    al_future_unref(f);
    ck_assert_int_eq(conf_run_task(loop, bad_awaits, NULL, NULL), 0);
    al_loop_free(other_loop);
    al_loop_free(loop);
}
END_TEST

START_TEST(task_cancel_finished)
{
    al_loop *loop = conf_loop_new();
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, NULL, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    ck_assert_int_eq(al_task_cancel(t, "late"), 0);
    ck_assert_int_eq(al_future_cancel(al_task_future(t), NULL), 0);
    ck_assert_int_eq(al_task_cancelling(t), 0);
    ck_assert(!al_future_cancelled(al_task_future(t)));
    ck_assert_int_eq(al_future_error(al_task_future(t)), 0);
    al_task_unref(t);
    al_loop_free(loop);
}
END_TEST

/* A task's result value: owned by the task future; released by its dtor, or
 * by the task itself when the body stored one and then failed. */
static int dtor_count;
static void count_dtor(void *v)
{
    free(v);
    dtor_count++;
}

static int alloc_result(void *arg, void **result)
{
    *result = malloc(16);
    return CONF_PV(arg);
}

START_TEST(task_result_dtor)
{
    al_loop *loop = conf_loop_new();
    dtor_count = 0;
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.result_dtor = count_dtor;
    int codes[] = {0, -EIO, AL_ECANCELLED};
    for (int i = 0; i < 3; i++) {
        al_task *t;
        ck_assert_int_eq(al_task_new(loop, alloc_result, CONF_VP(codes[i]), &o, &t), 0);
        ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), codes[i]);
        al_task_unref(t);
    }
    ck_assert_int_eq(dtor_count, 3);
    /* Moved out: the caller owns it. */
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, alloc_result, CONF_VP(0), &o, &t), 0);
    al_loop_run_until_complete(loop, al_task_future(t));
    void *v = NULL;
    ck_assert_int_eq(al_future_take_result(al_task_future(t), &v), 0);
    al_task_unref(t);
    ck_assert_int_eq(dtor_count, 3);
    free(v);
    al_loop_free(loop);
}
END_TEST

/* ---- scale: 100 k tasks created and finished ------------------------------------- */

static int count_done;
static int tiny(void *arg, void **result)
{
    (void)result;
    if (arg)
        al_sleep(0);
    count_done++;
    return 0;
}

START_TEST(task_100k)
{
    al_loop *loop = conf_loop_new();
    count_done = 0;
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.stack_size = 16 * 1024;
    /* Valgrind tracks at most ~30 k mappings: fewer guarded stacks there. */
    const int N = conf_many(100000);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(al_task_new(loop, tiny, CONF_VP(i & 1), &o, NULL), 0);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), N);
    al_task *last;
    ck_assert_int_eq(al_task_new(loop, tiny, CONF_VP(1), &o, &last), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(last)), 0);
    al_task_unref(last);
    ck_assert_int_eq(count_done, N + 1);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    al_loop_free(loop);
}
END_TEST

/* Deep recursion inside a task, awaiting at the bottom. */
static int deep(int n, al_future *f)
{
    volatile char pad[256];
    pad[0] = (char)n;
    if (n == 0)
        return al_await(f);
    return deep(n - 1, f) + pad[0] - (char)n;
}

static int deep_body(void *arg, void **result)
{
    (void)result;
    return deep(200, arg);
}

START_TEST(task_deep_await)
{
    al_loop *loop = conf_loop_new();
    al_future *f;
    al_future_new(loop, &f);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, deep_body, f, NULL, &t), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    al_future_set_error(f, -EIO);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), -EIO);
    al_task_unref(t);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* ---- al_run ---------------------------------------------------------------------- */

static int leftover_cancelled;
static int leftover(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = al_sleep(100);
    if (rc == AL_ECANCELLED)
        leftover_cancelled++;
    return rc;
}

static int run_main(void *arg, void **result)
{
    (void)arg;
    ck_assert_ptr_nonnull(al_current_task());
    ck_assert_int_eq(al_run(conf_noop, NULL, NULL), AL_ELOOPRUNNING);
    ck_assert_int_eq(al_task_new(conf_cur_loop(), leftover, NULL, NULL, NULL), 0);
    conf_s0();
    *result = CONF_VP(5);
    return 0;
}

START_TEST(task_al_run)
{
    leftover_cancelled = 0;
    void *v = NULL;
    ck_assert_int_eq(al_run(run_main, NULL, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 5);
    ck_assert_int_eq(leftover_cancelled, 1);
    ck_assert_int_eq(al_run(return_error, CONF_VP(-EIO), NULL), -EIO);
    ck_assert_int_eq(al_run(NULL, NULL, NULL), -EINVAL);
}
END_TEST

AL_TEST_SUITE(suite_tasks)
{
    Suite *s = suite_create("tasks");
    TCase *tc = al_tcase("tasks");
    tcase_add_test(tc, task_basics);
    tcase_add_test(tc, task_error_and_result_dtor);
    tcase_add_test(tc, task_names_and_set_methods);
    tcase_add_test(tc, task_bad_creation);
    tcase_add_test(tc, task_default_names_sequence);
    tcase_add_test(tc, task_current);
    tcase_add_test(tc, task_cancel_sleeping_and_yielding);
    tcase_add_test(tc, task_cancel_inner_future);
    tcase_add_test(tc, task_cancel_catching);
    tcase_add_test(tc, task_cancel_ignoring);
    tcase_add_test(tc, task_cancel_current);
    tcase_add_test(tc, task_cancel_awaited_task);
    tcase_add_test(tc, task_cancel_message);
    tcase_add_test(tc, task_cancelling_and_uncancel);
    tcase_add_test(tc, task_uncancel_resets_must_cancel);
    tcase_add_test(tc, task_uncancel_structured_blocks);
    tcase_add_test(tc, task_error_during_cancel);
    tcase_add_test(tc, task_yield_future_passes_cancel);
    tcase_add_test(tc, task_loop_keeps_task_alive);
    tcase_add_test(tc, task_pending_at_close);
    tcase_add_test(tc, task_cancel_sleeping_task_by_timer);
    tcase_add_test(tc, task_sleep_zero);
    tcase_add_test(tc, task_sleep_zero_alternates);
    tcase_add_test(tc, task_sleep);
    tcase_add_test(tc, task_sleep_cancel);
    tcase_add_test(tc, task_bad_awaits);
    tcase_add_test(tc, task_cancel_finished);
    tcase_add_test(tc, task_result_dtor);
    tcase_add_test(tc, task_100k);
    tcase_add_test(tc, task_deep_await);
    tcase_add_test(tc, task_al_run);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- shared-stack tasks ---------------------------------------------------------- */

static int shared_child(void *arg, void **result)
{
    int local = CONF_PV(arg);
    conf_s0();
    *result = CONF_VP(local + 1);
    return 0;
}

static int shared_parent(void *arg, void **result)
{
    (void)arg;
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.flags = AL_TASK_SHARED_STACK;
    o.eager = AL_EAGER_ON; /* cannot run inside us (we hold the shared stack): starts lazily */
    al_task *kids[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(al_task_new(conf_cur_loop(), shared_child, CONF_VP(i * 10), &o, &kids[i]),
                         0);
    int sum = 0;
    for (int i = 0; i < 8; i++) {
        void *v;
        ck_assert_int_eq(al_await(al_task_future(kids[i])), 0);
        al_future_result(al_task_future(kids[i]), &v);
        sum += CONF_PV(v);
        al_task_unref(kids[i]);
    }
    *result = CONF_VP(sum);
    return 0;
}

START_TEST(task_shared_stack)
{
    al_loop *loop = conf_loop_new();
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.flags = AL_TASK_SHARED_STACK;
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, shared_parent, NULL, &o, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    void *v;
    al_future_result(al_task_future(t), &v);
    ck_assert_int_eq(CONF_PV(v), 280 + 8);
    al_task_unref(t);
    /* Bad flags and sizes. */
    o.flags = 0x80;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, &o, &t), -EINVAL);
    o.flags = AL_TASK_SHARED_STACK;
    o.stack_size = 512 * 1024;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, &o, &t), -EINVAL);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_task_shared)
{
    Suite *s = suite_create("task_shared");
    TCase *tc = al_tcase("task_shared");
    tcase_add_test(tc, task_shared_stack);
    suite_add_tcase(s, tc);
    return s;
}

/* Future conformance: asyncio's test_futures.py (rules R22-R29) and the
 * future half of issue 3's bad-input list. */
#include "al_conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static conf_log cb_log;

static int log_cb(al_future *f, void *arg)
{
    ck_assert(al_future_done(f));
    conf_log_add(&cb_log, CONF_PV(arg));
    return 0;
}

static int dtor_calls;
static void count_dtor(void *v)
{
    (void)v;
    dtor_calls++;
}

/* ---- R22: states and invalid transitions ------------------------------- */

START_TEST(future_result_states)
{
    al_loop *loop = conf_loop_new();
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    void *v = CONF_VP(1);
    ck_assert(!al_future_done(f));
    ck_assert(!al_future_cancelled(f));
    ck_assert_int_eq(al_future_result(f, &v), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_future_error(f), AL_EINVALIDSTATE);
    ck_assert_ptr_eq(al_future_loop(f), loop);

    ck_assert_int_eq(al_future_set_result(f, CONF_VP(42), NULL), 0);
    ck_assert(al_future_done(f));
    ck_assert(!al_future_cancelled(f));
    ck_assert_int_eq(al_future_result(f, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 42);
    ck_assert_int_eq(al_future_error(f), 0);
    /* A second transition is refused and changes nothing. */
    ck_assert_int_eq(al_future_set_result(f, CONF_VP(7), NULL), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_future_set_error(f, -EIO), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_future_cancel(f, NULL), 0);
    ck_assert(!al_future_cancelled(f));
    ck_assert_int_eq(al_future_result(f, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 42);
    al_future_unref(f);

    /* error */
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    ck_assert_int_eq(al_future_set_error(f, -EIO), 0);
    ck_assert_int_eq(al_future_error(f), -EIO);
    ck_assert_int_eq(al_future_result(f, &v), -EIO);
    ck_assert_ptr_null(v);
    ck_assert_int_eq(al_future_cancel(f, NULL), 0);
    al_future_unref(f);

    /* cancelled */
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    ck_assert_int_eq(al_future_cancel(f, NULL), 1);
    ck_assert(al_future_done(f));
    ck_assert(al_future_cancelled(f));
    ck_assert_int_eq(al_future_result(f, &v), AL_ECANCELLED);
    ck_assert_int_eq(al_future_error(f), AL_ECANCELLED);
    ck_assert_ptr_null(al_future_cancel_message(f));
    ck_assert_int_eq(al_future_cancel(f, "again"), 0);
    ck_assert_ptr_null(al_future_cancel_message(f));
    ck_assert_int_eq(al_future_set_result(f, NULL, NULL), AL_EINVALIDSTATE);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

START_TEST(future_bad_arguments)
{
    al_loop *loop = conf_loop_new();
    al_future *f = NULL;
    ck_assert_int_eq(al_future_new(NULL, &f), -EINVAL);
    ck_assert_int_eq(al_future_new(loop, NULL), -EINVAL);
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    /* Only negative codes, and never the cancellation code, are errors. */
    ck_assert_int_eq(al_future_set_error(f, 0), -EINVAL);
    ck_assert_int_eq(al_future_set_error(f, 5), -EINVAL);
    ck_assert_int_eq(al_future_set_error(f, AL_ECANCELLED), -EINVAL);
    ck_assert(!al_future_done(f));
    ck_assert_int_eq(al_future_set_result(NULL, NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_future_set_error(NULL, -EIO), -EINVAL);
    ck_assert_int_eq(al_future_cancel(NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_future_error(NULL), -EINVAL);
    ck_assert_int_eq(al_future_add_done_callback(NULL, log_cb, NULL), -EINVAL);
    ck_assert_int_eq(al_future_add_done_callback(f, NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_future_remove_done_callback(f, NULL, NULL), -EINVAL);
    ck_assert(!al_future_done(NULL));
    ck_assert(!al_future_cancelled(NULL));
    ck_assert_ptr_null(al_future_loop(NULL));
    ck_assert_ptr_null(al_future_cancel_message(NULL));
    al_future_unref(NULL);
    ck_assert_ptr_null(al_future_task(f));
    al_future_unref(f);

    /* A closed loop makes no futures. */
    al_loop_close(loop);
    f = NULL;
    ck_assert_int_eq(al_future_new(loop, &f), AL_ELOOPCLOSED);
    ck_assert_ptr_null(f);
    al_loop_free(loop);
}
END_TEST

/* ---- R24: the cancellation message --------------------------------------- */

static int cancel_later_cb(al_loop *loop, void *arg)
{
    (void)loop;
    al_future_cancel(arg, "my message");
    return 0;
}

START_TEST(future_cancel_message)
{
    al_loop *loop = conf_loop_new();
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    char msg[] = "my message";
    ck_assert_int_eq(al_future_cancel(f, msg), 1);
    msg[0] = 'X'; /* copied */
    ck_assert_str_eq(al_future_cancel_message(f), "my message");
    al_future_unref(f);

    /* A task awaiting it sees the cancellation, and ends cancelled with
     * the same message when it lets it propagate. */
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, conf_await_arg, f, NULL, &t), 0);
    ck_assert_int_eq(al_call_soon(loop, cancel_later_cb, f, NULL), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(al_task_future(t)));
    ck_assert_ptr_nonnull(al_future_cancel_message(al_task_future(t)));
    ck_assert_str_eq(al_future_cancel_message(al_task_future(t)), "my message");
    al_task_unref(t);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* ---- R25/R26: callbacks ---------------------------------------------------- */

START_TEST(future_callbacks_order)
{
    al_loop *loop = conf_loop_new();
    memset(&cb_log, 0, sizeof cb_log);
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    ck_assert_int_eq(al_future_add_done_callback(f, log_cb, CONF_VP(42)), 0);
    ck_assert_int_eq(al_future_add_done_callback(f, log_cb, CONF_VP(17)), 0);
    ck_assert_int_eq(al_future_set_result(f, CONF_VP(3), NULL), 0);
    /* Never inline. */
    ck_assert_int_eq(cb_log.n, 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    CONF_LOG_EXPECT(&cb_log, 42, 17);

    /* Added to a done future: scheduled, not run inline. */
    ck_assert_int_eq(al_future_add_done_callback(f, log_cb, CONF_VP(5)), 0);
    CONF_LOG_EXPECT(&cb_log, 42, 17);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    CONF_LOG_EXPECT(&cb_log, 42, 17, 5);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

START_TEST(future_callbacks_remove)
{
    al_loop *loop = conf_loop_new();
    memset(&cb_log, 0, sizeof cb_log);
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_add_done_callback(f, log_cb, CONF_VP(42));
    al_future_add_done_callback(f, log_cb, CONF_VP(17));
    al_future_add_done_callback(f, log_cb, CONF_VP(100));
    ck_assert_int_eq(al_future_remove_done_callback(f, log_cb, CONF_VP(42)), 1);
    ck_assert_int_eq(al_future_remove_done_callback(f, log_cb, CONF_VP(42)), 0);
    ck_assert_int_eq(al_future_remove_done_callback(f, log_cb, CONF_VP(999)), 0);
    al_future_set_result(f, NULL, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    CONF_LOG_EXPECT(&cb_log, 17, 100);
    al_future_unref(f);

    /* R26: the count of removed registrations: 1, 0, 6. */
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_add_done_callback(f, log_cb, CONF_VP(1));
    ck_assert_int_eq(al_future_remove_done_callback(f, log_cb, CONF_VP(1)), 1);
    ck_assert_int_eq(al_future_remove_done_callback(f, log_cb, CONF_VP(1)), 0);
    for (int i = 0; i < 6; i++) {
        al_future_add_done_callback(f, log_cb, CONF_VP(2));
        al_future_add_done_callback(f, log_cb, CONF_VP(3));
    }
    ck_assert_int_eq(al_future_remove_done_callback(f, log_cb, CONF_VP(2)), 6);
    memset(&cb_log, 0, sizeof cb_log);
    al_future_cancel(f, NULL);
    /* Removing after completion: the callbacks are already scheduled. */
    ck_assert_int_eq(al_future_remove_done_callback(f, log_cb, CONF_VP(3)), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    CONF_LOG_EXPECT(&cb_log, 3, 3, 3, 3, 3, 3);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* R27: 64 callbacks, each mutating the registrations of the futures while
 * they are being scheduled and run. */
static al_future *mut_futs[2];
static int mut_runs;

static int mutating_cb(al_future *f, void *arg)
{
    (void)f;
    mut_runs++;
    int i = CONF_PV(arg);
    /* Remove others from the (done) first future and from the pending one,
     * and add more to the pending one. */
    al_future_remove_done_callback(mut_futs[0], mutating_cb, CONF_VP((i + 1) % 64));
    al_future_remove_done_callback(mut_futs[1], mutating_cb, CONF_VP(i));
    al_future_add_done_callback(mut_futs[1], mutating_cb, CONF_VP(1000 + i));
    return 0;
}

START_TEST(future_callbacks_mutation)
{
    al_loop *loop = conf_loop_new();
    mut_runs = 0;
    ck_assert_int_eq(al_future_new(loop, &mut_futs[0]), 0);
    ck_assert_int_eq(al_future_new(loop, &mut_futs[1]), 0);
    for (int i = 0; i < 64; i++) {
        al_future_add_done_callback(mut_futs[0], mutating_cb, CONF_VP(i));
        al_future_add_done_callback(mut_futs[1], mutating_cb, CONF_VP(i));
    }
    /* Remove every other one while the list is large. */
    for (int i = 0; i < 64; i += 2)
        ck_assert_int_eq(al_future_remove_done_callback(mut_futs[1], mutating_cb, CONF_VP(i)), 1);
    al_future_set_result(mut_futs[0], NULL, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(mut_runs, 64);
    /* 32 originals removed by the first round (odd ones), 64 added. */
    al_future_set_result(mut_futs[1], NULL, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(mut_runs, 64 + 64);
    al_future_unref(mut_futs[0]);
    al_future_unref(mut_futs[1]);
    al_loop_free(loop);
}
END_TEST

static int failing_cb(al_future *f, void *arg)
{
    (void)f;
    (void)arg;
    return -EPIPE;
}

START_TEST(future_callback_error_reported)
{
    al_loop *loop = conf_loop_new();
    conf_reports rec = {0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_add_done_callback(f, failing_cb, NULL);
    al_future_set_result(f, NULL, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(rec.count, 1);
    ck_assert_int_eq(rec.last_error, -EPIPE);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* ---- R28: errors never retrieved ------------------------------------------ */

static int unretrieved_reports(int how)
{
    al_loop *loop = conf_loop_new();
    conf_reports rec = {0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    ck_assert_int_eq(al_future_set_error(f, -ECONNRESET), 0);
    void *v;
    switch (how) {
    case 1:
        ck_assert_int_eq(al_future_error(f), -ECONNRESET);
        break;
    case 2:
        ck_assert_int_eq(al_future_result(f, &v), -ECONNRESET);
        break;
    case 3:
        ck_assert_int_eq(al_future_cancel(f, NULL), 0);
        break;
    default:
        break;
    }
    al_future_unref(f);
    int n = rec.count;
    if (how == 0) {
        ck_assert_int_eq(rec.last_error, -ECONNRESET);
        ck_assert_str_eq(rec.last_message, "Future exception was never retrieved");
    }
    al_loop_free(loop);
    return n;
}

START_TEST(future_error_never_retrieved)
{
    ck_assert_int_eq(unretrieved_reports(0), 1);
    ck_assert_int_eq(unretrieved_reports(1), 0); /* exception() */
    ck_assert_int_eq(unretrieved_reports(2), 0); /* result() */
    ck_assert_int_eq(unretrieved_reports(3), 0); /* cancel() */
}
END_TEST

START_TEST(future_cancelled_not_reported)
{
    al_loop *loop = conf_loop_new();
    conf_reports rec = {0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_cancel(f, "x");
    al_future_unref(f);
    ck_assert_int_eq(rec.count, 0);
    al_loop_free(loop);
}
END_TEST

/* ---- ownership ---------------------------------------------------------------- */

START_TEST(future_result_ownership)
{
    al_loop *loop = conf_loop_new();
    al_future *f;
    dtor_calls = 0;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    ck_assert_int_eq(al_future_set_result(f, CONF_VP(1), count_dtor), 0);
    /* Refused: the caller keeps its value, the future's dtor is unchanged. */
    ck_assert_int_eq(al_future_set_result(f, CONF_VP(2), count_dtor), AL_EINVALIDSTATE);
    ck_assert_int_eq(dtor_calls, 0);
    al_future_unref(f);
    ck_assert_int_eq(dtor_calls, 1);

    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_set_result(f, CONF_VP(9), count_dtor);
    void *v = NULL;
    ck_assert_int_eq(al_future_take_result(f, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 9);
    al_future_unref(f);
    ck_assert_int_eq(dtor_calls, 1); /* moved out: not destroyed */

    /* A reference keeps it alive; the last one frees it. */
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_set_result(f, CONF_VP(3), count_dtor);
    ck_assert_ptr_eq(al_future_ref(f), f);
    al_future_unref(f);
    ck_assert_int_eq(dtor_calls, 1);
    al_future_unref(f);
    ck_assert_int_eq(dtor_calls, 2);
    al_loop_free(loop);
}
END_TEST

/* A done-callback holds its own reference: dropping the user's one before
 * the callback runs is safe. */
START_TEST(future_callback_keeps_future)
{
    al_loop *loop = conf_loop_new();
    memset(&cb_log, 0, sizeof cb_log);
    dtor_calls = 0;
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_add_done_callback(f, log_cb, CONF_VP(8));
    al_future_set_result(f, CONF_VP(1), count_dtor);
    al_future_unref(f);
    ck_assert_int_eq(dtor_calls, 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    CONF_LOG_EXPECT(&cb_log, 8);
    ck_assert_int_eq(dtor_calls, 1);
    al_loop_free(loop);
}
END_TEST

/* Bad input: freeing a future that still has callbacks, or a task parked on
 * it: nothing runs, nothing leaks, the task keeps the future alive. */
START_TEST(future_free_with_waiters)
{
    al_loop *loop = conf_loop_new();
    memset(&cb_log, 0, sizeof cb_log);
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_add_done_callback(f, log_cb, CONF_VP(1));
    al_future_unref(f); /* pending, callbacks registered */

    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, conf_await_arg, f, NULL, &t), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop); /* t parks on f */
    al_future_unref(f);        /* the task's reference remains */
    ck_assert(!al_future_done(al_task_future(t)));
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
    ck_assert_int_eq(cb_log.n, 0);
    al_task_unref(t);
    al_loop_free(loop);
}
END_TEST

/* al_future_reset: a done future its owner alone holds is pending again,
 * released as by a last unref first; refused (unchanged) while pending,
 * while anyone else holds it, for a task, on a closed loop. */
START_TEST(future_reset_for_reuse)
{
    al_loop *loop = conf_loop_new();
    conf_reports rec = {0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    memset(&cb_log, 0, sizeof cb_log);
    dtor_calls = 0;
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    ck_assert_int_eq(al_future_reset(NULL), -EINVAL);
    ck_assert_int_eq(al_future_reset(f), AL_EINVALIDSTATE); /* pending */

    /* A value: its destructor runs at the reset. */
    al_future_set_result(f, CONF_VP(1), count_dtor);
    ck_assert_int_eq(al_future_reset(f), 0);
    ck_assert_int_eq(dtor_calls, 1);
    ck_assert(!al_future_done(f));
    ck_assert_int_eq(al_future_error(f), AL_EINVALIDSTATE);

    /* A queued done-callback holds f: refused until it ran, then the
     * callbacks of the next round are the new ones only. */
    al_future_add_done_callback(f, log_cb, CONF_VP(1));
    al_future_set_result(f, NULL, NULL);
    ck_assert_int_eq(al_future_reset(f), -EBUSY);
    ck_assert(al_future_done(f));
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(al_future_reset(f), 0);
    al_future_add_done_callback(f, log_cb, CONF_VP(2));
    al_future_set_result(f, NULL, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    CONF_LOG_EXPECT(&cb_log, 1, 2);

    /* An error nobody retrieved is reported as by the last unref; a
     * cancellation and its message are forgotten. */
    ck_assert_int_eq(al_future_reset(f), 0);
    al_future_set_error(f, -ECONNRESET);
    ck_assert_int_eq(al_future_reset(f), 0);
    ck_assert_int_eq(rec.count, 1);
    ck_assert_int_eq(rec.last_error, -ECONNRESET);
    al_future_cancel(f, "bye");
    ck_assert_int_eq(al_future_reset(f), 0);
    ck_assert_ptr_null(al_future_cancel_message(f));
    ck_assert(!al_future_cancelled(f));
    ck_assert_int_eq(al_future_set_result(f, CONF_VP(7), NULL), 0);
    void *v = NULL;
    ck_assert_int_eq(al_future_result(f, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 7);

    /* Another reference: refused. */
    al_future_ref(f);
    ck_assert_int_eq(al_future_reset(f), -EBUSY);
    al_future_unref(f);

    /* A task is not a plain future. */
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, conf_noop, NULL, NULL, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    ck_assert_int_eq(al_future_reset(al_task_future(t)), -EINVAL);
    al_task_unref(t);

    /* A closed loop: refused, f stays done. */
    al_loop_close(loop);
    ck_assert_int_eq(al_future_reset(f), AL_ELOOPCLOSED);
    ck_assert(al_future_done(f));
    ck_assert_int_eq(rec.count, 1);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

/* A task woken by f holds f's only other reference while it runs: once
 * al_await returned, f's owner can reset it at once (a stream reader waits
 * on one future, read after read). Also when f is cancelled meanwhile. */
static int complete_cb(al_loop *loop, void *arg)
{
    (void)loop;
    return al_future_set_result(arg, NULL, NULL);
}

static int await_and_reset(void *arg, void **result)
{
    (void)result;
    al_loop *loop = conf_cur_loop();
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(al_call_soon(loop, complete_cb, f, NULL), 0);
        ck_assert_int_eq(al_await(f), 0);
        ck_assert_int_eq(al_future_reset(f), 0);
    }
    /* Cancelled by the task's cancel while it waits: the same. */
    al_task *self = conf_self();
    ck_assert_int_eq(al_call_soon(loop, conf_cancel_cb, self, NULL), 0);
    ck_assert_int_eq(al_await(f), AL_ECANCELLED);
    ck_assert_int_eq(al_task_uncancel(self), 0);
    ck_assert_int_eq(al_future_reset(f), 0);
    al_future_unref(f);
    (void)arg;
    return 0;
}

START_TEST(future_reset_after_await)
{
    conf_run_main(await_and_reset, NULL);
}
END_TEST

START_TEST(future_wrong_loop)
{
    al_loop *a = conf_loop_new(), *b = conf_loop_new();
    al_future *f;
    ck_assert_int_eq(al_future_new(b, &f), 0);
    ck_assert_int_eq(al_loop_run_until_complete(a, f), AL_EWRONGLOOP);
    al_future_set_result(f, NULL, NULL);
    ck_assert_int_eq(al_loop_run_until_complete(b, f), 0);
    al_future_unref(f);
    al_loop_free(a);
    al_loop_free(b);
}
END_TEST

/* ---- R29: the executor's future (asyncio's wrap_future) ---------------------- */

static int work_value(void *arg, void **result)
{
    *result = arg;
    return 0;
}

START_TEST(future_executor_cancel_after_done)
{
    al_loop *loop = conf_loop_new();
    al_future *f;
    ck_assert_int_eq(al_loop_run_in_executor(loop, work_value, CONF_VP(77), NULL, &f), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, f), 0);
    /* A finished one keeps its result. */
    ck_assert_int_eq(al_future_cancel(f, NULL), 0);
    void *v;
    ck_assert_int_eq(al_future_result(f, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 77);
    al_future_unref(f);

    ck_assert_int_eq(al_loop_run_in_executor(loop, work_value, CONF_VP(78), NULL, &f), 0);
    ck_assert_int_eq(al_future_cancel(f, NULL), 1);
    ck_assert(al_future_cancelled(f));
    ck_assert_int_eq(al_loop_run_until_complete(loop, f), AL_ECANCELLED);
    al_future_unref(f);
    al_loop_shutdown_default_executor(loop, -1);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_futures)
{
    Suite *s = suite_create("futures");
    TCase *tc = al_tcase("futures");
    tcase_add_test(tc, future_result_states);
    tcase_add_test(tc, future_bad_arguments);
    tcase_add_test(tc, future_cancel_message);
    tcase_add_test(tc, future_callbacks_order);
    tcase_add_test(tc, future_callbacks_remove);
    tcase_add_test(tc, future_callbacks_mutation);
    tcase_add_test(tc, future_callback_error_reported);
    tcase_add_test(tc, future_error_never_retrieved);
    tcase_add_test(tc, future_cancelled_not_reported);
    tcase_add_test(tc, future_result_ownership);
    tcase_add_test(tc, future_callback_keeps_future);
    tcase_add_test(tc, future_free_with_waiters);
    tcase_add_test(tc, future_reset_for_reuse);
    tcase_add_test(tc, future_reset_after_await);
    tcase_add_test(tc, future_wrong_loop);
    tcase_add_test(tc, future_executor_cancel_after_done);
    suite_add_tcase(s, tc);
    return s;
}

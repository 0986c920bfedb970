/* Closing a loop with tasks still parked: every task is dropped, the
 * futures forget them, and the cost stays linear when many tasks wait on
 * one future (a quadratic purge would take minutes here). */
#include "al_conf.h"

#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static conf_reports rec;

START_TEST(close_many_parked_on_one_future)
{
    al_loop *loop = conf_loop_new();
    rec = (conf_reports){0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    al_future *gate, *other;
    ck_assert_int_eq(al_future_new(loop, &gate), 0);
    ck_assert_int_eq(al_future_new(loop, &other), 0);
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.flags = AL_TASK_SHARED_STACK;
    /* The quadratic purge took 4.7 s for 100 k in a release build. */
    const int N = conf_many(100000);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(al_task_new(loop, conf_await_arg, (i % 1000) ? gate : other, &o, NULL), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), N);
    double t0 = now_s();
    ck_assert_int_eq(al_loop_close(loop), 0);
    double took = now_s() - t0;
    ck_assert_msg(took < 3.0, "closing took %.1f s", took);
    ck_assert_int_eq(rec.count, N);
    ck_assert_str_eq(rec.last_message, "Task was destroyed but it is pending!");
    /* The futures outlive the loop and know nothing of the tasks. */
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    al_future_unref(gate);
    al_future_unref(other);
    al_loop_free(loop);
}
END_TEST

/* A future held by the user outlives its loop; completing it afterwards is
 * harmless (nothing can run: its callbacks are reported, not run). */
static int never_cb(al_future *f, void *arg)
{
    (void)f;
    (void)arg;
    ck_abort_msg("callback ran after close");
    return 0;
}

START_TEST(future_outlives_loop)
{
    al_loop *loop = conf_loop_new();
    rec = (conf_reports){0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    al_future_add_done_callback(f, never_cb, NULL);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, conf_await_arg, f, NULL, &t), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_int_eq(al_loop_free(loop), 0);
    ck_assert(al_future_cancelled(al_task_future(t)));
    ck_assert_int_eq(al_future_set_result(f, NULL, NULL), 0);
    ck_assert(al_future_done(f));
    al_task_unref(t);
    al_future_unref(f);
}
END_TEST

AL_TEST_SUITE(suite_task_close)
{
    Suite *s = suite_create("task_close");
    TCase *tc = al_tcase("task_close");
    tcase_add_test(tc, close_many_parked_on_one_future);
    tcase_add_test(tc, future_outlives_loop);
    suite_add_tcase(s, tc);
    return s;
}

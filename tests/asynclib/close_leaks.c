/* Closing a loop while combinators are still pending leaks nothing.
 *
 * Each case starts a combinator over tasks parked forever (or futures
 * nobody completes), closes and frees the loop, then drops the user's
 * references. The checks are ASan's LeakSanitizer and Valgrind: the
 * combinators' shared state is released by the drop hooks of their
 * done-callbacks (queued calls dropped by the close, futures freed while
 * pending) and, for the calls made inside a task, with the task's dropped
 * stack. */
#include "al_conf.h"

#include <stddef.h>

/* A few loop iterations without blocking: every task parks. */
static void run_briefly(al_loop *loop)
{
    for (int i = 0; i < 3; i++) {
        al_loop_stop(loop);
        al_loop_run_forever(loop);
    }
}

static al_loop *quiet_loop(void)
{
    al_loop *loop = conf_loop_new();
    al_loop_set_exception_handler(loop, conf_quiet_handler, NULL);
    return loop;
}

static al_future *new_future(al_loop *loop)
{
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    return f;
}

/* A task parked on gate forever (the caller's reference). */
static al_task *parked(al_loop *loop, al_future *gate)
{
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, conf_await_arg, gate, NULL, &t), 0);
    return t;
}

static void close_and_free(al_loop *loop)
{
    run_briefly(loop);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(al_loop_free(loop), 0);
}

/* ---- gather ------------------------------------------------------------------ */

typedef struct gather_args {
    al_task *children[2];
} gather_args;

static int gather_wait_main(void *arg, void **result)
{
    (void)result;
    gather_args *a = arg;
    al_future *fs[2] = {CONF_F(a->children[0]), CONF_F(a->children[1])};
    return al_gather_wait(fs, 2, true, NULL);
}

START_TEST(close_pending_gather)
{
    al_loop *loop = quiet_loop();
    al_future *gate = new_future(loop);
    al_task *a = parked(loop, gate), *b = parked(loop, gate);
    al_future *fs[3] = {CONF_F(a), CONF_F(b), CONF_F(a)};
    al_future *g1, *g2;
    ck_assert_int_eq(al_gather(loop, fs, 3, false, &g1), 0);
    ck_assert_int_eq(al_gather(loop, fs, 2, true, &g2), 0);
    /* A task awaiting a gather of its own. */
    gather_args ga = {{parked(loop, gate), parked(loop, gate)}};
    al_task *waiter;
    ck_assert_int_eq(al_task_new(loop, gather_wait_main, &ga, NULL, &waiter), 0);
    al_future_unref(g2); /* dropped before the close */
    close_and_free(loop);
    ck_assert(!al_future_done(g1));
    al_future_unref(g1);
    al_task_unref(a);
    al_task_unref(b);
    al_task_unref(ga.children[0]);
    al_task_unref(ga.children[1]);
    al_task_unref(waiter);
    al_future_unref(gate);
}
END_TEST

/* ---- wait ---------------------------------------------------------------------- */

typedef struct wait_args {
    al_future *fs[3];
    size_t n;
    double timeout;
    int return_when;
} wait_args;

static int wait_main(void *arg, void **result)
{
    (void)result;
    wait_args *a = arg;
    return al_wait(a->fs, a->n, a->timeout, a->return_when, NULL, NULL, NULL, NULL);
}

START_TEST(close_pending_wait)
{
    al_loop *loop = quiet_loop();
    al_future *gate = new_future(loop);
    al_future *other = new_future(loop);
    al_task *a = parked(loop, gate);
    wait_args w1 = {{gate, CONF_F(a), gate}, 3, 1000.0, AL_ALL_COMPLETED};
    wait_args w2 = {{other, CONF_F(a)}, 2, AL_FOREVER, AL_FIRST_COMPLETED};
    al_task *t1, *t2;
    ck_assert_int_eq(al_task_new(loop, wait_main, &w1, NULL, &t1), 0);
    ck_assert_int_eq(al_task_new(loop, wait_main, &w2, NULL, &t2), 0);
    close_and_free(loop);
    al_task_unref(t1);
    al_task_unref(t2);
    al_task_unref(a);
    al_future_unref(gate);
    al_future_unref(other);
}
END_TEST

/* ---- wait_for ------------------------------------------------------------------- */

static int wait_for_main(void *arg, void **result)
{
    (void)result;
    return al_wait_for(arg, 1000.0);
}

static int wait_for_forever_main(void *arg, void **result)
{
    (void)result;
    return al_wait_for(arg, AL_FOREVER);
}

START_TEST(close_pending_wait_for)
{
    al_loop *loop = quiet_loop();
    al_future *gate = new_future(loop);
    al_task *a = parked(loop, gate);
    al_task *t1, *t2, *t3;
    ck_assert_int_eq(al_task_new(loop, wait_for_main, gate, NULL, &t1), 0);
    ck_assert_int_eq(al_task_new(loop, wait_for_main, CONF_F(a), NULL, &t2), 0);
    ck_assert_int_eq(al_task_new(loop, wait_for_forever_main, gate, NULL, &t3), 0);
    close_and_free(loop);
    al_task_unref(t1);
    al_task_unref(t2);
    al_task_unref(t3);
    al_task_unref(a);
    al_future_unref(gate);
}
END_TEST

/* ---- as_completed ---------------------------------------------------------------- */

static int next_main(void *arg, void **result)
{
    (void)result;
    al_future *f = NULL;
    int rc = al_as_completed_next(arg, &f);
    al_future_unref(f);
    return rc;
}

START_TEST(close_pending_as_completed)
{
    al_loop *loop = quiet_loop();
    al_future *gate = new_future(loop);
    al_task *a = parked(loop, gate), *b = parked(loop, gate);
    al_future *fs[3] = {CONF_F(a), gate, CONF_F(b)};
    al_as_completed *it1, *it2;
    ck_assert_int_eq(al_as_completed_new(loop, fs, 3, 1000.0, &it1), 0);
    ck_assert_int_eq(al_as_completed_new(loop, fs, 3, AL_FOREVER, &it2), 0);
    al_task *consumer; /* parked in next when the loop closes */
    ck_assert_int_eq(al_task_new(loop, next_main, it1, NULL, &consumer), 0);
    close_and_free(loop);
    ck_assert_int_eq(al_as_completed_free(it1), 0);
    ck_assert_int_eq(al_as_completed_free(it2), 0);
    al_task_unref(consumer);
    al_task_unref(a);
    al_task_unref(b);
    al_future_unref(gate);
}
END_TEST

/* ---- shield ------------------------------------------------------------------------ */

START_TEST(close_pending_shield)
{
    al_loop *loop = quiet_loop();
    al_future *gate = new_future(loop);
    al_task *a = parked(loop, gate), *b = parked(loop, gate);
    al_future *s1, *s2, *s3;
    ck_assert_int_eq(al_shield(CONF_F(a), &s1), 0);
    ck_assert_int_eq(al_shield(CONF_F(b), &s2), 0);
    ck_assert_int_eq(al_shield(CONF_F(b), &s3), 0);
    al_task *awaiting; /* a task awaiting the shield */
    ck_assert_int_eq(al_task_new(loop, conf_await_arg, s1, NULL, &awaiting), 0);
    run_briefly(loop);
    ck_assert_int_eq(al_future_cancel(s3, NULL), 1); /* its callbacks queued at close */
    al_future_unref(s2);                             /* dropped before the close */
    close_and_free(loop);
    al_future_unref(s1);
    al_future_unref(s3);
    al_task_unref(awaiting);
    al_task_unref(a);
    al_task_unref(b);
    al_future_unref(gate);
}
END_TEST

/* ---- TaskGroup --------------------------------------------------------------------- */

static int group_main(void *arg, void **result)
{
    (void)result;
    al_taskgroup *tg;
    ck_assert_int_eq(al_taskgroup_new(&tg), 0);
    ck_assert_int_eq(al_taskgroup_enter(tg), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(al_taskgroup_create_task(tg, conf_await_arg, arg, NULL, NULL), 0);
    int rc = al_taskgroup_exit(tg, 0); /* parks until the children are done */
    al_taskgroup_free(tg);
    return rc;
}

static int group_body_main(void *arg, void **result)
{
    (void)result;
    al_taskgroup *tg;
    ck_assert_int_eq(al_taskgroup_new(&tg), 0);
    ck_assert_int_eq(al_taskgroup_enter(tg), 0);
    ck_assert_int_eq(al_taskgroup_create_task(tg, conf_await_arg, arg, NULL, NULL), 0);
    int rc = al_await(arg); /* the body itself parks */
    rc = al_taskgroup_exit(tg, rc);
    al_taskgroup_free(tg);
    return rc;
}

START_TEST(close_pending_taskgroup)
{
    al_loop *loop = quiet_loop();
    al_future *gate = new_future(loop);
    al_task *t1, *t2;
    ck_assert_int_eq(al_task_new(loop, group_main, gate, NULL, &t1), 0);
    ck_assert_int_eq(al_task_new(loop, group_body_main, gate, NULL, &t2), 0);
    close_and_free(loop);
    al_task_unref(t1);
    al_task_unref(t2);
    al_future_unref(gate);
}
END_TEST

AL_TEST_SUITE(suite_close_leaks)
{
    Suite *s = suite_create("close_leaks");
    TCase *tc = al_tcase("close_leaks");
    tcase_add_test(tc, close_pending_gather);
    tcase_add_test(tc, close_pending_wait);
    tcase_add_test(tc, close_pending_wait_for);
    tcase_add_test(tc, close_pending_as_completed);
    tcase_add_test(tc, close_pending_shield);
    tcase_add_test(tc, close_pending_taskgroup);
    suite_add_tcase(s, tc);
    return s;
}

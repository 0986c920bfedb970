/* Validate, then act: a refused call changes nothing, queues nothing and
 * takes no reference (issue 8, fault 1). Each case makes a call that must be
 * refused and then checks that the loop and the objects involved behave
 * exactly as if the call had never been made. */
#include "al_conf.h"

#include <errno.h>

/* ---- al_loop_run_until_complete on a running loop -------------------------- */

typedef struct nested_run {
    al_loop *loop;
    int nested_rc, done_rc, done_status;
    int iterations;
} nested_run;

static int nested_body(void *arg, void **result)
{
    (void)result;
    nested_run *n = arg;
    al_future *done;
    ck_assert_int_eq(al_future_new(n->loop, &done), 0);
    ck_assert_int_eq(al_future_set_result(done, NULL, NULL), 0);
    n->nested_rc = al_loop_run_until_complete(n->loop, done);
    n->done_status = 12345;
    n->done_rc = al_loop_run_until_done(n->loop, done, &n->done_status);
    al_future_unref(done);
    /* The refused calls left no stop callback behind: the loop goes on. */
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(al_sleep(0), 0);
        n->iterations++;
    }
    return 0;
}

START_TEST(run_until_complete_refused_inside_running_loop)
{
    al_loop *loop = conf_loop_new();
    nested_run n = {.loop = loop};
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, nested_body, &n, NULL, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    ck_assert_int_eq(n.nested_rc, AL_ELOOPRUNNING);
    ck_assert_int_eq(n.done_rc, AL_ELOOPRUNNING);
    ck_assert_int_eq(n.done_status, 12345); /* untouched on refusal */
    ck_assert_int_eq(n.iterations, 5);
    al_task_unref(t);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

static int other_loop_body(void *arg, void **result)
{
    (void)result;
    al_loop *other = arg;
    al_future *f;
    ck_assert_int_eq(al_future_new(other, &f), 0);
    ck_assert_int_eq(al_future_set_result(f, NULL, NULL), 0);
    int rc = al_loop_run_until_complete(other, f); /* another loop runs on this thread */
    al_future_unref(f);
    return rc == AL_ELOOPRUNNING ? 0 : -EPROTO;
}

/* Refused because another loop runs on this thread: the other loop is left
 * as it was (a later run of it does not stop early). */
START_TEST(run_until_complete_refused_other_loop_running)
{
    al_loop *loop = conf_loop_new(), *other = conf_loop_new();
    ck_assert_int_eq(conf_run_task(loop, other_loop_body, other, NULL), 0);
    int n = 0;
    ck_assert_int_eq(al_call_soon(other, conf_count_cb, &n, NULL), 0);
    ck_assert_int_eq(al_loop_run_once(other), 0);
    ck_assert_int_eq(n, 1);
    al_loop_free(other);
    al_loop_free(loop);
}
END_TEST

static int stop_cb(al_loop *loop, void *arg)
{
    (void)arg;
    return al_loop_stop(loop);
}

/* On a closed loop, another loop's future, NULL: refused, future untouched.
 * A future done afterwards queues no stop on its loop. */
START_TEST(run_until_complete_refusals_leave_future_alone)
{
    al_loop *loop = conf_loop_new(), *closed = conf_loop_new();
    al_future *f, *g;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    ck_assert_int_eq(al_future_new(closed, &g), 0);
    ck_assert_int_eq(al_loop_close(closed), 0);
    int status = 777;
    ck_assert_int_eq(al_loop_run_until_done(closed, g, &status), AL_ELOOPCLOSED);
    ck_assert_int_eq(al_loop_run_until_done(closed, f, &status), AL_EWRONGLOOP);
    ck_assert_int_eq(al_loop_run_until_done(NULL, f, &status), -EINVAL);
    ck_assert_int_eq(al_loop_run_until_done(loop, NULL, &status), -EINVAL);
    ck_assert_int_eq(al_loop_run_until_complete(closed, f), AL_EWRONGLOOP);
    ck_assert_int_eq(status, 777);
    ck_assert(!al_future_done(f));
    /* Completing f now must not stop `loop` (no stale callback). */
    ck_assert_int_eq(al_future_set_result(f, NULL, NULL), 0);
    int n = 0;
    ck_assert_int_eq(al_call_soon(loop, conf_count_cb, &n, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, 0.001, conf_count_cb, &n, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, 0.001, stop_cb, NULL, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert_int_eq(n, 2);
    al_future_unref(f);
    al_future_unref(g);
    al_loop_free(closed);
    al_loop_free(loop);
}
END_TEST

/* ---- run_until_done: a refusal is never mistaken for a failure ---------------- */

static int fails_like_a_refusal(void *arg, void **result)
{
    (void)result;
    return (int)(intptr_t)arg;
}

START_TEST(run_until_done_tells_refusal_from_failure)
{
    static const int codes[] = {
        AL_ELOOPRUNNING, AL_ELOOPCLOSED, AL_EWRONGLOOP, -EINVAL, AL_ESTOPPED, AL_ECANCELLED, 0};
    al_loop *loop = conf_loop_new();
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        al_task *t;
        ck_assert_int_eq(al_task_new(loop, fails_like_a_refusal, CONF_VP(codes[i]), NULL, &t), 0);
        int status = 1;
        ck_assert_int_eq(al_loop_run_until_done(loop, al_task_future(t), &status), 0);
        ck_assert_int_eq(status, codes[i]);
        ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), codes[i]);
        ck_assert_int_eq(al_loop_run_until_done(loop, al_task_future(t), NULL), 0);
        al_task_unref(t);
    }
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_refusals)
{
    Suite *s = suite_create("refusals");
    TCase *tc = al_tcase("run_until_complete");
    tcase_add_test(tc, run_until_complete_refused_inside_running_loop);
    tcase_add_test(tc, run_until_complete_refused_other_loop_running);
    tcase_add_test(tc, run_until_complete_refusals_leave_future_alone);
    tcase_add_test(tc, run_until_done_tells_refusal_from_failure);
    suite_add_tcase(s, tc);
    return s;
}

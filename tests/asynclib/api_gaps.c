/* API gaps found by writing against the library (issue 8): task options
 * whose zero means the defaults, a user pointer on the loop, advancing the
 * virtual clock by hand. */
#include "al_conf.h"

#include <asynclib/loop_ops.h>

#include <errno.h>
#include <math.h>

/* ---- al_loop_waits_next: the next step is the wait ------------------------- */

typedef struct waits_probe {
    int seen[4];
    int n;
} waits_probe;

static int record_waits_next(al_loop *loop, void *arg)
{
    waits_probe *p = arg;
    p->seen[p->n++] = al_loop_waits_next(loop);
    return 0;
}

static int stop_then_record(al_loop *loop, void *arg)
{
    al_loop_stop(loop);
    return record_waits_next(loop, arg);
}

START_TEST(loop_waits_next)
{
    al_loop *loop = conf_loop_new();
    ck_assert(!al_loop_waits_next(NULL));
    ck_assert(!al_loop_waits_next(loop)); /* not running */
    /* Two callbacks of one iteration: the first has the second after it,
     * the second nothing. */
    waits_probe p = {0};
    ck_assert_int_eq(al_call_soon(loop, record_waits_next, &p, NULL), 0);
    ck_assert_int_eq(al_call_soon(loop, record_waits_next, &p, NULL), 0);
    ck_assert_int_eq(al_call_soon(loop, stop_then_record, &p, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert_int_eq(p.n, 3);
    ck_assert_int_eq(p.seen[0], 0);
    ck_assert_int_eq(p.seen[1], 0);
    ck_assert_int_eq(p.seen[2], 0); /* a stop was requested */
    /* Alone in run_forever: the wait is next. */
    waits_probe q = {0};
    ck_assert_int_eq(al_call_soon(loop, record_waits_next, &q, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, 0.01, stop_then_record, &q, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert_int_eq(q.n, 2);
    ck_assert_int_eq(q.seen[0], 1);
    /* al_loop_run_once: no wait follows within it. */
    waits_probe r = {0};
    ck_assert_int_eq(al_call_soon(loop, record_waits_next, &r, NULL), 0);
    ck_assert_int_eq(al_loop_run_once(loop), 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(r.seen[0], 0);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* ---- al_task_options: zero means the defaults ------------------------------- */

static int eager_probe(void *arg, void **result)
{
    (void)result;
    *(int *)arg = 1;
    return 0;
}

typedef struct eager_case {
    al_task_options opts;
    bool loop_eager;
    bool started_inside; /* expected: the first step ran inside al_task_new */
} eager_case;

static int eager_cases_main(void *arg, void **result)
{
    (void)arg, (void)result;
    const eager_case cases[] = {
        {{.name = "zeroed"}, true, true}, /* designated: eager left 0 -> the loop's */
        {{.name = "zeroed"}, false, false},        {{0}, true, true},
        {{.eager = AL_EAGER_ON}, false, true},     {{.eager = AL_EAGER_OFF}, true, false},
        {{.eager = AL_EAGER_DEFAULT}, true, true}, {AL_TASK_OPTIONS_DEFAULT, true, true},
        {AL_TASK_OPTIONS_DEFAULT, false, false},
    };
    al_loop *loop = conf_cur_loop();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(al_loop_set_eager_tasks(loop, cases[i].loop_eager), 0);
        int ran = 0;
        al_task *t;
        ck_assert_int_eq(al_task_new(loop, eager_probe, &ran, &cases[i].opts, &t), 0);
        ck_assert_msg(ran == cases[i].started_inside, "case %zu: started inside: %d", i, ran);
        ck_assert_int_eq(conf_join(t), 0);
        ck_assert_int_eq(ran, 1);
    }
    ck_assert_int_eq(al_loop_set_eager_tasks(loop, false), 0);
    /* Outside enum al_eager: refused, nothing created. */
    const int bad[] = {-1, 3, 100};
    size_t before = al_loop_all_tasks(loop, NULL, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        al_task_options o = {.eager = bad[i]};
        al_task *t = NULL;
        int ran = 0;
        ck_assert_int_eq(al_task_new(loop, eager_probe, &ran, &o, &t), -EINVAL);
        ck_assert_ptr_null(t);
        ck_assert_int_eq(ran, 0);
    }
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), before);
    return 0;
}

START_TEST(task_options_zero_means_default)
{
    conf_run_main(eager_cases_main, NULL);
}
END_TEST

/* ---- al_loop_set_data / al_loop_get_data ----------------------------------- */

static int data_cb(al_loop *loop, void *arg)
{
    *(void **)arg = al_loop_get_data(loop);
    return al_loop_stop(loop);
}

START_TEST(loop_user_data)
{
    al_loop *loop = conf_loop_new();
    ck_assert_ptr_null(al_loop_get_data(loop));
    ck_assert_ptr_null(al_loop_get_data(NULL));
    ck_assert_int_eq(al_loop_set_data(NULL, &loop), -EINVAL);
    int mine;
    ck_assert_int_eq(al_loop_set_data(loop, &mine), 0);
    void *seen = NULL;
    ck_assert_int_eq(al_call_soon(loop, data_cb, &seen, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert_ptr_eq(seen, &mine);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_ptr_eq(al_loop_get_data(loop), &mine); /* kept across close */
    ck_assert_int_eq(al_loop_set_data(loop, NULL), 0);
    ck_assert_ptr_null(al_loop_get_data(loop));
    al_loop_free(loop);
}
END_TEST

/* ---- al_loop_advance_time ------------------------------------------------------ */

typedef struct fired {
    conf_log log;
    double at[8];
} fired;

typedef struct timer_arg {
    fired *f;
    int id;
} timer_arg;

static int timer_cb(al_loop *loop, void *arg)
{
    timer_arg *ta = arg;
    ta->f->at[ta->id] = al_loop_time(loop);
    conf_log_add(&ta->f->log, ta->id);
    return 0;
}

static int busy_cb(al_loop *loop, void *arg)
{
    (void)arg;
    /* A callback that "takes" 5 s of loop time, past both deadlines. */
    return al_loop_advance_time(loop, 5.0);
}

/* A loop busy past two deadlines runs both, in deadline order, in the next
 * iteration, with the clock where the busy spell left it. */
START_TEST(advance_time_busy_past_two_deadlines)
{
    al_loop *loop = conf_loop_new();
    if (!conf_is_virtual()) {
        ck_assert_int_eq(al_loop_advance_time(loop, 1.0), -ENOTSUP);
        al_loop_free(loop);
        return;
    }
    fired f = {0};
    timer_arg a = {&f, 1}, b = {&f, 2}, c = {&f, 3};
    double t0 = al_loop_time(loop);
    ck_assert_int_eq(al_call_later(loop, 2.0, timer_cb, &b, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, 1.0, timer_cb, &a, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, 9.0, timer_cb, &c, NULL), 0);
    ck_assert_int_eq(al_call_soon(loop, busy_cb, NULL, NULL), 0);
    ck_assert_int_eq(al_loop_run_once(loop), 0); /* runs busy_cb only */
    ck_assert_int_eq(f.log.n, 0);
    ck_assert_double_eq_tol(al_loop_time(loop) - t0, 5.0, 1e-9);
    ck_assert_int_eq(al_loop_run_once(loop), 0); /* both due timers, in order */
    CONF_LOG_EXPECT(&f.log, 1, 2);
    ck_assert_double_eq_tol(f.at[1] - t0, 5.0, 1e-9);
    ck_assert_double_eq_tol(f.at[2] - t0, 5.0, 1e-9);
    ck_assert_int_eq(al_loop_run_once(loop), 0); /* the clock jumps to the third */
    CONF_LOG_EXPECT(&f.log, 1, 2, 3);
    ck_assert_double_eq_tol(f.at[3] - t0, 9.0, 1e-9);
    al_loop_free(loop);
}
END_TEST

static int user_timeout_task(void *arg, void **result)
{
    (void)arg, (void)result;
    al_future *never;
    ck_assert_int_eq(al_future_new(conf_cur_loop(), &never), 0);
    int rc = al_wait_for(never, 30.0); /* the user's own timeout */
    al_future_unref(never);
    return rc;
}

static int advance_from_task(void *arg, void **result)
{
    (void)arg, (void)result;
    conf_s0();
    double t0 = conf_now();
    ck_assert_int_eq(al_loop_advance_time(conf_cur_loop(), 29.0), 0);
    ck_assert_double_eq_tol(conf_now() - t0, 29.0, 1e-9);
    return 0;
}

/* A user tests their own timeout: advancing the clock from a task makes
 * the 30 s wait_for expire 1 s of loop time later. */
START_TEST(advance_time_user_timeout)
{
    if (!conf_is_virtual())
        return;
    al_loop *loop = conf_loop_new();
    al_task *t, *adv;
    double t0 = al_loop_time(loop);
    ck_assert_int_eq(al_task_new(loop, user_timeout_task, NULL, NULL, &t), 0);
    ck_assert_int_eq(al_task_new(loop, advance_from_task, NULL, NULL, &adv), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ETIMEOUT);
    ck_assert_double_eq_tol(al_loop_time(loop) - t0, 30.0, 1e-9);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(adv)), 0);
    al_task_unref(t);
    al_task_unref(adv);
    al_loop_free(loop);
}
END_TEST

/* Bad values change nothing. */
START_TEST(advance_time_refusals)
{
    al_loop *loop = conf_loop_new();
    double t0 = al_loop_time(loop);
    const double bad[] = {-1.0, -0.0 - 1e-300, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(al_loop_advance_time(loop, bad[i]), -EINVAL);
    ck_assert_int_eq(al_loop_advance_time(NULL, 1.0), -EINVAL);
    if (conf_is_virtual()) {
        ck_assert_double_eq(al_loop_time(loop), t0);
        ck_assert_int_eq(al_loop_advance_time(loop, 0.0), 0);
        ck_assert_int_eq(al_loop_advance_time(loop, 1e308), 0);
        ck_assert_int_eq(al_loop_advance_time(loop, 1e308), -ERANGE);
        ck_assert_double_eq(al_loop_time(loop), t0 + 1e308);
    } else {
        ck_assert_int_eq(al_loop_advance_time(loop, 0.0), -ENOTSUP);
    }
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(al_loop_advance_time(loop, 1.0), AL_ELOOPCLOSED);
    al_loop_free(loop);
}
END_TEST

/* ---- a TaskGroup's ownership after a loop close ------------------------------- */

static int parked_child(void *arg, void **result)
{
    (void)arg, (void)result;
    return al_sleep(3600);
}

typedef struct group_env {
    al_taskgroup *tg; /* kept outside the parent's stack */
    bool ignore_close;
    int exit_rc;
} group_env;

static int group_parent(void *arg, void **result)
{
    (void)result;
    group_env *e = arg;
    ck_assert_int_eq(al_taskgroup_enter(e->tg), 0);
    ck_assert_int_eq(al_taskgroup_create_task(e->tg, parked_child, NULL, NULL, NULL), 0);
    ck_assert_int_eq(al_taskgroup_create_task(e->tg, parked_child, NULL, NULL, NULL), 0);
    int rc = al_sleep(3600);
    if (e->ignore_close) {
        for (;;) /* never gives up: the close drops this task, exit never runs */
            al_sleep(1.0);
    }
    e->exit_rc = al_taskgroup_exit(e->tg, rc);
    return e->exit_rc;
}

/* Whether the parent unwinds (its exit runs) or ignores the close (it is
 * dropped, its exit never runs), the group is the caller's afterwards:
 * exited, no children, freed exactly once by al_taskgroup_free. */
START_TEST(taskgroup_owned_by_caller_after_close)
{
    for (int ignore = 0; ignore < 2; ignore++) {
        al_loop *loop = conf_loop_new();
        ck_assert_int_eq(al_loop_set_exception_handler(loop, conf_quiet_handler, NULL), 0);
        group_env e = {.ignore_close = ignore, .exit_rc = 1};
        ck_assert_int_eq(al_taskgroup_new(&e.tg), 0);
        al_task *parent;
        ck_assert_int_eq(al_task_new(loop, group_parent, &e, NULL, &parent), 0);
        for (int i = 0; i < 3; i++) { /* iterations that do not wait */
            ck_assert_int_eq(al_loop_stop(loop), 0);
            ck_assert_int_eq(al_loop_run_forever(loop), 0);
        }
        ck_assert_uint_eq(al_taskgroup_size(e.tg), 2);
        ck_assert_int_eq(al_loop_close(loop), 0);
        ck_assert_int_eq(e.exit_rc, ignore ? 1 : AL_ELOOPCLOSING);
        ck_assert_uint_eq(al_taskgroup_size(e.tg), 0);
        ck_assert_int_eq(al_taskgroup_exit(e.tg, 0), AL_EINVALIDSTATE);
        ck_assert_int_eq(al_taskgroup_create_task(e.tg, parked_child, NULL, NULL, NULL),
                         AL_EINVALIDSTATE);
        ck_assert_int_eq(al_taskgroup_free(e.tg), 0); /* ASan: exactly once, no leak */
        al_task_unref(parent);
        al_loop_free(loop);
    }
}
END_TEST

AL_TEST_SUITE(suite_api_gaps)
{
    Suite *s = suite_create("api_gaps");
    TCase *tc = al_tcase("gaps");
    tcase_add_test(tc, task_options_zero_means_default);
    tcase_add_test(tc, loop_user_data);
    tcase_add_test(tc, loop_waits_next);
    tcase_add_test(tc, advance_time_busy_past_two_deadlines);
    tcase_add_test(tc, advance_time_user_timeout);
    tcase_add_test(tc, advance_time_refusals);
    tcase_add_test(tc, taskgroup_owned_by_caller_after_close);
    suite_add_tcase(s, tc);
    return s;
}

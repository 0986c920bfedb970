/* Conformance: TaskGroup (R82-R93). */
#include "al_conf.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define ZDE (-EDOM)    /* ZeroDivisionError */
#define MYEXC (-EBADE) /* MyExc */

/* A child: sleep, then value or error; on cancellation: cleanup sleep,
 * then AL_ECANCELLED or cancel_rc ("raise in finally"). */
typedef struct child {
    double delay;
    int rc;
    intptr_t value;
    double cleanup;
    int cancel_rc;
    bool cancelled, finished;
    al_taskgroup *spawn_into; /* creates a sibling first (R89) */
    struct child *sibling;
    int spawn_rc;
} child;

static int child_fn(void *arg, void **result)
{
    child *c = arg;
    if (c->spawn_into) {
        al_sleep(0.01);
        c->spawn_rc = al_taskgroup_create_task(c->spawn_into, child_fn, c->sibling, NULL, NULL);
    }
    int rc = al_sleep(c->delay);
    if (rc == AL_ECANCELLED) {
        c->cancelled = true;
        if (c->cleanup > 0)
            al_sleep(c->cleanup);
        return c->cancel_rc ? c->cancel_rc : AL_ECANCELLED;
    }
    c->finished = true;
    if (c->rc)
        return c->rc;
    *result = (void *)c->value;
    return 0;
}

static al_taskgroup *tg_enter(void)
{
    al_taskgroup *tg;
    ck_assert_int_eq(al_taskgroup_new(&tg), 0);
    ck_assert_int_eq(al_taskgroup_enter(tg), 0);
    return tg;
}

static al_task *tg_spawn(al_taskgroup *tg, child *c)
{
    al_task *t;
    ck_assert_int_eq(al_taskgroup_create_task(tg, child_fn, c, NULL, &t), 0);
    return t;
}

static void expect_errors(al_taskgroup *tg, size_t n, const int *want)
{
    size_t got;
    const int *errs = al_taskgroup_errors(tg, &got);
    ck_assert_uint_eq(got, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(errs[i] == want[i], "error %zu: %s, expected %s", i, al_strerror(errs[i]),
                      al_strerror(want[i]));
}

/* A task running a body in a group, for external cancellation. */
typedef struct runner {
    child kids[5];
    int nkids;
    double body_sleep;
    double body_cleanup; /* on cancel: sleep, then ... */
    int body_cancel_rc;  /* ... return this (0: AL_ECANCELLED) */
    int body_status, exit_rc;
    int cancelling_after;
    al_taskgroup *tg;
} runner;

/* A group run by a child of an outer group (R85 nested). */
static int nested_runner_fn(void *arg, void **res)
{
    (void)res;
    runner *inner = arg;
    al_taskgroup *tg = tg_enter();
    for (int i = 0; i < inner->nkids; i++)
        al_taskgroup_create_task(tg, child_fn, &inner->kids[i], NULL, NULL);
    inner->exit_rc = al_taskgroup_exit(tg, al_sleep(inner->body_sleep));
    al_taskgroup_free(tg);
    return inner->exit_rc;
}

static int runner_fn(void *arg, void **res)
{
    (void)res;
    runner *r = arg;
    al_taskgroup *tg = tg_enter();
    for (int i = 0; i < r->nkids; i++) {
        al_task *t;
        ck_assert_int_eq(al_taskgroup_create_task(tg, child_fn, &r->kids[i], NULL, &t), 0);
        al_task_unref(t);
    }
    int body = r->body_sleep > 0 ? al_sleep(r->body_sleep) : 0;
    if (body == AL_ECANCELLED && r->body_cleanup > 0) {
        al_sleep(r->body_cleanup);
        if (r->body_cancel_rc)
            body = r->body_cancel_rc;
    }
    r->body_status = body;
    r->exit_rc = al_taskgroup_exit(tg, body);
    r->cancelling_after = al_task_cancelling(conf_self());
    r->tg = tg;
    return r->exit_rc;
}

static al_task *start_runner(runner *r, al_task_fn fn)
{
    return conf_spawn(fn, r);
}

/* ---- R82 ------------------------------------------------------------------------------- */

static int r82_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    /* _01: exit after both children, results kept */
    child a = {.delay = 0.1, .value = 42}, b = {.delay = 0.2, .value = 11};
    al_taskgroup *tg = tg_enter();
    al_task *ta = tg_spawn(tg, &a), *tb = tg_spawn(tg, &b);
    ck_assert_uint_eq(al_taskgroup_size(tg), 2);
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), 0);
    conf_check_elapsed(t0, 0.2);
    void *v;
    ck_assert_int_eq(al_future_result(CONF_F(ta), &v), 0);
    ck_assert_int_eq(CONF_PV(v), 42);
    ck_assert_int_eq(al_future_result(CONF_F(tb), &v), 0);
    ck_assert_int_eq(CONF_PV(v), 11);
    expect_errors(tg, 0, NULL);
    al_taskgroup_free(tg);
    al_task_unref(ta);
    al_task_unref(tb);
    /* _02: a task added after an await */
    t0 = conf_now();
    child c = {.delay = 0.1, .value = 1}, d = {.delay = 0.1, .value = 2};
    tg = tg_enter();
    al_task *tc = tg_spawn(tg, &c);
    al_sleep(0.05);
    al_task *td = tg_spawn(tg, &d);
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), 0);
    conf_check_elapsed(t0, 0.15);
    ck_assert(c.finished && d.finished);
    al_taskgroup_free(tg);
    al_task_unref(tc);
    al_task_unref(td);
    /* _03: cancelling one child does not affect the group */
    child e = {.delay = 0.05, .value = 3}, f = {.delay = 10};
    tg = tg_enter();
    al_task *te = tg_spawn(tg, &e), *tf = tg_spawn(tg, &f);
    al_sleep(0.01);
    al_task_cancel(tf, NULL);
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), 0);
    ck_assert(e.finished && f.cancelled);
    ck_assert(al_future_cancelled(CONF_F(tf)));
    expect_errors(tg, 0, NULL);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    al_taskgroup_free(tg);
    al_task_unref(te);
    al_task_unref(tf);
    return 0;
}

START_TEST(r82_taskgroup_basic)
{
    conf_run_main(r82_main, NULL);
}
END_TEST

/* ---- R83 a child error cancels the siblings and the body --------------------------------------
 */

static int r83_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    child bad = {.delay = 0.1, .rc = ZDE}, other = {.delay = 10};
    al_taskgroup *tg = tg_enter();
    al_task *t1 = tg_spawn(tg, &bad), *t2 = tg_spawn(tg, &other);
    int body = al_sleep(10);
    ck_assert_int_eq(body, AL_ECANCELLED); /* the body is cancelled */
    conf_check_elapsed(t0, 0.1);
    ck_assert_int_eq(al_taskgroup_exit(tg, body), AL_EGROUP);
    ck_assert(other.cancelled && al_future_cancelled(CONF_F(t2)));
    ck_assert_int_eq(al_future_error(CONF_F(t1)), ZDE);
    expect_errors(tg, 1, (int[]){ZDE});
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    conf_s0();
    al_taskgroup_free(tg);
    al_task_unref(t1);
    al_task_unref(t2);
    return 0;
}

START_TEST(r83_child_error_cancels_siblings_and_body)
{
    conf_run_main(r83_main, NULL);
}
END_TEST

/* ---- R84 external cancellation stays a cancellation -------------------------------------------
 */

static int r84_main(void *arg, void **res)
{
    (void)arg, (void)res;
    /* cancelled while the body waits (_07, _17 with no children) */
    for (int nk = 0; nk <= 2; nk += 2) {
        runner r = {.nkids = nk, .body_sleep = 10};
        for (int i = 0; i < nk; i++)
            r.kids[i].delay = 10;
        al_task *t = start_runner(&r, runner_fn);
        al_sleep(0.1);
        al_task_cancel(t, NULL);
        ck_assert_int_eq(al_await(CONF_F(t)), AL_ECANCELLED);
        ck_assert(al_future_cancelled(CONF_F(t)));
        ck_assert_int_eq(r.exit_rc, AL_ECANCELLED);
        for (int i = 0; i < nk; i++)
            ck_assert(r.kids[i].cancelled);
        expect_errors(r.tg, 0, NULL);
        al_taskgroup_free(r.tg);
        al_task_unref(t);
    }
    /* _22: cancelled while exit waits for the children */
    runner r = {.nkids = 2, .body_sleep = 0};
    r.kids[0].delay = 10;
    r.kids[1].delay = 10;
    al_task *t = start_runner(&r, runner_fn);
    al_sleep(0.1);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_await(CONF_F(t)), AL_ECANCELLED);
    ck_assert_int_eq(r.body_status, 0);
    ck_assert_int_eq(r.exit_rc, AL_ECANCELLED);
    ck_assert(r.kids[0].cancelled && r.kids[1].cancelled);
    al_taskgroup_free(r.tg);
    al_task_unref(t);
    return 0;
}

START_TEST(r84_external_cancel)
{
    conf_run_main(r84_main, NULL);
}
END_TEST

/* ---- R85 external cancel while children fail in cleanup; nested ---------------------------------
 */

static int r85_main(void *arg, void **res)
{
    (void)arg, (void)res;
    runner r = {.nkids = 5, .body_sleep = 10};
    for (int i = 0; i < 5; i++)
        r.kids[i] = (child){.delay = 10, .cancel_rc = ZDE};
    al_task *t = start_runner(&r, runner_fn);
    al_sleep(0.1);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_await(CONF_F(t)), AL_EGROUP);
    expect_errors(r.tg, 5, (int[]){ZDE, ZDE, ZDE, ZDE, ZDE});
    ck_assert_int_eq(r.cancelling_after, 1); /* the outside request stays */
    al_taskgroup_free(r.tg);
    al_task_unref(t);

    return 0;
}

START_TEST(r85_cancel_while_children_fail)
{
    conf_run_main(r85_main, NULL);
}
END_TEST

/* A group whose one child runs an inner group (R85 nested). */
typedef struct nest {
    runner inner;
    int outer_rc;
    al_taskgroup *tg;
} nest;

static int nest_fn(void *arg, void **res)
{
    (void)res;
    nest *n = arg;
    al_taskgroup *tg = tg_enter();
    ck_assert_int_eq(al_taskgroup_create_task(tg, nested_runner_fn, &n->inner, NULL, NULL), 0);
    n->outer_rc = al_taskgroup_exit(tg, al_sleep(10));
    n->tg = tg;
    return n->outer_rc;
}

static int r85_nested_main(void *arg, void **res)
{
    (void)arg, (void)res;
    nest n = {.inner = {.nkids = 1, .body_sleep = 10}};
    n.inner.kids[0] = (child){.delay = 10, .cancel_rc = ZDE};
    al_task *t = conf_spawn(nest_fn, &n);
    al_sleep(0.1);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_await(CONF_F(t)), AL_EGROUP);
    ck_assert_int_eq(n.inner.exit_rc, AL_EGROUP);
    expect_errors(n.tg, 1, (int[]){AL_EGROUP}); /* EG{EG{ZDE}} */
    al_taskgroup_free(n.tg);
    al_task_unref(t);
    return 0;
}

START_TEST(r85_nested_groups)
{
    conf_run_main(r85_nested_main, NULL);
}
END_TEST

/* ---- R86 the body fails --------------------------------------------------------------------- */

static int r86_main(void *arg, void **res)
{
    (void)arg, (void)res;
    child a = {.delay = 1, .value = 42}, b = {.delay = 2, .value = 11};
    al_taskgroup *tg = tg_enter();
    al_task *ta = tg_spawn(tg, &a), *tb = tg_spawn(tg, &b);
    al_sleep(0.1);
    ck_assert_int_eq(al_taskgroup_exit(tg, ZDE), AL_EGROUP); /* the body raised */
    ck_assert(al_future_cancelled(CONF_F(ta)) && al_future_cancelled(CONF_F(tb)));
    expect_errors(tg, 1, (int[]){ZDE});
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    al_taskgroup_free(tg);
    al_task_unref(ta);
    al_task_unref(tb);
    return 0;
}

START_TEST(r86_body_error)
{
    conf_run_main(r86_main, NULL);
}
END_TEST

/* ---- R87 body handles a cancel while a child crashes ------------------------------------------
 */

static int r87_main(void *arg, void **res)
{
    (void)arg, (void)res;
    /* _15: external cancel at 0.1, the body sleeps 0.5 in its handler,
     * the child crashes at 0.3 */
    runner r = {.nkids = 1, .body_sleep = 10, .body_cleanup = 0.5};
    r.kids[0] = (child){.delay = 0.3, .rc = ZDE};
    al_task *t = start_runner(&r, runner_fn);
    al_sleep(0.1);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_await(CONF_F(t)), AL_EGROUP);
    expect_errors(r.tg, 1, (int[]){ZDE});
    al_taskgroup_free(r.tg);
    al_task_unref(t);
    /* _16 converted: the body turns the cancellation into MyExc */
    runner m = {.nkids = 1, .body_sleep = 10, .body_cleanup = 0.5, .body_cancel_rc = MYEXC};
    m.kids[0] = (child){.delay = 0.3, .rc = ZDE};
    t = start_runner(&m, runner_fn);
    al_sleep(0.1);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_await(CONF_F(t)), AL_EGROUP);
    expect_errors(m.tg, 2, (int[]){ZDE, MYEXC});
    al_taskgroup_free(m.tg);
    al_task_unref(t);
    /* _18: no external cancel; the body fails with MyExc in its cleanup
     * after the group cancelled it: EG{ZDE, MyExc} */
    child crash = {.delay = 0.1, .rc = ZDE};
    al_taskgroup *tg = tg_enter();
    al_task_unref(tg_spawn(tg, &crash));
    int body = al_sleep(10);
    ck_assert_int_eq(body, AL_ECANCELLED);
    ck_assert_int_eq(al_taskgroup_exit(tg, MYEXC), AL_EGROUP);
    expect_errors(tg, 2, (int[]){ZDE, MYEXC});
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    al_taskgroup_free(tg);
    return 0;
}

START_TEST(r87_body_and_child_errors)
{
    conf_run_main(r87_main, NULL);
}
END_TEST

/* ---- R89 finished children leave; children spawn siblings during exit ---------------------------
 */

static int r89_main(void *arg, void **res)
{
    (void)arg, (void)res;
    /* Margins for a loaded machine: b ends 0.29 s after a, and the late
     * sibling (0.41 s after the exit starts) outlives b. */
    child a = {.delay = 0.01}, b = {.delay = 0.3};
    al_taskgroup *tg = tg_enter();
    al_task *ta = tg_spawn(tg, &a), *tb = tg_spawn(tg, &b);
    ck_assert_uint_eq(al_taskgroup_size(tg), 2);
    ck_assert_int_eq(al_await(CONF_F(ta)), 0); /* a finished: it left */
    ck_assert_uint_eq(al_taskgroup_size(tg), 1);
    /* a child creates a sibling while the group is exiting */
    child late = {.delay = 0.4, .value = 5};
    child spawner = {.delay = 0.01, .spawn_into = tg, .sibling = &late, .spawn_rc = 1};
    al_task *ts = tg_spawn(tg, &spawner);
    double t0 = conf_now();
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), 0);
    ck_assert_int_eq(spawner.spawn_rc, 0);
    ck_assert(late.finished);
    conf_check_elapsed(t0, 0.41);
    ck_assert_uint_eq(al_taskgroup_size(tg), 0);
    al_taskgroup_free(tg);
    al_task_unref(ta);
    al_task_unref(tb);
    al_task_unref(ts);
    return 0;
}

START_TEST(r89_children_leave_and_spawn)
{
    conf_run_main(r89_main, NULL);
}
END_TEST

/* ---- R90 misuse ------------------------------------------------------------------------------ */

static int r90_main(void *arg, void **res)
{
    (void)arg, (void)res;
    child c = {.delay = 0};
    al_taskgroup *tg;
    ck_assert_int_eq(al_taskgroup_new(&tg), 0);
    /* not entered */
    ck_assert_int_eq(al_taskgroup_create_task(tg, child_fn, &c, NULL, NULL), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), AL_EINVALIDSTATE);
    /* double enter */
    ck_assert_int_eq(al_taskgroup_enter(tg), 0);
    ck_assert_int_eq(al_taskgroup_enter(tg), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_taskgroup_free(tg), AL_EINVALIDSTATE); /* still entered */
    ck_assert_int_eq(al_taskgroup_create_task(tg, NULL, &c, NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), 0);
    /* finished */
    ck_assert_int_eq(al_taskgroup_create_task(tg, child_fn, &c, NULL, NULL), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_taskgroup_enter(tg), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_taskgroup_free(tg), 0);
    /* shutting down after a failure */
    child bad = {.delay = 0.01, .rc = ZDE}, slow = {.delay = 10, .cleanup = 0.05};
    tg = tg_enter();
    al_task_unref(tg_spawn(tg, &bad));
    al_task_unref(tg_spawn(tg, &slow));
    int body = al_sleep(1);
    ck_assert_int_eq(body, AL_ECANCELLED);
    ck_assert_int_eq(al_taskgroup_create_task(tg, child_fn, &c, NULL, NULL), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_taskgroup_exit(tg, body), AL_EGROUP);
    al_taskgroup_free(tg);
    ck_assert_int_eq(al_taskgroup_new(NULL), -EINVAL);
    return 0;
}

START_TEST(r90_taskgroup_misuse)
{
    conf_run_main(r90_main, NULL);
    /* without a parent task */
    al_loop *loop = conf_loop_new();
    al_taskgroup *tg;
    al_taskgroup_new(&tg);
    ck_assert_int_eq(al_taskgroup_enter(tg), AL_ENOTINTASK);
    ck_assert_int_eq(al_taskgroup_free(tg), 0);
    al_loop_free(loop);
}
END_TEST

/* ---- R91 cancelling level preserved (gh-95289) -------------------------------------------------
 */

static int r91_main(void *arg, void **res)
{
    (void)arg, (void)res;
    child c = {.delay = 0, .rc = -EPROTO};
    al_taskgroup *tg = tg_enter();
    al_task_unref(tg_spawn(tg, &c));
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), AL_EGROUP);
    expect_errors(tg, 1, (int[]){-EPROTO});
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    ck_assert_int_eq(al_sleep(0.01), 0); /* no stray cancellation */
    al_taskgroup_free(tg);
    return 0;
}

START_TEST(r91_cancelling_level_preserved)
{
    conf_run_main(r91_main, NULL);
}
END_TEST

/* ---- R92 nested groups both cancelled; error and cancel (gh-116720)
 * ------------------------------ */

static int r92_nested_main(void *arg, void **res)
{
    (void)arg, (void)res;
    child re = {.delay = 0, .rc = -EPROTO}, ve = {.delay = 0, .rc = -EINVAL};
    al_taskgroup *outer = tg_enter();
    al_taskgroup *inner = tg_enter();
    al_task_unref(tg_spawn(inner, &re));
    al_task_unref(tg_spawn(outer, &ve));
    ck_assert_int_eq(al_taskgroup_exit(inner, 0), AL_EGROUP);
    expect_errors(inner, 1, (int[]){-EPROTO});
    ck_assert_int_eq(al_task_cancelling(conf_self()), 1);
    ck_assert_int_eq(al_taskgroup_exit(outer, 0), AL_EGROUP);
    expect_errors(outer, 1, (int[]){-EINVAL});
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    conf_s0();
    al_taskgroup_free(inner);
    al_taskgroup_free(outer);
    return 0;
}

START_TEST(r92_nested_groups_both_cancelled)
{
    conf_run_main(r92_nested_main, NULL);
}
END_TEST

typedef struct r92 {
    al_future *event;
    int group_rc, cancelling_in, after_rc;
} r92;

static int raise_error(void *arg, void **res)
{
    (void)res;
    r92 *x = arg;
    al_future_set_result(x->event, NULL, NULL);
    conf_s0();
    return -EPROTO;
}

static int r92_inner(void *arg, void **res)
{
    (void)res;
    r92 *x = arg;
    al_taskgroup *tg = tg_enter();
    al_taskgroup_create_task(tg, raise_error, x, NULL, NULL);
    int body = al_sleep(1);
    ck_assert_int_eq(body, AL_ECANCELLED);
    x->group_rc = al_taskgroup_exit(tg, body);
    x->cancelling_in = al_task_cancelling(conf_self());
    al_taskgroup_free(tg);
    x->after_rc = al_sleep(1); /* must be cancelled */
    return x->after_rc;
}

static int r92_cancel_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    r92 x = {0};
    al_future_new(loop, &x.event);
    al_task *t = conf_spawn(r92_inner, &x);
    al_await(x.event);
    ck_assert_int_eq(al_task_cancelling(t), 0);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_task_cancelling(t), 1);
    ck_assert_int_eq(al_await(CONF_F(t)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(CONF_F(t)));
    ck_assert_int_eq(x.group_rc, AL_EGROUP);
    ck_assert_int_eq(x.cancelling_in, 1);
    ck_assert_int_eq(x.after_rc, AL_ECANCELLED);
    al_future_unref(x.event);
    al_task_unref(t);
    return 0;
}

START_TEST(r92_error_and_cancel)
{
    conf_run_main(r92_cancel_main, NULL);
}
END_TEST

/* ---- R93 name forwarded; eager children
 * ---------------------------------------------------------- */

static int instant(void *arg, void **res)
{
    (void)arg;
    *res = CONF_VP(9);
    return 0;
}

static int instant_fail(void *arg, void **res)
{
    (void)arg, (void)res;
    return -EPROTO;
}

static int r93_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_taskgroup *tg = tg_enter();
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.name = "example name";
    al_task *t;
    ck_assert_int_eq(al_taskgroup_create_task(tg, instant, NULL, &o, &t), 0);
    ck_assert_str_eq(al_task_name(t), "example name");
    /* an eager child already done is accounted for at once */
    o.name = NULL;
    o.eager = AL_EAGER_ON;
    al_task *e;
    ck_assert_int_eq(al_taskgroup_create_task(tg, instant, NULL, &o, &e), 0);
    ck_assert(al_future_done(CONF_F(e)));
    ck_assert_uint_eq(al_taskgroup_size(tg), 2); /* until its callback ran */
    conf_s0();
    ck_assert_uint_eq(al_taskgroup_size(tg), 1);
    ck_assert_int_eq(al_taskgroup_exit(tg, 0), 0);
    al_taskgroup_free(tg);
    al_task_unref(t);
    al_task_unref(e);
    /* an eager child failing at once cancels the body */
    tg = tg_enter();
    ck_assert_int_eq(al_taskgroup_create_task(tg, instant_fail, NULL, &o, NULL), 0);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0); /* not inside create_task */
    int body = al_sleep(1);
    ck_assert_int_eq(body, AL_ECANCELLED);
    ck_assert_int_eq(al_taskgroup_exit(tg, body), AL_EGROUP);
    expect_errors(tg, 1, (int[]){-EPROTO});
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    al_taskgroup_free(tg);
    return 0;
}

START_TEST(r93_task_name_and_eager)
{
    conf_run_main(r93_main, NULL);
}
END_TEST

AL_TEST_SUITE(suite_taskgroup)
{
    Suite *s = suite_create("taskgroup");
    TCase *tc = al_tcase("taskgroup");
    tcase_add_test(tc, r82_taskgroup_basic);
    tcase_add_test(tc, r83_child_error_cancels_siblings_and_body);
    tcase_add_test(tc, r84_external_cancel);
    tcase_add_test(tc, r85_cancel_while_children_fail);
    tcase_add_test(tc, r85_nested_groups);
    tcase_add_test(tc, r86_body_error);
    tcase_add_test(tc, r87_body_and_child_errors);
    tcase_add_test(tc, r89_children_leave_and_spawn);
    tcase_add_test(tc, r90_taskgroup_misuse);
    tcase_add_test(tc, r91_cancelling_level_preserved);
    tcase_add_test(tc, r92_nested_groups_both_cancelled);
    tcase_add_test(tc, r92_error_and_cancel);
    tcase_add_test(tc, r93_task_name_and_eager);
    suite_add_tcase(s, tc);
    return s;
}

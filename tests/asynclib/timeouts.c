/* Conformance: timeout scopes, asyncio.timeout / timeout_at (R73-R81). */
#include "al_conf.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <time.h>

/* Busy for `seconds` of real time without yielding (a blocking call). */
static void crunch(double seconds)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9 < seconds);
}

/* ---- R73 basic ------------------------------------------------------------------ */

static int r73_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, 0.01), 0);
    ck_assert(!al_timeout_expired(&to));
    int rc = al_sleep(10);
    ck_assert_int_eq(rc, AL_ECANCELLED);
    ck_assert(al_timeout_expired(&to));
    ck_assert_int_eq(al_timeout_exit(&to, rc), AL_ETIMEOUT);
    ck_assert(al_timeout_expired(&to));
    conf_check_elapsed(t0, 0.01);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);

    /* timeout_at: when() is the deadline */
    al_timeout at = AL_TIMEOUT_INIT;
    double deadline = conf_now() + 0.01;
    ck_assert_int_eq(al_timeout_enter_at(&at, deadline), 0);
    ck_assert(al_timeout_when(&at) == deadline);
    rc = al_sleep(10);
    ck_assert_int_eq(al_timeout_exit(&at, rc), AL_ETIMEOUT);
    ck_assert(al_timeout_expired(&at));
    conf_check_elapsed(t0, 0.02);
    return 0;
}

START_TEST(r73_timeout_basic)
{
    conf_run_main(r73_main, NULL);
}
END_TEST

/* ---- R74 nested, same deadline ------------------------------------------------------ */

static int r74_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double deadline = conf_now() + 0.01;
    al_timeout cm1 = AL_TIMEOUT_INIT, cm2 = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter_at(&cm1, deadline), 0);
    ck_assert_int_eq(al_timeout_enter_at(&cm2, deadline), 0);
    int rc = al_sleep(10);
    rc = al_timeout_exit(&cm2, rc);
    ck_assert_int_eq(rc, AL_ECANCELLED); /* only the outermost converts */
    rc = al_timeout_exit(&cm1, rc);
    ck_assert_int_eq(rc, AL_ETIMEOUT);
    ck_assert(al_timeout_expired(&cm1) && al_timeout_expired(&cm2));
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    conf_s0(); /* not cancelled any more */
    return 0;
}

START_TEST(r74_nested_timeouts)
{
    conf_run_main(r74_main, NULL);
}
END_TEST

/* ---- R75 not called, disabled, zero, past ---------------------------------------------- */

static int r75_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    /* not called */
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert(isnan(al_timeout_when(&to)));
    ck_assert_int_eq(al_timeout_enter(&to, 10), 0);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_eq(al_timeout_exit(&to, 0), 0);
    ck_assert(!al_timeout_expired(&to));
    /* disabled */
    al_timeout off = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&off, AL_FOREVER), 0);
    ck_assert(al_timeout_when(&off) == AL_FOREVER);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_eq(al_timeout_exit(&off, 0), 0);
    ck_assert(!al_timeout_expired(&off));
    conf_check_elapsed(t0, 0.02);
    /* zero around a long sleep, zero around sleep(0), in the past around sleep(0) */
    double delays[] = {0, 0, -11};
    double sleeps[] = {10, 0, 0};
    for (int k = 0; k < 3; k++) {
        al_timeout z = AL_TIMEOUT_INIT;
        ck_assert_int_eq(al_timeout_enter(&z, delays[k]), 0);
        int rc = al_sleep(sleeps[k]);
        ck_assert_int_eq(rc, AL_ECANCELLED);
        ck_assert_int_eq(al_timeout_exit(&z, rc), AL_ETIMEOUT);
        ck_assert(al_timeout_expired(&z));
    }
    conf_check_elapsed(t0, 0.02);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    return 0;
}

START_TEST(r75_timeout_not_called_disabled_zero)
{
    conf_run_main(r75_main, NULL);
}
END_TEST

/* ---- R76 foreign errors and cancellations -------------------------------------------------- */

typedef struct r76 {
    al_timeout to;
    int rc;
} r76;

static int r76_body(void *arg, void **res)
{
    (void)res;
    r76 *x = arg;
    ck_assert_int_eq(al_timeout_enter(&x->to, 10), 0);
    x->rc = al_timeout_exit(&x->to, al_sleep(1));
    return x->rc;
}

static int r76_main(void *arg, void **res)
{
    (void)arg, (void)res;
    /* a foreign error passes through */
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, 0.01), 0);
    ck_assert_int_eq(al_timeout_exit(&to, -EKEYREJECTED), -EKEYREJECTED);
    /* an external cancel before the deadline stays a cancellation */
    r76 x = {AL_TIMEOUT_INIT, 1};
    al_task *t = conf_spawn(r76_body, &x);
    conf_s0();
    conf_s0();
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_await(al_task_future(t)), AL_ECANCELLED);
    ck_assert_int_eq(x.rc, AL_ECANCELLED);
    ck_assert(!al_timeout_expired(&x.to));
    al_task_unref(t);
    return 0;
}

START_TEST(r76_foreign_error_and_cancel)
{
    conf_run_main(r76_main, NULL);
}
END_TEST

/* ---- R77 the task is fine afterwards; timeouts after a caught cancel ------------------------- */

static int r77_main(void *arg, void **res)
{
    (void)arg, (void)res;
    /* outer task not cancelled after a handled timeout */
    al_timeout to = AL_TIMEOUT_INIT;
    al_timeout_enter(&to, 0.01);
    ck_assert_int_eq(al_timeout_exit(&to, al_sleep(1)), AL_ETIMEOUT);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    ck_assert_int_eq(al_sleep(0.01), 0);

    /* a caught cancellation (never uncancelled), then a fresh timeout */
    al_task_cancel(conf_self(), NULL);
    ck_assert_int_eq(al_sleep(1), AL_ECANCELLED);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 1);
    al_timeout t2 = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&t2, 0), 0);
    ck_assert_int_eq(al_timeout_exit(&t2, al_sleep(1)), AL_ETIMEOUT);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 1);

    /* a self-cancel inside a timeout stays a cancellation */
    al_timeout t3 = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&t3, 1.0), 0);
    al_task_cancel(conf_self(), NULL);
    ck_assert_int_eq(al_timeout_exit(&t3, al_sleep(2)), AL_ECANCELLED);
    ck_assert(!al_timeout_expired(&t3));
    while (al_task_uncancel(conf_self()) > 0)
        ;
    return 0;
}

START_TEST(r77_task_not_cancelled_after_timeout)
{
    conf_run_main(r77_main, NULL);
}
END_TEST

/* ---- R78 nested timeouts while the loop is busy ---------------------------------------------- */

static int r78_main(void *arg, void **res)
{
    (void)arg, (void)res;
    bool real = !conf_is_virtual();
    /* busy: the inner deadline passes during a blocking call, then the outer's */
    al_timeout outer = AL_TIMEOUT_INIT, inner = AL_TIMEOUT_INIT;
    /* the outer window is wide enough that a loaded machine's stall before
     * the first sleep does not pass both deadlines at once */
    al_timeout_enter(&outer, 0.5);
    al_timeout_enter(&inner, 0.01);
    if (real)
        crunch(0.01);
    ck_assert_int_eq(al_timeout_exit(&inner, al_sleep(1)), AL_ETIMEOUT);
    if (real)
        crunch(0.5);
    ck_assert_int_eq(al_timeout_exit(&outer, al_sleep(1)), AL_ETIMEOUT);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);

    /* concurrent: the outer deadline passes first, during a blocking call
     * (on the virtual clock: a deadline already in the past) */
    al_timeout o2 = AL_TIMEOUT_INIT, i2 = AL_TIMEOUT_INIT;
    if (real)
        al_timeout_enter(&o2, 0.002);
    else
        al_timeout_enter_at(&o2, conf_now() - 1);
    al_timeout_enter(&i2, 30); /* never reached, however slow the machine */
    if (real)
        crunch(0.01);
    int rc = al_timeout_exit(&i2, al_sleep(1));
    ck_assert_int_eq(rc, AL_ECANCELLED);
    ck_assert(!al_timeout_expired(&i2));
    ck_assert_int_eq(al_timeout_exit(&o2, rc), AL_ETIMEOUT);
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    return 0;
}

START_TEST(r78_nested_timeouts_loop_busy)
{
    conf_run_main(r78_main, NULL);
}
END_TEST

/* ---- R79 reschedule ------------------------------------------------------------------------ */

typedef struct r79 {
    al_future *ready;
    al_timeout cm;
    double deadline;
    int rc;
} r79;

static int r79_body(void *arg, void **res)
{
    (void)res;
    r79 *x = arg;
    ck_assert_int_eq(al_timeout_enter_at(&x->cm, x->deadline), 0);
    al_future_set_result(x->ready, NULL, NULL);
    x->rc = al_timeout_exit(&x->cm, al_sleep(50));
    return x->rc;
}

static int r79_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    double t0 = conf_now();
    r79 x = {NULL, AL_TIMEOUT_INIT, conf_now() + 10, 1};
    al_future_new(loop, &x.ready);
    al_task *t = conf_spawn(r79_body, &x);
    al_await(x.ready);
    ck_assert(al_timeout_when(&x.cm) == x.deadline);
    ck_assert_int_eq(al_timeout_reschedule(&x.cm, x.deadline + 20), 0);
    ck_assert(al_timeout_when(&x.cm) == x.deadline + 20);
    ck_assert_int_eq(al_timeout_reschedule(&x.cm, AL_FOREVER), 0);
    ck_assert(al_timeout_when(&x.cm) == AL_FOREVER);
    ck_assert_int_eq(al_timeout_reschedule(&x.cm, NAN), -EINVAL);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(al_await(al_task_future(t)), AL_ECANCELLED);
    ck_assert_int_eq(x.rc, AL_ECANCELLED);
    ck_assert(!al_timeout_expired(&x.cm));
    al_task_unref(t);
    al_future_unref(x.ready);

    /* rescheduling earlier takes effect, and later too */
    al_timeout to = AL_TIMEOUT_INIT;
    al_timeout_enter(&to, 10);
    ck_assert_int_eq(al_timeout_reschedule(&to, conf_now() + 0.05), 0);
    ck_assert_int_eq(al_timeout_exit(&to, al_sleep(1)), AL_ETIMEOUT);
    conf_check_elapsed(t0, 0.05);
    al_timeout later = AL_TIMEOUT_INIT;
    al_timeout_enter(&later, 0.01);
    ck_assert_int_eq(al_timeout_reschedule(&later, conf_now() + 0.1), 0);
    ck_assert_int_eq(al_timeout_exit(&later, al_sleep(0.05)), 0);
    ck_assert(!al_timeout_expired(&later));
    conf_check_elapsed(t0, 0.1);
    return 0;
}

START_TEST(r79_reschedule)
{
    conf_run_main(r79_main, NULL);
}
END_TEST

/* ---- R80 misuse ---------------------------------------------------------------------------- */

static int r80_main(void *arg, void **res)
{
    (void)arg, (void)res;
    /* not entered */
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_reschedule(&to, 1), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_timeout_exit(&to, 0), AL_EINVALIDSTATE);
    ck_assert(!al_timeout_expired(&to));
    /* already entered */
    ck_assert_int_eq(al_timeout_enter(&to, 1), 0);
    ck_assert_int_eq(al_timeout_enter(&to, 1), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_timeout_exit(&to, 0), 0);
    /* finished: no double enter, exit or reschedule */
    ck_assert_int_eq(al_timeout_enter(&to, 1), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_timeout_exit(&to, 0), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_timeout_reschedule(&to, 1), AL_EINVALIDSTATE);
    /* expiring: the deadline fired, the scope is not left yet */
    al_timeout ex = AL_TIMEOUT_INIT;
    al_timeout_enter(&ex, 0);
    int rc = al_sleep(1);
    ck_assert(al_timeout_expired(&ex));
    ck_assert_int_eq(al_timeout_reschedule(&ex, conf_now() + 1), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_timeout_exit(&ex, rc), AL_ETIMEOUT);
    /* expired */
    ck_assert_int_eq(al_timeout_reschedule(&ex, conf_now() + 1), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_timeout_enter(&ex, 1), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_timeout_exit(&ex, 0), AL_EINVALIDSTATE);
    /* bad arguments */
    al_timeout bad = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&bad, NAN), -EINVAL);
    ck_assert_int_eq(al_timeout_enter(NULL, 1), -EINVAL);
    return 0;
}

START_TEST(r80_timeout_misuse)
{
    conf_run_main(r80_main, NULL);
    /* without a task */
    al_loop *loop = conf_loop_new();
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, 1), AL_ENOTINTASK);
    ck_assert_int_eq(al_timeout_enter_at(&to, 1), AL_ENOTINTASK);
    al_loop_free(loop);
}
END_TEST

/* ---- R81 with a TaskGroup inside ------------------------------------------------------------ */

static int crash_in_cleanup(void *arg, void **res)
{
    (void)arg, (void)res;
    al_sleep(2);
    return -EDOM; /* the "1/0" in its finally */
}

static int r81_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, 0.01), 0);
    al_taskgroup *tg;
    al_taskgroup_new(&tg);
    ck_assert_int_eq(al_taskgroup_enter(tg), 0);
    ck_assert_int_eq(al_taskgroup_create_task(tg, crash_in_cleanup, NULL, NULL, NULL), 0);
    int body = -EINVAL;   /* raise ValueError ... */
    int rc = al_sleep(1); /* ... finally: await sleep(1), cut by the timeout */
    ck_assert_int_eq(rc, AL_ECANCELLED);
    body = rc;
    rc = al_taskgroup_exit(tg, body);
    ck_assert_int_eq(rc, AL_EGROUP);
    size_t n;
    const int *errs = al_taskgroup_errors(tg, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(errs[0], -EDOM);
    rc = al_timeout_exit(&to, rc);
    ck_assert_int_eq(rc, AL_EGROUP); /* the group error, not a timeout */
    ck_assert(al_timeout_expired(&to));
    ck_assert_int_eq(al_task_cancelling(conf_self()), 0);
    conf_s0();
    al_taskgroup_free(tg);
    return 0;
}

START_TEST(r81_timeout_taskgroup)
{
    conf_run_main(r81_main, NULL);
}
END_TEST

/* ---- a scope claims only its own cancellation (cpython#134471) -------------- */

typedef struct earlier_cancel {
    double delay;
    int how; /* 0 scope + sleep, 1 wait_for, 2 with_timeout, 3 TaskGroup inside the scope */
    int rc;
    int cancelling;
    int next_sleep;
} earlier_cancel;

static int sleep_long(void *arg, void **r)
{
    (void)arg, (void)r;
    return al_sleep(10.0);
}

static int group_in_scope(double delay)
{
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, delay), 0);
    al_taskgroup *tg;
    ck_assert_int_eq(al_taskgroup_new(&tg), 0);
    ck_assert_int_eq(al_taskgroup_enter(tg), 0);
    al_task *child;
    ck_assert_int_eq(al_taskgroup_create_task(tg, sleep_long, NULL, NULL, &child), 0);
    int rc = al_taskgroup_exit(tg, 0);
    ck_assert(al_future_cancelled(CONF_F(child))); /* the group stopped it */
    al_task_unref(child);
    ck_assert_int_eq(al_taskgroup_free(tg), 0);
    return al_timeout_exit(&to, rc);
}

/* A cancel requested before the scope and not yet received is not the
 * scope's: AL_ECANCELLED, and the task stays cancelled. */
static int earlier_cancel_main(void *arg, void **r)
{
    (void)r;
    earlier_cancel *e = arg;
    al_task *self = conf_self();
    ck_assert_int_eq(al_task_cancel(self, "unrelated"), 1);
    al_future *f;
    switch (e->how) {
    case 0: {
        al_timeout to = AL_TIMEOUT_INIT;
        ck_assert_int_eq(al_timeout_enter(&to, e->delay), 0);
        e->rc = al_timeout_exit(&to, al_sleep(1.0));
        break;
    }
    case 1:
        ck_assert_int_eq(al_future_new(conf_cur_loop(), &f), 0);
        e->rc = al_wait_for(f, e->delay);
        ck_assert(al_future_cancelled(f));
        al_future_unref(f);
        break;
    case 2:
        e->rc = al_with_timeout(e->delay, sleep_long, NULL, NULL);
        break;
    default:
        e->rc = group_in_scope(e->delay);
        break;
    }
    e->cancelling = al_task_cancelling(self);
    al_task_uncancel(self);
    e->next_sleep = al_sleep(0.001);
    return 0;
}

START_TEST(scope_keeps_earlier_cancel)
{
    const double delays[] = {0.0, -1.0, 0.001, 1.0};
    for (int how = 0; how < 4; how++) {
        for (size_t d = 0; d < sizeof delays / sizeof delays[0]; d++) {
            earlier_cancel e = {.delay = delays[d], .how = how, .rc = 1};
            conf_run_main(earlier_cancel_main, &e);
            ck_assert_msg(e.rc == AL_ECANCELLED && e.cancelling == 1,
                          "way %d, delay %g: %s, cancelling %d", how, delays[d], al_strerror(e.rc),
                          e.cancelling);
            ck_assert_int_eq(e.next_sleep, 0); /* nothing else was pending */
        }
    }
}
END_TEST

/* The control: a cancel the task already received (and swallowed without
 * uncancel) does not stop an expired scope from reporting its timeout. */
static int received_cancel_main(void *arg, void **r)
{
    (void)r;
    int *rc = arg;
    al_task *self = conf_self();
    ck_assert_int_eq(al_task_cancel(self, NULL), 1);
    ck_assert_int_eq(al_sleep(1.0), AL_ECANCELLED); /* received */
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, 0), 0);
    *rc = al_timeout_exit(&to, al_sleep(1.0));
    ck_assert_int_eq(al_task_cancelling(self), 1); /* the swallowed one, not ours */
    al_task_uncancel(self);
    return 0;
}

START_TEST(scope_times_out_after_received_cancel)
{
    int rc = 1;
    conf_run_main(received_cancel_main, &rc);
    ck_assert_int_eq(rc, AL_ETIMEOUT);
}
END_TEST

/* ---- al_with_timeout ------------------------------------------------------------------------ */

static int sleepy(void *arg, void **res)
{
    *res = (void *)(intptr_t)7;
    return al_sleep(*(double *)arg);
}

static int with_timeout_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double d1 = 0.01, d2 = 1;
    void *v = NULL;
    ck_assert_int_eq(al_with_timeout(0.5, sleepy, &d1, &v), 0); /* wide: a loaded machine */
    ck_assert_int_eq((int)(intptr_t)v, 7);
    ck_assert_int_eq(al_with_timeout(0.5, sleepy, &d2, NULL), AL_ETIMEOUT);
    return 0;
}

START_TEST(with_timeout_helper)
{
    conf_run_main(with_timeout_main, NULL);
}
END_TEST

AL_TEST_SUITE(suite_timeouts)
{
    Suite *s = suite_create("timeouts");
    TCase *tc = al_tcase("timeout");
    tcase_add_test(tc, r73_timeout_basic);
    tcase_add_test(tc, r74_nested_timeouts);
    tcase_add_test(tc, r75_timeout_not_called_disabled_zero);
    tcase_add_test(tc, r76_foreign_error_and_cancel);
    tcase_add_test(tc, r77_task_not_cancelled_after_timeout);
    tcase_add_test(tc, r78_nested_timeouts_loop_busy);
    tcase_add_test(tc, r79_reschedule);
    tcase_add_test(tc, r80_timeout_misuse);
    tcase_add_test(tc, r81_timeout_taskgroup);
    tcase_add_test(tc, with_timeout_helper);
    tcase_add_test(tc, scope_keeps_earlier_cancel);
    tcase_add_test(tc, scope_times_out_after_received_cancel);
    suite_add_tcase(s, tc);
    return s;
}

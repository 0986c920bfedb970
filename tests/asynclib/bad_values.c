/* Every time, delay and count parameter of the public API takes every
 * value: infinity, NaN, huge, negative, limits. Each has a documented
 * meaning or a clear error that changes nothing; none is undefined
 * behaviour (the UBSan build checks float-cast-overflow) or a hang
 * (issue 8, fault 8). Table-driven, on every loop. */
#include "al_conf.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

enum expect { EXPIRES, PENDING, INVALID };

typedef struct value {
    double v;
    enum expect e;
} value;

/* Relative delays (absolute times too: by the time they are used, the loop
 * clock is past 0.001 on both loops). */
static const value values[] = {
    {0.0, EXPIRES},        {-0.0, EXPIRES},     {-1.0, EXPIRES},    {-1e300, EXPIRES},
    {-INFINITY, EXPIRES},  {-DBL_MAX, EXPIRES}, {DBL_MIN, EXPIRES}, {0.001, EXPIRES},
    {1e10, PENDING},       {9.3e18, PENDING},   {1e300, PENDING},   {DBL_MAX, PENDING},
    {AL_FOREVER, PENDING}, {NAN, INVALID},      {-NAN, INVALID},
};

/* One API under test: start(v) begins the operation in a child task (or
 * as a callback) and returns its immediate status; the child's outcome is
 * then checked against `expired_rc` once it expired. */
typedef struct probe {
    const char *name;
    int (*body)(double v, int *outcome); /* runs in a child task */
    int expired_rc;                      /* the outcome once expired */
} probe;

static al_future *never(void)
{
    al_future *f;
    ck_assert_int_eq(al_future_new(conf_cur_loop(), &f), 0);
    return f;
}

static int p_sleep(double v, int *outcome)
{
    return *outcome = al_sleep(v);
}

static int p_wait_for(double v, int *outcome)
{
    al_future *f = never();
    *outcome = al_wait_for(f, v);
    al_future_unref(f);
    return *outcome;
}

static int p_wait(double v, int *outcome)
{
    al_future *f = never();
    size_t ndone = 9, npending = 9;
    int rc = al_wait(&f, 1, v, AL_ALL_COMPLETED, NULL, &ndone, NULL, &npending);
    if (rc == 0)
        rc = ndone == 0 && npending == 1 ? AL_ETIMEOUT : -EPROTO;
    al_future_unref(f);
    return *outcome = rc;
}

static int p_as_completed(double v, int *outcome)
{
    al_future *f = never();
    al_as_completed *it;
    int rc = al_as_completed_new(conf_cur_loop(), &f, 1, v, &it);
    if (rc == 0) {
        al_future *got = NULL;
        rc = al_as_completed_next(it, &got);
        ck_assert_ptr_null(got);
        al_as_completed_free(it);
    }
    al_future_unref(f);
    return *outcome = rc;
}

/* A scope entered by enter(to, v) around a wait for a future that never
 * completes: the scope's converted status. */
static int scope_over_never(int (*enter)(al_timeout *, double), double v)
{
    al_timeout *to = malloc(sizeof *to); /* heap: valid in shared-stack tasks too */
    ck_assert_ptr_nonnull(to);
    *to = (al_timeout)AL_TIMEOUT_INIT;
    int rc = enter(to, v);
    if (rc == 0) {
        al_future *f = never();
        rc = al_timeout_exit(to, al_await(f));
        al_future_unref(f);
    }
    free(to);
    return rc;
}

static int p_timeout_enter(double v, int *outcome)
{
    return *outcome = scope_over_never(al_timeout_enter, v);
}

static int p_timeout_enter_at(double v, int *outcome)
{
    return *outcome = scope_over_never(al_timeout_enter_at, v);
}

static int p_timeout_reschedule(double v, int *outcome)
{
    al_timeout *to = malloc(sizeof *to);
    ck_assert_ptr_nonnull(to);
    *to = (al_timeout)AL_TIMEOUT_INIT;
    int rc = al_timeout_enter(to, AL_FOREVER);
    ck_assert_int_eq(rc, 0);
    rc = al_timeout_reschedule(to, v);
    int status = rc;
    if (rc == 0) {
        al_future *f = never();
        status = al_await(f);
        al_future_unref(f);
    }
    int exit_rc = al_timeout_exit(to, status < 0 ? status : 0);
    free(to);
    return *outcome = rc == 0 ? exit_rc : rc;
}

static int wait_never(void *arg, void **result)
{
    (void)arg, (void)result;
    al_future *f = never();
    int rc = al_await(f);
    al_future_unref(f);
    return rc;
}

static int p_with_timeout(double v, int *outcome)
{
    return *outcome = al_with_timeout(v, wait_never, NULL, NULL);
}

static int fired_cb(al_loop *loop, void *arg)
{
    (void)loop;
    *(int *)arg = AL_ETIMEOUT; /* "it expired" */
    return 0;
}

/* A timer set by schedule(loop, v, ...) that records its firing in
 * *outcome; the child parks until cancelled, then cancels the timer. */
static int timer_probe(int (*schedule)(al_loop *, double, al_callback_fn, void *, al_handle **),
                       double v, int *outcome)
{
    al_handle *h = NULL;
    int rc = schedule(conf_cur_loop(), v, fired_cb, outcome, &h);
    if (rc < 0)
        return *outcome = rc;
    ck_assert(al_handle_when(h) == al_handle_when(h)); /* never a NaN deadline */
    al_future *f = never();
    int await_rc = al_await(f);
    al_future_unref(f);
    al_handle_cancel(h);
    al_handle_unref(h);
    return await_rc;
}

static int p_call_later(double v, int *outcome)
{
    return timer_probe(al_call_later, v, outcome);
}

static int p_call_at(double v, int *outcome)
{
    return timer_probe(al_call_at, v, outcome);
}

static const probe probes[] = {
    {"sleep", p_sleep, 0},
    {"wait_for", p_wait_for, AL_ETIMEOUT},
    {"wait", p_wait, AL_ETIMEOUT},
    {"as_completed", p_as_completed, AL_ETIMEOUT},
    {"timeout_enter", p_timeout_enter, AL_ETIMEOUT},
    {"timeout_enter_at", p_timeout_enter_at, AL_ETIMEOUT},
    {"timeout_reschedule", p_timeout_reschedule, AL_ETIMEOUT},
    {"with_timeout", p_with_timeout, AL_ETIMEOUT},
    {"call_later", p_call_later, AL_ETIMEOUT},
    {"call_at", p_call_at, AL_ETIMEOUT},
};

typedef struct run {
    const probe *p;
    double v;
    int outcome; /* 1: not yet */
} run;

static int child(void *arg, void **result)
{
    (void)result;
    run *r = arg;
    return r->p->body(r->v, &r->outcome);
}

static int time_values_main(void *arg, void **result)
{
    (void)arg, (void)result;
    conf_s0();
    ck_assert_int_eq(al_sleep(0.002), 0); /* the clock is past 0.001 on both loops */
    for (size_t p = 0; p < sizeof probes / sizeof probes[0]; p++) {
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            run r = {&probes[p], values[i].v, 1};
            al_task *t = conf_spawn(child, &r);
            if (values[i].e == PENDING) {
                ck_assert_int_eq(al_sleep(0.01), 0); /* a while: it must stay pending */
            } else {
                double t0 = conf_now(); /* until it ended, bounded */
                while (r.outcome == 1 && conf_now() - t0 < 5.0)
                    ck_assert_int_eq(al_sleep(0.001), 0);
            }
            switch (values[i].e) {
            case INVALID:
                ck_assert_msg(r.outcome == -EINVAL, "%s(%g): %d", probes[p].name, values[i].v,
                              r.outcome);
                ck_assert(conf_done(t));
                break;
            case EXPIRES:
                ck_assert_msg(r.outcome == probes[p].expired_rc, "%s(%g): %d (%s)", probes[p].name,
                              values[i].v, r.outcome, al_strerror(r.outcome));
                break;
            case PENDING:
                ck_assert_msg(r.outcome == 1, "%s(%g) ended: %d (%s)", probes[p].name, values[i].v,
                              r.outcome, al_strerror(r.outcome));
                ck_assert(!conf_done(t));
                break;
            }
            if (!conf_done(t))
                al_task_cancel(t, NULL);
            int rc = conf_join(t);
            if (values[i].e == PENDING)
                ck_assert_msg(rc == AL_ECANCELLED, "%s(%g) after cancel: %d", probes[p].name,
                              values[i].v, rc);
        }
    }
    return 0;
}

START_TEST(time_values)
{
    conf_run_main(time_values_main, NULL);
}
END_TEST

/* A virtual loop with nothing but a far timer jumps to it at once (no day
 * per iteration), and one at +infinity never fires: the loop waits to be
 * woken instead of spinning. */
START_TEST(virtual_far_deadlines)
{
    if (!conf_is_virtual())
        return;
    al_loop *loop = conf_loop_new();
    int n = 0, m = 0;
    ck_assert_int_eq(al_call_later(loop, 1e300, conf_count_cb, &n, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, INFINITY, conf_count_cb, &m, NULL), 0);
    ck_assert_int_eq(al_loop_run_once(loop), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_double_eq(al_loop_time(loop), 1e300);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(al_call_soon_threadsafe(loop, conf_count_cb, &m), 0);
    ck_assert_int_eq(al_loop_run_once(loop), 0); /* ready: does not wait */
    ck_assert_int_eq(m, 1);
    al_loop_free(loop);
}
END_TEST

/* Count parameters: limits are accepted or refused with -EINVAL /
 * -EOVERFLOW, and a refusal changes nothing. */
static int counts_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = conf_cur_loop();
    al_semaphore *s = NULL;
    ck_assert_int_eq(al_semaphore_new(loop, -1, &s), -EINVAL);
    ck_assert_int_eq(al_semaphore_new(loop, LONG_MIN, &s), -EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(al_semaphore_new(loop, LONG_MAX, &s), 0);
    ck_assert_int_eq(al_semaphore_release(s), -EOVERFLOW);
    ck_assert_int_eq(al_semaphore_value(s), LONG_MAX);
    ck_assert_int_eq(al_semaphore_acquire(s), 0);
    ck_assert_int_eq(al_semaphore_value(s), LONG_MAX - 1);
    ck_assert_int_eq(al_semaphore_release(s), 0);
    ck_assert_int_eq(al_semaphore_free(s), 0);
    ck_assert_int_eq(al_bounded_semaphore_new(loop, LONG_MAX, &s), 0);
    ck_assert_int_eq(al_semaphore_release(s), -EINVAL); /* the bound comes first */
    ck_assert_int_eq(al_semaphore_value(s), LONG_MAX);
    ck_assert_int_eq(al_semaphore_free(s), 0);

    const long sizes[] = {LONG_MIN, -1, 0, 1, LONG_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        al_queue *q;
        ck_assert_int_eq(al_queue_new(loop, sizes[i], &q), 0);
        ck_assert_int_eq(al_queue_maxsize(q), sizes[i]);
        ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(1)), 0);
        ck_assert(al_queue_full(q) == (sizes[i] == 1));
        ck_assert_int_eq(al_queue_put_nowait(q, CONF_VP(2)), sizes[i] == 1 ? AL_EQUEUEFULL : 0);
        ck_assert_uint_eq(al_queue_qsize(q), sizes[i] == 1 ? 1 : 2);
        ck_assert_int_eq(al_queue_free(q), 0);
    }

    al_barrier *b = NULL;
    ck_assert_int_eq(al_barrier_new(loop, 0, &b), -EINVAL);
    ck_assert_int_eq(al_barrier_new(loop, -1, &b), -EINVAL);
    ck_assert_int_eq(al_barrier_new(loop, INT_MIN, &b), -EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(al_barrier_new(loop, INT_MAX, &b), 0);
    ck_assert_int_eq(al_barrier_parties(b), INT_MAX);
    ck_assert_int_eq(al_barrier_free(b), 0);

    al_condition *c;
    ck_assert_int_eq(al_condition_new(loop, NULL, &c), 0);
    ck_assert_int_eq(al_condition_acquire(c), 0);
    ck_assert_int_eq(al_condition_notify(c, -1), -EINVAL);
    ck_assert_int_eq(al_condition_notify(c, INT_MIN), -EINVAL);
    ck_assert_int_eq(al_condition_notify(c, INT_MAX), 0);
    ck_assert_int_eq(al_condition_release(c), 0);
    ck_assert_int_eq(al_condition_free(c), 0);

    ck_assert_int_eq(al_loop_set_slow_callback_duration(loop, NAN), -EINVAL);
    ck_assert_int_eq(al_loop_set_slow_callback_duration(loop, -1), -EINVAL);
    ck_assert_int_eq(al_loop_set_slow_callback_duration(loop, -INFINITY), -EINVAL);
    ck_assert_int_eq(al_loop_set_slow_callback_duration(loop, AL_FOREVER), 0);
    ck_assert_int_eq(al_loop_set_slow_callback_duration(loop, 1e300), 0);
    ck_assert_int_eq(al_loop_set_slow_callback_duration(loop, 0.1), 0);
    return 0;
}

START_TEST(count_values)
{
    conf_run_main(counts_main, NULL);
}
END_TEST

START_TEST(executor_worker_values)
{
    al_loop *loop = conf_loop_new();
    ck_assert_int_eq(al_loop_set_executor_workers(loop, INT_MIN), -EINVAL);
    ck_assert_int_eq(al_loop_set_executor_workers(loop, 0), -EINVAL);
    ck_assert_int_eq(al_loop_set_executor_workers(loop, INT_MAX), 0); /* threads are lazy */
    al_future *f;
    ck_assert_int_eq(al_loop_run_in_executor(loop, conf_noop, NULL, NULL, &f), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, f), 0);
    al_future_unref(f);
    ck_assert_int_eq(al_loop_shutdown_default_executor(loop, AL_FOREVER), 0);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_bad_values)
{
    Suite *s = suite_create("bad_values");
    TCase *tc = al_tcase("values");
    tcase_add_test(tc, time_values);
    tcase_add_test(tc, virtual_far_deadlines);
    tcase_add_test(tc, count_values);
    tcase_add_test(tc, executor_worker_values);
    suite_add_tcase(s, tc);
    return s;
}

/* Conformance: gather, wait, wait_for, as_completed, shield (R51-R72).
 *
 * Timings are exact on the virtual clock and loosely bounded on the real
 * one; every delay is at most 0.2 s. */
#include "al_conf.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

/* One iteration without blocking. */
static void run_briefly(al_loop *loop, int iterations)
{
    for (int i = 0; i < iterations; i++) {
        al_loop_stop(loop);
        al_loop_run_forever(loop);
    }
}

/* A child task: sleeps, then returns value or rc; on cancellation it may
 * clean up (sleeping), swallow the cancellation, or fail. */
typedef struct child {
    double delay;
    int rc;
    intptr_t value;
    double cleanup;
    bool swallow;
    int cancel_rc;
    int seen;
    bool started, cleaned, finished;
    conf_log *log;
    int id;
} child;

static int child_fn(void *arg, void **result)
{
    child *c = arg;
    c->started = true;
    int rc = al_sleep(c->delay);
    c->seen = rc;
    if (rc == AL_ECANCELLED) {
        if (c->cleanup > 0)
            al_sleep(c->cleanup);
        c->cleaned = true;
        if (c->swallow) {
            *result = (void *)c->value;
            return 0;
        }
        return c->cancel_rc ? c->cancel_rc : AL_ECANCELLED;
    }
    c->finished = true;
    if (c->log)
        conf_log_add(c->log, c->id);
    if (c->rc)
        return c->rc;
    *result = (void *)c->value;
    return 0;
}

static al_task *spawn(child *c)
{
    return conf_spawn(child_fn, c);
}

static al_future *new_future(al_loop *loop)
{
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    return f;
}

static int count_cb(al_future *f, void *arg)
{
    (void)f;
    (*(int *)arg)++;
    return 0;
}

/* ---- R51 wait ------------------------------------------------------------------ */

static int r51_all_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    child a = {.delay = 0.1, .value = 1}, b = {.delay = 0.15, .value = 2};
    al_task *ta = spawn(&a), *tb = spawn(&b);
    al_future *fs[] = {CONF_F(ta), CONF_F(tb)}, *done[2], *pending[2];
    size_t nd = 9, np = 9;
    ck_assert_int_eq(al_wait(fs, 2, AL_FOREVER, AL_ALL_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 2);
    ck_assert_uint_eq(np, 0);
    ck_assert_ptr_eq(done[0], fs[0]);
    ck_assert_ptr_eq(done[1], fs[1]);
    conf_check_elapsed(t0, 0.15);
    al_task_unref(ta);
    al_task_unref(tb);
    return 0;
}

START_TEST(r51_wait_all_completed)
{
    conf_run_main(r51_all_main, NULL);
}
END_TEST

static int r51_first_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    child a = {.delay = 10}, b = {.delay = 0.1};
    al_task *ta = spawn(&a), *tb = spawn(&b);
    al_future *fs[] = {CONF_F(ta), CONF_F(tb)}, *done[2], *pending[2];
    size_t nd, np;
    ck_assert_int_eq(al_wait(fs, 2, AL_FOREVER, AL_FIRST_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_uint_eq(np, 1);
    ck_assert_ptr_eq(done[0], CONF_F(tb));
    ck_assert_ptr_eq(pending[0], CONF_F(ta));
    conf_check_elapsed(t0, 0.1);
    al_task_cancel(ta, NULL);
    ck_assert_int_eq(al_await(CONF_F(ta)), AL_ECANCELLED);
    al_task_unref(ta);
    al_task_unref(tb);
    return 0;
}

START_TEST(r51_wait_first_completed)
{
    conf_run_main(r51_first_main, NULL);
}
END_TEST

static int r51_timeout_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    child a = {.delay = 0.1}, b = {.delay = 0.15};
    al_task *ta = spawn(&a), *tb = spawn(&b);
    al_future *fs[] = {CONF_F(ta), CONF_F(tb)}, *done[2], *pending[2];
    size_t nd, np;
    ck_assert_int_eq(al_wait(fs, 2, 0.11, AL_ALL_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_uint_eq(np, 1);
    ck_assert_ptr_eq(done[0], CONF_F(ta));
    ck_assert_ptr_eq(pending[0], CONF_F(tb));
    conf_check_elapsed(t0, 0.11);
    ck_assert_int_eq(al_await(CONF_F(tb)), 0); /* the timeout cancelled nothing */
    al_task_unref(ta);
    al_task_unref(tb);
    return 0;
}

START_TEST(r51_wait_with_timeout)
{
    conf_run_main(r51_timeout_main, NULL);
}
END_TEST

/* ---- R52 FIRST_EXCEPTION ---------------------------------------------------------- */

static int r52_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    double t0 = conf_now();
    /* Already failed: returns at once (t = 0). */
    al_future *failed = new_future(loop);
    al_future_set_error(failed, -EIO);
    child b = {.delay = 0.2};
    al_task *tb = spawn(&b);
    al_future *fs[] = {failed, CONF_F(tb)}, *done[2], *pending[2];
    size_t nd, np;
    ck_assert_int_eq(al_wait(fs, 2, AL_FOREVER, AL_FIRST_EXCEPTION, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(done[0], failed);
    ck_assert_ptr_eq(pending[0], CONF_F(tb));
    conf_check_elapsed(t0, 0);
    /* Failing at 0.01: returns then. */
    child c = {.delay = 0.01, .rc = -EPIPE};
    al_task *tc = spawn(&c);
    al_future *fs2[] = {CONF_F(tc), CONF_F(tb)};
    ck_assert_int_eq(al_wait(fs2, 2, AL_FOREVER, AL_FIRST_EXCEPTION, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(done[0], CONF_F(tc));
    ck_assert_int_eq(al_future_error(CONF_F(tc)), -EPIPE);
    conf_check_elapsed(t0, 0.01);
    /* No failure at all: behaves as ALL_COMPLETED. */
    child d = {.delay = 0.05};
    al_task *td = spawn(&d);
    al_future *fs3[] = {CONF_F(td), CONF_F(tb)};
    ck_assert_int_eq(al_wait(fs3, 2, AL_FOREVER, AL_FIRST_EXCEPTION, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 2);
    conf_check_elapsed(t0, 0.2);
    al_future_error(failed);
    al_future_unref(failed);
    al_task_unref(tb);
    al_task_unref(tc);
    al_task_unref(td);
    return 0;
}

START_TEST(r52_wait_first_exception)
{
    conf_run_main(r52_main, NULL);
}
END_TEST

/* ---- R53 several done, errors, duplicates ------------------------------------------------ */

static int r53_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    /* sleep(0): both yield once and finish in the same iteration on every
     * loop (two 0.05 s timers armed microseconds apart can fire in two
     * iterations on a real clock under ASan). */
    child a = {.delay = 0}, b = {.delay = 0};
    al_task *ta = spawn(&a), *tb = spawn(&b);
    al_future *fs[] = {CONF_F(ta), CONF_F(tb)}, *done[2];
    size_t nd, np;
    /* Both finish in the same iteration: FIRST_COMPLETED returns both. */
    ck_assert_int_eq(al_wait(fs, 2, AL_FOREVER, AL_FIRST_COMPLETED, done, &nd, NULL, &np), 0);
    ck_assert_uint_eq(nd, 2);
    ck_assert_uint_eq(np, 0);
    /* Bad arguments. */
    ck_assert_int_eq(al_wait(fs, 0, AL_FOREVER, AL_ALL_COMPLETED, NULL, NULL, NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_wait(fs, 2, AL_FOREVER, 0, NULL, NULL, NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_wait(fs, 2, AL_FOREVER, 4, NULL, NULL, NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_wait(fs, 2, NAN, AL_ALL_COMPLETED, NULL, NULL, NULL, NULL), -EINVAL);
    /* Duplicates are one future. */
    al_future *f = new_future(loop);
    al_future_set_result(f, NULL, NULL);
    al_future *dup[] = {f, f, f};
    ck_assert_int_eq(al_wait(dup, 3, AL_FOREVER, AL_ALL_COMPLETED, done, &nd, NULL, &np), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(done[0], f);
    al_future_unref(f);
    al_task_unref(ta);
    al_task_unref(tb);
    return 0;
}

START_TEST(r53_wait_errors_duplicates)
{
    conf_run_main(r53_main, NULL);
    /* Outside a task. */
    al_loop *loop = conf_loop_new();
    al_future *f = new_future(loop);
    ck_assert_int_eq(al_wait(&f, 1, AL_FOREVER, AL_ALL_COMPLETED, NULL, NULL, NULL, NULL),
                     AL_ENOTINTASK);
    al_future_unref(f);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

/* ---- R54 cancelling a waiter leaves the futures alone ------------------------------------- */

typedef struct r54 {
    al_future *target;
    int rc;
} r54;

static int r54_waiter(void *arg, void **res)
{
    (void)res;
    r54 *w = arg;
    w->rc = al_wait(&w->target, 1, AL_FOREVER, AL_ALL_COMPLETED, NULL, NULL, NULL, NULL);
    return w->rc;
}

static int r54_main(void *arg, void **res)
{
    (void)arg, (void)res;
    child c = {.delay = 0.1, .value = 7};
    al_task *tc = spawn(&c);
    r54 w = {CONF_F(tc), 1};
    al_task *tw = conf_spawn(r54_waiter, &w);
    conf_s0();
    conf_s0();
    al_task_cancel(tw, NULL);
    ck_assert_int_eq(al_await(CONF_F(tw)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(CONF_F(tw)));
    ck_assert_int_eq(w.rc, AL_ECANCELLED);
    ck_assert(!al_future_done(CONF_F(tc)));
    void *v;
    ck_assert_int_eq(al_await(CONF_F(tc)), 0);
    ck_assert_int_eq(al_future_result(CONF_F(tc), &v), 0);
    ck_assert_int_eq(CONF_PV(v), 7);
    al_task_unref(tc);
    al_task_unref(tw);
    return 0;
}

START_TEST(r54_wait_does_not_shield_cancel)
{
    conf_run_main(r54_main, NULL);
}
END_TEST

/* ---- R55 as_completed ------------------------------------------------------------------- */

static int r55_order_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    child a = {.delay = 0.15, .value = 1}, b = {.delay = 0.1, .value = 2},
          c = {.delay = 0.05, .value = 3};
    al_task *ta = spawn(&a), *tb = spawn(&b), *tc = spawn(&c);
    al_future *fs[] = {CONF_F(ta), CONF_F(tb), CONF_F(tc),
                       CONF_F(tb)}; /* a duplicate, returned once */
    al_as_completed *it;
    ck_assert_int_eq(al_as_completed_new(loop, fs, 4, AL_FOREVER, &it), 0);
    ck_assert_uint_eq(al_as_completed_remaining(it), 3);
    int expect[] = {3, 2, 1};
    al_future *order[] = {CONF_F(tc), CONF_F(tb), CONF_F(ta)};
    for (int i = 0; i < 3; i++) {
        al_future *f;
        ck_assert_int_eq(al_as_completed_next(it, &f), 0);
        ck_assert_ptr_eq(f, order[i]); /* the very futures passed in */
        void *v;
        ck_assert_int_eq(al_future_result(f, &v), 0);
        ck_assert_int_eq(CONF_PV(v), expect[i]);
        al_future_unref(f);
    }
    al_future *f = CONF_F(ta);
    ck_assert_int_eq(al_as_completed_next(it, &f), 0);
    ck_assert_ptr_null(f); /* the end */
    ck_assert_int_eq(al_as_completed_next(it, &f), 0);
    ck_assert_ptr_null(f); /* again */
    ck_assert_int_eq(al_as_completed_free(it), 0);
    al_task_unref(ta);
    al_task_unref(tb);
    al_task_unref(tc);
    return 0;
}

START_TEST(r55_as_completed_order)
{
    conf_run_main(r55_order_main, NULL);
}
END_TEST

static int r55_timeout_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    double t0 = conf_now();
    /* Wide margins: on a real clock under sanitizers and a loaded machine
     * a 20 ms gap between a child and the deadline is not enough. */
    child a = {.delay = 0.05, .value = 1}, b = {.delay = 0.8, .value = 2};
    al_task *ta = spawn(&a), *tb = spawn(&b);
    al_future *fs[] = {CONF_F(ta), CONF_F(tb)};
    al_as_completed *it;
    ck_assert_int_eq(al_as_completed_new(loop, fs, 2, 0.5, &it), 0);
    al_future *f;
    ck_assert_int_eq(al_as_completed_next(it, &f), 0);
    ck_assert_ptr_eq(f, CONF_F(ta));
    al_future_unref(f);
    conf_check_elapsed(t0, 0.05);
    f = CONF_F(tb);
    ck_assert_int_eq(al_as_completed_next(it, &f), AL_ETIMEOUT);
    ck_assert_ptr_eq(f, CONF_F(tb)); /* untouched on error */
    conf_check_elapsed(t0, 0.5);
    ck_assert_int_eq(al_as_completed_next(it, &f), AL_ETIMEOUT);
    ck_assert_int_eq(al_as_completed_free(it), 0);
    ck_assert_int_eq(al_await(CONF_F(tb)), 0); /* not cancelled by the timeout */
    al_task_unref(ta);
    al_task_unref(tb);
    return 0;
}

START_TEST(r55_as_completed_timeout)
{
    conf_run_main(r55_timeout_main, NULL);
}
END_TEST

typedef struct r55c {
    al_as_completed *it;
    int rc;
} r55c;

static int r55_next_task(void *arg, void **res)
{
    (void)res;
    r55c *x = arg;
    al_future *f = NULL;
    x->rc = al_as_completed_next(x->it, &f);
    al_future_unref(f);
    return 0;
}

static int r55_cancel_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    al_future *a = new_future(loop), *b = new_future(loop);
    al_future *fs[] = {a, b};
    r55c x = {NULL, 1};
    ck_assert_int_eq(al_as_completed_new(loop, fs, 2, AL_FOREVER, &x.it), 0);
    al_task *t = conf_spawn(r55_next_task, &x);
    conf_s0();
    /* Someone else waiting in next, and free while waited on: refused. */
    al_future *f;
    ck_assert_int_eq(al_as_completed_next(x.it, &f), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_as_completed_free(x.it), AL_EINVALIDSTATE);
    al_task_cancel(t, NULL);
    al_await(CONF_F(t));
    ck_assert_int_eq(x.rc, AL_ECANCELLED);
    ck_assert(!al_future_done(a)); /* the futures are untouched */
    al_future_set_result(b, CONF_VP(5), NULL);
    ck_assert_int_eq(al_as_completed_next(x.it, &f), 0); /* still usable */
    ck_assert_ptr_eq(f, b);
    al_future_unref(f);
    ck_assert_int_eq(al_as_completed_free(x.it), 0); /* a still pending: fine */
    al_future_set_result(a, NULL, NULL);
    conf_s0();
    al_future_unref(a);
    al_future_unref(b);
    al_task_unref(t);
    return 0;
}

START_TEST(r55_as_completed_cancel_and_misuse)
{
    conf_run_main(r55_cancel_main, NULL);
}
END_TEST

/* ---- R56-R62 gather ------------------------------------------------------------------------ */

START_TEST(r56_gather_success)
{
    al_loop *loop = conf_loop_new();
    al_future *a = new_future(loop), *b = new_future(loop), *c = new_future(loop), *g;
    al_future *fs[] = {a, b, c};
    ck_assert_int_eq(al_gather(loop, fs, 3, false, &g), 0);
    int calls = 0;
    al_future_add_done_callback(g, count_cb, &calls);
    al_future_set_result(b, CONF_VP(1), NULL);
    al_future_set_result(a, CONF_VP(2), NULL);
    run_briefly(loop, 2);
    ck_assert(!al_future_done(g));
    al_future_set_result(c, CONF_VP(3), NULL);
    run_briefly(loop, 2);
    ck_assert(al_future_done(g));
    ck_assert_int_eq(calls, 1);
    void *v;
    ck_assert_int_eq(al_future_result(g, &v), 0);
    al_gather_result *r = v;
    ck_assert_uint_eq(r->n, 3);
    ck_assert_int_eq(CONF_PV(r->values[0]), 2);
    ck_assert_int_eq(CONF_PV(r->values[1]), 1);
    ck_assert_int_eq(CONF_PV(r->values[2]), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(r->status[i], 0);
    al_future_unref(a);
    al_future_unref(b);
    al_future_unref(c);
    /* The result keeps the children: values stay valid. */
    ck_assert_int_eq(CONF_PV(((al_gather_result *)v)->values[0]), 2);
    al_future_unref(g);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

START_TEST(r57_gather_one_exception)
{
    al_loop *loop = conf_loop_new();
    al_future *a = new_future(loop), *b = new_future(loop), *c = new_future(loop), *g;
    al_future *fs[] = {a, b, c};
    ck_assert_int_eq(al_gather(loop, fs, 3, false, &g), 0);
    al_future_set_result(a, CONF_VP(1), NULL);
    al_future_set_error(b, -EIO);
    run_briefly(loop, 1);
    ck_assert(al_future_done(g));
    ck_assert(!al_future_cancelled(g));
    ck_assert_int_eq(al_future_error(g), -EIO);
    /* Later results and cancellations are ignored. */
    al_future_cancel(c, NULL);
    run_briefly(loop, 2);
    ck_assert_int_eq(al_future_error(g), -EIO);
    ck_assert(!al_future_done(g) || al_future_error(g) == -EIO);
    al_future_unref(a);
    al_future_unref(b);
    al_future_unref(c);
    al_future_unref(g);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

START_TEST(r58_gather_return_errors)
{
    al_loop *loop = conf_loop_new();
    al_future *a = new_future(loop), *b = new_future(loop), *c = new_future(loop),
              *d = new_future(loop), *e = new_future(loop), *g;
    al_future *fs[] = {a, b, c, d, e};
    ck_assert_int_eq(al_gather(loop, fs, 5, true, &g), 0);
    al_future_set_error(c, -EIO);
    al_future_set_error(d, -EPIPE);
    al_future_cancel(e, "bye");
    al_future_set_result(a, CONF_VP(3), NULL);
    al_future_set_result(b, CONF_VP(1), NULL);
    run_briefly(loop, 2);
    ck_assert(al_future_done(g));
    void *v;
    ck_assert_int_eq(al_future_result(g, &v), 0);
    al_gather_result *r = v;
    ck_assert_uint_eq(r->n, 5);
    ck_assert_int_eq(r->status[0], 0);
    ck_assert_int_eq(CONF_PV(r->values[0]), 3);
    ck_assert_int_eq(r->status[1], 0);
    ck_assert_int_eq(CONF_PV(r->values[1]), 1);
    ck_assert_int_eq(r->status[2], -EIO);
    ck_assert_int_eq(r->status[3], -EPIPE);
    ck_assert_int_eq(r->status[4], AL_ECANCELLED);
    ck_assert_ptr_null(r->values[2]);
    al_future *all[] = {a, b, c, d, e, g};
    for (int i = 0; i < 6; i++)
        al_future_unref(all[i]);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

START_TEST(r59_gather_child_cancelled)
{
    al_loop *loop = conf_loop_new();
    al_future *a = new_future(loop), *b = new_future(loop), *g;
    al_future *fs[] = {a, b};
    ck_assert_int_eq(al_gather(loop, fs, 2, false, &g), 0);
    al_future_set_result(a, NULL, NULL);
    al_future_cancel(b, NULL);
    run_briefly(loop, 1);
    ck_assert(al_future_done(g));
    ck_assert(!al_future_cancelled(g)); /* an error, not a cancelled gather */
    ck_assert_int_eq(al_future_error(g), AL_ECANCELLED);
    ck_assert_int_eq(al_future_cancel(g, NULL), 0);
    al_future_unref(a);
    al_future_unref(b);
    al_future_unref(g);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

typedef struct r60 {
    al_future *g;
    int rc;
} r60;

static int r60_awaiter(void *arg, void **res)
{
    (void)res;
    r60 *x = arg;
    x->rc = al_await(x->g);
    return x->rc;
}

static int r60_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    child c1 = {.delay = 10}, c2 = {.delay = 10};
    al_task *t1 = spawn(&c1), *t2 = spawn(&c2);
    al_future *fs[] = {CONF_F(t1), CONF_F(t2)};
    r60 x = {NULL, 1};
    ck_assert_int_eq(al_gather(loop, fs, 2, false, &x.g), 0);
    al_task *w = conf_spawn(r60_awaiter, &x);
    conf_s0();
    conf_s0();
    ck_assert_int_eq(al_task_cancel(w, "stop"), 1);
    ck_assert_int_eq(al_await(CONF_F(w)), AL_ECANCELLED);
    al_await(CONF_F(t1));
    al_await(CONF_F(t2));
    ck_assert(al_future_cancelled(CONF_F(t1)));
    ck_assert(al_future_cancelled(CONF_F(t2)));
    ck_assert_str_eq(al_future_cancel_message(CONF_F(t1)), "stop");
    /* asyncio: the gather ends with a CancelledError exception, the task
     * awaiting it is cancelled (with the children's message). */
    ck_assert(!al_future_cancelled(x.g));
    ck_assert_int_eq(al_future_error(x.g), AL_ECANCELLED);
    ck_assert_str_eq(al_future_cancel_message(x.g), "stop");
    ck_assert(al_future_cancelled(CONF_F(w)));
    ck_assert_str_eq(al_future_cancel_message(CONF_F(w)), "stop");
    ck_assert_int_eq(al_future_cancel(x.g, NULL), 0);
    al_future_unref(x.g);
    al_task_unref(t1);
    al_task_unref(t2);
    al_task_unref(w);
    return 0;
}

START_TEST(r60_gather_cancellation_broadcast)
{
    conf_run_main(r60_main, NULL);
}
END_TEST

START_TEST(r61_gather_cancel_message_and_done)
{
    al_loop *loop = conf_loop_new();
    /* cancel(msg) reaches the children with its message. */
    al_future *a = new_future(loop), *b = new_future(loop), *g;
    al_future *fs[] = {a, b};
    ck_assert_int_eq(al_gather(loop, fs, 2, false, &g), 0);
    ck_assert_int_eq(al_future_cancel(g, "my msg"), 1);
    run_briefly(loop, 1);
    ck_assert(al_future_cancelled(a));
    ck_assert(al_future_cancelled(b));
    ck_assert_str_eq(al_future_cancel_message(a), "my msg");
    ck_assert_int_eq(al_future_error(g), AL_ECANCELLED);
    ck_assert_str_eq(al_future_cancel_message(g), "my msg");
    al_future_unref(g);
    /* Once the gather is done, cancel refuses and the result stays. */
    al_future *c = new_future(loop);
    ck_assert_int_eq(al_gather(loop, &c, 1, false, &g), 0);
    al_future_set_result(c, CONF_VP(42), NULL);
    run_briefly(loop, 1);
    ck_assert_int_eq(al_future_cancel(g, NULL), 0);
    void *v;
    ck_assert_int_eq(al_future_result(g, &v), 0);
    ck_assert_int_eq(CONF_PV(((al_gather_result *)v)->values[0]), 42);
    al_future_unref(a);
    al_future_unref(b);
    al_future_unref(c);
    al_future_unref(g);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

START_TEST(r62_gather_duplicates_and_empty)
{
    al_loop *loop = conf_loop_new();
    int runs = 0;
    al_future *c = new_future(loop), *d = new_future(loop), *g;
    al_future_add_done_callback(c, count_cb, &runs);
    al_future *fs[] = {c, c, d, c};
    ck_assert_int_eq(al_gather(loop, fs, 4, false, &g), 0);
    al_future_set_result(c, CONF_VP(1), NULL);
    al_future_set_result(d, CONF_VP(2), NULL);
    run_briefly(loop, 2);
    void *v;
    ck_assert_int_eq(al_future_result(g, &v), 0);
    al_gather_result *r = v;
    ck_assert_uint_eq(r->n, 4);
    int expect[] = {1, 1, 2, 1};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(CONF_PV(r->values[i]), expect[i]);
    ck_assert_int_eq(runs, 1);
    al_future_unref(g);
    /* Empty: done at once with nothing. */
    ck_assert_int_eq(al_gather(loop, NULL, 0, false, &g), 0);
    ck_assert(al_future_done(g));
    ck_assert_int_eq(al_future_result(g, &v), 0);
    ck_assert_uint_eq(((al_gather_result *)v)->n, 0);
    al_future_unref(g);
    /* Bad input. */
    al_loop *other = conf_loop_new();
    al_future *o = new_future(other), *bad[] = {c, o}, *nul[] = {c, NULL};
    ck_assert_int_eq(al_gather(loop, bad, 2, false, &g), AL_EWRONGLOOP);
    ck_assert_int_eq(al_gather(loop, nul, 2, false, &g), -EINVAL);
    ck_assert_int_eq(al_gather(loop, NULL, 2, false, &g), -EINVAL);
    al_future_unref(o);
    al_future_unref(c);
    al_future_unref(d);
    al_loop_free(other);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

/* c[0] cleans up faster than c[1]; c[2].started says return_errors. */
static int gather_wait_main(void *arg, void **res)
{
    (void)res;
    child *c = arg;
    bool return_errors = c[2].started;
    al_task *t1 = spawn(&c[0]), *t2 = spawn(&c[1]);
    al_future *fs[] = {CONF_F(t1), CONF_F(t2)}, *g = NULL;
    int rc = al_gather_wait(fs, 2, return_errors, &g);
    ck_assert_int_eq(rc, AL_ECANCELLED);
    if (return_errors) {
        /* Every child finished cancelling before we resumed. */
        ck_assert(c[0].cleaned && c[1].cleaned);
        ck_assert(al_future_done(CONF_F(t1)) && al_future_done(CONF_F(t2)));
    } else {
        /* As asyncio: the first child that ends cancelled ends the gather
         * (R59); not before it finished cancelling. */
        ck_assert(c[0].cleaned && !c[1].cleaned);
        ck_assert(al_future_cancelled(CONF_F(t1)) && !al_future_done(CONF_F(t2)));
        ck_assert_int_eq(al_await(CONF_F(t2)), AL_ECANCELLED);
    }
    ck_assert(!al_future_cancelled(g));
    ck_assert_int_eq(al_future_error(g), AL_ECANCELLED);
    al_future_unref(g);
    al_task_unref(t1);
    al_task_unref(t2);
    return rc;
}

static int gather_wait_ok_main(void *arg, void **res)
{
    (void)arg, (void)res;
    child c1 = {.delay = 0.02, .value = 5}, c2 = {.delay = 0.01, .value = 6};
    al_task *t1 = spawn(&c1), *t2 = spawn(&c2);
    al_future *fs[] = {CONF_F(t1), CONF_F(t2)}, *g;
    ck_assert_int_eq(al_gather_wait(fs, 2, false, &g), 0);
    void *v;
    al_future_result(g, &v);
    ck_assert_int_eq(CONF_PV(((al_gather_result *)v)->values[0]), 5);
    ck_assert_int_eq(CONF_PV(((al_gather_result *)v)->values[1]), 6);
    al_future_unref(g);
    al_task_unref(t1);
    al_task_unref(t2);
    return 0;
}

START_TEST(r60_gather_wait_waits_for_cancelled_children)
{
    conf_run_main(gather_wait_ok_main, NULL);
    for (int return_errors = 0; return_errors < 2; return_errors++) {
        al_loop *loop = conf_loop_new();
        child c[3] = {{.delay = 10, .cleanup = 0.05},
                      {.delay = 10, .cleanup = 0.15},
                      {.started = return_errors}};
        al_task *m;
        ck_assert_int_eq(al_task_new(loop, gather_wait_main, c, NULL, &m), 0);
        run_briefly(loop, 3);
        ck_assert_int_eq(al_task_cancel(m, NULL), 1);
        ck_assert_int_eq(al_loop_run_until_complete(loop, CONF_F(m)), AL_ECANCELLED);
        al_task_unref(m);
        run_briefly(loop, 3); /* let queued done-callbacks release their state */
        al_loop_free(loop);
    }
}
END_TEST

/* Fault 2, R61: a gather whose children are all done refuses a cancel even
 * before its callbacks ran; its result stands. A task awaiting it that is
 * cancelled then resumes cancelled once the gather is done, which keeps
 * its result. */
typedef struct refuse {
    al_future *g;
    int rc;
    bool resumed;
} refuse;

static int refuse_awaiter(void *arg, void **res)
{
    (void)res;
    refuse *x = arg;
    x->rc = al_await(x->g);
    x->resumed = true;
    return x->rc;
}

static int gather_refuse_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    al_future *a = new_future(loop), *b = new_future(loop);
    al_future *fs[] = {a, b};
    refuse x = {NULL, 1, false};
    ck_assert_int_eq(al_gather(loop, fs, 2, false, &x.g), 0);
    al_task *w = conf_spawn(refuse_awaiter, &x);
    conf_s0(); /* w parks on the gather */
    al_future_set_result(a, CONF_VP(42), NULL);
    al_future_set_result(b, CONF_VP(43), NULL);
    /* Both done, the gather's callbacks still queued. */
    ck_assert(!al_future_done(x.g));
    ck_assert_int_eq(al_future_cancel(x.g, "late"), 0);
    ck_assert(!al_future_done(x.g));
    ck_assert_int_eq(al_task_cancel(w, "late"), 1); /* no child to take it: w's own */
    ck_assert_int_eq(al_await(CONF_F(w)), AL_ECANCELLED);
    ck_assert(x.resumed);
    ck_assert_int_eq(x.rc, AL_ECANCELLED);
    void *v;
    ck_assert_int_eq(al_future_result(x.g, &v), 0);
    ck_assert_uint_eq(((al_gather_result *)v)->n, 2);
    ck_assert_int_eq(CONF_PV(((al_gather_result *)v)->values[0]), 42);
    ck_assert_int_eq(CONF_PV(((al_gather_result *)v)->values[1]), 43);
    ck_assert_int_eq(al_future_cancel(x.g, NULL), 0);
    ck_assert(!al_future_cancelled(a) && !al_future_cancelled(b));
    al_future_unref(x.g);
    al_future_unref(a);
    al_future_unref(b);
    al_task_unref(w);
    return 0;
}

START_TEST(r61_gather_cancel_refused_when_children_done)
{
    conf_run_main(gather_refuse_main, NULL);
}
END_TEST

/* Fault 2: a cancelled gather ends only when its children report. With
 * some children done, cancel reaches the others (1); the gather stays
 * pending while they clean up; a cancel that reached a child wins over
 * return_errors even if every child swallows it (bpo-32684). */
static int gather_partial_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    double t0 = conf_now();
    child c1 = {.delay = 0, .value = 1};
    child c2 = {.delay = 10, .cleanup = 0.1, .swallow = true, .value = 2};
    child c3 = {.delay = 10, .cleanup = 0.05, .swallow = true, .value = 3};
    al_task *t1 = spawn(&c1), *t2 = spawn(&c2), *t3 = spawn(&c3);
    al_future *fs[] = {CONF_F(t1), CONF_F(t2), CONF_F(t3)}, *g;
    ck_assert_int_eq(al_gather(loop, fs, 3, true, &g), 0);
    ck_assert_int_eq(al_await(CONF_F(t1)), 0);
    ck_assert_int_eq(al_future_cancel(g, "bye"), 1);
    ck_assert(!al_future_done(g));
    ck_assert_int_eq(al_future_cancel(g, "again"), 1); /* the children are still pending */
    conf_s0();
    conf_s0();
    ck_assert(!al_future_done(g)); /* the children clean up */
    ck_assert(!c2.cleaned && !c3.cleaned);
    ck_assert_int_eq(al_await(g), AL_ECANCELLED);
    conf_check_elapsed(t0, 0.1);
    ck_assert(c2.cleaned && c3.cleaned);
    ck_assert(al_future_done(CONF_F(t2)) && al_future_done(CONF_F(t3)));
    ck_assert(!al_future_cancelled(CONF_F(t2))); /* swallowed: a result */
    ck_assert(!al_future_cancelled(g));
    ck_assert_int_eq(al_future_cancel(g, NULL), 0);
    al_future_unref(g);
    al_task_unref(t1);
    al_task_unref(t2);
    al_task_unref(t3);
    return 0;
}

START_TEST(r61_gather_cancel_waits_for_children)
{
    conf_run_main(gather_partial_main, NULL);
}
END_TEST

/* ---- R63-R64 shield ----------------------------------------------------------------------- */

START_TEST(r63_shield_mirrors)
{
    al_loop *loop = conf_loop_new();
    al_future *in = new_future(loop), *out;
    /* result */
    ck_assert_int_eq(al_shield(in, &out), 0);
    ck_assert_ptr_ne(out, in);
    al_future_set_result(in, CONF_VP(42), NULL);
    run_briefly(loop, 1);
    void *v;
    ck_assert_int_eq(al_future_result(out, &v), 0);
    ck_assert_int_eq(CONF_PV(v), 42);
    al_future_unref(out);
    /* shortcut: a done inner is returned itself */
    ck_assert_int_eq(al_shield(in, &out), 0);
    ck_assert_ptr_eq(out, in);
    al_future_unref(out);
    al_future_unref(in);
    /* exception */
    in = new_future(loop);
    ck_assert_int_eq(al_shield(in, &out), 0);
    al_future_set_error(in, -EIO);
    run_briefly(loop, 1);
    ck_assert_int_eq(al_future_error(out), -EIO);
    ck_assert_int_eq(al_future_error(in), -EIO);
    al_future_unref(out);
    al_future_unref(in);
    /* inner cancelled -> outer cancelled */
    in = new_future(loop);
    ck_assert_int_eq(al_shield(in, &out), 0);
    al_future_cancel(in, NULL);
    run_briefly(loop, 1);
    ck_assert(al_future_cancelled(out));
    al_future_unref(out);
    al_future_unref(in);
    /* outer cancelled -> inner untouched, its callback removed */
    in = new_future(loop);
    ck_assert_int_eq(al_shield(in, &out), 0);
    al_future_cancel(out, NULL);
    run_briefly(loop, 1);
    ck_assert(!al_future_done(in));
    ck_assert_int_eq(al_future_remove_done_callback(in, count_cb, NULL), 0);
    al_future_set_result(in, NULL, NULL);
    run_briefly(loop, 1);
    ck_assert(al_future_cancelled(out));
    al_future_unref(out);
    al_future_unref(in);
    ck_assert_int_eq(al_shield(NULL, &out), -EINVAL);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

typedef struct r64 {
    al_future *inner;
    int rc;
} r64;

static int r64_outer(void *arg, void **res)
{
    (void)res;
    r64 *x = arg;
    al_future *s;
    ck_assert_int_eq(al_shield(x->inner, &s), 0);
    x->rc = al_await(s);
    al_future_unref(s);
    return x->rc;
}

static int r64_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    /* shield effect: cancelling the awaiting task leaves the inner running */
    child c = {.delay = 0.05, .value = 9};
    al_task *ti = spawn(&c);
    r64 x = {CONF_F(ti), 1};
    al_task *to = conf_spawn(r64_outer, &x);
    conf_s0();
    conf_s0();
    al_task_cancel(to, NULL);
    ck_assert_int_eq(al_await(CONF_F(to)), AL_ECANCELLED);
    ck_assert_int_eq(x.rc, AL_ECANCELLED);
    ck_assert(!al_future_done(CONF_F(ti)));
    ck_assert_int_eq(al_await(CONF_F(ti)), 0);
    ck_assert(c.finished);
    /* shield(gather): cancelling the shield keeps the gather's [1, 2] */
    child c1 = {.delay = 0.01, .value = 1}, c2 = {.delay = 0.02, .value = 2};
    al_task *t1 = spawn(&c1), *t2 = spawn(&c2);
    al_future *fs[] = {CONF_F(t1), CONF_F(t2)}, *g, *s;
    ck_assert_int_eq(al_gather(loop, fs, 2, false, &g), 0);
    ck_assert_int_eq(al_shield(g, &s), 0);
    al_future_cancel(s, NULL);
    ck_assert_int_eq(al_await(g), 0);
    void *v;
    al_future_result(g, &v);
    ck_assert_int_eq(CONF_PV(((al_gather_result *)v)->values[0]), 1);
    ck_assert_int_eq(CONF_PV(((al_gather_result *)v)->values[1]), 2);
    al_future_unref(s);
    al_future_unref(g);
    /* gather(shield, shield): cancelling the gather cancels the shields only */
    child c3 = {.delay = 0.02, .value = 3}, c4 = {.delay = 0.02, .value = 4};
    al_task *t3 = spawn(&c3), *t4 = spawn(&c4);
    al_future *s3, *s4;
    al_shield(CONF_F(t3), &s3);
    al_shield(CONF_F(t4), &s4);
    al_future *ss[] = {s3, s4};
    ck_assert_int_eq(al_gather(loop, ss, 2, false, &g), 0);
    ck_assert_int_eq(al_future_cancel(g, NULL), 1);
    ck_assert_int_eq(al_await(CONF_F(t3)), 0);
    ck_assert_int_eq(al_await(CONF_F(t4)), 0);
    ck_assert(al_future_cancelled(s3) && al_future_cancelled(s4));
    ck_assert_int_eq(al_future_error(g), AL_ECANCELLED); /* ended by its cancelled shields */
    al_future *all[] = {s3, s4, g};
    for (int i = 0; i < 3; i++)
        al_future_unref(all[i]);
    al_task *ts[] = {ti, to, t1, t2, t3, t4};
    for (int i = 0; i < 6; i++)
        al_task_unref(ts[i]);
    return 0;
}

START_TEST(r64_shield_effect_and_gather)
{
    conf_run_main(r64_main, NULL);
}
END_TEST

/* ---- R65-R72 wait_for ----------------------------------------------------------------------- */

static int r65_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    child c = {.delay = 10};
    al_task *t = spawn(&c);
    ck_assert_int_eq(al_wait_for(CONF_F(t), 0.1), AL_ETIMEOUT);
    ck_assert(c.cleaned); /* its cleanup ran before wait_for returned */
    ck_assert(al_future_cancelled(CONF_F(t)));
    conf_check_elapsed(t0, 0.1);
    /* In time: the value (a wide margin: a loaded machine may start the
     * child late). */
    child d = {.delay = 0.05, .value = 11};
    al_task *u = spawn(&d);
    ck_assert_int_eq(al_wait_for(CONF_F(u), 5), 0);
    void *v;
    al_future_result(CONF_F(u), &v);
    ck_assert_int_eq(CONF_PV(v), 11);
    /* Misuse. */
    ck_assert_int_eq(al_wait_for(NULL, 1), -EINVAL);
    ck_assert_int_eq(al_wait_for(CONF_F(u), NAN), -EINVAL);
    al_task_unref(t);
    al_task_unref(u);
    return 0;
}

START_TEST(r65_wait_for_timeout)
{
    conf_run_main(r65_main, NULL);
    al_loop *loop = conf_loop_new();
    al_future *f = new_future(loop);
    ck_assert_int_eq(al_wait_for(f, 1), AL_ENOTINTASK);
    al_future_unref(f);
    run_briefly(loop, 3); /* let queued done-callbacks release their state */
    al_loop_free(loop);
}
END_TEST

static int r66_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    double t0 = conf_now();
    for (int k = 0; k < 2; k++) {
        double timeout = k == 0 ? 0 : -1;
        /* a done future: its result */
        al_future *f = new_future(loop);
        al_future_set_result(f, CONF_VP(3), NULL);
        ck_assert_int_eq(al_wait_for(f, timeout), 0);
        al_future_unref(f);
        /* a task that has not started: never starts */
        child c = {.delay = 1};
        al_task *t = spawn(&c);
        ck_assert_int_eq(al_wait_for(CONF_F(t), timeout), AL_ETIMEOUT);
        ck_assert(!c.started);
        ck_assert(al_future_cancelled(CONF_F(t)));
        al_task_unref(t);
        /* a running task: cancelled, then the timeout error */
        child d = {.delay = 1};
        t = spawn(&d);
        conf_s0();
        ck_assert(d.started);
        ck_assert_int_eq(al_wait_for(CONF_F(t), timeout), AL_ETIMEOUT);
        ck_assert(al_future_cancelled(CONF_F(t)) && d.cleaned);
        al_task_unref(t);
    }
    conf_check_elapsed(t0, 0);
    return 0;
}

START_TEST(r66_wait_for_zero_or_negative)
{
    conf_run_main(r66_main, NULL);
}
END_TEST

static int r67_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double t0 = conf_now();
    child c = {.delay = 10, .cleanup = 0.1};
    al_task *t = spawn(&c);
    ck_assert_int_eq(al_wait_for(CONF_F(t), 0.05), AL_ETIMEOUT);
    ck_assert(c.cleaned);
    conf_check_elapsed(t0, 0.15);
    /* timeout 0 also waits for the cancellation */
    child d = {.delay = 10, .cleanup = 0.1};
    t0 = conf_now();
    al_task *u = spawn(&d);
    conf_s0();
    ck_assert_int_eq(al_wait_for(CONF_F(u), 0), AL_ETIMEOUT);
    ck_assert(d.cleaned);
    conf_check_elapsed(t0, 0.1);
    al_task_unref(t);
    al_task_unref(u);
    return 0;
}

START_TEST(r67_wait_for_waits_for_cancellation)
{
    conf_run_main(r67_main, NULL);
}
END_TEST

static int r68_69_main(void *arg, void **res)
{
    (void)arg, (void)res;
    /* R68: an error raised while cancelling propagates */
    child c = {.delay = 10, .cancel_rc = -EBADMSG};
    al_task *t = spawn(&c);
    ck_assert_int_eq(al_wait_for(CONF_F(t), 0.05), -EBADMSG);
    /* R69: a swallowed cancellation gives the inner's value */
    child d = {.delay = 10, .swallow = true, .value = 42};
    al_task *u = spawn(&d);
    ck_assert_int_eq(al_wait_for(CONF_F(u), 0.05), 0);
    void *v;
    al_future_result(CONF_F(u), &v);
    ck_assert_int_eq(CONF_PV(v), 42);
    /* ... also with timeout 0 */
    child e = {.delay = 10, .swallow = true, .value = 43};
    al_task *w = spawn(&e);
    conf_s0();
    ck_assert_int_eq(al_wait_for(CONF_F(w), 0), 0);
    al_task_unref(t);
    al_task_unref(u);
    al_task_unref(w);
    return 0;
}

START_TEST(r68_r69_wait_for_inner_error_or_swallow)
{
    conf_run_main(r68_69_main, NULL);
}
END_TEST

typedef struct r70 {
    al_future *inner;
    double timeout;
    int rc;
} r70;

static int r70_waiter(void *arg, void **res)
{
    (void)res;
    r70 *x = arg;
    x->rc = al_wait_for(x->inner, x->timeout);
    return x->rc;
}

static int r70_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double timeouts[] = {0.2, AL_FOREVER};
    for (int k = 0; k < 2; k++) {
        child c = {.delay = 10};
        al_task *t = spawn(&c);
        r70 x = {CONF_F(t), timeouts[k], 1};
        al_task *w = conf_spawn(r70_waiter, &x);
        conf_s0();
        conf_s0();
        al_task_cancel(w, NULL);
        ck_assert_int_eq(al_await(CONF_F(w)), AL_ECANCELLED);
        ck_assert_int_eq(x.rc, AL_ECANCELLED);
        ck_assert(al_future_cancelled(CONF_F(t)));
        al_task_unref(t);
        al_task_unref(w);
    }
    return 0;
}

START_TEST(r70_cancel_wait_for_cancels_inner)
{
    conf_run_main(r70_main, NULL);
}
END_TEST

static int r71_main(void *arg, void **res)
{
    (void)arg, (void)res;
    al_loop *loop = conf_cur_loop();
    al_future *inner = new_future(loop);
    r70 x = {inner, 10, 1};
    al_task *w = conf_spawn(r70_waiter, &x);
    conf_s0();
    conf_s0();
    /* The inner finishes, and the waiter is cancelled before it resumes. */
    al_future_set_result(inner, CONF_VP(1), NULL);
    al_task_cancel(w, NULL);
    ck_assert_int_eq(al_await(CONF_F(w)), AL_ECANCELLED);
    ck_assert(al_future_cancelled(CONF_F(w)));
    ck_assert_int_eq(al_future_error(inner), 0); /* 'done' */
    al_future_unref(inner);
    al_task_unref(w);
    return 0;
}

START_TEST(r71_wait_for_issue86296)
{
    conf_run_main(r71_main, NULL);
}
END_TEST

static int r72_main(void *arg, void **res)
{
    (void)arg, (void)res;
    double timeouts[] = {0.01, 0};
    for (int k = 0; k < 2; k++) {
        child c = {.delay = 0.05, .value = 5};
        al_task *t = spawn(&c);
        al_future *s;
        conf_s0();
        ck_assert_int_eq(al_shield(CONF_F(t), &s), 0);
        ck_assert_int_eq(al_wait_for(s, timeouts[k]), AL_ETIMEOUT);
        ck_assert(al_future_cancelled(s));
        ck_assert(!al_future_done(CONF_F(t)));
        ck_assert_int_eq(al_await(CONF_F(t)), 0);
        ck_assert(c.finished);
        al_future_unref(s);
        al_task_unref(t);
    }
    return 0;
}

START_TEST(r72_wait_for_shielded)
{
    conf_run_main(r72_main, NULL);
}
END_TEST

/* ---- bad input --------------------------------------------------------------------------------
 */

static int bad_input_main(void *arg, void **res)
{
    (void)res;
    al_loop *other = arg;
    al_loop *loop = conf_cur_loop();
    al_future *mine = new_future(loop), *theirs = new_future(other), *out = NULL;
    al_future *mixed[] = {mine, theirs};
    /* another loop's future */
    ck_assert_int_eq(al_wait(mixed, 2, AL_FOREVER, AL_ALL_COMPLETED, NULL, NULL, NULL, NULL),
                     AL_EWRONGLOOP);
    ck_assert_int_eq(al_wait_for(theirs, 1), AL_EWRONGLOOP);
    al_as_completed *it = NULL;
    ck_assert_int_eq(al_as_completed_new(loop, mixed, 2, AL_FOREVER, &it), AL_EWRONGLOOP);
    ck_assert_int_eq(al_gather_wait(mixed, 2, false, &out), AL_EWRONGLOOP);
    ck_assert_ptr_null(out);
    /* NULLs */
    ck_assert_int_eq(al_as_completed_new(NULL, mixed, 1, AL_FOREVER, &it), -EINVAL);
    ck_assert_int_eq(al_as_completed_new(loop, NULL, 1, AL_FOREVER, &it), -EINVAL);
    ck_assert_int_eq(al_as_completed_new(loop, mixed, 1, NAN, &it), -EINVAL);
    ck_assert_int_eq(al_as_completed_next(NULL, &out), -EINVAL);
    ck_assert_int_eq(al_as_completed_free(NULL), 0);
    ck_assert_int_eq(al_gather(loop, mixed, 1, false, NULL), -EINVAL);
    ck_assert_int_eq(al_shield(mine, NULL), -EINVAL);
    /* empty as_completed: exhausted at once, also with a timeout */
    ck_assert_int_eq(al_as_completed_new(loop, NULL, 0, 0.01, &it), 0);
    out = mine;
    ck_assert_int_eq(al_as_completed_next(it, &out), 0);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(al_as_completed_free(it), 0);
    /* empty gather_wait */
    ck_assert_int_eq(al_gather_wait(NULL, 0, false, &out), 0);
    ck_assert(al_future_done(out));
    al_future_unref(out);
    al_future_unref(mine);
    al_future_unref(theirs);
    return 0;
}

START_TEST(combinators_bad_input)
{
    al_loop *other = conf_loop_new();
    conf_run_main(bad_input_main, other);
    al_loop_free(other);
    /* outside a task */
    al_loop *loop = conf_loop_new();
    al_future *f = new_future(loop), *out;
    ck_assert_int_eq(al_gather_wait(&f, 1, false, &out), AL_ENOTINTASK);
    al_as_completed *it;
    ck_assert_int_eq(al_as_completed_new(loop, &f, 1, AL_FOREVER, &it), 0);
    ck_assert_int_eq(al_as_completed_next(it, &out), AL_ENOTINTASK);
    ck_assert_int_eq(al_as_completed_free(it), 0);
    al_future_unref(f);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_combinators)
{
    Suite *s = suite_create("combinators");
    TCase *tc = al_tcase("wait");
    tcase_add_test(tc, r51_wait_all_completed);
    tcase_add_test(tc, r51_wait_first_completed);
    tcase_add_test(tc, r51_wait_with_timeout);
    tcase_add_test(tc, r52_wait_first_exception);
    tcase_add_test(tc, r53_wait_errors_duplicates);
    tcase_add_test(tc, r54_wait_does_not_shield_cancel);
    suite_add_tcase(s, tc);
    tc = al_tcase("as_completed");
    tcase_add_test(tc, r55_as_completed_order);
    tcase_add_test(tc, r55_as_completed_timeout);
    tcase_add_test(tc, r55_as_completed_cancel_and_misuse);
    suite_add_tcase(s, tc);
    tc = al_tcase("gather");
    tcase_add_test(tc, r56_gather_success);
    tcase_add_test(tc, r57_gather_one_exception);
    tcase_add_test(tc, r58_gather_return_errors);
    tcase_add_test(tc, r59_gather_child_cancelled);
    tcase_add_test(tc, r60_gather_cancellation_broadcast);
    tcase_add_test(tc, r60_gather_wait_waits_for_cancelled_children);
    tcase_add_test(tc, r61_gather_cancel_message_and_done);
    tcase_add_test(tc, r61_gather_cancel_refused_when_children_done);
    tcase_add_test(tc, r61_gather_cancel_waits_for_children);
    tcase_add_test(tc, r62_gather_duplicates_and_empty);
    suite_add_tcase(s, tc);
    tc = al_tcase("shield");
    tcase_add_test(tc, r63_shield_mirrors);
    tcase_add_test(tc, r64_shield_effect_and_gather);
    suite_add_tcase(s, tc);
    tc = al_tcase("wait_for");
    tcase_add_test(tc, r65_wait_for_timeout);
    tcase_add_test(tc, r66_wait_for_zero_or_negative);
    tcase_add_test(tc, r67_wait_for_waits_for_cancellation);
    tcase_add_test(tc, r68_r69_wait_for_inner_error_or_swallow);
    tcase_add_test(tc, r70_cancel_wait_for_cancels_inner);
    tcase_add_test(tc, r71_wait_for_issue86296);
    tcase_add_test(tc, r72_wait_for_shielded);
    suite_add_tcase(s, tc);
    tc = al_tcase("bad_input");
    tcase_add_test(tc, combinators_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

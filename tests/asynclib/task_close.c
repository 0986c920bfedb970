/* Closing a loop unwinds its tasks (task.h): each parked task is resumed
 * once from its pending suspension with AL_ELOOPCLOSING, every later
 * suspension returns it at once, and the cleanup after it runs to its end,
 * as CPython's GeneratorExit runs a closed coroutine's finally blocks.
 * Every case runs with private stacks and with AL_TASK_SHARED_STACK (the
 * loop tests' index _i is the stack mode). */
#include "al_conf.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static al_task_options stack_mode(int shared)
{
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.flags = shared ? AL_TASK_SHARED_STACK : 0;
    return o;
}

static al_task *spawn_on(al_loop *loop, al_task_fn fn, void *arg, int shared)
{
    al_task_options o = stack_mode(shared);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, fn, arg, &o, &t), 0);
    return t;
}

/* A few iterations without blocking: every task parks. */
static void run_briefly(al_loop *loop)
{
    for (int i = 0; i < 3; i++) {
        al_loop_stop(loop);
        ck_assert_int_eq(al_loop_run_forever(loop), 0);
    }
}

static al_future *new_future(al_loop *loop)
{
    al_future *f;
    ck_assert_int_eq(al_future_new(loop, &f), 0);
    return f;
}

static conf_reports rec;

static al_loop *recording_loop(void)
{
    al_loop *loop = conf_loop_new();
    rec = (conf_reports){0};
    al_loop_set_exception_handler(loop, conf_record_handler, &rec);
    return loop;
}

/* ---- the cleanup after the pending suspension runs ----------------------------- */

typedef struct cleanup_env {
    al_loop *loop;
    al_future *park;  /* what park_on_gate awaits: NULL for the gate */
    al_future *gate;  /* never completed */
    al_future *ready; /* completed before the close */
    int cleanups;     /* cleanups that ran to their end */
    int wrong;        /* checks that failed inside a cleanup */
} cleanup_env;

/* What a cleanup may do while the loop closes, checked from inside it. */
static void cleanup(cleanup_env *e, int pending_rc)
{
    al_loop *loop = e->loop;
    al_task *self = al_current_task();
    e->wrong += pending_rc != AL_ELOOPCLOSING;
    e->wrong += self == NULL || al_get_running_loop() != loop;
    e->wrong += al_sleep(1.0) != AL_ELOOPCLOSING; /* at once, without suspending */
    e->wrong += al_sleep(0) != AL_ELOOPCLOSING;
    e->wrong += al_await(e->gate) != AL_ELOOPCLOSING;
    e->wrong += al_await(e->ready) != 0; /* done: its status, as always */
    e->wrong += al_task_new(loop, conf_noop, NULL, NULL, NULL) != AL_ELOOPCLOSED;
    e->wrong += al_loop_close(loop) != AL_ELOOPRUNNING;
    e->wrong += al_loop_is_closed(loop);
    e->cleanups++;
}

static int park_on_gate(void *arg, void **result)
{
    (void)result;
    cleanup_env *e = arg;
    cleanup(e, al_await(e->park ? e->park : e->gate));
    return 0;
}

static int park_in_sleep(void *arg, void **result)
{
    (void)result;
    cleanup(arg, al_sleep(1000.0));
    return AL_ECANCELLED;
}

static int park_in_sleep0(void *arg, void **result)
{
    (void)result;
    cleanup_env *e = arg;
    int rc;
    while ((rc = al_sleep(0)) == 0) /* parked with its next step queued */
        ;
    cleanup(e, rc);
    return rc;
}

START_TEST(close_runs_cleanup_after_pending_await)
{
    al_loop *loop = recording_loop();
    cleanup_env e = {.loop = loop, .gate = new_future(loop), .ready = new_future(loop)};
    ck_assert_int_eq(al_future_set_result(e.ready, NULL, NULL), 0);
    al_task *ts[6];
    for (int i = 0; i < 2; i++) {
        ts[3 * i] = spawn_on(loop, park_on_gate, &e, _i);
        ts[3 * i + 1] = spawn_on(loop, park_in_sleep, &e, _i);
        ts[3 * i + 2] = spawn_on(loop, park_in_sleep0, &e, _i);
    }
    run_briefly(loop);
    ck_assert_int_eq(e.cleanups, 0);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(e.cleanups, 6);
    ck_assert_int_eq(e.wrong, 0);
    ck_assert_int_eq(rec.count, 6); /* one "destroyed but pending" each */
    ck_assert_str_eq(rec.last_message, "Task was destroyed but it is pending!");
    for (int i = 0; i < 6; i++) {
        ck_assert(al_future_cancelled(CONF_F(ts[i])));
        ck_assert_str_eq(al_future_cancel_message(CONF_F(ts[i])), "event loop closed");
        al_task_unref(ts[i]);
    }
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    ck_assert_int_eq(al_loop_free(loop), 0);
    ck_assert(!al_future_done(e.gate)); /* the close left the user's future alone */
    al_future_unref(e.gate);
    al_future_unref(e.ready);
}
END_TEST

/* A task whose wake-up is already queued when the loop closes (its future
 * completed, its step not run yet) unwinds like any parked task. */
START_TEST(close_unwinds_task_with_wakeup_queued)
{
    al_loop *loop = recording_loop();
    cleanup_env e = {.loop = loop, .gate = new_future(loop), .ready = new_future(loop)};
    ck_assert_int_eq(al_future_set_result(e.ready, NULL, NULL), 0);
    al_future *soon = new_future(loop);
    e.park = soon;
    al_task *t = spawn_on(loop, park_on_gate, &e, _i);
    run_briefly(loop);
    ck_assert_int_eq(al_future_set_result(soon, NULL, NULL), 0); /* wake-up queued */
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(e.cleanups, 1);
    ck_assert_int_eq(e.wrong, 0);
    ck_assert(al_future_cancelled(CONF_F(t)));
    al_task_unref(t);
    al_loop_free(loop);
    al_future_unref(soon);
    al_future_unref(e.gate);
    al_future_unref(e.ready);
}
END_TEST

/* ---- tasks that never ran are not run -------------------------------------------- */

static int must_not_run(void *arg, void **result)
{
    (void)result;
    (*(int *)arg)++;
    return 0;
}

START_TEST(close_drops_tasks_never_started)
{
    al_loop *loop = recording_loop();
    int ran = 0;
    al_task *fresh = spawn_on(loop, must_not_run, &ran, _i);
    al_task *cancelled = spawn_on(loop, must_not_run, &ran, _i);
    ck_assert_int_eq(al_task_cancel(cancelled, "early"), 1);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(ran, 0);
    ck_assert(al_future_cancelled(CONF_F(fresh)));
    ck_assert(al_future_cancelled(CONF_F(cancelled)));
    ck_assert_int_eq(rec.count, 2);
    al_task_unref(fresh);
    al_task_unref(cancelled);
    al_loop_free(loop);
}
END_TEST

/* ---- eager tasks, tasks awaiting tasks -------------------------------------------- */

typedef struct chain {
    al_future *gate;
    al_future *next; /* the task this one awaits, or NULL: the gate */
    int *log;        /* cleanups, in the order they ran */
    int *nlog;
    int id;
    int rc;
} chain;

static int chain_main(void *arg, void **result)
{
    (void)result;
    chain *c = arg;
    c->rc = al_await(c->next ? c->next : c->gate);
    c->log[(*c->nlog)++] = c->id;
    return c->rc;
}

typedef struct eager_spawn {
    chain *links;
    int shared;
    al_task *tasks[3];
} eager_spawn;

/* Starts the chain eagerly from inside a running task: each link's first
 * step runs inside al_task_new. */
static int spawn_eager_chain(void *arg, void **result)
{
    (void)result;
    eager_spawn *es = arg;
    al_task_options o = stack_mode(es->shared);
    o.eager = 1;
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            es->links[i].next = CONF_F(es->tasks[i - 1]);
        ck_assert_int_eq(al_task_new(conf_cur_loop(), chain_main, &es->links[i], &o, &es->tasks[i]),
                         0);
    }
    return 0;
}

START_TEST(close_unwinds_eager_tasks_awaiting_tasks)
{
    al_loop *loop = recording_loop();
    al_future *gate = new_future(loop);
    int log[3], nlog = 0;
    chain links[3];
    for (int i = 0; i < 3; i++)
        links[i] = (chain){.gate = gate, .log = log, .nlog = &nlog, .id = i, .rc = 1};
    eager_spawn es = {.links = links, .shared = _i};
    ck_assert_int_eq(conf_run_task(loop, spawn_eager_chain, &es, NULL), 0);
    run_briefly(loop);
    ck_assert_int_eq(nlog, 0);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(nlog, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(links[i].rc, AL_ELOOPCLOSING);
        ck_assert(al_future_cancelled(CONF_F(es.tasks[i])));
        al_task_unref(es.tasks[i]);
    }
    al_loop_free(loop);
    al_future_unref(gate);
}
END_TEST

/* ---- a result stored before the close is released -------------------------------- */

static int freed_results;

static void count_free(void *p)
{
    (void)p;
    freed_results++;
}

static int store_then_park(void *arg, void **result)
{
    *result = &freed_results; /* any non-NULL value */
    int rc = al_await(arg);
    return rc == AL_ELOOPCLOSING ? 0 : rc; /* "succeeds": still ends cancelled */
}

START_TEST(close_releases_result_of_unwound_task)
{
    al_loop *loop = recording_loop();
    al_future *gate = new_future(loop);
    al_task_options o = stack_mode(_i);
    o.result_dtor = count_free;
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, store_then_park, gate, &o, &t), 0);
    run_briefly(loop);
    freed_results = 0;
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(freed_results, 1);
    ck_assert(al_future_cancelled(CONF_F(t)));
    al_task_unref(t);
    al_loop_free(loop);
    al_future_unref(gate);
}
END_TEST

/* ---- a task that ignores the close ------------------------------------------------- */

static long spins;

static int ignore_close(void *arg, void **result)
{
    (void)arg;
    (void)result;
    while (al_sleep(1.0) == AL_ELOOPCLOSING || spins == 0)
        spins++; /* never gives up: the close must drop it */
    ck_abort_msg("resumed after being dropped");
    return 0;
}

START_TEST(close_drops_task_that_ignores_it)
{
    al_loop *loop = recording_loop();
    cleanup_env e = {.loop = loop, .gate = new_future(loop), .ready = new_future(loop)};
    ck_assert_int_eq(al_future_set_result(e.ready, NULL, NULL), 0);
    al_task *bad = spawn_on(loop, ignore_close, NULL, _i);
    al_task *good = spawn_on(loop, park_on_gate, &e, _i);
    run_briefly(loop);
    spins = 0;
    double t0 = now_s();
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_msg(now_s() - t0 < 5.0, "the spinning task held the close for %.1f s", now_s() - t0);
    ck_assert_int_gt(spins, 1000);   /* it was given the code many times... */
    ck_assert_int_eq(e.cleanups, 1); /* ...and the other task unwound anyway */
    ck_assert_int_eq(e.wrong, 0);
    ck_assert(al_future_cancelled(CONF_F(bad)));
    ck_assert(al_future_cancelled(CONF_F(good)));
    ck_assert_int_eq(rec.count, 3); /* two "destroyed", one "ignored" */
    al_task_unref(bad);
    al_task_unref(good);
    al_loop_free(loop);
    al_future_unref(e.gate);
    al_future_unref(e.ready);
}
END_TEST

static int ignored_reports;

static void count_ignored(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop;
    (void)user;
    if (strcmp(ctx->message, "Task ignored loop close") == 0) {
        ck_assert_int_eq(ctx->error, AL_ELOOPCLOSING);
        ck_assert_ptr_nonnull(ctx->task);
        ignored_reports++;
    }
}

START_TEST(close_reports_task_that_ignores_it)
{
    al_loop *loop = conf_loop_new();
    al_loop_set_exception_handler(loop, count_ignored, NULL);
    al_task *bad = spawn_on(loop, ignore_close, NULL, _i);
    run_briefly(loop);
    ignored_reports = 0;
    ck_assert_int_eq(al_loop_free(loop), 0);
    ck_assert_int_eq(ignored_reports, 1);
    al_task_unref(bad);
}
END_TEST

/* What a task that ignores the close held inside a timeout scope or a
 * TaskGroup is released when it is dropped (holds, task.h): checked by the leak
 * checkers, and the group stays the caller's to free once. */
typedef struct ignoring_holder {
    al_future *gate;
    al_taskgroup *tg;
    bool in_group, in_scope;
} ignoring_holder;

static int ignore_close_inside(void *arg, void **result)
{
    (void)result;
    ignoring_holder *h = arg;
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, 1000.0), 0);
    ck_assert_int_eq(al_taskgroup_enter(h->tg), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(al_taskgroup_create_task(h->tg, conf_await_arg, h->gate, NULL, NULL), 0);
    h->in_group = h->in_scope = true;
    while (al_await(h->gate) == AL_ELOOPCLOSING || !al_future_done(h->gate))
        ; /* never leaves the group nor the scope */
    ck_abort_msg("resumed after being dropped");
    return 0;
}

START_TEST(close_releases_holds_of_task_that_ignores_it)
{
    al_loop *loop = recording_loop();
    ignoring_holder h = {.gate = new_future(loop)};
    ck_assert_int_eq(al_taskgroup_new(&h.tg), 0);
    al_task *bad = spawn_on(loop, ignore_close_inside, &h, _i);
    run_briefly(loop);
    ck_assert(h.in_group && h.in_scope);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 3);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert(al_future_cancelled(CONF_F(bad)));
    ck_assert_uint_eq(al_taskgroup_size(h.tg), 0); /* it let go of the children */
    ck_assert_int_eq(al_taskgroup_free(h.tg), 0);
    al_task_unref(bad);
    ck_assert_int_eq(al_loop_free(loop), 0);
    al_future_unref(h.gate);
}
END_TEST

/* A scope left without its exit: the task's end releases its timer (a
 * hold, task.h); the leak checkers see it otherwise. */
static int leave_scope_open(void *arg, void **result)
{
    (void)result;
    al_timeout *to = arg; /* outlives the task: it is never exited */
    ck_assert_int_eq(al_timeout_enter(to, 1000.0), 0);
    return 0;
}

START_TEST(task_end_releases_scope_left_open)
{
    al_loop *loop = recording_loop();
    al_timeout *to = malloc(sizeof *to);
    *to = (al_timeout)AL_TIMEOUT_INIT;
    al_task *t = spawn_on(loop, leave_scope_open, to, _i);
    ck_assert_int_eq(al_loop_run_until_complete(loop, CONF_F(t)), 0);
    al_task_unref(t);
    ck_assert_int_eq(al_loop_free(loop), 0);
    free(to);
}
END_TEST

/* Holds through the public API: taken back on the normal path, released
 * when the task ends with them (before its done-callbacks run), and when
 * a task that ignores the close is dropped. */
static int released;

static void count_release(void *arg)
{
    ck_assert_ptr_eq(arg, &released);
    released++;
}

static int hold_body(void *arg, void **result)
{
    (void)result;
    al_future *gate = arg;
    al_task *self = al_current_task();
    ck_assert_int_eq(al_task_hold(self, count_release, &released), 0);
    ck_assert_int_eq(al_await(gate), 0);
    ck_assert(al_task_unhold(self, count_release, &released)); /* ours again */
    ck_assert(!al_task_unhold(self, count_release, &released));
    ck_assert_int_eq(al_task_hold(self, count_release, &released), 0);
    return 0; /* ends holding it: the task's end releases it */
}

static int seen_at_done;

static int note_released(al_future *f, void *arg)
{
    (void)f;
    (void)arg;
    seen_at_done = released;
    return 0;
}

static int hold_and_ignore(void *arg, void **result)
{
    (void)result;
    ck_assert_int_eq(al_task_hold(al_current_task(), count_release, &released), 0);
    while (al_await(arg) == AL_ELOOPCLOSING || !al_future_done(arg))
        ;
    return 0;
}

START_TEST(holds_released_once_when_the_frame_cannot)
{
    al_loop *loop = recording_loop();
    al_future *gate = new_future(loop);
    released = 0;
    seen_at_done = -1;
    al_task *t = spawn_on(loop, hold_body, gate, _i);
    ck_assert_int_eq(al_future_add_done_callback(CONF_F(t), note_released, NULL), 0);
    run_briefly(loop);
    ck_assert_int_eq(al_future_set_result(gate, NULL, NULL), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, CONF_F(t)), 0);
    run_briefly(loop);
    ck_assert_int_eq(released, 1); /* once: by the task's end */
    ck_assert_int_eq(seen_at_done, 1);
    /* Misuse. */
    ck_assert_int_eq(al_task_hold(t, count_release, &released), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_task_hold(NULL, count_release, NULL), -EINVAL);
    ck_assert_int_eq(al_task_hold(t, NULL, NULL), -EINVAL);
    ck_assert(!al_task_unhold(NULL, count_release, NULL));
    al_task_unref(t);
    /* A task that ignores the close while holding. */
    al_future *never = new_future(loop);
    released = 0;
    t = spawn_on(loop, hold_and_ignore, never, _i);
    run_briefly(loop);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(released, 1);
    al_task_unref(t);
    al_loop_free(loop);
    al_future_unref(gate);
    al_future_unref(never);
}
END_TEST

/* ---- closing a loop from a task of another loop ---------------------------------- */

typedef struct other_close {
    al_loop *other;
    cleanup_env *env;
    int rc;
    bool outer_restored;
} other_close;

static int close_other_loop(void *arg, void **result)
{
    (void)result;
    other_close *oc = arg;
    al_loop *mine = al_get_running_loop();
    oc->rc = al_loop_close(oc->other); /* its tasks unwind nested in this one */
    oc->outer_restored = al_get_running_loop() == mine && al_current_task() != NULL;
    return 0;
}

START_TEST(close_from_a_task_of_another_loop)
{
    al_loop *loop = recording_loop();
    al_loop *other = conf_loop_new();
    al_loop_set_exception_handler(other, conf_quiet_handler, NULL);
    cleanup_env e = {.loop = other, .gate = new_future(other), .ready = new_future(other)};
    ck_assert_int_eq(al_future_set_result(e.ready, NULL, NULL), 0);
    al_task *ts[2] = {spawn_on(other, park_on_gate, &e, _i),
                      spawn_on(other, park_in_sleep, &e, _i)};
    run_briefly(other);
    other_close oc = {.other = other, .env = &e, .rc = 1};
    ck_assert_int_eq(conf_run_task(loop, close_other_loop, &oc, NULL), 0);
    ck_assert_int_eq(oc.rc, 0);
    ck_assert(oc.outer_restored);
    ck_assert_int_eq(e.cleanups, 2);
    ck_assert_int_eq(e.wrong, 0);
    for (int i = 0; i < 2; i++)
        al_task_unref(ts[i]);
    al_loop_free(other);
    al_loop_free(loop);
    al_future_unref(e.gate);
    al_future_unref(e.ready);
}
END_TEST

/* ---- many tasks ------------------------------------------------------------------ */

static int await_count(void *arg, void **result)
{
    (void)result;
    int *unwound = *(int **)arg;
    int rc = al_await(((al_future **)arg)[1]);
    *unwound += rc == AL_ELOOPCLOSING;
    return rc;
}

/* Closes a loop with n tasks parked on one future (every 1000th on another)
 * and returns how long the close took, in seconds. */
static double close_parked_on_one_future(int n)
{
    al_loop *loop = recording_loop();
    al_future *gate = new_future(loop);
    al_future *other = new_future(loop);
    int unwound = 0;
    void *args_gate[2] = {&unwound, gate}, *args_other[2] = {&unwound, other};
    al_task_options o = stack_mode(1);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(
            al_task_new(loop, await_count, (i % 1000) ? args_gate : args_other, &o, NULL), 0);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), n);
    double t0 = now_s();
    ck_assert_int_eq(al_loop_close(loop), 0);
    double took = now_s() - t0;
    ck_assert_int_eq(unwound, n);
    ck_assert_int_eq(rec.count, n);
    ck_assert_str_eq(rec.last_message, "Task was destroyed but it is pending!");
    /* The futures outlive the loop and know nothing of the tasks. */
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    al_future_unref(gate);
    al_future_unref(other);
    al_loop_free(loop);
    return took;
}

/* Many tasks parked on one future: linear (a quadratic purge of the
 * future's callbacks took 4.7 s for 100 k in a release build). Checked as
 * a ratio, not a time: four times the tasks may take about four times as
 * long, a quadratic close takes sixteen (the slack absorbs a noisy machine,
 * sanitizers, Valgrind and the ucontext backend). */
START_TEST(close_many_parked_on_one_future)
{
    const int N = conf_many(100000);
    double quarter = close_parked_on_one_future(N / 4);
    double whole = close_parked_on_one_future(N);
    ck_assert_msg(whole < 10 * quarter + 0.5, "closing %d tasks took %.2f s, %d took %.2f s", N,
                  whole, N / 4, quarter);
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
    al_loop *loop = recording_loop();
    al_future *f = new_future(loop);
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
    tcase_add_loop_test(tc, close_runs_cleanup_after_pending_await, 0, 2);
    tcase_add_loop_test(tc, close_unwinds_task_with_wakeup_queued, 0, 2);
    tcase_add_loop_test(tc, close_drops_tasks_never_started, 0, 2);
    tcase_add_loop_test(tc, close_unwinds_eager_tasks_awaiting_tasks, 0, 2);
    tcase_add_loop_test(tc, close_releases_result_of_unwound_task, 0, 2);
    tcase_add_loop_test(tc, close_drops_task_that_ignores_it, 0, 2);
    tcase_add_loop_test(tc, close_reports_task_that_ignores_it, 0, 2);
    tcase_add_loop_test(tc, close_releases_holds_of_task_that_ignores_it, 0, 2);
    tcase_add_loop_test(tc, task_end_releases_scope_left_open, 0, 2);
    tcase_add_loop_test(tc, holds_released_once_when_the_frame_cannot, 0, 2);
    tcase_add_loop_test(tc, close_from_a_task_of_another_loop, 0, 2);
    tcase_add_test(tc, close_many_parked_on_one_future);
    tcase_add_test(tc, future_outlives_loop);
    suite_add_tcase(s, tc);
    return s;
}

/* Closing a loop leaks nothing of the library's own, whatever its tasks
 * are parked in.
 *
 * For every suspension point of the pure layer a task parks there (with
 * its helpers: a lock holder, a TaskGroup's child, ...), the loop is closed
 * and freed, and the user's objects are freed after it. Checked: the task
 * unwound (its code after the suspension ran, with AL_ELOOPCLOSING), the
 * user's objects can be freed (no task left inside them: a lock is free
 * again), and nothing leaked: LeakSanitizer and Memcheck on every build
 * that has them, and, with glibc's allocator, the heap in use stays flat
 * over many closes (close_heap_stays_flat). Private and shared stacks. */
#include "al_conf.h"

#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* ---- the objects a scenario parks on ---------------------------------------------- */

typedef struct fixture {
    al_loop *loop;
    int shared;
    al_future *gate;    /* never completed */
    al_task *gate_task; /* a task parked on the gate */
    al_lock *lock;      /* held by a parked holder task */
    al_event *event;
    al_condition *cond;
    al_semaphore *sem;   /* value 0 */
    al_barrier *barrier; /* 3 parties, never filled */
    al_queue *empty, *full, *unfinished;
    al_as_completed *it;
    al_taskgroup *tg;
    int unwound;  /* suspensions that returned AL_ELOOPCLOSING */
    int surprise; /* suspensions that returned anything else */
} fixture;

static void note(fixture *fx, int rc)
{
    if (rc == AL_ELOOPCLOSING)
        fx->unwound++;
    else
        fx->surprise++;
}

static al_task *spawn(fixture *fx, al_task_fn fn, void *arg)
{
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.flags = fx->shared ? AL_TASK_SHARED_STACK : 0;
    al_task *t;
    ck_assert_int_eq(al_task_new(fx->loop, fn, arg, &o, &t), 0);
    return t;
}

/* ---- parked bodies, one per suspension point ----------------------------------------- */

static int p_sleep(void *arg, void **r)
{
    (void)r;
    note(arg, al_sleep(1000.0));
    return 0;
}

static int p_sleep0(void *arg, void **r)
{
    (void)r;
    int rc;
    while ((rc = al_sleep(0)) == 0)
        ;
    note(arg, rc);
    return 0;
}

static int p_future(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_await(fx->gate));
    return 0;
}

static int p_task(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_await(CONF_F(fx->gate_task)));
    return 0;
}

static int p_gather(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    al_future *fs[3] = {fx->gate, CONF_F(fx->gate_task), fx->gate};
    al_future *g = NULL;
    note(fx, al_gather_wait(fs, 3, false, &g));
    al_future_unref(g);
    return 0;
}

static int p_wait(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    al_future *fs[2] = {fx->gate, CONF_F(fx->gate_task)};
    note(fx, al_wait(fs, 2, 1000.0, AL_ALL_COMPLETED, NULL, NULL, NULL, NULL));
    return 0;
}

static int p_wait_for(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_wait_for(fx->gate, 1000.0));
    return 0;
}

static int p_wait_for_task(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_wait_for(CONF_F(fx->gate_task), AL_FOREVER));
    return 0;
}

static int p_as_completed(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    al_future *f = NULL;
    note(fx, al_as_completed_next(fx->it, &f));
    al_future_unref(f);
    return 0;
}

static int p_shield(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    al_future *s;
    ck_assert_int_eq(al_shield(fx->gate, &s), 0);
    note(fx, al_await(s));
    al_future_unref(s);
    return 0;
}

static int p_timeout(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, 1000.0), 0);
    note(fx, al_timeout_exit(&to, al_await(fx->gate)));
    return 0;
}

static int p_with_timeout_body(void *arg, void **r)
{
    (void)r;
    return al_await(((fixture *)arg)->gate);
}

static int p_with_timeout(void *arg, void **r)
{
    (void)r;
    note(arg, al_with_timeout(1000.0, p_with_timeout_body, arg, NULL));
    return 0;
}

static int p_group_child(void *arg, void **r)
{
    (void)r;
    note(arg, al_await(((fixture *)arg)->gate));
    return 0;
}

/* The group's exit parks until its children are done. */
static int p_taskgroup(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    al_taskgroup *tg;
    ck_assert_int_eq(al_taskgroup_new(&tg), 0);
    ck_assert_int_eq(al_taskgroup_enter(tg), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(al_taskgroup_create_task(tg, p_group_child, fx, NULL, NULL), 0);
    note(fx, al_taskgroup_exit(tg, 0));
    ck_assert_int_eq(al_taskgroup_size(tg), 0);
    ck_assert_int_eq(al_taskgroup_free(tg), 0);
    return 0;
}

/* The group's body parks, inside a timeout scope, with a child running. */
static int p_taskgroup_body(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    al_timeout to = AL_TIMEOUT_INIT;
    ck_assert_int_eq(al_timeout_enter(&to, 1000.0), 0);
    al_taskgroup *tg;
    ck_assert_int_eq(al_taskgroup_new(&tg), 0);
    ck_assert_int_eq(al_taskgroup_enter(tg), 0);
    ck_assert_int_eq(al_taskgroup_create_task(tg, p_group_child, fx, NULL, NULL), 0);
    int rc = al_await(fx->gate);
    note(fx, rc);
    rc = al_taskgroup_exit(tg, rc);
    ck_assert_int_eq(al_taskgroup_free(tg), 0);
    note(fx, al_timeout_exit(&to, rc));
    return 0;
}

static int p_lock_holder(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    ck_assert_int_eq(al_lock_acquire(fx->lock), 0);
    note(fx, al_await(fx->gate));
    ck_assert_int_eq(al_lock_release(fx->lock), 0); /* the cleanup frees the lock */
    return 0;
}

static int p_lock(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_lock_acquire(fx->lock));
    return 0;
}

static int p_event(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_event_wait(fx->event));
    return 0;
}

static int p_condition(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    ck_assert_int_eq(al_condition_acquire(fx->cond), 0);
    note(fx, al_condition_wait(fx->cond));
    if (al_condition_locked(fx->cond))
        ck_assert_int_eq(al_condition_release(fx->cond), 0);
    return 0;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static int p_condition_wait_for(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    ck_assert_int_eq(al_condition_acquire(fx->cond), 0);
    note(fx, al_condition_wait_for(fx->cond, never, NULL));
    if (al_condition_locked(fx->cond))
        ck_assert_int_eq(al_condition_release(fx->cond), 0);
    return 0;
}

static int p_semaphore(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_semaphore_acquire(fx->sem));
    return 0;
}

static int p_barrier(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_barrier_wait(fx->barrier, NULL));
    return 0;
}

static int p_queue_get(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    void *item;
    note(fx, al_queue_get(fx->empty, &item));
    return 0;
}

static int p_queue_put(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    void *item = malloc(8); /* the queue's dtor frees the items it holds */
    int rc = al_queue_put(fx->full, item);
    if (rc < 0)
        free(item); /* not taken: still ours */
    note(fx, rc);
    return 0;
}

static int p_queue_join(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    note(fx, al_queue_join(fx->unfinished));
    return 0;
}

static int slow_work(void *arg, void **result)
{
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    *result = malloc(16);
    return 0;
}

static int p_executor(void *arg, void **r)
{
    (void)r;
    fixture *fx = arg;
    al_future *f;
    ck_assert_int_eq(al_loop_run_in_executor(fx->loop, slow_work, NULL, free, &f), 0);
    note(fx, al_await(f));
    al_future_unref(f);
    return 0;
}

/* ---- the table --------------------------------------------------------------------- */

typedef struct scenario {
    const char *name;
    al_task_fn park;
    int unwinds; /* suspensions expected to return AL_ELOOPCLOSING */
    unsigned needs;
} scenario;

enum { N_GATE_TASK = 1, N_LOCK = 2, N_SYNC = 4, N_QUEUES = 8, N_ITER = 16, N_THREADS = 32 };

static const scenario scenarios[] = {
    {"sleep", p_sleep, 1, 0},
    {"sleep(0)", p_sleep0, 1, 0},
    {"await future", p_future, 1, 0},
    {"await task", p_task, 2, N_GATE_TASK},
    {"gather", p_gather, 2, N_GATE_TASK},
    {"wait", p_wait, 2, N_GATE_TASK},
    {"wait_for", p_wait_for, 1, 0},
    {"wait_for task", p_wait_for_task, 2, N_GATE_TASK},
    {"as_completed", p_as_completed, 2, N_GATE_TASK | N_ITER},
    {"shield", p_shield, 1, 0},
    {"timeout scope", p_timeout, 1, 0},
    {"with_timeout", p_with_timeout, 1, 0},
    {"TaskGroup exit", p_taskgroup, 3, 0},
    {"TaskGroup body in timeout", p_taskgroup_body, 3, 0},
    {"lock", p_lock, 2, N_LOCK},
    {"event", p_event, 1, N_SYNC},
    {"condition", p_condition, 1, N_SYNC},
    {"condition wait_for", p_condition_wait_for, 1, N_SYNC},
    {"semaphore", p_semaphore, 1, N_SYNC},
    {"barrier", p_barrier, 1, N_SYNC},
    {"queue get", p_queue_get, 1, N_QUEUES},
    {"queue put", p_queue_put, 1, N_QUEUES},
    {"queue join", p_queue_join, 1, N_QUEUES},
    {"executor future", p_executor, 1, N_THREADS},
};
#define N_SCENARIOS ((int)(sizeof scenarios / sizeof scenarios[0]))

static void fixture_setup(fixture *fx, const scenario *sc, int shared)
{
    *fx = (fixture){.shared = shared};
    fx->loop = conf_loop_new();
    al_loop_set_exception_handler(fx->loop, conf_quiet_handler, NULL);
    ck_assert_int_eq(al_future_new(fx->loop, &fx->gate), 0);
    if (sc->needs & (N_GATE_TASK | N_ITER))
        fx->gate_task = spawn(fx, p_future, fx);
    if (sc->needs & N_ITER) {
        al_future *fs[2] = {CONF_F(fx->gate_task), fx->gate};
        ck_assert_int_eq(al_as_completed_new(fx->loop, fs, 2, 1000.0, &fx->it), 0);
    }
    if (sc->needs & N_LOCK) {
        ck_assert_int_eq(al_lock_new(fx->loop, &fx->lock), 0);
        al_task_unref(spawn(fx, p_lock_holder, fx));
    }
    if (sc->needs & N_SYNC) {
        ck_assert_int_eq(al_event_new(fx->loop, &fx->event), 0);
        ck_assert_int_eq(al_condition_new(fx->loop, NULL, &fx->cond), 0);
        ck_assert_int_eq(al_semaphore_new(fx->loop, 0, &fx->sem), 0);
        ck_assert_int_eq(al_barrier_new(fx->loop, 3, &fx->barrier), 0);
    }
    if (sc->needs & N_QUEUES) {
        ck_assert_int_eq(al_queue_new(fx->loop, 0, &fx->empty), 0);
        ck_assert_int_eq(al_queue_new(fx->loop, 1, &fx->full), 0);
        ck_assert_int_eq(al_queue_set_item_dtor(fx->full, free), 0);
        ck_assert_int_eq(al_queue_put_nowait(fx->full, malloc(8)), 0);
        ck_assert_int_eq(al_queue_new(fx->loop, 0, &fx->unfinished), 0);
        ck_assert_int_eq(al_queue_put_nowait(fx->unfinished, fx), 0);
    }
}

/* Frees the user's objects after the loop: each must be free of tasks. */
static void fixture_teardown(fixture *fx)
{
    ck_assert(fx->lock == NULL || !al_lock_locked(fx->lock));
    ck_assert_int_eq(al_lock_free(fx->lock), 0);
    ck_assert_int_eq(al_event_free(fx->event), 0);
    ck_assert_int_eq(al_condition_free(fx->cond), 0);
    ck_assert_int_eq(al_semaphore_free(fx->sem), 0);
    ck_assert_int_eq(al_barrier_free(fx->barrier), 0);
    ck_assert_int_eq(al_queue_free(fx->empty), 0);
    ck_assert_int_eq(al_queue_free(fx->full), 0);
    ck_assert_int_eq(al_queue_free(fx->unfinished), 0);
    ck_assert_int_eq(al_as_completed_free(fx->it), 0);
    al_task_unref(fx->gate_task);
    al_future_unref(fx->gate);
}

/* One round: park, close, free. */
static void park_and_close(const scenario *sc, int shared)
{
    fixture fx;
    fixture_setup(&fx, sc, shared);
    al_task *t = spawn(&fx, sc->park, &fx);
    for (int i = 0; i < 3; i++) {
        al_loop_stop(fx.loop);
        ck_assert_int_eq(al_loop_run_forever(fx.loop), 0);
    }
    ck_assert_msg(!al_future_done(CONF_F(t)), "%s: the task did not park", sc->name);
    ck_assert_int_eq(fx.unwound + fx.surprise, 0);
    ck_assert_int_eq(al_loop_close(fx.loop), 0);
    ck_assert_msg(fx.unwound == sc->unwinds && fx.surprise == 0,
                  "%s (%s stack): %d suspensions unwound (expected %d), %d returned another code",
                  sc->name, shared ? "shared" : "private", fx.unwound, sc->unwinds, fx.surprise);
    ck_assert(al_future_cancelled(CONF_F(t)));
    al_task_unref(t);
    ck_assert_int_eq(al_loop_free(fx.loop), 0);
    fixture_teardown(&fx);
}

/* _i: scenario * 2 + stack mode. */
START_TEST(close_unwinds_every_suspension_point)
{
    park_and_close(&scenarios[_i / 2], _i % 2);
}
END_TEST

/* Without a leak checker: the heap in use (glibc's count) must not grow
 * with the number of closes. Work done on other threads (the executor)
 * is left to the leak checkers: its timing would blur the count. */
START_TEST(close_heap_stays_flat)
{
    /* TSan's allocator is not glibc's (mallinfo2 does not see it), and its
     * thousands of loops took past the timeout on a loaded machine; ASan
     * and Valgrind check these closes for leaks. */
    if (conf_under_tsan())
        return;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    /* Freed futures go to a per-thread cache of up to 1024 blocks (a lock's
     * waiter nodes land there too): fill it first, its growth is no leak. */
    al_loop *loop = conf_loop_new();
    al_future *fs[1100];
    for (int i = 0; i < 1100; i++)
        ck_assert_int_eq(al_future_new(loop, &fs[i]), 0);
    for (int i = 0; i < 1100; i++)
        al_future_unref(fs[i]);
    al_loop_free(loop);
    const int rounds = conf_loops(conf_many(300));
    for (int k = 0; k < N_SCENARIOS; k++) {
        const scenario *sc = &scenarios[k];
        if (sc->needs & N_THREADS)
            continue;
        for (int shared = 0; shared < 2; shared++) {
            for (int i = 0; i < 30; i++) /* warm the caches and pools */
                park_and_close(sc, shared);
            size_t before = mallinfo2().uordblks;
            for (int i = 0; i < rounds; i++)
                park_and_close(sc, shared);
            size_t after = mallinfo2().uordblks;
            double per = ((double)after - (double)before) / rounds;
            ck_assert_msg(per < 32, "%s (%s stack): the heap grew by %.0f bytes per close",
                          sc->name, shared ? "shared" : "private", per);
        }
    }
#endif
}
END_TEST

AL_TEST_SUITE(suite_close_leaks)
{
    Suite *s = suite_create("close_leaks");
    TCase *tc = al_tcase("close_leaks");
    tcase_add_loop_test(tc, close_unwinds_every_suspension_point, 0, 2 * N_SCENARIOS);
    tcase_add_test(tc, close_heap_stays_flat);
    suite_add_tcase(s, tc);
    return s;
}

/* Randomized stress of the synchronisation primitives and queues: many
 * tasks, random cancellations (timers that cancel random tasks) and
 * timeouts (a task arms a timer that cancels itself around one wait),
 * checked against invariants: mutual exclusion, no lost items, counts that
 * balance, every task finishes. The seed is in every failure message;
 * SYNC_STRESS_SEED=N replays one. A watchdog stops a hung run. */
#include "al_conf.h"

#include <asynclib/locks.h>
#include <asynclib/queues.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NTASKS 64
#define NCHAOS 48

static unsigned seed;
static unsigned rng;
static al_task *tasks[NTASKS];
static int ntasks;
static al_handle *timers[NCHAOS + 1];
static int ntimers;
static bool hung;
static al_task *chaos; /* see arm_chaos */

static unsigned rnd(unsigned n)
{
    return (unsigned)rand_r(&rng) % n;
}

#define CHECK(cond)                                                                                \
    ck_assert_msg((cond), "%s failed (SYNC_STRESS_SEED=%u on %s)", #cond, seed, al_test_impl)

static void seed_init(void)
{
    const char *env = getenv("SYNC_STRESS_SEED");
    seed = env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL) ^ (unsigned)getpid();
    rng = seed;
    ntasks = ntimers = 0;
    hung = false;
    chaos = NULL;
}

static int chaos_cb(al_loop *loop, void *arg)
{
    (void)loop, (void)arg;
    if (ntasks)
        al_task_cancel(tasks[rnd((unsigned)ntasks)], NULL);
    return 0;
}

static int watchdog_cb(al_loop *loop, void *arg)
{
    (void)arg;
    hung = true;
    return al_loop_stop(loop);
}

static void spawn(al_task_fn fn, void *arg)
{
    ck_assert_int_lt(ntasks, NTASKS);
    tasks[ntasks++] = conf_spawn(fn, arg);
}

/* Cancels random tasks every few iterations, a bounded number of times
 * (timers alone would not fire on the virtual clock while tasks are busy). */
static int chaos_task(void *arg, void **result)
{
    (void)arg, (void)result;
    for (int i = 0; i < 100; i++) {
        for (unsigned k = rnd(16); k > 0; k--)
            CHECK(al_sleep(0) == 0);
        if (ntasks)
            al_task_cancel(tasks[rnd((unsigned)ntasks)], NULL);
    }
    return 0;
}

/* Random cancellations of random tasks: by timers over the first ~20 ms
 * and by a task over the first iterations. */
static void arm_chaos(void)
{
    al_loop *loop = conf_cur_loop();
    for (int i = 0; i < NCHAOS; i++)
        CHECK(al_call_later(loop, rnd(20000) * 1e-6, chaos_cb, NULL, &timers[ntimers++]) == 0);
    chaos = conf_spawn(chaos_task, NULL);
}

/* Cancelled: the task goes on (a cancellation is just a failed wait). */
static void absorb(int rc)
{
    CHECK(rc == 0 || rc == AL_ECANCELLED);
    if (rc == AL_ECANCELLED)
        al_task_uncancel(conf_self());
}

/* A wait with a random timeout: a timer cancels the task around it. */
typedef int (*wait_fn)(void *obj);

static int timed(wait_fn fn, void *obj)
{
    al_handle *h = NULL;
    if (rnd(3) == 0) {
        al_loop *loop = conf_cur_loop();
        CHECK(al_call_later(loop, rnd(1000) * 1e-6, conf_cancel_cb, conf_self(), &h) == 0);
    }
    int rc = fn(obj);
    if (h) {
        al_handle_cancel(h);
        al_handle_unref(h);
    }
    return rc;
}

static void pause_random(void)
{
    absorb(rnd(4) == 0 ? al_sleep(rnd(300) * 1e-6) : al_sleep(0));
}

/* Waits for every task, then releases timers and tasks. */
static void finish_all(void)
{
    if (chaos) {
        CHECK(conf_join(chaos) == 0);
        chaos = NULL;
    }
    for (int i = 0; i < ntasks; i++) {
        al_await(al_task_future(tasks[i]));
        int rc = al_future_error(al_task_future(tasks[i]));
        ck_assert_msg(rc == 0, "task %d ended with %d (SYNC_STRESS_SEED=%u on %s)", i, rc, seed,
                      al_test_impl);
    }
    for (int i = 0; i < ntimers; i++) {
        al_handle_cancel(timers[i]);
        al_handle_unref(timers[i]);
    }
    for (int i = 0; i < ntasks; i++)
        al_task_unref(tasks[i]);
    ntasks = ntimers = 0;
}

static void run_stress(al_task_fn main_fn)
{
    seed_init();
    al_loop *loop = conf_loop_new();
    al_handle *wd;
    ck_assert_int_eq(al_call_later(loop, 5.0, watchdog_cb, NULL, &wd), 0);
    int rc = conf_run_task(loop, main_fn, NULL, NULL);
    ck_assert_msg(!hung && rc == 0, "hung or failed: rc %d (SYNC_STRESS_SEED=%u on %s)", rc, seed,
                  al_test_impl);
    al_handle_cancel(wd);
    al_handle_unref(wd);
    al_loop_free(loop);
}

/* ---- Lock: mutual exclusion ----------------------------------------------------------- */

static al_lock *lk;
static int inside, entries;

static int lock_acquire_fn(void *obj)
{
    return al_lock_acquire(obj);
}

static int lock_worker(void *arg, void **result)
{
    (void)arg, (void)result;
    for (int i = 0; i < 20; i++) {
        int rc = timed(lock_acquire_fn, lk);
        absorb(rc);
        if (rc < 0)
            continue;
        CHECK(al_lock_locked(lk));
        CHECK(inside == 0);
        inside = 1;
        entries++;
        pause_random(); /* even if cancelled here, we release */
        inside = 0;
        CHECK(al_lock_release(lk) == 0);
        pause_random();
    }
    return 0;
}

static int lock_stress_main(void *arg, void **result)
{
    (void)arg, (void)result;
    inside = entries = 0;
    CHECK(al_lock_new(conf_cur_loop(), &lk) == 0);
    for (int i = 0; i < 40; i++)
        spawn(lock_worker, NULL);
    arm_chaos();
    finish_all();
    CHECK(!al_lock_locked(lk));
    CHECK(entries > 0);
    CHECK(al_lock_free(lk) == 0);
    return 0;
}

START_TEST(stress_lock)
{
    run_stress(lock_stress_main);
}
END_TEST

/* ---- Semaphore and BoundedSemaphore: at most K inside, units balance -------------------- */

enum { SEM_UNITS = 3 };
static al_semaphore *sem;

static int sem_acquire_fn(void *obj)
{
    return al_semaphore_acquire(obj);
}

static int sem_worker(void *arg, void **result)
{
    (void)arg, (void)result;
    for (int i = 0; i < 20; i++) {
        int rc = timed(sem_acquire_fn, sem);
        absorb(rc);
        if (rc < 0)
            continue;
        inside++;
        entries++;
        CHECK(inside <= SEM_UNITS);
        pause_random();
        inside--;
        CHECK(al_semaphore_release(sem) == 0);
        pause_random();
    }
    return 0;
}

static void sem_stress(bool bounded)
{
    inside = entries = 0;
    al_loop *loop = conf_cur_loop();
    CHECK((bounded ? al_bounded_semaphore_new(loop, SEM_UNITS, &sem)
                   : al_semaphore_new(loop, SEM_UNITS, &sem)) == 0);
    for (int i = 0; i < 40; i++)
        spawn(sem_worker, NULL);
    arm_chaos();
    finish_all();
    CHECK(al_semaphore_value(sem) == SEM_UNITS); /* no unit lost or made up */
    CHECK(!al_semaphore_locked(sem));
    CHECK(entries > 0);
    CHECK(al_semaphore_free(sem) == 0);
}

static int sem_stress_main(void *arg, void **result)
{
    (void)arg, (void)result;
    sem_stress(false);
    sem_stress(true);
    return 0;
}

START_TEST(stress_semaphore)
{
    run_stress(sem_stress_main);
}
END_TEST

/* ---- Condition: producers/consumers, no notification lost --------------------------------- */

static al_condition *cv;
static int items, produced, consumed;
static bool stop;

static bool item_or_stop(void *arg)
{
    (void)arg;
    return items > 0 || stop;
}

static int cond_wait_for_fn(void *obj)
{
    return al_condition_wait_for(obj, item_or_stop, NULL);
}

static int cond_consumer(void *arg, void **result)
{
    (void)arg, (void)result;
    for (;;) {
        int rc = al_condition_acquire(cv);
        absorb(rc);
        if (rc < 0)
            continue;
        rc = timed(cond_wait_for_fn, cv);
        CHECK(al_condition_locked(cv)); /* however the wait ended */
        absorb(rc);
        if (rc == 0 && items > 0) {
            items--;
            consumed++;
        }
        bool leave = rc == 0 && stop && items == 0;
        CHECK(al_condition_release(cv) == 0);
        if (leave)
            return 0;
        pause_random();
    }
}

static int cond_producer(void *arg, void **result)
{
    (void)arg, (void)result;
    for (int i = 0; i < 30; i++) {
        int rc = al_condition_acquire(cv);
        absorb(rc);
        if (rc < 0)
            continue;
        items++;
        produced++;
        CHECK(al_condition_notify(cv, 1) == 0);
        CHECK(al_condition_release(cv) == 0);
        pause_random();
    }
    return 0;
}

static int cond_stress_main(void *arg, void **result)
{
    (void)arg, (void)result;
    items = produced = consumed = 0;
    stop = false;
    CHECK(al_condition_new(conf_cur_loop(), NULL, &cv) == 0);
    for (int i = 0; i < 20; i++)
        spawn(cond_consumer, NULL);
    int first_producer = ntasks;
    for (int i = 0; i < 10; i++)
        spawn(cond_producer, NULL);
    arm_chaos();
    for (int i = first_producer; i < ntasks; i++)
        al_await(al_task_future(tasks[i]));
    /* Every item gets consumed with no further notification: none lost. */
    while (items > 0 && !hung)
        CHECK(al_sleep(0.0005) == 0);
    CHECK(al_condition_acquire(cv) == 0);
    stop = true;
    CHECK(al_condition_notify_all(cv) == 0);
    CHECK(al_condition_release(cv) == 0);
    finish_all();
    CHECK(produced == consumed);
    CHECK(produced > 0);
    CHECK(al_condition_free(cv) == 0);
    return 0;
}

START_TEST(stress_condition)
{
    run_stress(cond_stress_main);
}
END_TEST

/* ---- Event: every waiter present at set() wakes --------------------------------------------- */

static al_event *ev;
static int woke, cancelled_waits;

static int event_wait_fn(void *obj)
{
    return al_event_wait(obj);
}

static int event_waiter(void *arg, void **result)
{
    (void)arg, (void)result;
    for (int i = 0; i < 10; i++) {
        int rc = timed(event_wait_fn, ev);
        absorb(rc);
        if (rc == 0)
            woke++;
        else
            cancelled_waits++;
        pause_random();
    }
    return 0;
}

static int event_stress_main(void *arg, void **result)
{
    (void)arg, (void)result;
    woke = cancelled_waits = 0;
    CHECK(al_event_new(conf_cur_loop(), &ev) == 0);
    for (int i = 0; i < 40; i++)
        spawn(event_waiter, NULL);
    arm_chaos();
    /* Pulses until every waiter is through its rounds. */
    while (woke + cancelled_waits < 40 * 10) {
        CHECK(al_event_set(ev) == 0);
        if (rnd(2))
            CHECK(al_event_clear(ev) == 0); /* a pulse still wakes them */
        absorb(al_sleep(rnd(200) * 1e-6));
        CHECK(al_event_clear(ev) == 0);
        CHECK(!hung);
    }
    finish_all();
    CHECK(woke > 0);
    CHECK(al_event_free(ev) == 0);
    return 0;
}

START_TEST(stress_event)
{
    run_stress(event_stress_main);
}
END_TEST

/* ---- Barrier: exact rounds, then chaos with resets, then abort ----------------------------- */

enum { PARTIES = 4 };
static al_barrier *bar;
static int idx_count[PARTIES], passes, broken_waits;

static int barrier_rounds(void *arg, void **result)
{
    (void)result;
    for (int i = 0; i < 10; i++) {
        int index = -1;
        int rc = al_barrier_wait(bar, &index);
        if (arg) { /* exact phase */
            CHECK(rc == 0);
        } else {
            CHECK(rc == 0 || rc == AL_ECANCELLED || rc == AL_EBROKENBARRIER);
            absorb(rc == AL_EBROKENBARRIER ? 0 : rc);
        }
        if (rc == 0) {
            CHECK(index >= 0 && index < PARTIES);
            idx_count[index]++;
            passes++;
        } else if (rc == AL_EBROKENBARRIER) {
            broken_waits++;
            if (al_barrier_broken(bar))
                return 0;
        }
        pause_random();
    }
    return 0;
}

static int reset_cb(al_loop *loop, void *arg)
{
    (void)loop, (void)arg;
    return al_barrier_reset(bar);
}

static int barrier_stress_main(void *arg, void **result)
{
    (void)arg, (void)result;
    memset(idx_count, 0, sizeof idx_count);
    passes = broken_waits = 0;
    CHECK(al_barrier_new(conf_cur_loop(), PARTIES, &bar) == 0);
    /* Exactly `parties` tasks: each trip holds each of them once. */
    for (int i = 0; i < PARTIES; i++)
        spawn(barrier_rounds, CONF_VP(1));
    finish_all();
    for (int i = 0; i < PARTIES; i++)
        CHECK(idx_count[i] == 10); /* each round: a permutation */
    CHECK(al_barrier_n_waiting(bar) == 0);
    /* Chaos: cancellations and resets; a final abort frees everyone. */
    for (int i = 0; i < 3 * PARTIES + 1; i++)
        spawn(barrier_rounds, NULL);
    arm_chaos();
    for (int i = 0; i < 5; i++)
        CHECK(al_call_later(conf_cur_loop(), rnd(20000) * 1e-6, reset_cb, NULL, NULL) == 0);
    CHECK(al_sleep(0.03) == 0);
    CHECK(al_barrier_abort(bar) == 0);
    finish_all();
    CHECK(al_barrier_n_waiting(bar) == 0);
    CHECK(al_barrier_free(bar) == 0);
    return 0;
}

START_TEST(stress_barrier)
{
    run_stress(barrier_stress_main);
}
END_TEST

/* ---- Queues: no item lost or duplicated, cancelled puts never insert ----------------------- */

enum { PER_PRODUCER = 40, PRODUCERS = 8, CONSUMERS = 8, NITEMS = PER_PRODUCER * PRODUCERS };
static al_queue *q;
static unsigned char item_state[NITEMS + 1]; /* 0 not put, 1 in queue, 2 got */
static int got_count, done_count;

static int put_item;
static int queue_put_fn(void *obj)
{
    return al_queue_put(obj, CONF_VP(put_item));
}

static int queue_producer(void *arg, void **result)
{
    (void)result;
    int base = CONF_PV(arg) * PER_PRODUCER;
    for (int i = 1; i <= PER_PRODUCER; i++) {
        int item = base + i;
        for (;;) {
            put_item = item;
            int rc = timed(queue_put_fn, q);
            absorb(rc);
            if (rc == 0) {
                CHECK(item_state[item] == 0);
                item_state[item] = 1;
                break;
            }
        }
        pause_random();
    }
    return 0;
}

static void *got_item;
static int queue_get_fn(void *obj)
{
    return al_queue_get(obj, &got_item);
}

static int queue_consumer(void *arg, void **result)
{
    (void)arg, (void)result;
    for (;;) {
        int rc = timed(queue_get_fn, q);
        if (rc == AL_EQUEUESHUTDOWN)
            return 0;
        absorb(rc);
        if (rc < 0)
            continue;
        int item = CONF_PV(got_item);
        CHECK(item >= 1 && item <= NITEMS);
        CHECK(item_state[item] == 1); /* put, and got only once */
        item_state[item] = 2;
        got_count++;
        pause_random();
        CHECK(al_queue_task_done(q) == 0);
        done_count++;
    }
}

static int prio_cmp(const void *a, const void *b, void *user)
{
    (void)user;
    return CONF_PV(a) - CONF_PV(b);
}

static void queue_stress(int kind, long maxsize)
{
    al_loop *loop = conf_cur_loop();
    memset(item_state, 0, sizeof item_state);
    got_count = done_count = 0;
    if (kind == 0)
        CHECK(al_queue_new(loop, maxsize, &q) == 0);
    else if (kind == 1)
        CHECK(al_lifo_queue_new(loop, maxsize, &q) == 0);
    else
        CHECK(al_priority_queue_new(loop, maxsize, prio_cmp, NULL, &q) == 0);
    for (int i = 0; i < CONSUMERS; i++)
        spawn(queue_consumer, NULL);
    int first_producer = ntasks;
    for (int i = 0; i < PRODUCERS; i++)
        spawn(queue_producer, CONF_VP(i));
    arm_chaos();
    for (int i = first_producer; i < ntasks; i++)
        al_await(al_task_future(tasks[i]));
    int rc;
    while ((rc = al_queue_join(q)) == AL_ECANCELLED)
        al_task_uncancel(conf_self());
    CHECK(rc == 0);
    CHECK(al_queue_empty(q));
    CHECK(al_queue_shutdown(q, false) == 0);
    finish_all();
    CHECK(got_count == NITEMS);
    CHECK(done_count == NITEMS);
    for (int i = 1; i <= NITEMS; i++)
        CHECK(item_state[i] == 2);
    CHECK(al_queue_free(q) == 0);
}

static int queue_stress_main(void *arg, void **result)
{
    (void)arg, (void)result;
    queue_stress(0, 1);
    queue_stress(0, 4);
    queue_stress(0, 0);
    queue_stress(1, 3);
    queue_stress(2, 2);
    return 0;
}

START_TEST(stress_queues)
{
    run_stress(queue_stress_main);
}
END_TEST

AL_TEST_SUITE(suite_sync_stress)
{
    Suite *s = suite_create("sync_stress");
    TCase *tc = al_tcase("stress");
    tcase_add_test(tc, stress_lock);
    tcase_add_test(tc, stress_semaphore);
    tcase_add_test(tc, stress_condition);
    tcase_add_test(tc, stress_event);
    tcase_add_test(tc, stress_barrier);
    tcase_add_test(tc, stress_queues);
    suite_add_tcase(s, tc);
    return s;
}

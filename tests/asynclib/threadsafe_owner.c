/* Thread-safe calls from the thread that created a loop while another
 * thread starts running it (issue 8, fault 11). The creating thread may
 * take the direct path (FIFO with call_soon, asyncio R1) only while nobody
 * else runs the loop; once another thread runs it, its calls go through
 * the locked queue. Run under TSan (the tsan CI stage) this finds any
 * unlocked access racing with the runner. */
#include "al_conf.h"

#include <pthread.h>
#include <stdatomic.h>

#define CALLS 2000

typedef struct shared {
    al_loop *loop;
    atomic_int started;
    int count; /* the loop's thread only */
    int calls; /* made by the creating thread */
    int rc;
} shared;

static int count_cb(al_loop *loop, void *arg)
{
    (void)loop;
    ((shared *)arg)->count++;
    return 0;
}

static int stop_when_all_cb(al_loop *loop, void *arg)
{
    shared *s = arg;
    if (s->count < s->calls) /* not all there yet: look again */
        return al_call_soon(loop, stop_when_all_cb, s, NULL);
    return al_loop_stop(loop);
}

static void *runner(void *arg)
{
    shared *s = arg;
    atomic_store(&s->started, 1);
    s->rc = al_loop_run_forever(s->loop);
    return NULL;
}

/* The creating thread calls al_call_soon_threadsafe before, while and after
 * the runner thread starts the loop: every call runs exactly once. */
START_TEST(creator_calls_while_other_thread_starts)
{
    shared s = {.loop = conf_loop_new()};
    ck_assert_int_eq(al_call_soon_threadsafe(s.loop, count_cb, &s), 0); /* before */
    int calls = 1;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, runner, &s), 0);
    /* Calls all through the other thread's start, and beyond. */
    for (int after = 0; after < CALLS; calls++) {
        ck_assert_int_eq(al_call_soon_threadsafe(s.loop, count_cb, &s), 0);
        if (atomic_load(&s.started))
            after++;
    }
    s.calls = calls; /* published to the loop's thread by the locked queue */
    ck_assert_int_eq(al_call_soon_threadsafe(s.loop, stop_when_all_cb, &s), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_int_eq(s.count, calls);
    /* Back on the creating thread, after the other one ran it: still fine. */
    ck_assert_int_eq(al_call_soon_threadsafe(s.loop, count_cb, &s), 0);
    s.calls = calls + 1;
    ck_assert_int_eq(al_call_soon(s.loop, stop_when_all_cb, &s, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(s.loop), 0);
    ck_assert_int_eq(s.count, calls + 1);
    al_loop_free(s.loop);
}
END_TEST

static int log_one(al_loop *loop, void *arg)
{
    (void)loop;
    conf_log_add(arg, 1);
    return 0;
}

static int log_two_stop(al_loop *loop, void *arg)
{
    (void)loop;
    conf_log_add(arg, 2);
    return al_loop_stop(loop);
}

static void *late_runner(void *arg)
{
    shared *s = arg;
    while (!atomic_load_explicit(&s->started, memory_order_relaxed)) /* the creator called */
        ;
    s->rc = al_loop_run_forever(s->loop);
    return NULL;
}

/* The other thread runs the loop without any other synchronisation with
 * the creating thread than the call itself: the call must publish what it
 * queued (the unlocked path did not: a data race TSan reports). */
START_TEST(creator_calls_after_other_thread_created)
{
    shared s = {.loop = conf_loop_new()};
    s.calls = 1;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, late_runner, &s), 0);
    ck_assert_int_eq(al_call_soon_threadsafe(s.loop, count_cb, &s), 0);
    ck_assert_int_eq(al_call_soon_threadsafe(s.loop, stop_when_all_cb, &s), 0);
    atomic_store_explicit(&s.started, 1, memory_order_relaxed); /* no ordering on purpose */
    pthread_join(th, NULL);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_int_eq(s.count, 1);
    al_loop_free(s.loop);
}
END_TEST

static void *run_once_thread(void *arg)
{
    al_loop *loop = arg;
    al_loop_run_forever(loop);
    return NULL;
}

/* R1 still holds on the creating thread before any run, and on a thread
 * that ran the loop before and runs it again. */
START_TEST(creator_fifo_with_call_soon)
{
    al_loop *loop = conf_loop_new();
    conf_log log = {0};
    ck_assert_int_eq(al_call_soon_threadsafe(loop, log_one, &log), 0);
    ck_assert_int_eq(al_call_soon(loop, log_two_stop, &log, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    CONF_LOG_EXPECT(&log, 1, 2);
    /* Another thread runs it; then the creator queues and runs again. */
    ck_assert_int_eq(al_call_soon_threadsafe(loop, log_two_stop, &log), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, run_once_thread, loop), 0);
    pthread_join(th, NULL);
    CONF_LOG_EXPECT(&log, 1, 2, 2);
    ck_assert_int_eq(al_call_soon_threadsafe(loop, log_one, &log), 0);
    ck_assert_int_eq(al_call_soon_threadsafe(loop, log_two_stop, &log), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    CONF_LOG_EXPECT(&log, 1, 2, 2, 1, 2);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_threadsafe_owner)
{
    Suite *s = suite_create("threadsafe_owner");
    TCase *tc = al_tcase("owner");
    tcase_add_test(tc, creator_calls_while_other_thread_starts);
    tcase_add_test(tc, creator_fifo_with_call_soon);
    tcase_add_test(tc, creator_calls_after_other_thread_created);
    suite_add_tcase(s, tc);
    return s;
}

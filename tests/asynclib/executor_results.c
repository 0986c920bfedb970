/* The executor releases every result exactly once, whatever the work
 * returned and whatever happened to its future (issue 8, fault 7), and its
 * shutdown takes every timeout value (fault 8). */
#include "al_conf.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_int stored, released, started;

static void result_free(void *p)
{
    atomic_fetch_add(&released, 1);
    free(p);
}

/* Stores a result, then returns the code given as arg. */
static int store_then_return(void *arg, void **result)
{
    *result = malloc(16);
    atomic_fetch_add(&stored, 1);
    return CONF_PV(arg);
}

static void reset_counts(void)
{
    atomic_store(&stored, 0);
    atomic_store(&released, 0);
    atomic_store(&started, 0);
}

START_TEST(result_released_once_on_error)
{
    static const int codes[] = {-EIO, AL_ETIMEOUT, AL_EFAILED, AL_ECANCELLED, 0, 7};
    reset_counts();
    al_loop *loop = conf_loop_new();
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        al_future *f;
        ck_assert_int_eq(
            al_loop_run_in_executor(loop, store_then_return, CONF_VP(codes[i]), result_free, &f),
            0);
        int status = 1;
        ck_assert_int_eq(al_loop_run_until_done(loop, f, &status), 0);
        int expect = codes[i] > 0 ? 0 : codes[i]; /* non-negative: a result, as a task */
        ck_assert_int_eq(status, expect);
        ck_assert(al_future_cancelled(f) == (codes[i] == AL_ECANCELLED));
        void *v = NULL;
        if (expect == 0) {
            ck_assert_int_eq(al_future_result(f, &v), 0);
            ck_assert_ptr_nonnull(v);
            ck_assert_int_eq(atomic_load(&released), atomic_load(&stored) - 1);
        } else {
            ck_assert_int_eq(atomic_load(&released), atomic_load(&stored)); /* at once */
        }
        al_future_unref(f);
        ck_assert_int_eq(atomic_load(&released), atomic_load(&stored));
    }
    ck_assert_int_eq(al_loop_shutdown_default_executor(loop, AL_FOREVER), 0);
    al_loop_free(loop);
    ck_assert_int_eq(atomic_load(&stored), 6);
    ck_assert_int_eq(atomic_load(&released), 6);
}
END_TEST

static int store_after_pause(void *arg, void **result)
{
    atomic_fetch_add(&started, 1);
    usleep(CONF_PV(arg));
    *result = malloc(16);
    atomic_fetch_add(&stored, 1);
    return -EIO;
}

/* Cancelled while running, or the loop closed while running: the failed
 * work's result is still released once (by whichever side lets go last). */
START_TEST(result_released_once_cancelled_or_closed)
{
    reset_counts();
    al_loop *loop = conf_loop_new();
    al_future *f, *g;
    ck_assert_int_eq(
        al_loop_run_in_executor(loop, store_after_pause, CONF_VP(20000), result_free, &f), 0);
    for (int i = 0; i < 5000 && atomic_load(&started) == 0; i++)
        usleep(1000); /* cancelled once running: the work goes on */
    ck_assert_int_eq(al_future_cancel(f, NULL), 1);
    ck_assert_int_eq(al_loop_run_until_complete(loop, f), AL_ECANCELLED);
    ck_assert_int_eq(
        al_loop_run_in_executor(loop, store_after_pause, CONF_VP(20000), result_free, &g), 0);
    ck_assert_int_eq(al_loop_shutdown_default_executor(loop, AL_FOREVER), 0);
    ck_assert_int_eq(al_loop_close(loop), 0); /* g's completion is dropped */
    for (int i = 0; i < 500 && atomic_load(&released) < 2; i++)
        usleep(2000);
    ck_assert_int_eq(atomic_load(&stored), 2);
    ck_assert_int_eq(atomic_load(&released), 2);
    al_future_unref(f);
    al_future_unref(g);
    al_loop_free(loop);
}
END_TEST

static int pause_work(void *arg, void **result)
{
    (void)result;
    usleep(CONF_PV(arg));
    return 0;
}

/* Every timeout value: no limit (negative, AL_FOREVER, huge) returns 0 once
 * the work is done; NaN is -EINVAL and changes nothing (the pool still
 * takes work). */
START_TEST(shutdown_timeout_values)
{
    static const double unlimited[] = {-1, -INFINITY, AL_FOREVER, 1e300, 1e10, 9.3e9, 5.0};
    for (size_t i = 0; i < sizeof unlimited / sizeof unlimited[0]; i++) {
        al_loop *loop = conf_loop_new();
        al_future *f;
        ck_assert_int_eq(al_loop_run_in_executor(loop, pause_work, CONF_VP(20000), NULL, &f), 0);
        ck_assert_int_eq(al_loop_shutdown_default_executor(loop, NAN), -EINVAL);
        al_future *g;
        ck_assert_int_eq(al_loop_run_in_executor(loop, conf_noop, NULL, NULL, &g), 0);
        ck_assert_int_eq(al_loop_shutdown_default_executor(loop, unlimited[i]), 0);
        ck_assert_int_eq(al_loop_run_until_complete(loop, f), 0);
        ck_assert_int_eq(al_loop_run_until_complete(loop, g), 0);
        al_future_unref(f);
        al_future_unref(g);
        al_loop_free(loop);
    }
}
END_TEST

/* A refused first submission leaves no pool: the worker count can still be
 * set afterwards. */
static pthread_t usr1_thread;
static atomic_int usr1_taken, job_running, job_release;

static void on_usr1(int sig)
{
    (void)sig;
    usr1_thread = pthread_self();
    atomic_store(&usr1_taken, 1);
}

/* A long job: runs until the test releases it (bounded: 30 s). */
static int long_job(void *arg, void **result)
{
    (void)arg, (void)result;
    atomic_store(&job_running, 1);
    for (int i = 0; i < 30000 && !atomic_load(&job_release); i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    return 0;
}

/* A signal sent to the process while a pool thread runs a job goes to a
 * thread that does not block it: never the worker (it blocks every
 * asynchronous signal). Here the loop's thread blocks SIGUSR1 while it is
 * sent, so the signal waits for it instead of landing in the worker. */
START_TEST(workers_block_signals)
{
    atomic_store(&usr1_taken, 0);
    atomic_store(&job_running, 0);
    atomic_store(&job_release, 0);
    struct sigaction sa = {.sa_handler = on_usr1}, old_sa;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old_sa), 0);
    al_loop *loop = conf_loop_new();
    al_future *f;
    ck_assert_int_eq(al_loop_run_in_executor(loop, long_job, NULL, NULL, &f), 0);
    for (int i = 0; i < 30000 && !atomic_load(&job_running); i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    ck_assert(atomic_load(&job_running));
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    for (int i = 0; i < 200 && !atomic_load(&usr1_taken); i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL); /* a worker would take it now */
    int taken_while_blocked = atomic_load(&usr1_taken);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0); /* delivered here */
    ck_assert_int_eq(taken_while_blocked, 0);
    ck_assert(atomic_load(&usr1_taken));
    ck_assert(pthread_equal(usr1_thread, pthread_self()));
    atomic_store(&job_release, 1);
    ck_assert_int_eq(al_loop_run_until_complete(loop, f), 0);
    al_future_unref(f);
    ck_assert_int_eq(al_loop_free(loop), 0);
    ck_assert_int_eq(sigaction(SIGUSR1, &old_sa, NULL), 0);
}
END_TEST

START_TEST(refused_submission_leaves_no_pool)
{
    al_loop *loop = conf_loop_new();
    al_future *f = NULL;
    ck_assert_int_eq(al_loop_run_in_executor(loop, NULL, NULL, NULL, &f), -EINVAL);
    ck_assert_int_eq(al_loop_run_in_executor(loop, conf_noop, NULL, NULL, NULL), -EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(al_loop_set_executor_workers(loop, 1), 0);
    ck_assert_int_eq(al_loop_shutdown_default_executor(loop, 0), 0);
    ck_assert_int_eq(al_loop_run_in_executor(loop, conf_noop, NULL, NULL, &f), AL_EINVALIDSTATE);
    ck_assert_ptr_null(f);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_executor_results)
{
    Suite *s = suite_create("executor_results");
    TCase *tc = al_tcase("results");
    tcase_add_test(tc, result_released_once_on_error);
    tcase_add_test(tc, result_released_once_cancelled_or_closed);
    tcase_add_test(tc, shutdown_timeout_values);
    tcase_add_test(tc, refused_submission_leaves_no_pool);
    tcase_add_test(tc, workers_block_signals);
    suite_add_tcase(s, tc);
    return s;
}

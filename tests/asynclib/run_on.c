/* al_run_on: asyncio.run on a loop the caller made (Runner(loop_factory)),
 * on every loop implementation. */
#include "al_conf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct leftover {
    int sleep_rc;
    int cleaned;
} leftover;

static int leftover_task(void *arg, void **result)
{
    (void)result;
    leftover *l = arg;
    l->sleep_rc = al_sleep(3600);
    l->cleaned++;
    return l->sleep_rc;
}

static int pause_work(void *arg, void **result)
{
    (void)arg;
    usleep(10000);
    *result = CONF_VP(9);
    return 0;
}

static int main_with_leftovers(void *arg, void **result)
{
    leftover *l = arg;
    al_loop *loop = conf_cur_loop();
    ck_assert_ptr_eq(al_loop_get_data(loop), l); /* the caller's settings hold */
    al_task *t = conf_spawn(leftover_task, l);
    al_task_unref(t);
    al_future *w;
    ck_assert_int_eq(al_loop_run_in_executor(loop, pause_work, NULL, NULL, &w), 0);
    ck_assert_int_eq(al_await(w), 0);
    al_future_unref(w);
    conf_s0();
    *result = CONF_VP(42);
    return 0;
}

START_TEST(run_on_result_leftovers_close)
{
    al_loop *loop = conf_loop_new();
    leftover l = {99, 0};
    ck_assert_int_eq(al_loop_set_data(loop, &l), 0);
    void *result = NULL;
    ck_assert_int_eq(al_run_on(loop, main_with_leftovers, &l, &result), 0);
    ck_assert_int_eq(CONF_PV(result), 42);
    ck_assert_int_eq(l.sleep_rc, AL_ECANCELLED); /* the leftover was cancelled */
    ck_assert_int_eq(l.cleaned, 1);              /* ... and ran its cleanup */
    ck_assert(al_loop_is_closed(loop));
    ck_assert(!al_loop_is_running(loop));
    ck_assert_ptr_eq(al_loop_get_data(loop), &l);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), 0);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

static int failing_main(void *arg, void **result)
{
    (void)arg, (void)result;
    conf_s0();
    return -EPIPE;
}

static int cancelled_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_task_cancel(conf_self(), NULL);
    return al_sleep(3600);
}

/* The main task's status comes back as al_run's would. */
START_TEST(run_on_status)
{
    al_loop *loop = conf_loop_new();
    void *result = CONF_VP(7);
    ck_assert_int_eq(al_run_on(loop, failing_main, NULL, &result), -EPIPE);
    ck_assert_int_eq(CONF_PV(result), 7); /* untouched */
    al_loop_free(loop);
    loop = conf_loop_new();
    ck_assert_int_eq(al_run_on(loop, cancelled_main, NULL, NULL), AL_ECANCELLED);
    al_loop_free(loop);
}
END_TEST

static int count_main(void *arg, void **result)
{
    (void)result;
    (*(int *)arg)++;
    return 0;
}

static int nested_run_on(void *arg, void **result)
{
    (void)result;
    al_loop *other = arg;
    int ran = 0;
    ck_assert_int_eq(al_run_on(other, count_main, &ran, NULL), AL_ELOOPRUNNING);
    ck_assert_int_eq(al_run_on(conf_cur_loop(), count_main, &ran, NULL), AL_ELOOPRUNNING);
    ck_assert_int_eq(ran, 0);
    return 0;
}

/* Refusals leave the loop untouched: still open, still usable. */
START_TEST(run_on_refusals)
{
    al_loop *loop = conf_loop_new(), *other = conf_loop_new();
    int ran = 0;
    ck_assert_int_eq(al_run_on(NULL, count_main, &ran, NULL), -EINVAL);
    ck_assert_int_eq(al_run_on(loop, NULL, &ran, NULL), -EINVAL);
    ck_assert(!al_loop_is_closed(loop));
    ck_assert_int_eq(conf_run_task(loop, nested_run_on, other, NULL), 0);
    ck_assert(!al_loop_is_closed(other));
    ck_assert_uint_eq(al_loop_all_tasks(other, NULL, 0), 0);
    ck_assert_int_eq(al_run_on(other, count_main, &ran, NULL), 0); /* still fine */
    ck_assert_int_eq(ran, 1);
    ck_assert_int_eq(al_run_on(other, count_main, &ran, NULL), AL_ELOOPCLOSED);
    ck_assert_int_eq(ran, 1);
    al_loop_free(other);
    al_loop_free(loop);
}
END_TEST

static int send_sigint(al_loop *loop, void *arg)
{
    (void)loop, (void)arg;
    kill(getpid(), SIGINT);
    return 0;
}

/* Waits on a future nobody completes: no timer is left, so the virtual
 * loop too waits (for the watcher's thread-safe call) instead of jumping. */
static int main_waiting_for_ctrl_c(void *arg, void **result)
{
    (void)result;
    int *rc = arg;
    al_future *never;
    ck_assert_int_eq(al_future_new(conf_cur_loop(), &never), 0);
    al_call_later(conf_cur_loop(), 0.01, send_sigint, NULL, NULL);
    *rc = al_await(never);
    al_future_unref(never);
    return *rc;
}

/* Ctrl+C as al_run: the first SIGINT cancels the main task, -EINTR. */
START_TEST(run_on_ctrl_c)
{
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode && strcmp(fork_mode, "no") == 0) {
        fprintf(stderr, "run_on_ctrl_c: skipped, needs CK_FORK=yes\n");
        return;
    }
    struct sigaction dfl = {0}, check_handler;
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, &check_handler);
    al_loop *loop = conf_loop_new();
    int await_rc = 0;
    ck_assert_int_eq(al_run_on(loop, main_waiting_for_ctrl_c, &await_rc, NULL), -EINTR);
    ck_assert_int_eq(await_rc, AL_ECANCELLED);
    al_loop_free(loop);
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    ck_assert(!sigismember(&mask, SIGINT));
    sigaction(SIGINT, &check_handler, NULL);
}
END_TEST

AL_TEST_SUITE(suite_run_on)
{
    Suite *s = suite_create("run_on");
    TCase *tc = al_tcase("run_on");
    tcase_add_test(tc, run_on_result_leftovers_close);
    tcase_add_test(tc, run_on_status);
    tcase_add_test(tc, run_on_refusals);
    tcase_add_test(tc, run_on_ctrl_c);
    suite_add_tcase(s, tc);
    return s;
}

/* aio_run: asyncio.run on a fresh I/O loop (backend by name or from
 * SELECTORS_BACKEND), Ctrl+C, leftovers. */
#include "aio_conf.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int report_backend(void *arg, void **result)
{
    (void)arg;
    al_loop *loop = al_get_running_loop();
    if (!aio_loop_is_io(loop))
        return AL_ENOTIOLOOP;
    *result = strdup(aio_loop_backend(loop));
    return 0;
}

START_TEST(test_aio_run_backend_by_name_and_env)
{
    void *name = NULL;
    ck_assert_int_eq(aio_run(report_backend, NULL, &name, al_test_impl), 0);
    ck_assert_msg(strncmp(name, al_test_impl, strlen(al_test_impl)) == 0, "ran on %s",
                  (char *)name);
    free(name);
    name = NULL;
    ck_assert_int_eq(setenv("SELECTORS_BACKEND", al_test_impl, 1), 0);
    ck_assert_int_eq(aio_run(report_backend, NULL, &name, NULL), 0);
    unsetenv("SELECTORS_BACKEND");
    ck_assert_msg(strncmp(name, al_test_impl, strlen(al_test_impl)) == 0, "ran on %s",
                  (char *)name);
    free(name);
    ck_assert_int_eq(aio_run(NULL, NULL, NULL, al_test_impl), -EINVAL);
    ck_assert_int_eq(aio_run(report_backend, NULL, NULL, "nope"), SEL_EBACKEND);
}
END_TEST

static int leftover(void *arg, void **result)
{
    (void)result;
    int rc = al_sleep(100);
    *(int *)arg = rc;
    return rc;
}

static int leave_a_task(void *arg, void **result)
{
    (void)result;
    al_task *t;
    int rc = al_task_new(al_get_running_loop(), leftover, arg, NULL, &t);
    if (rc < 0)
        return rc;
    al_task_unref(t);
    return al_sleep(0.01);
}

START_TEST(test_aio_run_cancels_leftovers)
{
    int seen = 1;
    ck_assert_int_eq(aio_run(leave_a_task, &seen, NULL, al_test_impl), 0);
    ck_assert_int_eq(seen, AL_ECANCELLED);
}
END_TEST

static int interrupt_me(void *arg, void **result)
{
    (void)arg, (void)result;
    kill(getpid(), SIGINT);
    return al_sleep(10);
}

START_TEST(test_aio_run_ctrl_c)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigaction(SIGINT, &dfl, &old);
    ck_assert_int_eq(aio_run(interrupt_me, NULL, NULL, al_test_impl), -EINTR);
    sigaction(SIGINT, &old, NULL);
}
END_TEST

AL_TEST_SUITE(suite_run)
{
    ac_require_backend();
    Suite *s = suite_create("run");
    TCase *tc = al_tcase("run");
    tcase_add_test(tc, test_aio_run_backend_by_name_and_env);
    tcase_add_test(tc, test_aio_run_cancels_leftovers);
    tcase_add_test(tc, test_aio_run_ctrl_c);
    suite_add_tcase(s, tc);
    return s;
}

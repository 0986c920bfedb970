/* A process's pipe streams released before their transports started:
 * aio_process_free right after aio_process_stdin / stdout (no iteration
 * between: connection_made and connection_lost still come to the
 * streams), and a communicate cancelled before its side tasks ran their
 * first step (their references on the exchange must still be released).
 * ASan / Valgrind see a use after free or a leak; fds are counted. */
#include "aio_conf.h"

#include <asyncio/subprocess.h>

#include <stdlib.h>

static aio_process *spawn_cat(void)
{
    static const char *const argv[] = {"cat", NULL};
    aio_subprocess_options o = {.stdin_fd = {.kind = AIO_STDIO_PIPE},
                                .stdout_fd = {.kind = AIO_STDIO_PIPE}};
    aio_process *p = NULL;
    ck_assert_int_eq(aio_create_subprocess_exec(ac_loop(), argv, &o, &p), 0);
    return p;
}

static int free_before_start_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int fds = ac_open_fds();
    aio_process *p = spawn_cat();
    aio_stream_writer *w;
    aio_stream_reader *r;
    ck_assert_int_eq(aio_process_stdin(p, &w), 0);
    ck_assert_int_eq(aio_process_stdout(p, &r), 0);
    ck_assert_int_eq(aio_process_free(p), 0); /* the transports have not started */
    ck_assert_int_eq(al_sleep(0.01), 0);      /* their start and end run now */
    ck_assert_int_eq(ac_open_fds(), fds);
    return 0;
}

START_TEST(test_free_before_streams_start)
{
    ac_run_main(free_before_start_main, NULL);
}
END_TEST

static int communicate_task(void *arg, void **result)
{
    (void)result;
    char *out = NULL;
    int rc = aio_process_communicate(arg, "x", 1, &out, NULL, NULL, NULL);
    free(out);
    return rc;
}

static int cancel_early_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int fds = ac_open_fds();
    aio_process *p = spawn_cat();
    al_task *t = ac_spawn(communicate_task, p);
    /* t's first step makes the side tasks; cancel it before they run */
    for (int i = 0; i < 20 && !al_future_done(al_task_future(t)); i++) {
        ck_assert_int_eq(al_sleep(0), 0);
        if (i == 0)
            al_task_cancel(t, NULL);
    }
    ck_assert_int_eq(ac_join(t), AL_ECANCELLED);
    ck_assert_int_eq(aio_process_free(p), 0);
    ck_assert_int_eq(al_sleep(0.01), 0); /* the pipes' transports end */
    ck_assert_int_eq(ac_open_fds(), fds);
    return 0;
}

START_TEST(test_communicate_cancelled_before_sides_run)
{
    ac_run_main(cancel_early_main, NULL);
}
END_TEST

AL_TEST_SUITE(suite_process_free)
{
    ac_require_backend();
    Suite *s = suite_create("process_free");
    TCase *tc = al_tcase("process_free");
    tcase_add_test(tc, test_free_before_streams_start);
    tcase_add_test(tc, test_communicate_cancelled_before_sides_run);
    suite_add_tcase(s, tc);
    return s;
}

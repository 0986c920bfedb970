/* A process's pipe streams released before their transports started:
 * aio_process_free right after aio_process_stdin / stdout (no iteration
 * between: connection_made and connection_lost still come to the
 * streams). ASan / Valgrind see a use after free; fds are counted. */
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

AL_TEST_SUITE(suite_process_free)
{
    ac_require_backend();
    Suite *s = suite_create("process_free");
    TCase *tc = al_tcase("process_free");
    tcase_add_test(tc, test_free_before_streams_start);
    suite_add_tcase(s, tc);
    return s;
}

/* Scenario 5, a subprocess: cat with stdin and stdout piped, communicate
 * (write, read to end of file, wait), free; and the same through the
 * process's stdio streams (write, close stdin, read_all, wait); every
 * allocation failing in turn. posix_spawn's own allocations are glibc's (not wrapped). */
#include "fa_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sub_st {
    fa_run run;
    bool echoed;
} sub_st;

static const char input[] = "hello, child\n";

/* cat with its stdin and stdout piped; NULL when that failed (recorded). */
static aio_process *spawn_cat(fa_run *r)
{
    static const char *const argv[] = {"cat", NULL};
    aio_subprocess_options o = {.stdin_fd = {.kind = AIO_STDIO_PIPE},
                                .stdout_fd = {.kind = AIO_STDIO_PIPE}};
    aio_process *p = NULL;
    if (fa_err(r, aio_create_subprocess_exec(al_get_running_loop(), argv, &o, &p)))
        return NULL;
    return p;
}

static int sub_main(void *arg, void **result)
{
    (void)result;
    sub_st *st = arg;
    fa_run *r = &st->run;
    aio_process *p = spawn_cat(r);
    if (!p)
        return 0;
    char *out = NULL;
    size_t len = 0;
    int status = -1;
    if (fa_err(r, aio_process_communicate(p, input, sizeof input - 1, &out, &len, NULL, NULL)) ==
        0) {
        aio_process_returncode(p, &status);
        st->echoed = status == 0 && len == sizeof input - 1 && memcmp(out, input, len) == 0;
    }
    free(out);
    fa_err(r, aio_process_free(p));
    return 0;
}

static int streams_main(void *arg, void **result)
{
    (void)result;
    sub_st *st = arg;
    fa_run *r = &st->run;
    aio_process *p = spawn_cat(r);
    if (!p)
        return 0;
    aio_stream_writer *in = NULL;
    aio_stream_reader *out = NULL;
    void *data = NULL;
    size_t len = 0;
    int status = -1;
    if (fa_err(r, aio_process_stdin(p, &in)) == 0 && fa_err(r, aio_process_stdout(p, &out)) == 0 &&
        fa_err(r, aio_stream_write(in, input, sizeof input - 1)) == 0 &&
        fa_err(r, aio_stream_drain(in)) == 0) {
        aio_stream_close(in);
        if (fa_err(r, aio_stream_read_all(out, &data, &len)) == 0 &&
            fa_err(r, aio_process_wait(p, &status)) == 0)
            st->echoed = status == 0 && len == sizeof input - 1 && memcmp(data, input, len) == 0;
    }
    free(data);
    fa_err(r, aio_process_free(p));
    return 0;
}

static int sub_scenario(void *arg)
{
    sub_st st = {0};
    int rc = fa_run_main(FA_IO_LOOP, arg ? streams_main : sub_main, &st.run);
    if (rc == 0 && !st.echoed)
        return FA_SILENT;
    return rc;
}

START_TEST(subprocess_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "subprocess/%s", al_test_impl);
    failalloc_sweep(name, sub_scenario, NULL, 1);
}
END_TEST

START_TEST(subprocess_streams_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "subprocess-streams/%s", al_test_impl);
    failalloc_sweep(name, sub_scenario, "streams", 1);
}
END_TEST

AL_TEST_SUITE(failalloc_subprocess)
{
    Suite *s = suite_create("failalloc_subprocess");
    if (!fa_pure_row()) {
        fa_require_backend();
        TCase *tc = al_tcase("subprocess");
        tcase_add_test(tc, subprocess_sweep);
        tcase_add_test(tc, subprocess_streams_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

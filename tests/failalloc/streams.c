/* Scenario 2, streams: start_server + open_connection, write / drain /
 * readline both ways, close, wait_closed; and over a Unix socket:
 * readuntil with two separators, readexactly, writelines, write_eof and
 * read_all; every allocation failing in turn. Reaches the streams' connection_lost without a
 * transport (a server's transport that could not be made after the factory). */
#include "fa_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct streams_st {
    fa_run run;
    int handlers; /* client callbacks run */
    bool echoed;
} streams_st;

static const char line[] = "ping\n";

static int echo_client(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    streams_st *st = arg;
    st->handlers++;
    void *data = NULL;
    size_t len = 0;
    int rc = aio_stream_readline(r, &data, &len);
    if (rc == 0 && len > 0)
        rc = aio_stream_write(w, data, len);
    if (rc == 0)
        rc = aio_stream_drain(w);
    free(data);
    return rc; /* an error is reported to the exception handler */
}

static int streams_main(void *arg, void **result)
{
    (void)result;
    streams_st *st = arg;
    fa_run *r = &st->run;
    al_loop *loop = al_get_running_loop();
    static const char *const hosts[] = {"127.0.0.1", NULL};
    aio_server *srv = NULL;
    if (fa_err(r, aio_start_server(loop, echo_client, st, hosts, 0, NULL, 0, &srv)))
        return 0;
    aio_stream_reader *rd = NULL;
    aio_stream_writer *wr = NULL;
    if (fa_err(r, aio_open_connection(loop, "127.0.0.1", aio_server_port(srv), NULL, 0, &rd,
                                      &wr)) == 0) {
        void *data = NULL;
        size_t len = 0;
        if (fa_err(r, aio_stream_write(wr, line, sizeof line - 1)) == 0 &&
            fa_err(r, aio_stream_drain(wr)) == 0 &&
            fa_err(r, aio_stream_readline(rd, &data, &len)) == 0)
            st->echoed = len == sizeof line - 1 && memcmp(data, line, len) == 0;
        free(data);
        aio_stream_close(wr);
        fa_err(r, aio_stream_wait_closed(wr));
        aio_stream_reader_free(rd);
        aio_stream_writer_free(wr);
    }
    aio_server_close(srv);
    fa_err(r, aio_server_wait_closed(srv));
    aio_server_free(srv);
    return 0;
}

static const char request[] = "hdr\r\n12345";

static int unix_client(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    streams_st *st = arg;
    st->handlers++;
    static const aio_sep seps[2] = {{"\n", 1}, {"\r\n", 2}};
    void *head = NULL, *rest = NULL;
    size_t hlen = 0, rlen = 0, got = 0;
    char body[5];
    int rc = aio_stream_readuntil(r, seps, 2, &head, &hlen);
    if (rc == 0)
        rc = aio_stream_readexactly(r, body, sizeof body, &got);
    if (rc == 0) {
        struct iovec iov[2] = {{head, hlen}, {body, sizeof body}};
        rc = aio_stream_writelines(w, iov, 2);
    }
    if (rc == 0)
        rc = aio_stream_drain(w);
    if (rc == 0)
        rc = aio_stream_read_all(r, &rest, &rlen); /* to the client's EOF */
    if (rc == 0 && rlen != 0)
        st->run.wrong = true;
    free(head);
    free(rest);
    return rc;
}

static int unix_main(void *arg, void **result)
{
    (void)result;
    streams_st *st = arg;
    fa_run *r = &st->run;
    al_loop *loop = al_get_running_loop();
    char path[64];
    snprintf(path, sizeof path, "/tmp/failalloc-streams-%d.sock", (int)getpid());
    aio_server *srv = NULL;
    if (fa_err(r, aio_start_unix_server(loop, unix_client, st, path, NULL, 0, &srv)))
        return 0;
    aio_stream_reader *rd = NULL;
    aio_stream_writer *wr = NULL;
    if (fa_err(r, aio_open_unix_connection(loop, path, 0, &rd, &wr)) == 0) {
        void *data = NULL;
        size_t len = 0;
        if (fa_err(r, aio_stream_write(wr, request, sizeof request - 1)) == 0 &&
            fa_err(r, aio_stream_write_eof(wr)) == 0 &&
            fa_err(r, aio_stream_read_all(rd, &data, &len)) == 0)
            st->echoed = len == sizeof request - 1 && memcmp(data, request, len) == 0;
        free(data);
        aio_stream_close(wr);
        fa_err(r, aio_stream_wait_closed(wr));
        aio_stream_reader_free(rd);
        aio_stream_writer_free(wr);
    }
    aio_server_close(srv);
    fa_err(r, aio_server_wait_closed(srv));
    aio_server_free(srv);
    return 0;
}

/* A sweep's scenario: one of the mains above, on the I/O loop; a run
 * that reports no error must have echoed. */
typedef struct streams_kind {
    const char *name;
    al_task_fn main;
} streams_kind;

static int streams_scenario(void *arg)
{
    const streams_kind *kind = arg;
    streams_st st = {0};
    int rc = fa_run_main(FA_IO_LOOP, kind->main, &st.run);
    if (rc == 0 && !st.echoed)
        return FA_SILENT;
    return rc;
}

static void streams_sweep_of(const streams_kind *kind)
{
    char name[64];
    snprintf(name, sizeof name, "%s/%s", kind->name, al_test_impl);
    failalloc_sweep(name, streams_scenario, (void *)kind, 1);
}

START_TEST(unix_streams_sweep)
{
    static const streams_kind kind = {"unix-streams", unix_main};
    streams_sweep_of(&kind);
}
END_TEST

START_TEST(streams_sweep)
{
    static const streams_kind kind = {"streams", streams_main};
    streams_sweep_of(&kind);
}
END_TEST

AL_TEST_SUITE(failalloc_streams)
{
    Suite *s = suite_create("failalloc_streams");
    if (!fa_pure_row()) {
        fa_require_backend();
        TCase *tc = al_tcase("streams");
        tcase_add_test(tc, streams_sweep);
        tcase_add_test(tc, unix_streams_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

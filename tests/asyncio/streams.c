/* Streams: the reader fed by hand (IO20-IO26), connections through
 * start_server / open_connection over IPv4, IPv6 and Unix, the reader's
 * transport flow control (IO28), drains (IO27), wait_closed, errors of the
 * client callback. */
#include "net_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static aio_stream_reader *reader(size_t limit)
{
    aio_stream_reader *r = NULL;
    ck_assert_int_eq(aio_stream_reader_new(ac_loop(), limit, &r), 0);
    return r;
}

static void feed(aio_stream_reader *r, const char *s)
{
    ck_assert_int_eq(aio_stream_feed_data(r, s, strlen(s)), 0);
}

static void expect(void *data, size_t len, const char *want)
{
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(len == 0 || memcmp(data, want, len) == 0);
    free(data);
}

/* ---- read (IO20) ----------------------------------------------------------------------- */

static int read_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    char buf[64];
    feed(r, "line1\nline2");
    ck_assert_int_eq(aio_stream_read(r, buf, 0), 0);
    ck_assert_int_eq(aio_stream_read(r, buf, 5), 5);
    ck_assert(memcmp(buf, "line1", 5) == 0);
    ck_assert_int_eq(aio_stream_read(r, buf, 5), 5);
    ck_assert(memcmp(buf, "\nline", 5) == 0);
    ck_assert_int_eq(aio_stream_read(r, buf, 64), 1); /* what is there, at most n */
    feed(r, "abc");
    aio_stream_feed_eof(r);
    ck_assert(!aio_stream_at_eof(r));
    ck_assert_int_eq(aio_stream_feed_data(r, "x", 1), -EINVAL); /* after EOF */
    void *d;
    size_t len;
    ck_assert_int_eq(aio_stream_read_all(r, &d, &len), 0);
    expect(d, len, "abc");
    ck_assert(aio_stream_at_eof(r));
    ck_assert_int_eq(aio_stream_read(r, buf, 64), 0);
    ck_assert_int_eq(aio_stream_read_all(r, &d, &len), 0);
    ck_assert_uint_eq(len, 0);
    aio_stream_reader_free(r);
    return 0;
}

START_TEST(test_read)
{
    ac_run_main(read_main, NULL);
}
END_TEST

/* A read waits for data fed later; a second concurrent read is refused. */
typedef struct rd {
    aio_stream_reader *r;
    char buf[64];
    ssize_t n;
    int rc;
    size_t got;
} rd;

static int read_task(void *arg, void **result)
{
    (void)result;
    rd *x = arg;
    x->n = aio_stream_read(x->r, x->buf, sizeof x->buf);
    return x->n < 0 ? (int)x->n : 0;
}

static int exactly_task(void *arg, void **result)
{
    (void)result;
    rd *x = arg;
    x->rc = aio_stream_readexactly(x->r, x->buf, 10, &x->got);
    return x->rc;
}

static int wait_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    rd x = {.r = r};
    al_task *t = ac_spawn(read_task, &x);
    al_sleep(0);
    char buf[4];
    ck_assert_int_eq(aio_stream_read(r, buf, 4), AL_EINVALIDSTATE);
    feed(r, "late");
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert_int_eq(x.n, 4);
    ck_assert(memcmp(x.buf, "late", 4) == 0);
    aio_stream_reader_free(r);
    return 0;
}

START_TEST(test_read_waits)
{
    ac_run_main(wait_main, NULL);
}
END_TEST

/* ---- readline (IO21, IO22) ------------------------------------------------------------- */

static int readline_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    void *d;
    size_t len;
    feed(r, "chunk1 ");
    feed(r, "chunk2 ");
    feed(r, "chunk3 \n chunk4");
    ck_assert_int_eq(aio_stream_readline(r, &d, &len), 0);
    expect(d, len, "chunk1 chunk2 chunk3 \n");
    ck_assert_uint_eq(aio_stream_buffered(r), 7);
    aio_stream_feed_eof(r);
    ck_assert_int_eq(aio_stream_readline(r, &d, &len), 0); /* the partial line */
    expect(d, len, " chunk4");
    ck_assert_int_eq(aio_stream_readline(r, &d, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_null(d);
    aio_stream_reader_free(r);

    /* limit: the too long line is dropped with its newline */
    r = reader(3);
    feed(r, "li");
    feed(r, "ne1\nline2\n");
    ck_assert_int_eq(aio_stream_readline(r, &d, &len), AIO_ELIMITOVERRUN);
    ck_assert_uint_eq(aio_stream_buffered(r), 6); /* "line2\n" */
    aio_stream_reader_free(r);
    r = reader(7);
    feed(r, "chunk1chunk2chunk3\n");
    ck_assert_int_eq(aio_stream_readline(r, &d, &len), AIO_ELIMITOVERRUN);
    ck_assert_uint_eq(aio_stream_buffered(r), 0);
    feed(r, "chunk1chunk2"); /* no newline: the buffer is cleared */
    ck_assert_int_eq(aio_stream_readline(r, &d, &len), AIO_ELIMITOVERRUN);
    ck_assert_uint_eq(aio_stream_buffered(r), 0);
    aio_stream_reader_free(r);
    return 0;
}

START_TEST(test_readline)
{
    ac_run_main(readline_main, NULL);
}
END_TEST

/* ---- readuntil (IO23, IO24) ------------------------------------------------------------ */

static int readuntil_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    void *d;
    size_t len;
    aio_sep aaa = {"AAA", 3};
    aio_stream_reader *r = reader(3);
    feed(r, "some dataAA");
    ck_assert_int_eq(aio_stream_readuntil(r, &aaa, 1, &d, &len), AIO_ELIMITOVERRUN);
    ck_assert_uint_eq(aio_stream_buffered(r), 11); /* "not found": intact */
    feed(r, "A");
    ck_assert_int_eq(aio_stream_readuntil(r, &aaa, 1, &d, &len), AIO_ELIMITOVERRUN);
    ck_assert_uint_eq(len, 9); /* "is found", consumed 9 */
    ck_assert_uint_eq(aio_stream_buffered(r), 12);
    aio_stream_reader_free(r);

    r = reader(0);
    feed(r, "some dataAA");
    aio_stream_feed_eof(r);
    ck_assert_int_eq(aio_stream_readuntil(r, &aaa, 1, &d, &len), AIO_EINCOMPLETE);
    expect(d, len, "some dataAA");
    ck_assert_uint_eq(aio_stream_buffered(r), 0);
    aio_stream_reader_free(r);

    r = reader(0);
    aio_sep two[2] = {{"\n", 1}, {"\r", 1}};
    feed(r, "line 1\nline 2\r");
    ck_assert_int_eq(aio_stream_readuntil(r, two, 2, &d, &len), 0);
    expect(d, len, "line 1\n");
    ck_assert_int_eq(aio_stream_readuntil(r, two, 2, &d, &len), 0);
    expect(d, len, "line 2\r");
    aio_sep ends[2] = {{"BCDEF", 5}, {"CDE", 3}};
    feed(r, "ABCDEFG");
    ck_assert_int_eq(aio_stream_readuntil(r, ends, 2, &d, &len), 0);
    expect(d, len, "ABCDE"); /* the earliest end wins */
    aio_sep empty = {"", 0};
    ck_assert_int_eq(aio_stream_readuntil(r, &empty, 1, &d, &len), -EINVAL);
    ck_assert_int_eq(aio_stream_readuntil(r, two, 0, &d, &len), -EINVAL);
    aio_stream_reader_free(r);
    return 0;
}

START_TEST(test_readuntil)
{
    ac_run_main(readuntil_main, NULL);
}
END_TEST

/* A separator split over chunks that arrive while the read waits. */
typedef struct until {
    aio_stream_reader *r;
    void *d;
    size_t len;
    int rc;
} until;

static int until_task(void *arg, void **result)
{
    (void)result;
    until *u = arg;
    aio_sep aaa = {"aaa", 3};
    u->rc = aio_stream_readuntil(u->r, &aaa, 1, &u->d, &u->len);
    return u->rc;
}

static int split_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    until u = {.r = reader(0)};
    al_task *t = ac_spawn(until_task, &u);
    const char *chunks[] = {"QWEaa", "XYaa", "a"};
    for (int i = 0; i < 3; i++) {
        al_sleep(0);
        feed(u.r, chunks[i]);
    }
    ck_assert_int_eq(ac_join(t), 0);
    expect(u.d, u.len, "QWEaaXYaaa");
    aio_stream_reader_free(u.r);
    return 0;
}

START_TEST(test_readuntil_split)
{
    ac_run_main(split_main, NULL);
}
END_TEST

/* ---- readexactly (IO25) ------------------------------------------------------------------ */

static int exactly_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    const char *line = "line1\nline2\nline3\n"; /* 18 */
    aio_stream_reader *r = reader(3);           /* the limit does not apply */
    for (int i = 0; i < 3; i++)
        feed(r, line);
    char buf[64];
    size_t got;
    ck_assert_int_eq(aio_stream_readexactly(r, buf, 36, &got), 0);
    ck_assert_uint_eq(got, 36);
    ck_assert(memcmp(buf, line, 18) == 0 && memcmp(buf + 18, line, 18) == 0);
    ck_assert_uint_eq(aio_stream_buffered(r), 18);
    ck_assert_int_eq(aio_stream_readexactly(r, buf, 0, &got), 0);
    aio_stream_feed_eof(r);
    ck_assert_int_eq(aio_stream_readexactly(r, buf, 36, &got), AIO_EINCOMPLETE);
    ck_assert_uint_eq(got, 18); /* 18 bytes read on a total of 36 expected */
    ck_assert(memcmp(buf, line, 18) == 0);
    ck_assert_uint_eq(aio_stream_buffered(r), 0);
    aio_stream_reader_free(r);
    return 0;
}

START_TEST(test_readexactly)
{
    ac_run_main(exactly_main, NULL);
}
END_TEST

/* ---- errors and cancellation (IO26) ------------------------------------------------------- */

static int error_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    rd x = {.r = r};
    al_task *t = ac_spawn(read_task, &x);
    al_sleep(0);
    aio_stream_set_error(r, -ECONNRESET);
    ck_assert_int_eq(ac_join(t), -ECONNRESET); /* the waiting read wakes with it */
    ck_assert_int_eq(aio_stream_reader_error(r), -ECONNRESET);
    char buf[4];
    ck_assert_int_eq(aio_stream_read(r, buf, 4), -ECONNRESET);
    void *d;
    size_t len;
    ck_assert_int_eq(aio_stream_readline(r, &d, &len), -ECONNRESET);
    aio_stream_reader_free(r);
    return 0;
}

START_TEST(test_reader_error)
{
    ac_run_main(error_main, NULL);
}
END_TEST

static int cancel_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    rd x = {.r = r};
    al_task *t = ac_spawn(exactly_task, &x);
    al_sleep(0);
    feed(r, "01234");
    al_sleep(0);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(ac_join(t), AL_ECANCELLED);
    ck_assert_uint_eq(aio_stream_buffered(r), 5); /* nothing lost */
    /* no waiter left behind: the next read works */
    rd y = {.r = r};
    t = ac_spawn(exactly_task, &y);
    al_sleep(0);
    feed(r, "56789");
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert(memcmp(y.buf, "0123456789", 10) == 0);
    aio_stream_reader_free(r);
    return 0;
}

START_TEST(test_cancelled_read_loses_nothing)
{
    ac_run_main(cancel_main, NULL);
}
END_TEST

/* ---- connections ---------------------------------------------------------------------------- */

static int echo_lines(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    (void)arg;
    for (;;) {
        void *d;
        size_t len;
        int rc = aio_stream_readline(r, &d, &len);
        if (rc < 0)
            return rc;
        if (len == 0)
            return 0;
        rc = aio_stream_write(w, d, len);
        free(d);
        if (rc == 0)
            rc = aio_stream_drain(w);
        if (rc < 0)
            return rc;
    }
}

typedef struct fam_case {
    ac_family f;
} fam_case;

static aio_server *stream_server(ac_family f, aio_client_fn fn, void *arg, size_t limit, char *path)
{
    aio_server *s = NULL;
    int rc;
    if (f == AC_UNIX) {
        nu_path(path, 108);
        rc = aio_start_unix_server(ac_loop(), fn, arg, path, NULL, limit, &s);
    } else {
        const char *hosts[] = {nu_host(f), NULL};
        rc = aio_start_server(ac_loop(), fn, arg, hosts, 0, NULL, limit, &s);
    }
    ck_assert_msg(rc == 0, "start_server: %s", aio_strerror(rc));
    return s;
}

static void stream_connect(ac_family f, aio_server *s, const char *path, aio_stream_reader **r,
                           aio_stream_writer **w)
{
    int rc = f == AC_UNIX
                 ? aio_open_unix_connection(ac_loop(), path, 0, r, w)
                 : aio_open_connection(ac_loop(), nu_host(f), aio_server_port(s), NULL, 0, r, w);
    ck_assert_msg(rc == 0, "open_connection: %s", aio_strerror(rc));
}

static int stream_echo_main(void *arg, void **result)
{
    (void)result;
    fam_case *c = arg;
    char path[108];
    aio_server *srv = stream_server(c->f, echo_lines, NULL, 0, path);
    aio_stream_reader *r;
    aio_stream_writer *w;
    stream_connect(c->f, srv, path, &r, &w);
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    ck_assert_int_eq(aio_transport_peername(aio_stream_transport(w), &peer, &plen), 0);
    ck_assert(aio_stream_can_write_eof(w));
    for (int i = 0; i < 50; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        ck_assert_int_eq(aio_stream_write(w, line, (size_t)n), 0);
        ck_assert_int_eq(aio_stream_drain(w), 0);
        void *d;
        size_t len;
        ck_assert_int_eq(aio_stream_readline(r, &d, &len), 0);
        expect(d, len, line);
    }
    struct iovec iov[2] = {{"a\nb", 3}, {"\n", 1}};
    ck_assert_int_eq(aio_stream_writelines(w, iov, 2), 0);
    ck_assert_int_eq(aio_stream_write_eof(w), 0);
    void *d;
    size_t len;
    ck_assert_int_eq(aio_stream_read_all(r, &d, &len), 0); /* the echo, then the server's EOF */
    expect(d, len, "a\nb\n");
    ck_assert(aio_stream_at_eof(r));
    aio_stream_close(w);
    ck_assert(aio_stream_is_closing(w));
    ck_assert_int_eq(aio_stream_wait_closed(w), 0);
    ck_assert_int_eq(aio_stream_wait_closed(w), 0);
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    aio_stream_reader_free(r);
    aio_stream_writer_free(w);
    aio_server_free(srv);
    return 0;
}

START_TEST(test_stream_echo)
{
    NU_NEED_FAMILY(_i);
    int before = ac_open_fds();
    fam_case c = {.f = _i};
    ac_run_main(stream_echo_main, &c);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

/* ---- flow control of the reader (IO28) and drains (IO27) ------------------------------------- */

typedef struct gate {
    al_future *open; /* the server's callback reads once this is done */
    aio_stream_reader *r;
    aio_transport *t;
    size_t max_buffered;
    size_t total;
    int rc;
} gate;

static int slow_reader(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    gate *g = arg;
    g->r = r;
    g->t = aio_stream_transport(w);
    int rc = al_await(g->open);
    if (rc < 0)
        return rc;
    char buf[4096];
    ssize_t n;
    while ((n = aio_stream_read(r, buf, sizeof buf)) > 0)
        g->total += (size_t)n;
    g->rc = (int)n;
    return 0;
}

static bool transport_paused(void *arg)
{
    gate *g = arg;
    return g->t && !aio_transport_is_reading(g->t);
}

typedef struct drainer {
    aio_stream_writer *w;
    int rc;
    bool done;
} drainer;

static int drain_task(void *arg, void **result)
{
    (void)result;
    drainer *d = arg;
    d->rc = aio_stream_drain(d->w);
    d->done = true;
    return 0;
}

static int flow_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    gate g = {0};
    ck_assert_int_eq(al_future_new(ac_loop(), &g.open), 0);
    char path[108];
    size_t limit = 1000;
    aio_server *srv = stream_server(AC_INET, slow_reader, &g, limit, path);
    aio_stream_reader *r;
    aio_stream_writer *w;
    stream_connect(AC_INET, srv, path, &r, &w);
    size_t n = 4 << 20, chunk = 65536;
    unsigned char *data = calloc(1, n);
    size_t off = 0;
    /* write until the writer must wait: the server's reader has paused its
     * transport, the kernel buffers are full, our buffer is above 64 KiB */
    while (off < n) {
        ck_assert_int_eq(aio_stream_write(w, data + off, chunk), 0);
        off += chunk;
        if (aio_transport_get_write_buffer_size(aio_stream_transport(w)) > 65536)
            break;
    }
    ck_assert_uint_lt(off, n);
    ck_assert(sm_until(transport_paused, &g, 5));
    /* the reader holds at most 2 * limit plus one read's worth */
    ck_assert_uint_le(aio_stream_buffered(g.r), 2 * limit + 65536);
    ck_assert_uint_gt(aio_stream_buffered(g.r), 2 * limit);
    /* ten concurrent drains, all released together */
    drainer d[10];
    al_task *t[10];
    for (int i = 0; i < 10; i++) {
        d[i] = (drainer){.w = w};
        t[i] = ac_spawn(drain_task, &d[i]);
    }
    al_sleep(0.02);
    for (int i = 0; i < 10; i++)
        ck_assert(!d[i].done);
    al_future_set_result(g.open, NULL, NULL); /* the server reads now */
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(ac_join(t[i]), 0);
        ck_assert_int_eq(d[i].rc, 0);
    }
    aio_stream_close(w);
    ck_assert_int_eq(aio_stream_wait_closed(w), 0);
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    ck_assert_uint_eq(g.total, off);
    ck_assert_int_eq(g.rc, 0);
    aio_stream_reader_free(r);
    aio_stream_writer_free(w);
    aio_server_free(srv);
    al_future_unref(g.open);
    free(data);
    return 0;
}

START_TEST(test_flow_and_drains)
{
    ac_run_main(flow_main, NULL);
}
END_TEST

/* The peer goes away under a writer: drain reports it, never spins. */
static int leave_at_once(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    (void)r;
    (void)arg;
    aio_transport_abort(aio_stream_transport(w));
    return 0;
}

static int drain_error_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char path[108];
    aio_server *srv = stream_server(AC_INET, leave_at_once, NULL, 0, path);
    aio_stream_reader *r;
    aio_stream_writer *w;
    stream_connect(AC_INET, srv, path, &r, &w);
    unsigned char *data = calloc(1, 65536);
    int rc = 0;
    for (int i = 0; i < 200 && rc == 0; i++) {
        rc = aio_stream_write(w, data, 65536);
        if (rc == 0)
            rc = aio_stream_drain(w);
    }
    ck_assert_msg(rc == -ECONNRESET || rc == -EPIPE, "drain: %s", aio_strerror(rc));
    ck_assert_int_eq(aio_stream_drain(w), rc); /* again: the same, at once */
    ck_assert_int_eq(aio_stream_wait_closed(w), rc);
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    aio_stream_reader_free(r);
    aio_stream_writer_free(w);
    aio_server_free(srv);
    free(data);
    return 0;
}

START_TEST(test_drain_peer_gone)
{
    ac_run_main(drain_error_main, NULL);
}
END_TEST

/* write + drain after our own close: -ECONNRESET; close during a pending
 * drain releases it. */
static int never_reads(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    (void)r;
    (void)arg;
    aio_stream_wait_closed(w); /* until the server closes it, reading nothing */
    return 0;
}

static int close_drain_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char path[108];
    aio_server *srv = stream_server(AC_UNIX, never_reads, NULL, 0, path);
    aio_stream_reader *r;
    aio_stream_writer *w;
    stream_connect(AC_UNIX, srv, path, &r, &w);
    unsigned char *data = calloc(1, 65536);
    /* far more than the kernel and the peer's paused reader hold */
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(aio_stream_write(w, data, 65536), 0);
    al_sleep(0.01);
    ck_assert_uint_gt(aio_transport_get_write_buffer_size(aio_stream_transport(w)), 65536);
    drainer d = {.w = w};
    al_task *t = ac_spawn(drain_task, &d);
    al_sleep(0.01);
    ck_assert(!d.done);
    aio_transport_abort(aio_stream_transport(w));
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert(d.done);
    ck_assert_int_eq(aio_stream_write(w, "x", 1), -ECONNRESET);
    ck_assert_int_eq(aio_stream_drain(w), -ECONNRESET);
    char c;
    ck_assert_int_eq(aio_stream_read(r, &c, 1), 0); /* the reader is at EOF */
    aio_server_close(srv);
    aio_server_close_clients(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    aio_stream_reader_free(r);
    aio_stream_writer_free(w);
    aio_server_free(srv);
    free(data);
    return 0;
}

START_TEST(test_close_during_drain)
{
    ac_run_main(close_drain_main, NULL);
}
END_TEST

/* An error returned by the client callback reaches the exception handler
 * and the connection is closed. */
static int fails(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    (void)r;
    (void)w;
    (void)arg;
    return -EIO;
}

static void note(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop;
    *(int *)user = ctx->error;
}

static int callback_error_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int seen = 0;
    al_loop_set_exception_handler(ac_loop(), note, &seen);
    char path[108];
    aio_server *srv = stream_server(AC_INET, fails, NULL, 0, path);
    aio_stream_reader *r;
    aio_stream_writer *w;
    stream_connect(AC_INET, srv, path, &r, &w);
    void *d;
    size_t len;
    ck_assert_int_eq(aio_stream_read_all(r, &d, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(seen, -EIO);
    aio_stream_reader_free(r);
    aio_stream_writer_free(w);
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    aio_server_free(srv);
    return 0;
}

START_TEST(test_callback_error)
{
    ac_run_main(callback_error_main, NULL);
}
END_TEST

AL_TEST_SUITE(suite_streams)
{
    ac_require_backend();
    Suite *s = suite_create("streams");
    TCase *tc = al_tcase("streams");
    tcase_add_test(tc, test_read);
    tcase_add_test(tc, test_read_waits);
    tcase_add_test(tc, test_readline);
    tcase_add_test(tc, test_readuntil);
    tcase_add_test(tc, test_readuntil_split);
    tcase_add_test(tc, test_readexactly);
    tcase_add_test(tc, test_reader_error);
    tcase_add_test(tc, test_cancelled_read_loses_nothing);
    tcase_add_loop_test(tc, test_stream_echo, 0, AC_NFAMILIES);
    tcase_add_test(tc, test_flow_and_drains);
    tcase_add_test(tc, test_drain_peer_gone);
    tcase_add_test(tc, test_close_during_drain);
    tcase_add_test(tc, test_callback_error);
    suite_add_tcase(s, tc);
    return s;
}

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

/* A test running fn as the main task of a fresh loop. */
#define MAIN_TEST(name, fn)                                                                        \
    START_TEST(name)                                                                               \
    {                                                                                              \
        ac_run_main(fn, NULL);                                                                     \
    }                                                                                              \
    END_TEST

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

MAIN_TEST(test_read, read_main)

/* A read waits for data fed later; a second concurrent read is refused. */
typedef struct rd {
    aio_stream_reader *r;
    char buf[64];
    size_t want; /* read's n (0: sizeof buf) */
    ssize_t n;
    int rc;
    size_t got;
} rd;

static int read_task(void *arg, void **result)
{
    (void)result;
    rd *x = arg;
    x->n = aio_stream_read(x->r, x->buf, x->want ? x->want : sizeof x->buf);
    return x->n < 0 ? (int)x->n : 0;
}

static int exactly_task(void *arg, void **result)
{
    (void)result;
    rd *x = arg;
    x->rc = aio_stream_readexactly(x->r, x->buf, x->want ? x->want : 10, &x->got);
    return x->rc;
}

/* fn(x) started and waiting for data. */
static al_task *waiting(al_task_fn fn, rd *x)
{
    al_task *t = ac_spawn(fn, x);
    al_sleep(0);
    return t;
}

/* Cancels t and joins it: its status. */
static int cancel_join(al_task *t)
{
    al_task_cancel(t, NULL);
    return ac_join(t);
}

static int wait_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    rd x = {.r = r};
    al_task *t = waiting(read_task, &x);
    char buf[4];
    ck_assert_int_eq(aio_stream_read(r, buf, 4), AL_EINVALIDSTATE);
    feed(r, "late");
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert_int_eq(x.n, 4);
    ck_assert(memcmp(x.buf, "late", 4) == 0);
    aio_stream_reader_free(r);
    return 0;
}

MAIN_TEST(test_read_waits, wait_main)

/* A waiting read of n gets at most n of what arrives, the rest is
 * buffered behind it in order. */
static int overflow_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    rd x = {.r = r, .want = 4};
    al_task *t = waiting(read_task, &x);
    feed(r, "0123456789");
    ck_assert_uint_eq(aio_stream_buffered(r), 6);
    feed(r, "ab");
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert_int_eq(x.n, 4);
    ck_assert(memcmp(x.buf, "0123", 4) == 0);
    char buf[64];
    ck_assert_int_eq(aio_stream_read(r, buf, sizeof buf), 8);
    ck_assert(memcmp(buf, "456789ab", 8) == 0);
    aio_stream_reader_free(r);
    return 0;
}

MAIN_TEST(test_read_overflow_buffered, overflow_main)

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

MAIN_TEST(test_readline, readline_main)

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

MAIN_TEST(test_readuntil, readuntil_main)

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

MAIN_TEST(test_readuntil_split, split_main)

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

MAIN_TEST(test_readexactly, exactly_main)

/* ---- errors and cancellation (IO26) ------------------------------------------------------- */

static int error_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    rd x = {.r = r};
    al_task *t = waiting(read_task, &x);
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

MAIN_TEST(test_reader_error, error_main)

static int cancel_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    rd x = {.r = r};
    al_task *t = waiting(exactly_task, &x);
    feed(r, "01234");
    al_sleep(0);
    ck_assert_int_eq(cancel_join(t), AL_ECANCELLED);
    ck_assert_uint_eq(aio_stream_buffered(r), 5); /* nothing lost */
    /* no waiter left behind: the next read works */
    rd y = {.r = r};
    t = waiting(exactly_task, &y);
    feed(r, "56789");
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert(memcmp(y.buf, "0123456789", 10) == 0);
    aio_stream_reader_free(r);
    return 0;
}

MAIN_TEST(test_cancelled_read_loses_nothing, cancel_main)

/* A read woken by its data but cancelled before it ran: the data goes
 * back in front of what arrived since, nothing lost, order kept. */
static int cancel_woken_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_stream_reader *r = reader(0);
    rd x = {.r = r};
    al_task *t = waiting(read_task, &x);
    feed(r, "abc");
    ck_assert_int_eq(cancel_join(t), AL_ECANCELLED);
    ck_assert_uint_eq(aio_stream_buffered(r), 3);
    /* the same for readexactly, with bytes taken from the buffer first */
    rd y = {.r = r};
    t = waiting(exactly_task, &y);
    feed(r, "defgh");
    al_sleep(0);
    feed(r, "i");
    ck_assert_int_eq(cancel_join(t), AL_ECANCELLED);
    ck_assert_uint_eq(aio_stream_buffered(r), 9);
    feed(r, "jk");
    char buf[16];
    size_t got;
    ck_assert_int_eq(aio_stream_readexactly(r, buf, 11, &got), 0);
    ck_assert(memcmp(buf, "abcdefghijk", 11) == 0);
    /* an error after part of a readexactly arrived: the error, data kept */
    rd z = {.r = r};
    t = waiting(exactly_task, &z);
    feed(r, "xyz");
    aio_stream_set_error(r, -ECONNRESET);
    ck_assert_int_eq(ac_join(t), -ECONNRESET);
    ck_assert_uint_eq(z.got, 0);
    ck_assert_uint_eq(aio_stream_buffered(r), 3);
    aio_stream_reader_free(r);
    return 0;
}

MAIN_TEST(test_cancelled_woken_read, cancel_woken_main)

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

/* A server running fn and one client connection to it. */
typedef struct conn {
    aio_server *srv;
    aio_stream_reader *r;
    aio_stream_writer *w;
    char path[108];
} conn;

static void conn_open(conn *c, ac_family f, aio_client_fn fn, void *arg, size_t limit)
{
    c->srv = stream_server(f, fn, arg, limit, c->path);
    stream_connect(f, c->srv, c->path, &c->r, &c->w);
}

/* Closes the server and its clients, waits for them, frees everything. */
static void conn_end(conn *c)
{
    aio_server_close(c->srv);
    aio_server_close_clients(c->srv);
    ck_assert_int_eq(aio_server_wait_closed(c->srv), 0);
    aio_stream_reader_free(c->r);
    aio_stream_writer_free(c->w);
    aio_server_free(c->srv);
}

static int stream_echo_main(void *arg, void **result)
{
    (void)result;
    fam_case *c = arg;
    conn k;
    conn_open(&k, c->f, echo_lines, NULL, 0);
    aio_stream_reader *r = k.r;
    aio_stream_writer *w = k.w;
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
    conn_end(&k);
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

/* read() straight into the caller's memory and readexactly over a real
 * connection: 256 KiB of varied bytes echoed back whole and in order. */
static int echo_reads(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    (void)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = aio_stream_read(r, buf, sizeof buf);
        if (n <= 0)
            return (int)n;
        int rc = aio_stream_write(w, buf, (size_t)n);
        if (rc == 0)
            rc = aio_stream_drain(w);
        if (rc < 0)
            return rc;
    }
}

static int read_echo_main(void *arg, void **result)
{
    (void)result;
    fam_case *c = arg;
    conn k;
    conn_open(&k, c->f, echo_reads, NULL, 0);
    size_t n = 256 << 10;
    unsigned char *out = malloc(n), *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)(i * 7 + i / 251);
    ck_assert_int_eq(aio_stream_write(k.w, out, n), 0);
    ck_assert_int_eq(aio_stream_write_eof(k.w), 0);
    size_t off = 0, got;
    while (off + 777 <= n) {
        ck_assert_int_eq(aio_stream_readexactly(k.r, in + off, 777, &got), 0);
        off += got;
    }
    ck_assert_int_eq(aio_stream_readexactly(k.r, in + off, n - off, &got), 0);
    ck_assert(memcmp(in, out, n) == 0);
    char c1;
    ck_assert_int_eq(aio_stream_read(k.r, &c1, 1), 0); /* the server's EOF */
    conn_end(&k);
    free(out);
    free(in);
    return 0;
}

START_TEST(test_read_echo)
{
    NU_NEED_FAMILY(_i);
    fam_case c = {.f = _i};
    ac_run_main(read_echo_main, &c);
}
END_TEST

/* Writes appended while the transport is part-way through sending its
 * buffer (a reader slower than the writer): every byte arrives, in order. */
static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

typedef struct checker {
    size_t total;
    bool ok;
} checker;

static int slow_check(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    (void)w;
    checker *c = arg;
    unsigned char buf[3000];
    ssize_t n;
    c->ok = true;
    while ((n = aio_stream_read(r, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            c->ok = c->ok && buf[i] == pattern(c->total + (size_t)i);
        c->total += (size_t)n;
        if (c->total % 7 == 0)
            al_sleep(0.0005); /* now and then slower than the writer */
    }
    return (int)n;
}

static int append_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    checker c = {0};
    conn k;
    conn_open(&k, AC_UNIX, slow_check, &c, 0);
    size_t chunk = 10000, n = 120 * chunk;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = pattern(i);
    for (size_t off = 0; off < n; off += chunk) {
        ck_assert_int_eq(aio_stream_write(k.w, data + off, chunk), 0);
        if (off % (4 * chunk) == 0)
            al_sleep(0); /* let the transport send part of its buffer */
    }
    ck_assert_int_eq(aio_stream_write_eof(k.w), 0);
    void *d;
    size_t len;
    ck_assert_int_eq(aio_stream_read_all(k.r, &d, &len), 0); /* the server closed */
    ck_assert_uint_eq(c.total, n);
    ck_assert(c.ok);
    conn_end(&k);
    free(data);
    return 0;
}

MAIN_TEST(test_appends_while_sending, append_main)

/* A one-byte-at-a-time sender under a readexactly that is cancelled: the
 * bytes that had arrived are buffered again, none lost. */
typedef struct trickling {
    bool sent; /* the server wrote its 10 bytes */
    bool done; /* its callback returned */
} trickling;

static int trickle(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    trickling *tr = arg;
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++) {
        char b = (char)('0' + i);
        rc = aio_stream_write(w, &b, 1);
        if (rc == 0)
            rc = aio_stream_drain(w);
        if (rc == 0 && i < 9)
            rc = al_sleep(0.001);
    }
    tr->sent = rc == 0;
    char c;
    if (rc == 0)
        rc = (int)aio_stream_read(r, &c, 1); /* until the client closes */
    tr->done = true;
    return rc;
}

static bool trickle_done(void *arg)
{
    return ((trickling *)arg)->done;
}

static bool trickle_sent(void *arg)
{
    return ((trickling *)arg)->sent;
}

typedef struct holds {
    aio_stream_reader *r;
    size_t n;
} holds;

static bool buffered_n(void *arg)
{
    holds *h = arg;
    return aio_stream_buffered(h->r) == h->n;
}

static int trickle_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    trickling tr = {0};
    conn k;
    conn_open(&k, AC_INET, trickle, &tr, 0);
    rd x = {.r = k.r};
    ck_assert_int_eq(ac_join(ac_spawn(exactly_task, &x)), 0);
    ck_assert(memcmp(x.buf, "0123456789", 10) == 0);
    aio_stream_close(k.w);
    ck_assert(sm_until(trickle_done, &tr, 10));
    conn_end(&k);
    /* waiting for 20, cancelled once the 10 were sent */
    tr = (trickling){0};
    conn_open(&k, AC_INET, trickle, &tr, 0);
    x = (rd){.r = k.r, .want = 20};
    al_task *t = ac_spawn(exactly_task, &x);
    ck_assert(sm_until(trickle_sent, &tr, 10));
    ck_assert_int_eq(cancel_join(t), AL_ECANCELLED);
    holds h = {k.r, 10};
    ck_assert(sm_until(buffered_n, &h, 10));
    char buf[10];
    ck_assert_int_eq(aio_stream_readexactly(k.r, buf, 10, NULL), 0);
    ck_assert(memcmp(buf, "0123456789", 10) == 0);
    aio_stream_close(k.w);
    ck_assert(sm_until(trickle_done, &tr, 10));
    conn_end(&k);
    return 0;
}

MAIN_TEST(test_trickle_cancelled, trickle_main)

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
    size_t limit = 1000;
    conn k;
    conn_open(&k, AC_INET, slow_reader, &g, limit);
    aio_stream_writer *w = k.w;
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
    /* ten concurrent drains, all released together; one cancelled
     * before touches none of the others */
    drainer d[10];
    al_task *t[10];
    for (int i = 0; i < 10; i++) {
        d[i] = (drainer){.w = w};
        t[i] = ac_spawn(drain_task, &d[i]);
    }
    al_sleep(0.02);
    for (int i = 0; i < 10; i++)
        ck_assert(!d[i].done);
    ck_assert_int_eq(al_task_cancel(t[3], NULL), 1);
    ck_assert_int_eq(ac_join(t[3]), 0);
    ck_assert_int_eq(d[3].rc, AL_ECANCELLED);
    al_sleep(0);
    for (int i = 0; i < 10; i++)
        ck_assert(i == 3 || !d[i].done);
    al_future_set_result(g.open, NULL, NULL); /* the server reads now */
    for (int i = 0; i < 10; i++) {
        if (i == 3)
            continue;
        ck_assert_int_eq(ac_join(t[i]), 0);
        ck_assert_int_eq(d[i].rc, 0);
    }
    aio_stream_close(w);
    ck_assert_int_eq(aio_stream_wait_closed(w), 0);
    aio_server_close(k.srv);
    ck_assert_int_eq(aio_server_wait_closed(k.srv), 0);
    ck_assert_uint_eq(g.total, off);
    ck_assert_int_eq(g.rc, 0);
    conn_end(&k);
    al_future_unref(g.open);
    free(data);
    return 0;
}

MAIN_TEST(test_flow_and_drains, flow_main)

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
    conn k;
    conn_open(&k, AC_INET, leave_at_once, NULL, 0);
    aio_stream_writer *w = k.w;
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
    conn_end(&k);
    free(data);
    return 0;
}

MAIN_TEST(test_drain_peer_gone, drain_error_main)

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
    conn k;
    conn_open(&k, AC_UNIX, never_reads, NULL, 0);
    aio_stream_writer *w = k.w;
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
    ck_assert_int_eq(aio_stream_read(k.r, &c, 1), 0); /* the reader is at EOF */
    conn_end(&k);
    free(data);
    return 0;
}

MAIN_TEST(test_close_during_drain, close_drain_main)

/* wait_closed from several tasks: cancelling one waiter cancels nothing
 * shared (asyncio's StreamWriter.wait_closed awaits its protocol's closed
 * future directly, so there a cancelled waiter cancels it for every later
 * one; here each waits through a shield). */
typedef struct closer {
    aio_stream_writer *w;
    int rc;
    bool done;
} closer;

static int closed_task(void *arg, void **result)
{
    (void)result;
    closer *c = arg;
    c->rc = aio_stream_wait_closed(c->w);
    c->done = true;
    return 0;
}

static int wait_closed_cancel_main(void *arg, void **result)
{
    (void)result;
    conn k;
    conn_open(&k, (ac_family)AC_PV(arg), never_reads, NULL, 0);
    closer c[3] = {{.w = k.w}, {.w = k.w}, {.w = k.w}};
    al_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = ac_spawn(closed_task, &c[i]);
    for (int i = 0; i < 3; i++)
        al_sleep(0); /* all three wait */
    ck_assert(!c[0].done && !c[1].done && !c[2].done);
    ck_assert_int_eq(al_task_cancel(t[1], NULL), 1);
    ck_assert_int_eq(ac_join(t[1]), 0);
    ck_assert_int_eq(c[1].rc, AL_ECANCELLED);
    al_sleep(0);
    ck_assert(!c[0].done && !c[2].done); /* still waiting for the close */
    aio_stream_close(k.w);
    ck_assert_int_eq(ac_join(t[0]), 0);
    ck_assert_int_eq(ac_join(t[2]), 0);
    ck_assert_int_eq(c[0].rc, 0);
    ck_assert_int_eq(c[2].rc, 0);
    ck_assert_int_eq(aio_stream_wait_closed(k.w), 0); /* and a later call */
    conn_end(&k);
    return 0;
}

START_TEST(test_wait_closed_cancel_one)
{
    NU_NEED_FAMILY(_i);
    ac_run_main(wait_closed_cancel_main, AC_VP(_i));
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
    conn k;
    conn_open(&k, AC_INET, fails, NULL, 0);
    void *d;
    size_t len;
    ck_assert_int_eq(aio_stream_read_all(k.r, &d, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(seen, -EIO);
    conn_end(&k);
    return 0;
}

MAIN_TEST(test_callback_error, callback_error_main)

AL_TEST_SUITE(suite_streams)
{
    ac_require_backend();
    Suite *s = suite_create("streams");
    TCase *tc = al_tcase("streams");
    tcase_add_test(tc, test_read);
    tcase_add_test(tc, test_read_waits);
    tcase_add_test(tc, test_read_overflow_buffered);
    tcase_add_test(tc, test_readline);
    tcase_add_test(tc, test_readuntil);
    tcase_add_test(tc, test_readuntil_split);
    tcase_add_test(tc, test_readexactly);
    tcase_add_test(tc, test_reader_error);
    tcase_add_test(tc, test_cancelled_read_loses_nothing);
    tcase_add_test(tc, test_cancelled_woken_read);
    tcase_add_loop_test(tc, test_stream_echo, 0, AC_NFAMILIES);
    tcase_add_loop_test(tc, test_read_echo, 0, AC_NFAMILIES);
    tcase_add_test(tc, test_trickle_cancelled);
    tcase_add_test(tc, test_appends_while_sending);
    tcase_add_test(tc, test_flow_and_drains);
    tcase_add_test(tc, test_drain_peer_gone);
    tcase_add_test(tc, test_close_during_drain);
    tcase_add_test(tc, test_callback_error);
    tcase_add_loop_test(tc, test_wait_closed_cancel_one, 0, AC_NFAMILIES);
    suite_add_tcase(s, tc);
    return s;
}

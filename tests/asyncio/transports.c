/* Stream transports through servers and connections over IPv4, IPv6 and
 * Unix sockets: the exchange with the protocol order checked (IO16),
 * writes and flow control (IO9, IO10), write_eof (IO11), close / abort /
 * writes after close (IO12, IO15), eof_received (IO13), pause / resume
 * reading (IO14), the buffered protocol (IO17), extra info. */
#include "net_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char *pattern(size_t n)
{
    unsigned char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 + i / 251);
    return p;
}

typedef struct fam_case {
    ac_family f;
} fam_case;

/* ---- the exchange ---------------------------------------------------------------- */

static int echo_main(void *arg, void **result)
{
    (void)result;
    fam_case *c = arg;
    al_loop *loop = ac_loop();
    sm_pool pool;
    sm_pool_init(&pool, loop, 1);
    pool.echo = true;
    char path[108];
    aio_server *srv = nu_serve(c->f, sm_pool_factory, &pool, NULL, path);
    ck_assert(aio_server_is_serving(srv));
    sm cl;
    sm_init(&cl, loop);
    aio_transport *t = NULL;
    int rc = nu_connect(c->f, srv, path, &sm_protocol, &cl, &t);
    ck_assert_msg(rc == 0, "connect: %s", aio_strerror(rc));
    ck_assert_ptr_eq(t, cl.t);
    ck_assert_int_eq(cl.nmade, 1); /* connection_made ran before the call returned */
    ck_assert(aio_transport_is_reading(t));
    ck_assert(!aio_transport_is_closing(t));
    ck_assert_int_ge(aio_transport_fd(t), 0);
    ck_assert(aio_transport_can_write_eof(t));
    struct sockaddr_storage peer, mine;
    socklen_t plen = sizeof peer, mlen = sizeof mine;
    ck_assert_int_eq(aio_transport_peername(t, &peer, &plen), 0);
    ck_assert_int_eq(aio_transport_sockname(t, &mine, &mlen), 0);
    ck_assert_int_eq(peer.ss_family, mine.ss_family);
    ck_assert_ptr_eq(aio_transport_loop(t), loop);

    size_t n = 300000;
    unsigned char *data = pattern(n);
    ck_assert_int_eq(aio_transport_write(t, data, 1000), 0);
    struct iovec iov[2] = {{data + 1000, 5000}, {data + 6000, n - 6000}};
    ck_assert_int_eq(aio_transport_writelines(t, iov, 2), 0);
    ck_assert_int_eq(sm_wait_data(&cl, n), 0);
    ck_assert_uint_eq(cl.len, n);
    ck_assert(memcmp(cl.data, data, n) == 0);
    ck_assert_uint_eq(aio_server_connections(srv), 1);

    /* our EOF: the server's eof_received says close, so it closes, we see
     * EOF and close too */
    ck_assert_int_eq(aio_transport_write_eof(t), 0);
    ck_assert_int_eq(sm_wait_lost(&cl), 0);
    sm_check_closed(&cl, 0);
    ck_assert_int_eq(cl.neof, 1);
    aio_server_close(srv);
    ck_assert(!aio_server_is_serving(srv));
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    ck_assert_uint_eq(aio_server_connections(srv), 0);
    ck_assert_uint_eq(pool.used, 1);
    sm_check_closed(&pool.slots[0], 0);
    ck_assert_int_eq(pool.slots[0].neof, 1);
    ck_assert_uint_eq(pool.slots[0].len, n);
    aio_server_free(srv);
    if (c->f == AC_UNIX)
        ck_assert_int_ne(access(path, F_OK), 0); /* removed on close */
    sm_fini(&cl);
    sm_pool_fini(&pool);
    free(data);
    return 0;
}

START_TEST(test_echo)
{
    NU_NEED_FAMILY(_i);
    int before = ac_open_fds();
    fam_case c = {.f = _i};
    ac_run_main(echo_main, &c);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

/* ---- a transport over one end of a pair, the other end raw -------------------------- */

/* Task: a transport with protocol proto over one end of a connected pair of
 * family f; *peer is the other end (non-blocking). */
static aio_transport *accepted(ac_family f, const aio_protocol *proto, sm *s, int *peer)
{
    int a, b;
    ac_pair(f, &a, &b);
    aio_transport *t = NULL;
    int rc = aio_connect_accepted_socket(ac_loop(), proto, s, a, &t);
    ck_assert_msg(rc == 0, "connect_accepted_socket: %s", aio_strerror(rc));
    ck_assert_int_eq(s->nmade, 1);
    *peer = b;
    return t;
}

/* Task: reads exactly n bytes from fd. */
static void read_all(int fd, unsigned char *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = aio_sock_recv_into(ac_loop(), fd, out + got, n - got);
        ck_assert_msg(k > 0, "recv: %zd (%s)", k, aio_strerror((int)k));
        got += (size_t)k;
    }
}

/* Task: reads until EOF; the count. */
static size_t read_to_eof(int fd, unsigned char *out, size_t max)
{
    size_t got = 0;
    for (;;) {
        ssize_t k = aio_sock_recv_into(ac_loop(), fd, out + got, max - got);
        ck_assert_msg(k >= 0, "recv: %s", aio_strerror((int)k));
        if (k == 0)
            return got;
        got += (size_t)k;
        ck_assert_uint_le(got, max);
    }
}

/* Task: writes through t until something stays buffered (the peer does not
 * read); returns the bytes written, pattern in data. */
static size_t fill(aio_transport *t, const unsigned char *data, size_t max)
{
    size_t off = 0, chunk = 16384;
    while (aio_transport_get_write_buffer_size(t) == 0) {
        ck_assert_uint_le(off + chunk, max);
        ck_assert_int_eq(aio_transport_write(t, data + off, chunk), 0);
        off += chunk;
    }
    return off;
}

/* ---- writing and flow control (IO9, IO10, a client that never reads) ------------------ */

typedef struct flow_case {
    ac_family f;
} flow_case;

static int never_reads_main(void *arg, void **result)
{
    (void)result;
    flow_case *c = arg;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    aio_transport *t = accepted(c->f, &sm_protocol, &s, &peer);
    size_t max = 64 << 20;
    unsigned char *data = pattern(max);
    size_t low, high;
    aio_transport_get_write_buffer_limits(t, &low, &high);
    ck_assert_uint_eq(high, 65536);
    ck_assert_uint_eq(low, 16384);
    /* write until the protocol is told to pause, as a well-behaved writer */
    size_t off = 0, chunk = 4096;
    while (s.npause == 0) {
        ck_assert_uint_le(off + chunk, max);
        ck_assert_int_eq(aio_transport_write(t, data + off, chunk), 0);
        off += chunk;
    }
    /* memory stays bounded: the buffer is just above the high watermark */
    size_t buffered = aio_transport_get_write_buffer_size(t);
    ck_assert_uint_gt(buffered, high);
    ck_assert_uint_le(buffered, high + chunk);
    ck_assert_int_eq(s.nresume, 0);
    /* time passes, nothing changes while the peer does not read */
    al_sleep(0.05);
    ck_assert_uint_eq(aio_transport_get_write_buffer_size(t), buffered);
    ck_assert_int_eq(s.nresume, 0);
    /* the peer reads: the buffer drains, resume_writing once */
    unsigned char *in = malloc(off);
    read_all(peer, in, off);
    ck_assert(memcmp(in, data, off) == 0);
    ck_assert_uint_eq(aio_transport_get_write_buffer_size(t), 0);
    ck_assert_int_eq(s.npause, 1);
    ck_assert_int_eq(s.nresume, 1);
    nu_close_pair(&s, t, peer);
    free(in);
    free(data);
    return 0;
}

START_TEST(test_never_reads)
{
    NU_NEED_FAMILY(_i);
    flow_case c = {.f = _i};
    ac_run_main(never_reads_main, &c);
}
END_TEST

static int limits_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    aio_transport *t = accepted(AC_UNIX, &sm_protocol, &s, &peer);
    size_t low, high;
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, 128, 256), -EINVAL);
    aio_transport_get_write_buffer_limits(t, &low, &high);
    ck_assert_uint_eq(high, 65536); /* refused: unchanged */
    ck_assert_uint_eq(low, 16384);
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, 1000, -1), 0);
    aio_transport_get_write_buffer_limits(t, &low, &high);
    ck_assert_uint_eq(high, 1000);
    ck_assert_uint_eq(low, 250);
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, -1, 100), 0);
    aio_transport_get_write_buffer_limits(t, &low, &high);
    ck_assert_uint_eq(high, 400);
    ck_assert_uint_eq(low, 100);
    /* no pause while the buffer is under the limit */
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, 1 << 30, -1), 0);
    size_t max = 64 << 20;
    unsigned char *data = pattern(max);
    size_t off = fill(t, data, max);
    size_t buffered = aio_transport_get_write_buffer_size(t);
    ck_assert_uint_gt(buffered, 128);
    ck_assert_int_eq(s.npause, 0);
    /* (128, buffered + 512): not paused; (128, buffered - 1): paused at once */
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, (ssize_t)buffered + 512, 128), 0);
    ck_assert_int_eq(s.npause, 0);
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, (ssize_t)buffered - 1, 128), 0);
    ck_assert_int_eq(s.npause, 1);
    unsigned char *in = malloc(off);
    read_all(peer, in, off);
    ck_assert(memcmp(in, data, off) == 0);
    ck_assert_int_eq(s.nresume, 1);
    aio_transport_abort(t);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    sm_check_closed(&s, 0);
    close(peer);
    free(in);
    free(data);
    sm_fini(&s);
    return 0;
}

START_TEST(test_write_buffer_limits)
{
    ac_run_main(limits_main, NULL);
}
END_TEST

/* writelines: one stream in order, also when appended to a buffer, also
 * with more buffers than IOV_MAX. */
static int writelines_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    aio_transport *t = accepted(AC_INET, &sm_protocol, &s, &peer);
    struct iovec iov[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    ck_assert_int_eq(aio_transport_writelines(t, iov, 3), 0);
    ck_assert_uint_eq(aio_transport_get_write_buffer_size(t), 0); /* sent at once */
    unsigned char in[8];
    read_all(peer, in, 8);
    ck_assert(memcmp(in, "abcdefgh", 8) == 0);
    /* more buffers than one sendmsg takes (IOV_MAX): all sent, in order */
    enum { NV = IOV_MAX + 100 };
    struct iovec *many = malloc(NV * sizeof *many);
    unsigned char *data = pattern(NV), *got = malloc(NV);
    for (int i = 0; i < NV; i++)
        many[i] = (struct iovec){data + i, 1};
    ck_assert_int_eq(aio_transport_writelines(t, many, NV), 0);
    ck_assert(!aio_transport_is_closing(t));
    read_all(peer, got, NV);
    ck_assert(memcmp(got, data, NV) == 0);
    free(many);
    free(data);
    free(got);
    ck_assert_int_eq(aio_transport_writelines(t, NULL, 0), 0);
    ck_assert_int_eq(aio_transport_writelines(t, NULL, 1), -EINVAL);
    ck_assert_int_eq(aio_transport_write(t, NULL, 3), -EINVAL);
    aio_transport_close(t);
    ck_assert_int_eq(read_to_eof(peer, in, sizeof in), 0);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    sm_check_closed(&s, 0);
    close(peer);
    sm_fini(&s);
    return 0;
}

START_TEST(test_writelines)
{
    ac_run_main(writelines_main, NULL);
}
END_TEST

/* ---- write_eof (IO11), close (IO12), abort, writes after close (IO15) ---------------- */

static bool got_eof(void *arg)
{
    return ((sm *)arg)->neof > 0;
}

static int write_eof_main(void *arg, void **result)
{
    (void)result;
    flow_case *c = arg;
    sm s;
    sm_init(&s, ac_loop());
    s.keep_open = true;
    int peer;
    aio_transport *t = accepted(c->f, &sm_protocol, &s, &peer);
    size_t max = 64 << 20;
    unsigned char *data = pattern(max);
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, 1 << 30, -1), 0);
    size_t off = fill(t, data, max);
    ck_assert_int_eq(aio_transport_write_eof(t), 0);
    ck_assert_int_eq(aio_transport_write_eof(t), 0); /* a second one: nothing */
    ck_assert_int_eq(aio_transport_write(t, "x", 1), AL_EINVALIDSTATE);
    ck_assert(!aio_transport_is_closing(t));
    /* the peer gets every byte, then the EOF */
    unsigned char *in = malloc(off + 1);
    ck_assert_uint_eq(read_to_eof(peer, in, off + 1), off);
    ck_assert(memcmp(in, data, off) == 0);
    /* half-closed: the peer can still send to us */
    ck_assert_int_eq(aio_sock_sendall(ac_loop(), peer, "back", 4, NULL), 0);
    ck_assert_int_eq(sm_wait_data(&s, 4), 0);
    ck_assert(memcmp(s.data, "back", 4) == 0);
    shutdown(peer, SHUT_WR);
    ck_assert(sm_until(got_eof, &s, 5.0));
    /* eof_received kept it open: we close */
    ck_assert_int_eq(s.nlost, 0);
    nu_close_pair(&s, t, peer);
    free(in);
    free(data);
    return 0;
}

START_TEST(test_write_eof)
{
    NU_NEED_FAMILY(_i);
    flow_case c = {.f = _i};
    ac_run_main(write_eof_main, &c);
}
END_TEST

static int close_flushes_main(void *arg, void **result)
{
    (void)result;
    bool abort_it = arg != NULL;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    aio_transport *t = accepted(AC_INET, &sm_protocol, &s, &peer);
    size_t max = 64 << 20;
    unsigned char *data = pattern(max);
    size_t off = fill(t, data, max);
    size_t buffered = aio_transport_get_write_buffer_size(t);
    if (abort_it)
        aio_transport_abort(t);
    else
        aio_transport_close(t);
    ck_assert(aio_transport_is_closing(t));
    ck_assert(!aio_transport_is_reading(t));
    ck_assert_int_eq(aio_transport_pause_reading(t), AL_EINVALIDSTATE);
    ck_assert_int_eq(aio_transport_resume_reading(t), AL_EINVALIDSTATE);
    /* writes after close are dropped, never a crash (IO15) */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(aio_transport_write(t, "late", 4), 0);
    aio_transport_close(t); /* idempotent */
    if (abort_it) {
        ck_assert_uint_eq(aio_transport_get_write_buffer_size(t), 0);
        ck_assert_int_eq(sm_wait_lost(&s), 0);
        sm_check_closed(&s, 0);
    } else {
        ck_assert_uint_eq(aio_transport_get_write_buffer_size(t), buffered);
        al_sleep(0.02);
        ck_assert_int_eq(s.nlost, 0); /* waits for the flush */
        unsigned char *in = malloc(off + 16);
        ck_assert_uint_eq(read_to_eof(peer, in, off + 16), off);
        ck_assert(memcmp(in, data, off) == 0);
        ck_assert_int_eq(sm_wait_lost(&s), 0);
        sm_check_closed(&s, 0);
        free(in);
    }
    ck_assert_int_eq(aio_transport_fd(t), -1);
    aio_transport_abort(t); /* after the end: nothing */
    close(peer);
    free(data);
    sm_fini(&s);
    return 0;
}

START_TEST(test_close_flushes)
{
    ac_run_main(close_flushes_main, NULL);
}
END_TEST

START_TEST(test_abort_drops)
{
    ac_run_main(close_flushes_main, (void *)1);
}
END_TEST

/* ---- reading: eof_received (IO13), pause / resume (IO14), buffered (IO17) ------------- */

static int eof_closes_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    aio_transport *t = accepted(AC_UNIX, &sm_protocol, &s, &peer);
    (void)t;
    ck_assert_int_eq(aio_sock_sendall(ac_loop(), peer, "last", 4, NULL), 0);
    shutdown(peer, SHUT_WR);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    sm_check_closed(&s, 0);
    ck_assert_int_eq(s.neof, 1);
    ck_assert_uint_eq(s.len, 4);
    unsigned char in[4];
    ck_assert_uint_eq(read_to_eof(peer, in, sizeof in), 0);
    close(peer);
    sm_fini(&s);
    return 0;
}

START_TEST(test_eof_received_closes)
{
    ac_run_main(eof_closes_main, NULL);
}
END_TEST

static int pause_reading_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    s.pause_in_made = true;
    int peer;
    aio_transport *t = accepted(AC_INET, &sm_protocol, &s, &peer);
    ck_assert(!aio_transport_is_reading(t));
    ck_assert_int_eq(aio_sock_sendall(ac_loop(), peer, "data", 4, NULL), 0);
    al_sleep(0.02);
    ck_assert_int_eq(s.ndata, 0); /* the pause in connection_made held */
    ck_assert_int_eq(aio_transport_pause_reading(t), 0);
    ck_assert(!aio_transport_is_reading(t));
    ck_assert_int_eq(aio_transport_resume_reading(t), 0);
    ck_assert_int_eq(aio_transport_resume_reading(t), 0);
    ck_assert(aio_transport_is_reading(t));
    ck_assert_int_eq(sm_wait_data(&s, 4), 0);
    ck_assert(memcmp(s.data, "data", 4) == 0);
    ck_assert_int_eq(aio_transport_pause_reading(t), 0);
    ck_assert_int_eq(aio_sock_sendall(ac_loop(), peer, "more", 4, NULL), 0);
    al_sleep(0.02);
    ck_assert_uint_eq(s.len, 4);
    ck_assert_int_eq(aio_transport_resume_reading(t), 0);
    ck_assert_int_eq(sm_wait_data(&s, 8), 0);
    nu_close_pair(&s, t, peer);
    return 0;
}

START_TEST(test_pause_reading)
{
    ac_run_main(pause_reading_main, NULL);
}
END_TEST

static int buffered_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    s.buf_size = 100;
    int peer;
    aio_transport *t = accepted(AC_INET, &sm_buffered_protocol, &s, &peer);
    size_t n = 9 * 1024;
    unsigned char *data = pattern(n);
    ck_assert_int_eq(aio_sock_sendall(ac_loop(), peer, data, n, NULL), 0);
    ck_assert_int_eq(sm_wait_data(&s, n), 0);
    ck_assert_uint_eq(s.len, n);
    ck_assert(memcmp(s.data, data, n) == 0);
    ck_assert_int_ge(s.ndata, (int)(n / 100));
    close(peer);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    sm_check_closed(&s, 0);
    (void)t;
    free(data);
    sm_fini(&s);
    return 0;
}

START_TEST(test_buffered_protocol)
{
    ac_run_main(buffered_main, NULL);
}
END_TEST

static int close_in_data_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    s.close_on_data = true;
    s.echo = true;
    int peer;
    accepted(AC_UNIX, &sm_protocol, &s, &peer);
    ck_assert_int_eq(aio_sock_sendall(ac_loop(), peer, "ping", 4, NULL), 0);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    sm_check_closed(&s, 0);
    unsigned char in[8];
    ck_assert_uint_eq(read_to_eof(peer, in, sizeof in), 4); /* the echo, then EOF */
    close(peer);
    sm_fini(&s);
    return 0;
}

START_TEST(test_close_inside_data_received)
{
    ac_run_main(close_in_data_main, NULL);
}
END_TEST

/* ---- faults: resets, one byte at a time ------------------------------------------------ */

static void reset(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    close(fd);
}

static int reset_read_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    accepted(AC_INET, &sm_protocol, &s, &peer);
    ck_assert_int_eq(aio_sock_sendall(ac_loop(), peer, "partial", 7, NULL), 0);
    ck_assert_int_eq(sm_wait_data(&s, 7), 0);
    reset(peer);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    sm_check_closed(&s, -ECONNRESET);
    sm_fini(&s);
    return 0;
}

START_TEST(test_reset_mid_read)
{
    ac_run_main(reset_read_main, NULL);
}
END_TEST

static int reset_write_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    aio_transport *t = accepted(AC_INET, &sm_protocol, &s, &peer);
    size_t max = 64 << 20;
    unsigned char *data = pattern(max);
    fill(t, data, max);
    reset(peer);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    ck_assert_int_eq(s.violations, 0);
    ck_assert_int_eq(s.nlost, 1);
    ck_assert_msg(s.lost_error == -ECONNRESET || s.lost_error == -EPIPE, "lost with %s",
                  aio_strerror(s.lost_error));
    ck_assert_uint_eq(aio_transport_get_write_buffer_size(t), 0);
    ck_assert_int_eq(aio_transport_write(t, "x", 1), 0); /* dropped */
    free(data);
    sm_fini(&s);
    return 0;
}

START_TEST(test_reset_mid_write)
{
    ac_run_main(reset_write_main, NULL);
}
END_TEST

static int one_byte_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    accepted(AC_INET, &sm_protocol, &s, &peer);
    size_t n = 300;
    unsigned char *data = pattern(n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(aio_sock_sendall(ac_loop(), peer, data + i, 1, NULL), 0);
        if (i % 3 == 0)
            al_sleep(0);
    }
    ck_assert_int_eq(sm_wait_data(&s, n), 0);
    ck_assert(memcmp(s.data, data, n) == 0);
    shutdown(peer, SHUT_WR);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    sm_check_closed(&s, 0);
    close(peer);
    free(data);
    sm_fini(&s);
    return 0;
}

START_TEST(test_one_byte_at_a_time)
{
    ac_run_main(one_byte_main, NULL);
}
END_TEST

/* ---- sendfile on a transport ------------------------------------------------------------ */

typedef struct sf_case {
    bool pipe_source; /* sendfile(2) refuses a pipe: the fallback */
} sf_case;

typedef struct peer_reader {
    int fd;
    unsigned char *out;
    size_t n;
} peer_reader;

static int peer_read_task(void *arg, void **result)
{
    (void)result;
    peer_reader *p = arg;
    read_all(p->fd, p->out, p->n);
    return 0;
}

static int sendfile_main(void *arg, void **result)
{
    (void)result;
    sf_case *c = arg;
    sm s;
    sm_init(&s, ac_loop());
    int peer;
    aio_transport *t = accepted(AC_INET, &sm_protocol, &s, &peer);
    size_t fsize = 100000, max = 64 << 20;
    unsigned char *fdata = pattern(fsize);
    for (size_t i = 0; i < fsize; i++)
        fdata[i] ^= 0x5a;
    int file;
    int p[2] = {-1, -1};
    if (c->pipe_source) {
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_ge(fcntl(p[1], F_SETPIPE_SZ, 1 << 18), (int)fsize);
        ck_assert_int_eq(write(p[1], fdata, fsize), (ssize_t)fsize);
        close(p[1]);
        file = p[0];
    } else {
        char name[] = "/tmp/aio-sendfile-XXXXXX";
        file = mkstemp(name);
        ck_assert_int_ge(file, 0);
        unlink(name);
        ck_assert_int_eq(write(file, fdata, fsize), (ssize_t)fsize);
    }
    /* something buffered first: the file goes after it */
    unsigned char *data = pattern(max);
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, 1 << 30, -1), 0);
    size_t off = fill(t, data, max);
    ck_assert(aio_transport_is_reading(t));
    /* the peer reads concurrently */
    size_t total = off + fsize;
    unsigned char *in = malloc(total);
    peer_reader ra = {peer, in, total};
    al_task *reader_task = ac_spawn(peer_read_task, &ra);
    size_t sent = 0;
    int rc = aio_transport_sendfile(t, file, 0, 0, &sent);
    ck_assert_msg(rc == 0, "sendfile: %s", aio_strerror(rc));
    ck_assert_uint_eq(sent, fsize);
    ck_assert(aio_transport_is_reading(t)); /* reading resumed */
    ck_assert_int_eq(ac_join(reader_task), 0);
    ck_assert(memcmp(in, data, off) == 0);
    ck_assert(memcmp(in + off, fdata, fsize) == 0);
    ck_assert_int_eq(aio_transport_sendfile(t, -1, 0, 0, NULL), -EBADF);
    aio_transport_close(t);
    ck_assert_int_eq(aio_transport_sendfile(t, file, 0, 0, NULL), AL_EINVALIDSTATE);
    ck_assert_int_eq(sm_wait_lost(&s), 0);
    sm_check_closed(&s, 0);
    close(file);
    close(peer);
    free(in);
    free(data);
    free(fdata);
    sm_fini(&s);
    return 0;
}

START_TEST(test_sendfile)
{
    sf_case c = {.pipe_source = _i == 1};
    ac_run_main(sendfile_main, &c);
}
END_TEST

/* ---- the loop closes under open transports and servers ---------------------------------- */

typedef struct left_open {
    sm_pool pool;
    sm cl[3];
    aio_server *srv;
    char path[108];
} left_open;

static int leave_open_main(void *arg, void **result)
{
    (void)result;
    left_open *lo = arg;
    al_loop *loop = ac_loop();
    sm_pool_init(&lo->pool, loop, 3);
    lo->srv = nu_serve(AC_UNIX, sm_pool_factory, &lo->pool, NULL, lo->path);
    for (int i = 0; i < 3; i++) {
        sm_init(&lo->cl[i], loop);
        ck_assert_int_eq(nu_connect(AC_UNIX, lo->srv, lo->path, &sm_protocol, &lo->cl[i], NULL), 0);
    }
    aio_transport_write(lo->cl[0].t, "pending", 7);
    return 0; /* everything still open */
}

START_TEST(test_loop_close_ends_transports)
{
    int before = ac_open_fds();
    left_open lo;
    memset(&lo, 0, sizeof lo);
    ac_run_main(leave_open_main, &lo);
    /* every connection_lost ran once, with AL_ELOOPCLOSED, in order */
    for (int i = 0; i < 3; i++)
        sm_check_closed(&lo.cl[i], AL_ELOOPCLOSED);
    ck_assert_uint_eq(lo.pool.used, 3);
    for (size_t i = 0; i < lo.pool.used; i++)
        sm_check_closed(&lo.pool.slots[i], AL_ELOOPCLOSED);
    ck_assert_int_ne(access(lo.path, F_OK), 0); /* the Unix server's file went */
    ck_assert(!aio_server_is_serving(lo.srv));
    aio_server_free(lo.srv);
    for (int i = 0; i < 3; i++)
        sm_fini(&lo.cl[i]);
    sm_pool_fini(&lo.pool);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

AL_TEST_SUITE(suite_transports)
{
    ac_require_backend();
    Suite *s = suite_create("transports");
    TCase *tc = al_tcase("transports");
    tcase_add_loop_test(tc, test_echo, 0, AC_NFAMILIES);
    tcase_add_loop_test(tc, test_never_reads, 0, AC_NFAMILIES);
    tcase_add_test(tc, test_write_buffer_limits);
    tcase_add_test(tc, test_writelines);
    tcase_add_loop_test(tc, test_write_eof, 0, AC_NFAMILIES);
    tcase_add_test(tc, test_close_flushes);
    tcase_add_test(tc, test_abort_drops);
    tcase_add_test(tc, test_eof_received_closes);
    tcase_add_test(tc, test_pause_reading);
    tcase_add_test(tc, test_buffered_protocol);
    tcase_add_test(tc, test_close_inside_data_received);
    tcase_add_test(tc, test_reset_mid_read);
    tcase_add_test(tc, test_reset_mid_write);
    tcase_add_test(tc, test_one_byte_at_a_time);
    tcase_add_loop_test(tc, test_sendfile, 0, 2);
    tcase_add_test(tc, test_loop_close_ends_transports);
    suite_add_tcase(s, tc);
    return s;
}

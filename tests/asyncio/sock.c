/* Socket coroutines over IPv4, IPv6 and Unix sockets: the exchange, IO4
 * (cancellation loses nothing, leaves no registration), IO5 (debug refuses
 * blocking sockets), IO6 (1 MiB against a concurrent reader), IO7 (refused,
 * accept with a timeout, accepted sockets), IO8 (UDP), sendfile. */
#include "aio_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the exchange, from any depth of a task -------------------------------- */

typedef struct echo_args {
    ac_family fam;
    int listener;
    struct sockaddr_storage addr;
    socklen_t len;
    struct sockaddr_storage peer; /* what accept reported */
    socklen_t peer_len;
    int accepted_flags, accepted_fdflags;
} echo_args;

static int serve_one(void *arg, void **result)
{
    (void)result;
    echo_args *e = arg;
    al_loop *loop = ac_loop();
    e->peer_len = sizeof e->peer;
    int s = aio_sock_accept(loop, e->listener, (struct sockaddr *)&e->peer, &e->peer_len);
    if (s < 0)
        return s;
    e->accepted_flags = fcntl(s, F_GETFL);
    e->accepted_fdflags = fcntl(s, F_GETFD);
    char buf[256];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = aio_sock_recv_into(loop, s, buf, sizeof buf)) > 0)
        rc = aio_sock_sendall(loop, s, buf, (size_t)n, NULL);
    close(s);
    return rc < 0 ? rc : (n < 0 ? (int)n : 0);
}

/* Deep in the call stack: the socket calls are plain calls. */
static int depth3(al_loop *loop, int fd, char *out)
{
    const char msg[] = "hello from depth 3";
    int rc = aio_sock_sendall(loop, fd, msg, sizeof msg, NULL);
    if (rc < 0)
        return rc;
    size_t got = 0;
    while (got < sizeof msg) {
        ssize_t n = aio_sock_recv_into(loop, fd, out + got, sizeof msg - got);
        if (n <= 0)
            return n < 0 ? (int)n : -EPIPE;
        got += (size_t)n;
    }
    return memcmp(out, msg, sizeof msg) == 0 ? 0 : AL_EFAILED;
}

static int depth2(al_loop *loop, int fd, char *out)
{
    return depth3(loop, fd, out);
}

static int depth1(al_loop *loop, int fd, char *out)
{
    return depth2(loop, fd, out);
}

static int echo_main(void *arg, void **result)
{
    (void)result;
    echo_args *e = arg;
    al_loop *loop = ac_loop();
    al_task *server = ac_spawn(serve_one, e);
    int c = ac_socket(e->fam);
    int rc = aio_sock_connect(loop, c, (struct sockaddr *)&e->addr, e->len);
    ck_assert_msg(rc == 0, "connect: %s", aio_strerror(rc));
    char out[64];
    ck_assert_int_eq(depth1(loop, c, out), 0);
    void *data = NULL;
    ck_assert_int_eq(aio_sock_sendall(loop, c, "xyz", 3, NULL), 0);
    ssize_t n = aio_sock_recv(loop, c, 3, &data);
    ck_assert_int_ge(n, 1);
    ck_assert(memcmp(data, "xyz", (size_t)n) == 0);
    free(data);
    struct sockaddr_storage mine;
    socklen_t mine_len = sizeof mine;
    ck_assert_int_eq(getsockname(c, (struct sockaddr *)&mine, &mine_len), 0);
    ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
    ck_assert_int_eq(aio_sock_recv(loop, c, 16, &data), 0); /* EOF */
    ck_assert_ptr_null(data);
    ck_assert_int_eq(ac_join(server), 0);
    close(c);
    /* IO7: the accepted socket is non-blocking and close-on-exec; the
     * address is the peer's. */
    ck_assert(e->accepted_flags & O_NONBLOCK);
    ck_assert(e->accepted_fdflags & FD_CLOEXEC);
    ck_assert_int_eq(e->peer.ss_family, mine.ss_family);
    if (e->fam != AC_UNIX) {
        ck_assert_uint_eq(e->peer_len, mine_len);
        ck_assert(memcmp(&e->peer, &mine, mine_len) == 0);
    }
    return 0;
}

static bool family_usable(ac_family f)
{
    if (f == AC_INET6 && !ac_have_ipv6()) {
        printf("IPv6 case not run: this machine cannot bind ::1\n");
        return false;
    }
    return true;
}

START_TEST(test_echo)
{
    ac_family f = (ac_family)_i;
    if (!family_usable(f))
        return;
    echo_args e = {.fam = f};
    e.len = sizeof e.addr;
    e.listener = ac_listener(f, &e.addr, &e.len);
    ac_run_main(echo_main, &e);
    ac_close(e.listener);
}
END_TEST

/* ---- try first ------------------------------------------------------------ */

static int set_flag_cb(al_loop *loop, void *arg)
{
    (void)loop;
    *(int *)arg = 1;
    return 0;
}

/* Data already there: the call returns without a loop iteration. */
static int ready_no_wait(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    int a, b, flag = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(write(b, "now", 3), 3);
    ck_assert_int_eq(al_call_soon(loop, set_flag_cb, &flag, NULL), 0);
    char buf[8];
    ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), 3);
    ck_assert_int_eq(aio_sock_sendall(loop, a, "back", 4, NULL), 0);
    ck_assert_int_eq(flag, 0); /* no iteration ran */
    close(a);
    close(b);
    return 0;
}

START_TEST(test_try_syscall_first)
{
    ac_run_main(ready_no_wait, NULL);
}
END_TEST

static int write_one_cb(al_loop *loop, void *arg)
{
    (void)loop;
    ck_assert_int_eq(write(*(int *)arg, "1", 1), 1);
    return 0;
}

static int count_calls_cb(al_loop *loop, void *arg)
{
    (void)loop;
    ++*(int *)arg;
    return 0;
}

/* After a call that found nothing and waited, the next call on that fd may
 * go to the select without its first attempt when nothing else could run
 * before it. With data already there it still returns before any other
 * callback runs: here `others` fds are ready with readers (300: more than
 * one select returns). */
static int ready_after_wait(void *arg, void **result)
{
    (void)result;
    int others = *(int *)arg;
    al_loop *loop = ac_loop();
    int a, b, calls = 0;
    ac_socketpair(&a, &b);
    char buf[8];
    ck_assert_int_eq(al_call_later(loop, 0.01, write_one_cb, &b, NULL), 0);
    ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), 1); /* waited */
    ck_assert_int_eq(al_sleep(0), 0); /* a's registration goes: it comes back after the others' */
    int(*pairs)[2] = calloc((size_t)others, sizeof *pairs);
    ck_assert_ptr_nonnull(pairs);
    for (int i = 0; i < others; i++) {
        ac_socketpair(&pairs[i][0], &pairs[i][1]);
        ck_assert_int_eq(write(pairs[i][1], "x", 1), 1);
        ck_assert_int_eq(aio_loop_add_reader(loop, pairs[i][0], count_calls_cb, &calls), 0);
    }
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(write(b, "now", 3), 3);
        ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), 3);
        ck_assert_int_eq(calls, 0); /* nothing else ran */
        ck_assert_int_eq(al_call_later(loop, 0.001, write_one_cb, &b, NULL), 0);
        ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), 1); /* waited */
        ck_assert_int_gt(calls, 0);
        calls = 0;
    }
    for (int i = 0; i < others; i++) {
        ck_assert_int_eq(aio_loop_remove_reader(loop, pairs[i][0]), 1);
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
    free(pairs);
    close(a);
    close(b);
    return 0;
}

START_TEST(test_try_first_after_a_wait)
{
    int others = _i ? 300 : 1;
    ac_run_main(ready_after_wait, &others);
}
END_TEST

/* ---- IO4: cancellation --------------------------------------------------- */

typedef struct recv_args {
    int fd;
    int into; /* aio_sock_recv_into instead of aio_sock_recv */
    ssize_t rc;
} recv_args;

static int recv_waiter(void *arg, void **result)
{
    (void)result;
    recv_args *r = arg;
    char buf[16];
    void *data = NULL;
    r->rc = r->into ? aio_sock_recv_into(ac_loop(), r->fd, buf, sizeof buf)
                    : aio_sock_recv(ac_loop(), r->fd, sizeof buf, &data);
    free(data);
    return r->rc < 0 ? (int)r->rc : 0;
}

/* No registration left: a reader can be added (a left-over waiter would
 * make it AIO_EFDBUSY) and removed. */
static void assert_unwatched(al_loop *loop, int fd)
{
    int n = 0;
    ck_assert_int_eq(aio_loop_add_reader(loop, fd, set_flag_cb, &n), 0);
    ck_assert_int_eq(aio_loop_remove_reader(loop, fd), 1);
    ck_assert_int_eq(aio_loop_add_writer(loop, fd, set_flag_cb, &n), 0);
    ck_assert_int_eq(aio_loop_remove_writer(loop, fd), 1);
}

static int cancel_recv_main(void *arg, void **result)
{
    (void)result;
    al_loop *loop = ac_loop();
    int a, b;
    ac_socketpair(&a, &b);
    recv_args r = {.fd = a, .into = AC_PV(arg)};
    al_task *t = ac_spawn(recv_waiter, &r);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert(!al_future_done(al_task_future(t)));
    al_task_cancel(t, NULL);
    ck_assert_int_eq(ac_join(t), AL_ECANCELLED);
    ck_assert_int_eq(r.rc, AL_ECANCELLED);
    assert_unwatched(loop, a);
    /* Nothing consumed: what the peer sends next is all there. */
    ck_assert_int_eq(write(b, "hello", 5), 5);
    char buf[16];
    ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), 5);
    ck_assert(memcmp(buf, "hello", 5) == 0);
    close(a);
    close(b);
    return 0;
}

START_TEST(test_cancel_recv)
{
    ac_run_main(cancel_recv_main, AC_VP(_i));
}
END_TEST

typedef struct sendall_args {
    int fd;
    const char *buf;
    size_t len;
    size_t sent;
    int rc;
} sendall_args;

static int sendall_task(void *arg, void **result)
{
    (void)result;
    sendall_args *s = arg;
    s->rc = aio_sock_sendall(ac_loop(), s->fd, s->buf, s->len, &s->sent);
    return s->rc;
}

static int cancel_sendall_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    int a, b;
    ac_socketpair(&a, &b);
    size_t big = 8u << 20; /* far more than the socket buffers hold */
    char *buf = malloc(big);
    for (size_t i = 0; i < big; i++)
        buf[i] = (char)('a' + i % 23);
    sendall_args s = {.fd = a, .buf = buf, .len = big};
    al_task *t = ac_spawn(sendall_task, &s);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert(!al_future_done(al_task_future(t)));
    al_task_cancel(t, NULL);
    ck_assert_int_eq(ac_join(t), AL_ECANCELLED);
    ck_assert_int_gt(s.sent, 0);
    ck_assert_uint_lt(s.sent, big);
    assert_unwatched(loop, a);
    /* The racing client (tSL::test_sock_client_racing): after the cancelled
     * send, a later one's bytes follow exactly what was sent. */
    sendall_args w = {.fd = a, .buf = "world", .len = 5};
    al_task *tw = ac_spawn(sendall_task, &w);
    char *got = malloc(s.sent + 5);
    size_t n = 0;
    while (n < s.sent + 5) {
        ssize_t k = aio_sock_recv_into(loop, b, got + n, s.sent + 5 - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
    }
    ck_assert_int_eq(ac_join(tw), 0);
    ck_assert_uint_eq(w.sent, 5);
    ck_assert(memcmp(got, buf, s.sent) == 0);
    ck_assert(memcmp(got + s.sent, "world", 5) == 0);
    ck_assert_int_eq(recv(b, got, 1, MSG_DONTWAIT), -1); /* nothing more */
    free(got);
    free(buf);
    close(a);
    close(b);
    return 0;
}

START_TEST(test_cancel_sendall)
{
    ac_run_main(cancel_sendall_main, NULL);
}
END_TEST

typedef struct accept_args {
    int fd;
    int rc;
} accept_args;

static int accept_task(void *arg, void **result)
{
    (void)result;
    accept_args *a = arg;
    a->rc = aio_sock_accept(ac_loop(), a->fd, NULL, NULL);
    return a->rc < 0 ? a->rc : 0;
}

/* IO7: wait_for(sock_accept, 0.1) times out and the listener is left
 * unwatched. */
static int accept_timeout_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int l = ac_listener(AC_INET, &addr, &len);
    accept_args a = {.fd = l};
    al_task *t = ac_spawn(accept_task, &a);
    ck_assert_int_eq(al_wait_for(al_task_future(t), 0.1), AL_ETIMEOUT);
    ck_assert(al_future_cancelled(al_task_future(t)));
    al_task_unref(t);
    assert_unwatched(ac_loop(), l);
    ac_close(l);
    return 0;
}

START_TEST(test_cancel_accept)
{
    ac_run_main(accept_timeout_main, NULL);
}
END_TEST

typedef struct connect_args {
    int fd;
    struct sockaddr_storage addr;
    socklen_t len;
    int rc;
} connect_args;

static int connect_task(void *arg, void **result)
{
    (void)result;
    connect_args *c = arg;
    c->rc = aio_sock_connect(ac_loop(), c->fd, (struct sockaddr *)&c->addr, c->len);
    return c->rc;
}

/* Cancel a connect that waits: a listener whose backlog is full makes a
 * Unix connect wait (EAGAIN) for ever. */
static int cancel_connect_main(void *arg, void **result)
{
    (void)arg, (void)result;
    connect_args c = {.len = sizeof c.addr};
    int l = ac_listener(AC_UNIX, &c.addr, &c.len);
    listen(l, 0);
    int fill[8], nfill = 0, rc = 0;
    /* Fill the backlog until a non-blocking connect would block. */
    while (nfill < 8) {
        fill[nfill] = ac_socket(AC_UNIX);
        rc = connect(fill[nfill], (struct sockaddr *)&c.addr, c.len);
        nfill++;
        if (rc < 0)
            break;
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, EAGAIN);
    c.fd = ac_socket(AC_UNIX);
    al_task *t = ac_spawn(connect_task, &c);
    ck_assert_int_eq(al_sleep(0.02), 0);
    ck_assert(!al_future_done(al_task_future(t)));
    al_task_cancel(t, NULL);
    ck_assert_int_eq(ac_join(t), AL_ECANCELLED);
    assert_unwatched(ac_loop(), c.fd);
    close(c.fd);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    ac_close(l);
    return 0;
}

START_TEST(test_cancel_connect)
{
    ac_run_main(cancel_connect_main, NULL);
}
END_TEST

/* A second task waiting in the same direction on the same fd gets
 * AIO_EFDBUSY; the first is unaffected. */
static int second_waiter_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    int a, b, n = 0;
    ac_socketpair(&a, &b);
    recv_args r1 = {.fd = a, .into = 1}, r2 = {.fd = a, .into = 1};
    al_task *t1 = ac_spawn(recv_waiter, &r1);
    ck_assert_int_eq(al_sleep(0.01), 0);
    al_task *t2 = ac_spawn(recv_waiter, &r2);
    ck_assert_int_eq(ac_join(t2), AIO_EFDBUSY);
    ck_assert_int_eq(r2.rc, AIO_EFDBUSY);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, set_flag_cb, &n), AIO_EFDBUSY);
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 0);
    /* The other direction is free. */
    ck_assert_int_eq(aio_loop_add_writer(loop, a, set_flag_cb, &n), 0);
    ck_assert_int_eq(aio_loop_remove_writer(loop, a), 1);
    ck_assert_int_eq(write(b, "ok", 2), 2);
    ck_assert_int_eq(ac_join(t1), 0);
    ck_assert_int_eq(r1.rc, 2);
    close(a);
    close(b);
    return 0;
}

START_TEST(test_second_waiter_same_direction)
{
    ac_run_main(second_waiter_main, NULL);
}
END_TEST

/* ---- IO5: debug mode refuses blocking sockets ------------------------------ */

static int debug_blocking_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    ck_assert(al_loop_get_debug(loop));
    int a, b;
    ac_socketpair(&a, &b);
    ac_set_nonblock(a, false);
    char buf[4];
    ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), AIO_EBLOCKING);
    ck_assert_int_eq(aio_sock_sendall(loop, a, "x", 1, NULL), AIO_EBLOCKING);
    ck_assert_int_eq(aio_sock_sendto(loop, a, "x", 1, NULL, 0), AIO_EBLOCKING);
    ck_assert_int_eq(aio_sock_accept(loop, a, NULL, NULL), AIO_EBLOCKING);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    ck_assert_int_eq(aio_sock_connect(loop, a, (struct sockaddr *)&un, sizeof un), AIO_EBLOCKING);
    ck_assert_int_eq(recv(b, buf, 1, MSG_DONTWAIT), -1); /* nothing was sent */
    /* Non-blocking: a full exchange works. */
    ac_set_nonblock(a, true);
    ck_assert_int_eq(aio_sock_sendall(loop, a, "ping", 4, NULL), 0);
    ck_assert_int_eq(aio_sock_recv_into(loop, b, buf, sizeof buf), 4);
    ck_assert_int_eq(aio_sock_sendall(loop, b, "pong", 4, NULL), 0);
    ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), 4);
    ck_assert(memcmp(buf, "pong", 4) == 0);
    ck_assert_str_eq(aio_err_name(AIO_EBLOCKING), "AIO_EBLOCKING");
    close(a);
    close(b);
    return 0;
}

START_TEST(test_debug_refuses_blocking)
{
    al_loop *loop = ac_loop_new();
    ck_assert_int_eq(al_loop_set_debug(loop, true), 0);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, debug_blocking_main, NULL, NULL, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    al_task_unref(t);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* Outside a task: AL_ENOTINTASK, nothing done. */
START_TEST(test_outside_task)
{
    al_loop *loop = ac_loop_new();
    int a, b;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(write(b, "x", 1), 1);
    char c;
    ck_assert_int_eq(aio_sock_recv_into(loop, a, &c, 1), AL_ENOTINTASK);
    ck_assert_int_eq(recv(a, &c, 1, MSG_DONTWAIT), 1); /* still there */
    ck_assert_int_eq(aio_sock_sendall(loop, a, "x", 1, NULL), AL_ENOTINTASK);
    close(a);
    close(b);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* ---- IO6: 1 MiB against a concurrent reader ---------------------------------- */

typedef struct huge_reader {
    int fd;
    unsigned char *got;
    size_t want, n;
} huge_reader;

static int huge_read_task(void *arg, void **result)
{
    (void)result;
    huge_reader *h = arg;
    while (h->n < h->want) {
        size_t chunk = h->want - h->n < 1000 ? h->want - h->n : 1000;
        ssize_t k = aio_sock_recv_into(ac_loop(), h->fd, h->got + h->n, chunk);
        if (k <= 0)
            return k < 0 ? (int)k : -EPIPE;
        h->n += (size_t)k;
    }
    return 0;
}

static int huge_main(void *arg, void **result)
{
    (void)result;
    ac_family f = (ac_family)AC_PV(arg);
    int a, b;
    ac_pair(f, &a, &b);
    size_t size = 1u << 20;
    unsigned char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    huge_reader h = {.fd = b, .got = calloc(1, size), .want = size};
    al_task *reader = ac_spawn(huge_read_task, &h);
    size_t sent = 0;
    ck_assert_int_eq(aio_sock_sendall(ac_loop(), a, data, size, &sent), 0);
    ck_assert_uint_eq(sent, size);
    ck_assert_int_eq(ac_join(reader), 0);
    ck_assert(memcmp(h.got, data, size) == 0);
    free(h.got);
    free(data);
    close(a);
    close(b);
    return 0;
}

START_TEST(test_huge_content)
{
    ac_family f = (ac_family)_i;
    if (family_usable(f))
        ac_run_main(huge_main, AC_VP(f));
}
END_TEST

/* ---- IO7: refused ------------------------------------------------------------ */

static int refused_main(void *arg, void **result)
{
    (void)result;
    ac_family f = (ac_family)AC_PV(arg);
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int l = ac_listener(f, &addr, &len);
    ac_close(l); /* nobody listens there any more (Unix: the path is gone) */
    int c = ac_socket(f);
    int rc = aio_sock_connect(ac_loop(), c, (struct sockaddr *)&addr, len);
    if (f == AC_UNIX)
        ck_assert_msg(rc == -ENOENT || rc == -ECONNREFUSED, "connect: %s", aio_strerror(rc));
    else
        ck_assert_msg(rc == -ECONNREFUSED, "connect: %s", aio_strerror(rc));
    assert_unwatched(ac_loop(), c);
    close(c);
    return 0;
}

START_TEST(test_connect_refused)
{
    ac_family f = (ac_family)_i;
    if (family_usable(f))
        ac_run_main(refused_main, AC_VP(f));
}
END_TEST

/* ---- IO8: UDP ---------------------------------------------------------------- */

static int udp_server(void *arg, void **result)
{
    (void)result;
    int s = AC_PV(arg);
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    void *data = NULL;
    ssize_t n = aio_sock_recvfrom(ac_loop(), s, 64, &data, (struct sockaddr *)&from, &flen);
    if (n < 0)
        return (int)n;
    ssize_t m = aio_sock_sendto(ac_loop(), s, data, (size_t)n, (struct sockaddr *)&from, flen);
    free(data);
    return m == n ? 0 : AL_EFAILED;
}

static int udp_main(void *arg, void **result)
{
    (void)result;
    int v6 = AC_PV(arg);
    int dom = v6 ? AF_INET6 : AF_INET;
    int s = socket(dom, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int c = socket(dom, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    ck_assert_int_ge(c, 0);
    struct sockaddr_storage addr = {0};
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&addr;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    }
    ck_assert_int_eq(bind(s, (struct sockaddr *)&addr, len), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&addr, &len), 0);
    al_task *server = ac_spawn(udp_server, AC_VP(s));
    ck_assert_int_eq(aio_sock_sendto(ac_loop(), c, "datagram", 8, (struct sockaddr *)&addr, len),
                     8);
    char buf[64];
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    ssize_t n =
        aio_sock_recvfrom_into(ac_loop(), c, buf, sizeof buf, (struct sockaddr *)&from, &flen);
    ck_assert_int_eq(n, 8);
    ck_assert(memcmp(buf, "datagram", 8) == 0);
    ck_assert_uint_eq(flen, len);
    ck_assert(memcmp(&from, &addr, len) == 0);
    ck_assert_int_eq(ac_join(server), 0);
    close(s);
    close(c);
    return 0;
}

START_TEST(test_udp_echo)
{
    if (_i == 1 && !family_usable(AC_INET6))
        return;
    ac_run_main(udp_main, AC_VP(_i));
}
END_TEST

/* ---- sendfile -------------------------------------------------------------- */

typedef struct sendfile_args {
    int file; /* a regular file, or a pipe's read end (the fallback) */
    off_t offset;
    size_t count;
    size_t expect;
    const unsigned char *data; /* what must arrive */
} sendfile_args;

static int sendfile_main(void *arg, void **result)
{
    (void)result;
    sendfile_args *s = arg;
    int a, b;
    ac_socketpair(&a, &b);
    huge_reader h = {.fd = b, .got = calloc(1, s->expect + 1), .want = s->expect};
    al_task *reader = ac_spawn(huge_read_task, &h);
    size_t sent = 0;
    int rc = aio_sock_sendfile(ac_loop(), a, s->file, s->offset, s->count, &sent);
    ck_assert_msg(rc == 0, "sendfile: %s", aio_strerror(rc));
    ck_assert_uint_eq(sent, s->expect);
    ck_assert_int_eq(ac_join(reader), 0);
    ck_assert(memcmp(h.got, s->data, s->expect) == 0);
    ck_assert_int_eq(recv(b, h.got, 1, MSG_DONTWAIT), -1);
    free(h.got);
    close(a);
    close(b);
    return 0;
}

static unsigned char *pattern(size_t n)
{
    unsigned char *d = malloc(n);
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)(i % 251);
    return d;
}

START_TEST(test_sendfile_regular_file)
{
    size_t size = 300000;
    unsigned char *data = pattern(size);
    char path[] = "/tmp/aio-sendfile-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, data, size), (ssize_t)size);
    /* Whole file from 0, then a window from an offset. */
    sendfile_args all = {.file = fd, .offset = 0, .count = 0, .expect = size, .data = data};
    ac_run_main(sendfile_main, &all);
    ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), (off_t)size);
    sendfile_args win = {
        .file = fd, .offset = 1000, .count = 5000, .expect = 5000, .data = data + 1000};
    ac_run_main(sendfile_main, &win);
    ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 6000);
    close(fd);
    free(data);
}
END_TEST

/* A pipe cannot be sendfile(2)'s source: the read + send fallback. */
START_TEST(test_sendfile_fallback)
{
    size_t size = 50000;
    unsigned char *data = pattern(size);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_ge(fcntl(p[1], F_SETPIPE_SZ, 1 << 17), (int)size);
    ck_assert_int_eq(write(p[1], data, size), (ssize_t)size);
    close(p[1]);
    sendfile_args s = {.file = p[0], .offset = 0, .count = 0, .expect = size, .data = data};
    ac_run_main(sendfile_main, &s);
    close(p[0]);
    free(data);
}
END_TEST

/* ---- cancellation at the other wait points --------------------------------- */

typedef struct dgram_args {
    int fd;
    ssize_t rc;
} dgram_args;

static int recvfrom_task(void *arg, void **result)
{
    (void)result;
    dgram_args *d = arg;
    char buf[64];
    struct sockaddr_storage from;
    socklen_t len = sizeof from;
    d->rc =
        aio_sock_recvfrom_into(ac_loop(), d->fd, buf, sizeof buf, (struct sockaddr *)&from, &len);
    return 0;
}

/* A cancelled recvfrom consumed no datagram. */
static int cancel_recvfrom_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    dgram_args d = {.fd = sv[0]};
    al_task *t = ac_spawn(recvfrom_task, &d);
    ck_assert_int_eq(al_sleep(0.01), 0);
    al_task_cancel(t, NULL);
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert_int_eq(d.rc, AL_ECANCELLED);
    assert_unwatched(ac_loop(), sv[0]);
    ck_assert_int_eq(aio_sock_sendto(ac_loop(), sv[1], "dgram", 5, NULL, 0), 5);
    void *data = NULL;
    ck_assert_int_eq(aio_sock_recvfrom(ac_loop(), sv[0], 64, &data, NULL, NULL), 5);
    ck_assert(memcmp(data, "dgram", 5) == 0);
    free(data);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

START_TEST(test_cancel_recvfrom)
{
    ac_run_main(cancel_recvfrom_main, NULL);
}
END_TEST

typedef struct sendfile_cancel {
    int sock, file;
    size_t sent;
    int rc;
} sendfile_cancel;

static int sendfile_task(void *arg, void **result)
{
    (void)result;
    sendfile_cancel *c = arg;
    c->rc = aio_sock_sendfile(ac_loop(), c->sock, c->file, 0, 0, &c->sent);
    return 0;
}

/* A sendfile cancelled while the socket is full says how much it sent,
 * the file offset follows, and the peer receives exactly that much. */
static int cancel_sendfile_main(void *arg, void **result)
{
    (void)arg, (void)result;
    size_t size = 8u << 20;
    char path[] = "/tmp/aio-sendfile-cancel-XXXXXX";
    int file = mkstemp(path);
    ck_assert_int_ge(file, 0);
    unlink(path);
    ck_assert_int_eq(ftruncate(file, (off_t)size), 0);
    int a, b;
    ac_socketpair(&a, &b);
    sendfile_cancel c = {.sock = a, .file = file};
    al_task *t = ac_spawn(sendfile_task, &c);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert(!al_future_done(al_task_future(t)));
    al_task_cancel(t, NULL);
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert_int_eq(c.rc, AL_ECANCELLED);
    ck_assert_uint_gt(c.sent, 0);
    ck_assert_uint_lt(c.sent, size);
    ck_assert_int_eq(lseek(file, 0, SEEK_CUR), (off_t)c.sent);
    assert_unwatched(ac_loop(), a);
    size_t got = 0;
    char buf[65536];
    ssize_t n;
    while ((n = recv(b, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        got += (size_t)n;
    ck_assert_uint_eq(got, c.sent);
    close(a);
    close(b);
    close(file);
    return 0;
}

START_TEST(test_cancel_sendfile)
{
    ac_run_main(cancel_sendfile_main, NULL);
}
END_TEST

/* ---- the loop closes while tasks wait ------------------------------------------ */

typedef struct parked {
    int kind; /* 0 recv, 1 sendall, 2 accept */
    int fd;
    int rc;
    int cleaned;
} parked;

static int parked_task(void *arg, void **result)
{
    (void)result;
    parked *p = arg;
    al_loop *loop = ac_loop();
    char buf[64];
    static char big[4 << 20];
    if (p->kind == 0)
        p->rc = (int)aio_sock_recv_into(loop, p->fd, buf, sizeof buf);
    else if (p->kind == 1)
        p->rc = aio_sock_sendall(loop, p->fd, big, sizeof big, NULL);
    else
        p->rc = aio_sock_accept(loop, p->fd, NULL, NULL);
    /* The cleanup after the await runs, and may still use the loop's
     * non-suspending calls. */
    p->cleaned = 1;
    aio_loop_remove_reader(loop, p->fd);
    close(p->fd);
    p->fd = -1;
    return p->rc;
}

static int stop_later(al_loop *loop, void *arg)
{
    (void)arg;
    al_loop_stop(loop);
    return 0;
}

static void quiet(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop, (void)ctx, (void)user;
}

START_TEST(test_close_unwinds_waiters)
{
    int before = ac_open_fds();
    al_loop *loop = ac_loop_new();
    al_loop_set_exception_handler(loop, quiet, NULL); /* "destroyed but pending" */
    int a, b, c, d;
    ac_socketpair(&a, &b);
    ac_socketpair(&c, &d);
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    parked p[3] = {{0, a, 0, 0}, {1, c, 0, 0}, {2, ac_listener(AC_INET, &addr, &len), 0, 0}};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(al_task_new(loop, parked_task, &p[i], NULL, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, 0.02, stop_later, NULL, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(p[i].cleaned, 0);
    ck_assert_int_eq(al_loop_close(loop), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(p[i].cleaned, 1);
        ck_assert_msg(p[i].rc == AL_ELOOPCLOSING, "task %d: %s", i, aio_strerror(p[i].rc));
    }
    ck_assert_int_eq(al_loop_free(loop), 0);
    close(b);
    close(d);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

AL_TEST_SUITE(suite_sock)
{
    ac_require_backend();
    Suite *s = suite_create("sock");
    TCase *tc = al_tcase("sock");
    tcase_add_loop_test(tc, test_echo, 0, AC_NFAMILIES);
    tcase_add_test(tc, test_try_syscall_first);
    tcase_add_loop_test(tc, test_try_first_after_a_wait, 0, 2);
    tcase_add_loop_test(tc, test_cancel_recv, 0, 2);
    tcase_add_test(tc, test_cancel_sendall);
    tcase_add_test(tc, test_cancel_accept);
    tcase_add_test(tc, test_cancel_connect);
    tcase_add_test(tc, test_second_waiter_same_direction);
    tcase_add_test(tc, test_debug_refuses_blocking);
    tcase_add_test(tc, test_outside_task);
    tcase_add_loop_test(tc, test_huge_content, 0, AC_NFAMILIES);
    tcase_add_loop_test(tc, test_connect_refused, 0, AC_NFAMILIES);
    tcase_add_loop_test(tc, test_udp_echo, 0, 2);
    tcase_add_test(tc, test_sendfile_regular_file);
    tcase_add_test(tc, test_sendfile_fallback);
    tcase_add_test(tc, test_close_unwinds_waiters);
    tcase_add_test(tc, test_cancel_recvfrom);
    tcase_add_test(tc, test_cancel_sendfile);
    suite_add_tcase(s, tc);
    return s;
}

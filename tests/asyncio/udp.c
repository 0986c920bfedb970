/* Datagram endpoints over IPv4 and IPv6: the echo with and without a
 * connected peer, the datagram protocol order (made -> received / error ->
 * lost, IO16), error_received after an ICMP error, refused arguments,
 * close, reuse_port, and a loop closed under an endpoint; the write
 * queue's pause/resume_writing over a Unix datagram pair that blocks;
 * Unix datagram endpoints (paths) and endpoints on a socket made
 * elsewhere (sock=). */
#include "net_util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct dsm {
    int state; /* SM_INITIAL, SM_CONNECTED, SM_CLOSED */
    int violations;
    int nmade, nlost, nerr, ndgram, npause, nresume;
    int last_error, lost_error;
    char last[64];
    size_t last_len;
    bool echo;
    aio_transport *t;
    al_future *got;
} dsm;

static void settle(al_future *f)
{
    if (f && !al_future_done(f))
        al_future_set_result(f, NULL, NULL);
}

static void d_made(aio_transport *t, void *user)
{
    dsm *d = user;
    d->violations += d->state != SM_INITIAL;
    d->state = SM_CONNECTED;
    d->nmade++;
    d->t = aio_transport_ref(t);
}

static void d_received(aio_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                       socklen_t addrlen, void *user)
{
    dsm *d = user;
    d->violations += d->state != SM_CONNECTED;
    d->ndgram++;
    d->last_len = len < sizeof d->last ? len : sizeof d->last;
    memcpy(d->last, data, d->last_len);
    if (d->echo)
        aio_transport_sendto(t, data, len, addr, addrlen);
    settle(d->got);
}

static void d_error(aio_transport *t, int error, void *user)
{
    (void)t;
    dsm *d = user;
    d->violations += d->state != SM_CONNECTED;
    d->nerr++;
    d->last_error = error;
    settle(d->got);
}

static void d_lost(aio_transport *t, int error, void *user)
{
    dsm *d = user;
    d->violations += d->state != SM_CONNECTED || t != d->t;
    d->state = SM_CLOSED;
    d->nlost++;
    d->lost_error = error;
    settle(d->got);
}

static void d_pause(aio_transport *t, void *user)
{
    (void)t;
    dsm *d = user;
    d->violations += d->state != SM_CONNECTED || d->npause != d->nresume;
    d->npause++;
}

static void d_resume(aio_transport *t, void *user)
{
    (void)t;
    dsm *d = user;
    d->violations += d->state != SM_CONNECTED || d->npause != d->nresume + 1;
    d->nresume++;
}

static const aio_datagram_protocol dsm_protocol = {
    .connection_made = d_made,
    .datagram_received = d_received,
    .error_received = d_error,
    .connection_lost = d_lost,
    .pause_writing = d_pause,
    .resume_writing = d_resume,
};

/* Task: waits for the next event of d. */
static void d_wait(dsm *d)
{
    ck_assert_int_eq(al_future_new(ac_loop(), &d->got), 0);
    ck_assert_int_eq(al_await(d->got), 0);
    al_future_unref(d->got);
    d->got = NULL;
}

static int local_port(aio_transport *t, struct sockaddr_storage *ss, socklen_t *len)
{
    *len = sizeof *ss;
    ck_assert_int_eq(aio_transport_sockname(t, ss, len), 0);
    return ntohs(((struct sockaddr_in *)ss)->sin_port);
}

static void d_close(dsm *d)
{
    aio_transport_close(d->t);
    while (d->nlost == 0)
        d_wait(d);
    ck_assert_int_eq(d->violations, 0);
    ck_assert_int_eq(d->nmade, 1);
    ck_assert_int_eq(d->nlost, 1);
    ck_assert_int_eq(d->lost_error, 0);
    aio_transport_unref(d->t);
}

static int echo_main(void *arg, void **result)
{
    (void)result;
    ac_family f = AC_PV(arg);
    al_loop *loop = ac_loop();
    const char *host = nu_host(f);
    dsm srv = {.echo = true}, cl = {0}, un = {0};
    aio_datagram_options so = {.local_host = host};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &srv, &so, NULL), 0);
    ck_assert_int_eq(srv.nmade, 1);
    struct sockaddr_storage sa;
    socklen_t salen;
    int port = local_port(srv.t, &sa, &salen);
    /* connected: sendto without an address */
    aio_datagram_options co = {.remote_host = host, .remote_port = port};
    aio_transport *t = NULL;
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &cl, &co, &t), 0);
    ck_assert_ptr_eq(t, cl.t);
    ck_assert_int_eq(aio_transport_sendto(t, "ping", 4, NULL, 0), 0);
    d_wait(&cl);
    ck_assert_int_eq(cl.ndgram, 1);
    ck_assert(cl.last_len == 4 && memcmp(cl.last, "ping", 4) == 0);
    ck_assert_int_eq(aio_transport_sendto(t, "", 0, (struct sockaddr *)&sa, salen), 0);
    d_wait(&cl); /* an empty datagram is a datagram */
    ck_assert_int_eq(cl.ndgram, 2);
    ck_assert_uint_eq(cl.last_len, 0);
    struct sockaddr_storage other = sa;
    ((struct sockaddr_in *)&other)->sin_port = htons((uint16_t)(port == 1 ? 2 : port - 1));
    ck_assert_int_eq(aio_transport_sendto(t, "x", 1, (struct sockaddr *)&other, salen), -EISCONN);
    ck_assert_int_eq(aio_transport_write(t, "x", 1), -ENOTSUP);
    /* unconnected: an address is needed */
    aio_datagram_options uo = {.local_host = host};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &un, &uo, NULL), 0);
    ck_assert_int_eq(aio_transport_sendto(un.t, "x", 1, NULL, 0), -EDESTADDRREQ);
    ck_assert_int_eq(aio_transport_sendto(un.t, "pong", 4, (struct sockaddr *)&sa, salen), 0);
    d_wait(&un);
    ck_assert(un.last_len == 4 && memcmp(un.last, "pong", 4) == 0);
    ck_assert_int_eq(srv.ndgram, 3);
    aio_transport_close(un.t);
    ck_assert_int_eq(aio_transport_sendto(un.t, "late", 4, (struct sockaddr *)&sa, salen), 0);
    d_close(&un);
    d_close(&cl);
    d_close(&srv);
    return 0;
}

START_TEST(test_udp_echo)
{
    NU_NEED_FAMILY(_i);
    ac_run_main(echo_main, AC_VP(_i));
}
END_TEST

/* A connected endpoint whose peer port is closed: the ICMP error comes
 * back as error_received(-ECONNREFUSED); the endpoint stays usable. */
static int refused_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    dsm probe = {0}, cl = {0};
    aio_datagram_options po = {.local_host = "127.0.0.1"};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &probe, &po, NULL), 0);
    struct sockaddr_storage sa;
    socklen_t salen;
    int port = local_port(probe.t, &sa, &salen);
    d_close(&probe); /* its port is free now */
    aio_datagram_options co = {.remote_host = "127.0.0.1", .remote_port = port};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &cl, &co, NULL), 0);
    for (int i = 0; i < 20 && cl.nerr == 0; i++) {
        ck_assert_int_eq(aio_transport_sendto(cl.t, "x", 1, NULL, 0), 0);
        al_sleep(0.01);
    }
    ck_assert_int_gt(cl.nerr, 0);
    ck_assert_int_eq(cl.last_error, -ECONNREFUSED);
    ck_assert(!aio_transport_is_closing(cl.t));
    d_close(&cl);
    return 0;
}

START_TEST(test_udp_error_received)
{
    ac_run_main(refused_main, NULL);
}
END_TEST

static int bad_args_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    dsm d = {0};
    aio_datagram_options none = {0};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, &none, NULL), -EINVAL);
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, NULL, NULL), -EINVAL);
    aio_datagram_options o = {.local_host = "127.0.0.1"};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, NULL, &d, &o, NULL), -EINVAL);
    aio_datagram_options port = {.local_host = "127.0.0.1", .local_port = 70000};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, &port, NULL), -EINVAL);
    /* port in use, then shared with reuse_port */
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, &o, NULL), 0);
    struct sockaddr_storage sa;
    socklen_t salen;
    aio_datagram_options same = {.local_host = "127.0.0.1",
                                 .local_port = local_port(d.t, &sa, &salen)};
    dsm d2 = {0};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d2, &same, NULL),
                     -EADDRINUSE);
    ck_assert_int_eq(d2.nmade, 0);
    d_close(&d);
    dsm a = {0}, b = {0};
    aio_datagram_options rp = {.local_host = "127.0.0.1", .reuse_port = true};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &a, &rp, NULL), 0);
    rp.local_port = local_port(a.t, &sa, &salen);
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &b, &rp, NULL), 0);
    d_close(&a);
    d_close(&b);
    return 0;
}

START_TEST(test_udp_arguments)
{
    int before = ac_open_fds();
    ac_run_main(bad_args_main, NULL);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

static dsm left;

static int leave_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    aio_datagram_options o = {.local_host = "127.0.0.1"};
    return aio_create_datagram_endpoint(ac_loop(), &dsm_protocol, &left, &o, NULL);
}

START_TEST(test_udp_loop_close)
{
    int before = ac_open_fds();
    ac_run_main(leave_main, NULL);
    ck_assert_int_eq(left.violations, 0);
    ck_assert_int_eq(left.nlost, 1);
    ck_assert_int_eq(left.lost_error, AL_ELOOPCLOSED);
    aio_transport_unref(left.t);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

/* ---- flow control, for real: a Unix datagram pair whose peer does not
 * read blocks (loopback UDP never does) ------------------------------------------ */

enum { DGRAM = 200 };

static int flow_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096;
    ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    dsm d = {0};
    aio_transport *t = NULL;
    ck_assert_int_eq(aio_create_datagram_endpoint_sock(loop, &dsm_protocol, &d, sv[0], &t), 0);
    ck_assert_int_eq(aio_transport_set_write_buffer_limits(t, 2000, 500), 0);
    unsigned char msg[DGRAM];
    int sent = 0;
    while (d.npause == 0 && sent < 100000) { /* until the queue passes 2000 bytes */
        memset(msg, sent & 0xff, sizeof msg);
        memcpy(msg, &sent, sizeof sent);
        ck_assert_int_eq(aio_transport_sendto(t, msg, sizeof msg, NULL, 0), 0);
        sent++;
    }
    ck_assert_int_eq(d.npause, 1);
    ck_assert_uint_gt(aio_transport_get_write_buffer_size(t), 2000);
    ck_assert_uint_le(aio_transport_get_write_buffer_size(t), 2000 + DGRAM);
    ck_assert_int_eq(d.nresume, 0);
    /* the peer reads: the queue drains, resume_writing once at <= 500 */
    int got = 0;
    double end = al_loop_time(loop) + 10;
    while (got < sent && al_loop_time(loop) < end) {
        unsigned char in[DGRAM + 1];
        ssize_t n = recv(sv[1], in, sizeof in, MSG_DONTWAIT);
        if (n < 0) {
            al_sleep(0.001);
            continue;
        }
        int idx;
        memcpy(&idx, in, sizeof idx);
        ck_assert_int_eq(n, DGRAM);
        ck_assert_int_eq(idx, got); /* whole, in order */
        ck_assert_int_eq(in[DGRAM - 1], got & 0xff);
        got++;
    }
    ck_assert_int_eq(got, sent);
    ck_assert_int_eq(d.nresume, 1);
    ck_assert_uint_eq(aio_transport_get_write_buffer_size(t), 0);
    d_close(&d);
    close(sv[1]);
    return 0;
}

START_TEST(test_udp_flow_control)
{
    int before = ac_open_fds();
    ac_run_main(flow_main, NULL);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

/* ---- Unix datagram endpoints ------------------------------------------------------- */

static int unix_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    char p1[108], p2[108];
    nu_path(p1, sizeof p1);
    nu_path(p2, sizeof p2);
    dsm srv = {.echo = true}, cl = {0}, srv2 = {.echo = true};
    aio_datagram_options so = {.local_path = p1};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &srv, &so, NULL), 0);
    aio_datagram_options co = {.local_path = p2, .remote_path = p1};
    aio_transport *t = NULL;
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &cl, &co, &t), 0);
    ck_assert_int_eq(aio_transport_sendto(t, "ping", 4, NULL, 0), 0);
    d_wait(&cl); /* the server echoed to the client's path */
    ck_assert(cl.last_len == 4 && memcmp(cl.last, "ping", 4) == 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    ck_assert_int_eq(aio_transport_peername(t, &ss, &len), 0);
    ck_assert_str_eq(((struct sockaddr_un *)&ss)->sun_path, p1);
    struct sockaddr_un other = {.sun_family = AF_UNIX};
    strcpy(other.sun_path, p2);
    ck_assert_int_eq(aio_transport_sendto(t, "x", 1, (struct sockaddr *)&other, sizeof other),
                     -EISCONN);
    d_close(&srv);
    d_close(&cl);
    /* the files stay (as asyncio leaves them); new endpoints replace them */
    ck_assert_int_eq(access(p1, F_OK), 0);
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &srv2, &so, NULL), 0);
    dsm cl2 = {0};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &cl2, &co, &t), 0);
    ck_assert_int_eq(aio_transport_sendto(t, "again", 5, NULL, 0), 0);
    d_wait(&cl2);
    ck_assert(cl2.last_len == 5 && memcmp(cl2.last, "again", 5) == 0);
    d_close(&srv2);
    d_close(&cl2);
    unlink(p1);
    unlink(p2);
    /* refused: host and path mixed, a path too long, broadcast, no one at the path */
    dsm d = {0};
    aio_datagram_options mixed = {.local_host = "127.0.0.1", .remote_path = p1};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, &mixed, NULL), -EINVAL);
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    aio_datagram_options lp = {.local_path = longp};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, &lp, NULL), -EINVAL);
    aio_datagram_options bc = {.local_path = p1, .allow_broadcast = true};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, &bc, NULL), -EINVAL);
    aio_datagram_options fam = {.local_path = p1, .family = AF_INET};
    ck_assert_int_eq(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, &fam, NULL), -EINVAL);
    aio_datagram_options nobody = {.remote_path = p1};
    ck_assert_int_lt(aio_create_datagram_endpoint(loop, &dsm_protocol, &d, &nobody, NULL), 0);
    ck_assert_int_eq(d.nmade, 0);
    return 0;
}

START_TEST(test_udp_unix)
{
    int before = ac_open_fds();
    ac_run_main(unix_main, NULL);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

/* sock=: refusals leave the socket the caller's */
static int sock_refused_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    dsm d = {0};
    ck_assert_int_eq(aio_create_datagram_endpoint_sock(loop, &dsm_protocol, &d, -1, NULL), -EBADF);
    int st = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(aio_create_datagram_endpoint_sock(loop, &dsm_protocol, &d, st, NULL), -EINVAL);
    ck_assert_int_eq(fcntl(st, F_GETFL) & O_NONBLOCK, 0);
    close(st);
    int dg = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(aio_create_datagram_endpoint_sock(loop, NULL, &d, dg, NULL), -EINVAL);
    ck_assert_int_eq(fcntl(dg, F_GETFL) & O_NONBLOCK, 0);
    close(dg);
    ck_assert_int_eq(d.nmade, 0);
    return 0;
}

START_TEST(test_udp_sock_refused)
{
    int before = ac_open_fds();
    ac_run_main(sock_refused_main, NULL);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

AL_TEST_SUITE(suite_udp)
{
    ac_require_backend();
    Suite *s = suite_create("udp");
    TCase *tc = al_tcase("udp");
    tcase_add_loop_test(tc, test_udp_echo, 0, 2);
    tcase_add_test(tc, test_udp_error_received);
    tcase_add_test(tc, test_udp_arguments);
    tcase_add_test(tc, test_udp_loop_close);
    tcase_add_test(tc, test_udp_flow_control);
    tcase_add_test(tc, test_udp_unix);
    tcase_add_test(tc, test_udp_sock_refused);
    suite_add_tcase(s, tc);
    return s;
}

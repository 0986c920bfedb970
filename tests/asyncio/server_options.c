/* Options of servers and connections: keep_alive (SO_KEEPALIVE on the
 * server's and the client's sockets), a server on a socket made elsewhere
 * (create_server(sock=...)), the interleaving of address families before
 * the attempts (create_connection(interleave=...)). */
#include "net_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

static bool one_client(void *arg)
{
    return aio_server_connections(arg) == 1;
}

static int keepalive_of(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    return v != 0;
}

/* A server and a client of family f (TCP) with keep_alive on or off. */
static int keep_alive_main(void *arg, void **result)
{
    (void)result;
    ac_family f = AC_PV(arg) / 2 ? AC_INET6 : AC_INET;
    bool on = AC_PV(arg) % 2;
    if (f == AC_INET6 && !ac_have_ipv6()) {
        printf("IPv6 not available: case not run\n");
        return 0;
    }
    al_loop *loop = ac_loop();
    sm_pool pool;
    sm_pool_init(&pool, loop, 1);
    char path[108];
    aio_server_options so = {.keep_alive = on};
    aio_server *srv = nu_serve(f, sm_pool_factory, &pool, &so, path);
    int lfd;
    ck_assert_uint_eq(aio_server_sockets(srv, &lfd, 1), 1);
    ck_assert_int_eq(keepalive_of(lfd), on);
    sm cl;
    sm_init(&cl, loop);
    aio_transport *t = NULL;
    aio_connect_options co = {.keep_alive = on};
    ck_assert_int_eq(
        aio_create_connection(loop, &sm_protocol, &cl, nu_host(f), aio_server_port(srv), &co, &t),
        0);
    ck_assert_int_eq(keepalive_of(aio_transport_fd(t)), on);
    ck_assert(sm_until(one_client, srv, 5));
    ck_assert_int_eq(keepalive_of(aio_transport_fd(pool.slots[0].t)), on); /* accepted */
    aio_transport_close(t);
    nu_end_server(srv, &cl, &pool);
    return 0;
}

START_TEST(test_keep_alive)
{
    ac_run_main(keep_alive_main, AC_VP(_i));
}
END_TEST

/* ---- a server on a socket made elsewhere ------------------------------------------- */

/* A bound, not yet listening, blocking stream socket of family f. */
static int bound_socket(ac_family f, char *path)
{
    int fd = socket(f == AC_UNIX ? AF_UNIX : f == AC_INET6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    if (f == AC_UNIX) {
        struct sockaddr_un *a = (struct sockaddr_un *)&ss;
        memset(a, 0, sizeof *a);
        a->sun_family = AF_UNIX;
        nu_path(path, sizeof a->sun_path);
        strcpy(a->sun_path, path);
        len = sizeof *a;
    } else {
        struct addrinfo *ai = nu_addr(f, 0, &ss);
        len = ai->ai_addrlen;
        free(ai);
    }
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
    return fd;
}

static int server_sock_main(void *arg, void **result)
{
    (void)result;
    ac_family f = AC_PV(arg);
    if (f == AC_INET6 && !ac_have_ipv6()) {
        printf("IPv6 not available: case not run\n");
        return 0;
    }
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    sm_pool pool;
    sm_pool_init(&pool, loop, 1);
    pool.echo = true;
    char path[108] = "";
    int fd = bound_socket(f, path);
    aio_server *srv = NULL;
    ck_assert_int_eq(aio_create_server_sock(loop, sm_pool_factory, &pool, fd, NULL, &srv), 0);
    int lfd = -1;
    ck_assert_uint_eq(aio_server_sockets(srv, &lfd, 1), 1);
    ck_assert_int_eq(lfd, fd);
    ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
    ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    ck_assert(aio_server_is_serving(srv));
    sm cl;
    sm_init(&cl, loop);
    aio_transport *t = NULL;
    ck_assert_int_eq(nu_connect(f, srv, path, &sm_protocol, &cl, &t), 0);
    ck_assert_int_eq(aio_transport_write(t, "ping", 4), 0);
    ck_assert_int_eq(sm_wait_data(&cl, 4), 0);
    ck_assert_int_eq(memcmp(cl.data, "ping", 4), 0);
    aio_transport_close(t);
    nu_end_server(srv, &cl, &pool);
    if (f == AC_UNIX)
        unlink(path); /* not removed by the server: the path is not its own */
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_server_sock)
{
    ac_run_main(server_sock_main, AC_VP(_i));
}
END_TEST

/* Refusals leave the socket as it was, the caller's. */
static int server_sock_refused_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    sm_pool pool;
    sm_pool_init(&pool, loop, 1);
    aio_server *srv = NULL;
    ck_assert_int_eq(aio_create_server_sock(loop, sm_pool_factory, &pool, -1, NULL, &srv), -EBADF);
    int dgram = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(aio_create_server_sock(loop, sm_pool_factory, &pool, dgram, NULL, &srv),
                     -EINVAL);
    ck_assert_int_eq(fcntl(dgram, F_GETFL) & O_NONBLOCK, 0); /* unchanged, still open */
    close(dgram);
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    ck_assert_int_eq(aio_create_server_sock(loop, sm_pool_factory, &pool, pipefd[0], NULL, &srv),
                     -ENOTSOCK);
    close(pipefd[0]);
    close(pipefd[1]);
    char path[108];
    int fd = bound_socket(AC_INET, path);
    ck_assert_int_eq(aio_create_server_sock(loop, NULL, &pool, fd, NULL, &srv), -EINVAL);
    aio_server_options bad = {.backlog = -1};
    ck_assert_int_eq(aio_create_server_sock(loop, sm_pool_factory, &pool, fd, &bad, &srv), -EINVAL);
    ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_ptr_null(srv);
    close(fd);
    sm_pool_fini(&pool);
    return 0;
}

START_TEST(test_server_sock_refused)
{
    ac_run_main(server_sock_refused_main, NULL);
}
END_TEST

/* ---- interleave ------------------------------------------------------------------- */

/* Connects over addrs [IPv4 closed, IPv4 server a, IPv6 server b] with
 * the given interleave and delay; the port of the server that won. */
static int winner(int interleave, double delay, int pa, int pb)
{
    al_loop *loop = ac_loop();
    struct sockaddr_storage s1, s2, s3;
    struct addrinfo *a1 = nu_addr(AC_INET, nu_closed_port(AC_INET), &s1);
    struct addrinfo *a2 = nu_addr(AC_INET, pa, &s2);
    struct addrinfo *a3 = nu_addr(AC_INET6, pb, &s3);
    a1->ai_next = a2;
    a2->ai_next = a3;
    aio_connect_options o = {.addrs = a1, .interleave = interleave, .happy_eyeballs_delay = delay};
    sm cl;
    sm_init(&cl, loop);
    aio_transport *t = NULL;
    int rc = aio_create_connection(loop, &sm_protocol, &cl, NULL, 0, &o, &t);
    ck_assert_msg(rc == 0, "interleave %d: %s", interleave, aio_strerror(rc));
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    ck_assert_int_eq(aio_transport_peername(t, &peer, &len), 0);
    int port = peer.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&peer)->sin_port)
                                         : ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
    aio_transport_close(t);
    ck_assert_int_eq(sm_wait_lost(&cl), 0);
    sm_check_closed(&cl, 0);
    sm_fini(&cl);
    free(a1);
    free(a2);
    free(a3);
    return port;
}

static int interleave_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    if (!ac_have_ipv6()) {
        printf("IPv6 not available: case not run\n");
        return 0;
    }
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    sm_pool pool;
    sm_pool_init(&pool, loop, 8);
    char path[108];
    aio_server *a = nu_serve(AC_INET, sm_pool_factory, &pool, NULL, path);
    aio_server *b = nu_serve(AC_INET6, sm_pool_factory, &pool, NULL, path);
    int pa = aio_server_port(a), pb = aio_server_port(b);
    /* one by one: as given unless asked */
    ck_assert_int_eq(winner(0, 0, pa, pb), pa);
    ck_assert_int_eq(winner(-1, 0, pa, pb), pa);
    /* 1: IPv4, IPv6, IPv4 */
    ck_assert_int_eq(winner(1, 0, pa, pb), pb);
    /* 2: two IPv4 first (the first family's count) */
    ck_assert_int_eq(winner(2, 0, pa, pb), pa);
    /* happy eyeballs interleaves by default (the closed port fails at
     * once, so the second attempt starts without waiting the delay) */
    ck_assert_int_eq(winner(0, 10.0, pa, pb), pb);
    ck_assert_int_eq(winner(-1, 10.0, pa, pb), pa);
    aio_server_close(a);
    aio_server_close(b);
    aio_server_close_clients(a);
    aio_server_close_clients(b);
    ck_assert_int_eq(aio_server_wait_closed(a), 0);
    ck_assert_int_eq(aio_server_wait_closed(b), 0);
    aio_server_free(a);
    aio_server_free(b);
    sm_pool_fini(&pool);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_interleave)
{
    ac_run_main(interleave_main, NULL);
}
END_TEST

AL_TEST_SUITE(suite_server_options)
{
    ac_require_backend();
    Suite *s = suite_create("server_options");
    TCase *tc = al_tcase("server_options");
    tcase_add_loop_test(tc, test_keep_alive, 0, 4);
    tcase_add_loop_test(tc, test_server_sock, 0, AC_NFAMILIES);
    tcase_add_test(tc, test_server_sock_refused);
    tcase_add_test(tc, test_interleave);
    suite_add_tcase(s, tc);
    return s;
}

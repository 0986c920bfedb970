/* Servers and connections: wait_closed (IO29), close_clients /
 * abort_clients, start_serving / serve_forever / closing (IO30), Unix
 * socket cleanup, port 0 and port in use, all interfaces, SO_REUSEPORT,
 * connecting: refused, invalid arguments, local address, several errors
 * (IO18), happy eyeballs over a hung first address (IO19), timeouts, the
 * EMFILE storm on accept, server close with live clients. */
#include "net_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct fam_case {
    ac_family f;
} fam_case;

/* ---- wait_closed, close_clients, abort_clients (IO29) -------------------------------- */

typedef struct waiter {
    aio_server *s;
    bool done;
} waiter;

static int wait_closed_task(void *arg, void **result)
{
    (void)result;
    waiter *w = arg;
    int rc = aio_server_wait_closed(w->s);
    w->done = true;
    return rc;
}

static bool one_client(void *arg)
{
    return aio_server_connections(arg) == 1;
}

static int wait_closed_main(void *arg, void **result)
{
    (void)result;
    int mode = AC_PV(arg); /* 0: the client leaves, 1: close_clients, 2: abort_clients */
    al_loop *loop = ac_loop();
    sm_pool pool;
    sm_pool_init(&pool, loop, 2);
    char path[108];
    aio_server *srv = nu_serve(AC_INET, sm_pool_factory, &pool, NULL, path);
    waiter w = {.s = srv}, w2 = {.s = srv};
    al_task *t = ac_spawn(wait_closed_task, &w);
    al_sleep(0.01);
    ck_assert(!w.done); /* not closed yet: it waits */
    sm cl;
    sm_init(&cl, loop);
    ck_assert_int_eq(nu_connect(AC_INET, srv, path, &sm_protocol, &cl, NULL), 0);
    ck_assert(sm_until(one_client, srv, 5));
    aio_server_close(srv);
    waiter w3 = {.s = srv};
    al_task *t2 = ac_spawn(wait_closed_task, &w2);
    al_task *t3 = ac_spawn(wait_closed_task, &w3);
    al_sleep(0.01);
    ck_assert(!w.done && !w2.done && !w3.done); /* closed, but a connection is left */
    /* a cancelled waiter cancels nothing the others wait on */
    ck_assert_int_eq(al_task_cancel(t3, NULL), 1);
    ck_assert_int_eq(ac_join(t3), AL_ECANCELLED);
    al_sleep(0);
    ck_assert(!w.done && !w2.done);
    ck_assert_uint_eq(aio_server_sockets(srv, NULL, 0), 0);
    if (mode == 0) {
        aio_transport_close(cl.t);
    } else {
        if (mode == 1)
            aio_server_close_clients(srv);
        else
            aio_server_abort_clients(srv);
        for (int i = 0; i < 3; i++)
            al_sleep(0); /* asyncio: done within 2 iterations */
        ck_assert_uint_eq(aio_server_connections(srv), 0);
    }
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert_int_eq(ac_join(t2), 0);
    ck_assert(w.done && w2.done);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0); /* and a later call */
    nu_end_server(srv, &cl, &pool);
    return 0;
}

START_TEST(test_wait_closed)
{
    ac_run_main(wait_closed_main, AC_VP(_i));
}
END_TEST

/* Closing stops listening only: the live connections go on serving. */
static int close_live_main(void *arg, void **result)
{
    (void)result;
    fam_case *c = arg;
    al_loop *loop = ac_loop();
    sm_pool pool;
    sm_pool_init(&pool, loop, 4);
    pool.echo = true;
    char path[108];
    aio_server *srv = nu_serve(c->f, sm_pool_factory, &pool, NULL, path);
    int port = c->f == AC_UNIX ? 0 : aio_server_port(srv);
    sm cl[2];
    for (int i = 0; i < 2; i++) {
        sm_init(&cl[i], loop);
        ck_assert_int_eq(nu_connect(c->f, srv, path, &sm_protocol, &cl[i], NULL), 0);
    }
    aio_server_close(srv);
    aio_server_close(srv); /* idempotent */
    ck_assert_int_eq(aio_server_start_serving(srv), AIO_ESERVERCLOSED);
    /* a new connection is refused */
    sm late;
    sm_init(&late, loop);
    int rc = c->f == AC_UNIX ? aio_create_unix_connection(loop, &sm_protocol, &late, path, NULL)
                             : aio_create_connection(loop, &sm_protocol, &late, nu_host(c->f), port,
                                                     NULL, NULL);
    ck_assert_msg(rc == -ECONNREFUSED || (c->f == AC_UNIX && rc == -ENOENT), "late: %s",
                  aio_strerror(rc));
    ck_assert_int_eq(late.nmade, 0);
    /* the live ones still echo */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(aio_transport_write(cl[i].t, "live", 4), 0);
        ck_assert_int_eq(sm_wait_data(&cl[i], 4), 0);
        ck_assert(memcmp(cl[i].data, "live", 4) == 0);
    }
    aio_server_close_clients(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(sm_wait_lost(&cl[i]), 0);
        sm_check_closed(&cl[i], 0);
        sm_fini(&cl[i]);
    }
    sm_fini(&late);
    aio_server_free(srv);
    sm_pool_fini(&pool);
    return 0;
}

START_TEST(test_close_with_live_clients)
{
    NU_NEED_FAMILY(_i);
    fam_case c = {.f = _i};
    ac_run_main(close_live_main, &c);
}
END_TEST

/* ---- start_serving, serve_forever (IO30) ------------------------------------------------ */

static int forever_task(void *arg, void **result)
{
    (void)result;
    return aio_server_serve_forever(arg);
}

static int serve_forever_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    sm_pool pool;
    sm_pool_init(&pool, loop, 2);
    pool.echo = true;
    aio_server_options o = {.start_later = true};
    char path[108];
    aio_server *srv = nu_serve(AC_INET, sm_pool_factory, &pool, &o, path);
    ck_assert(!aio_server_is_serving(srv));
    ck_assert_uint_eq(aio_server_sockets(srv, NULL, 0), 1);
    int port = aio_server_port(srv);
    ck_assert_int_gt(port, 0);
    al_task *t = ac_spawn(forever_task, srv);
    al_sleep(0);
    ck_assert(aio_server_is_serving(srv));
    ck_assert_int_eq(aio_server_serve_forever(srv), AL_EINVALIDSTATE); /* one at a time */
    sm cl;
    sm_init(&cl, loop);
    ck_assert_int_eq(nu_connect(AC_INET, srv, path, &sm_protocol, &cl, NULL), 0);
    ck_assert_int_eq(aio_transport_write(cl.t, "hi", 2), 0);
    ck_assert_int_eq(sm_wait_data(&cl, 2), 0);
    aio_transport_close(cl.t);
    ck_assert_int_eq(sm_wait_lost(&cl), 0);
    /* cancelling serve_forever closes the server (and waits for it) */
    al_task_cancel(t, NULL);
    ck_assert_int_eq(ac_join(t), AL_ECANCELLED);
    ck_assert(!aio_server_is_serving(srv));
    ck_assert_uint_eq(aio_server_sockets(srv, NULL, 0), 0);
    ck_assert_uint_eq(aio_server_connections(srv), 0);
    ck_assert_int_eq(aio_server_serve_forever(srv), AIO_ESERVERCLOSED);
    ck_assert_int_eq(aio_server_start_serving(srv), AIO_ESERVERCLOSED);
    sm late;
    sm_init(&late, loop);
    ck_assert_int_eq(
        aio_create_connection(loop, &sm_protocol, &late, "127.0.0.1", port, NULL, NULL),
        -ECONNREFUSED);
    sm_check_closed(&cl, 0);
    sm_fini(&late);
    sm_fini(&cl);
    aio_server_free(srv);
    sm_pool_fini(&pool);
    return 0;
}

START_TEST(test_serve_forever)
{
    ac_run_main(serve_forever_main, NULL);
}
END_TEST

/* aio_server_close ends a running serve_forever too. */
static int close_ends_forever_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    sm_pool pool;
    sm_pool_init(&pool, ac_loop(), 1);
    char path[108];
    aio_server *srv = nu_serve(AC_UNIX, sm_pool_factory, &pool, NULL, path);
    al_task *t = ac_spawn(forever_task, srv);
    al_sleep(0);
    aio_server_close(srv);
    ck_assert_int_eq(ac_join(t), AL_ECANCELLED);
    ck_assert_int_ne(access(path, F_OK), 0);
    aio_server_free(srv);
    sm_pool_fini(&pool);
    return 0;
}

START_TEST(test_close_ends_serve_forever)
{
    ac_run_main(close_ends_forever_main, NULL);
}
END_TEST

/* ---- Unix socket files -------------------------------------------------------------------- */

static int unix_cleanup_main(void *arg, void **result)
{
    (void)result;
    int mode = AC_PV(arg); /* 0 removed, 1 replaced meanwhile, 2 keep_unix_socket, 3 stale */
    sm_pool pool;
    sm_pool_init(&pool, ac_loop(), 1);
    char path[108];
    nu_path(path, sizeof path);
    if (mode == 3) { /* a stale socket file from an earlier run is replaced */
        struct sockaddr_storage a;
        socklen_t len = sizeof a;
        int l = ac_listener(AC_UNIX, &a, &len);
        close(l); /* leaves its file */
        ck_assert_int_eq(rename(((struct sockaddr_un *)&a)->sun_path, path), 0);
    }
    aio_server_options o = {.keep_unix_socket = mode == 2};
    aio_server *srv;
    ck_assert_int_eq(aio_create_unix_server(ac_loop(), sm_pool_factory, &pool, path, &o, &srv), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    if (mode == 1) {
        unlink(path);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);
    }
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    bool exists = access(path, F_OK) == 0;
    ck_assert_int_eq(exists, mode == 1 || mode == 2);
    unlink(path);
    aio_server_free(srv);
    sm_pool_fini(&pool);
    return 0;
}

START_TEST(test_unix_cleanup)
{
    ac_run_main(unix_cleanup_main, AC_VP(_i));
}
END_TEST

/* A path that is not a socket is not removed: -EADDRINUSE. */
static int unix_busy_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char path[108];
    nu_path(path, sizeof path);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    aio_server *srv = NULL;
    sm_pool pool;
    sm_pool_init(&pool, ac_loop(), 1);
    ck_assert_int_eq(aio_create_unix_server(ac_loop(), sm_pool_factory, &pool, path, NULL, &srv),
                     -EADDRINUSE);
    ck_assert_ptr_null(srv);
    ck_assert_int_eq(access(path, F_OK), 0);
    unlink(path);
    ck_assert_int_eq(aio_create_unix_server(ac_loop(), sm_pool_factory, &pool, "", NULL, &srv),
                     -EINVAL);
    sm_pool_fini(&pool);
    return 0;
}

START_TEST(test_unix_path_busy)
{
    ac_run_main(unix_busy_main, NULL);
}
END_TEST

/* ---- addresses and ports ---------------------------------------------------------------- */

static int ports_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    sm_pool pool;
    sm_pool_init(&pool, loop, 4);
    pool.echo = true;
    int before = ac_open_fds();
    /* NULL hosts: all interfaces */
    aio_server *all;
    ck_assert_int_eq(aio_create_server(loop, sm_pool_factory, &pool, NULL, 0, NULL, &all), 0);
    size_t n = aio_server_sockets(all, NULL, 0);
    ck_assert_uint_ge(n, 1);
    ck_assert_int_eq(ac_open_fds(), before + (int)n);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    ck_assert_int_eq(aio_server_sockname(all, 0, &ss, &len), 0);
    ck_assert_int_eq(aio_server_sockname(all, n, &ss, &len), -ENOENT);
    sm cl;
    sm_init(&cl, loop);
    ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, "127.0.0.1",
                                           aio_server_port(all), NULL, NULL),
                     0);
    ck_assert_int_eq(aio_transport_write(cl.t, "x", 1), 0);
    ck_assert_int_eq(sm_wait_data(&cl, 1), 0);
    aio_transport_close(cl.t);
    ck_assert_int_eq(sm_wait_lost(&cl), 0);
    sm_fini(&cl);
    /* port in use */
    const char *v4[] = {"127.0.0.1", NULL};
    int port = aio_server_port(all);
    aio_server *again = NULL;
    ck_assert_int_eq(aio_create_server(loop, sm_pool_factory, &pool, v4, port, NULL, &again),
                     -EADDRINUSE);
    ck_assert_ptr_null(again);
    aio_server_close(all);
    ck_assert_int_eq(aio_server_wait_closed(all), 0);
    aio_server_free(all);
    ck_assert_int_eq(ac_open_fds(), before);
    /* SO_REUSEPORT: two servers on one port */
    aio_server_options o = {.reuse_port = true};
    aio_server *a, *b;
    ck_assert_int_eq(aio_create_server(loop, sm_pool_factory, &pool, v4, 0, &o, &a), 0);
    ck_assert_int_eq(
        aio_create_server(loop, sm_pool_factory, &pool, v4, aio_server_port(a), &o, &b), 0);
    ck_assert_int_eq(aio_server_port(a), aio_server_port(b));
    aio_server_free(a);
    aio_server_free(b);
    /* bad arguments change nothing */
    ck_assert_int_eq(aio_create_server(loop, sm_pool_factory, &pool, v4, 70000, NULL, &a), -EINVAL);
    ck_assert_int_eq(aio_create_server(loop, sm_pool_factory, &pool, v4, -1, NULL, &a), -EINVAL);
    ck_assert_int_eq(aio_create_server(loop, NULL, &pool, v4, 0, NULL, &a), -EINVAL);
    ck_assert_int_eq(aio_create_server(NULL, sm_pool_factory, &pool, v4, 0, NULL, &a), -EINVAL);
    const char *bad[] = {"127.0.0.1", "999.1.2.3.4", NULL};
    int rc = aio_create_server(loop, sm_pool_factory, &pool, bad, 0, NULL, &a);
    ck_assert_msg(rc <= AIO_ERROR_FIRST && rc >= AIO_ERROR_LAST, "bad host: %s", aio_strerror(rc));
    ck_assert_int_eq(ac_open_fds(), before);
    sm_pool_fini(&pool);
    return 0;
}

START_TEST(test_ports_and_addresses)
{
    ac_run_main(ports_main, NULL);
}
END_TEST

/* A listener whose port is free: connecting to it is refused. */
static int connect_errors_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    sm cl;
    sm_init(&cl, loop);
    aio_transport *t = NULL;
    int port = nu_closed_port(AC_INET);
    ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, "127.0.0.1", port, NULL, &t),
                     -ECONNREFUSED);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(cl.nmade, 0);
    /* invalid arguments */
    ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, "127.0.0.1", 65536, NULL, &t),
                     -EINVAL);
    ck_assert_int_eq(aio_create_connection(loop, NULL, &cl, "127.0.0.1", 1, NULL, &t), -EINVAL);
    ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, NULL, 1, NULL, &t), -EINVAL);
    aio_connect_options neg = {.timeout = -1};
    ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, "127.0.0.1", 1, &neg, &t),
                     -EINVAL);
    aio_connect_options v6only = {.family = AF_INET6};
    int rc = aio_create_connection(loop, &sm_protocol, &cl, "127.0.0.1", 1, &v6only, &t);
    ck_assert_msg(rc <= AIO_ERROR_FIRST && rc >= AIO_ERROR_LAST, "family mismatch: %s",
                  aio_strerror(rc));
    char path[108];
    ck_assert_int_eq(
        aio_create_unix_connection(loop, &sm_protocol, &cl, nu_path(path, sizeof path), &t),
        -ENOENT);
    ck_assert_int_eq(aio_create_unix_connection(loop, &sm_protocol, &cl, "", &t), -EINVAL);
    /* local address in use by a listener: the bind fails */
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    int l = ac_listener(AC_INET, &a, &len);
    aio_connect_options local = {.local_host = "127.0.0.1",
                                 .local_port = ntohs(((struct sockaddr_in *)&a)->sin_port)};
    ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, "127.0.0.1", port, &local, &t),
                     -EADDRINUSE);
    close(l);
    ck_assert_int_eq(ac_open_fds(), before);
    ck_assert_int_eq(cl.nmade, 0);
    sm_fini(&cl);
    return 0;
}

START_TEST(test_connect_errors)
{
    ac_run_main(connect_errors_main, NULL);
}
END_TEST

/* Not inside a task: refused. */
START_TEST(test_connect_outside_task)
{
    al_loop *loop = ac_loop_new();
    sm cl;
    memset(&cl, 0, sizeof cl);
    ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, "127.0.0.1", 1, NULL, NULL),
                     AL_ENOTINTASK);
    al_loop *pure = al_loop_new();
    ck_assert_int_eq(aio_create_connection(pure, &sm_protocol, &cl, "127.0.0.1", 1, NULL, NULL),
                     AL_ENOTIOLOOP);
    aio_server *s = NULL;
    ck_assert_int_eq(aio_create_server(pure, sm_pool_factory, NULL, NULL, 0, NULL, &s),
                     AL_ENOTIOLOOP);
    al_loop_free(pure);
    al_loop_free(loop);
}
END_TEST

/* ---- several addresses: errors (IO18), happy eyeballs (IO19), timeout ------------------- */

static int multiple_errors_main(void *arg, void **result)
{
    (void)result;
    bool staggered = arg != NULL;
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    struct sockaddr_storage s1, s2;
    int port = nu_closed_port(AC_INET);
    struct addrinfo *a1 = nu_addr(AC_INET, port, &s1);
    struct addrinfo *a2 = nu_addr(AC_INET, port, &s2);
    a1->ai_next = a2;
    int errs[4] = {0};
    size_t nerr = 99;
    aio_connect_options o = {.addrs = a1,
                             .errors = errs,
                             .errors_max = 4,
                             .nerrors = &nerr,
                             .happy_eyeballs_delay = staggered ? 0.05 : 0};
    sm cl;
    sm_init(&cl, loop);
    /* the same error twice: that error */
    ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, NULL, 0, &o, NULL),
                     -ECONNREFUSED);
    ck_assert_uint_eq(nerr, 2);
    ck_assert_int_eq(errs[0], -ECONNREFUSED);
    ck_assert_int_eq(errs[1], -ECONNREFUSED);
    /* different errors: AIO_EMULTIPLE, each reported (a local address only
     * IPv4 has: the IPv6 attempt cannot bind) */
    if (ac_have_ipv6()) {
        struct sockaddr_storage s3;
        struct addrinfo *a3 = nu_addr(AC_INET6, port, &s3);
        a2->ai_next = a3;
        o.local_host = "127.0.0.1";
        ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, NULL, 0, &o, NULL),
                         AIO_EMULTIPLE);
        ck_assert_uint_eq(nerr, 3);
        bool refused = false, notavail = false;
        for (int i = 0; i < 3; i++) {
            refused |= errs[i] == -ECONNREFUSED;
            notavail |= errs[i] == -EADDRNOTAVAIL;
        }
        ck_assert(refused && notavail);
        a2->ai_next = NULL;
        free(a3);
    }
    ck_assert_int_eq(cl.nmade, 0);
    ck_assert_int_eq(ac_open_fds(), before);
    free(a1);
    free(a2);
    sm_fini(&cl);
    return 0;
}

START_TEST(test_multiple_errors)
{
    ac_run_main(multiple_errors_main, AC_VP(_i));
}
END_TEST

/* A listener that never completes a handshake: its backlog is full, so
 * the kernel drops new SYNs and a connect hangs. Returns the listener;
 * *fillers (closed by the caller) hold the queue. */
static int hung_listener(ac_family f, int port, int *fillers, int *nfill)
{
    int l = ac_socket(f);
    struct sockaddr_storage ss;
    struct addrinfo *ai = nu_addr(f, port, &ss);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, ai->ai_addr, ai->ai_addrlen) < 0) {
        free(ai);
        close(l);
        return -1;
    }
    ck_assert_int_eq(listen(l, 0), 0);
    socklen_t len = ai->ai_addrlen;
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&ss, &len), 0);
    *nfill = 0;
    for (int i = 0; i < 8; i++) {
        int c = ac_socket(f);
        fillers[(*nfill)++] = c;
        connect(c, ai->ai_addr, ai->ai_addrlen);
        struct pollfd p = {.fd = c, .events = POLLOUT};
        if (poll(&p, 1, 100) == 0)
            break; /* this one hangs: the queue is full */
    }
    free(ai);
    return l;
}

static bool port_of(int fd, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return false;
    *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return true;
}

static int happy_main(void *arg, void **result)
{
    (void)result;
    int mode = AC_PV(arg); /* 0: staggered race, 1: the timeout on a hung connect */
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    sm_pool pool;
    sm_pool_init(&pool, loop, 2);
    char path[108];
    aio_server *good = nu_serve(AC_INET, sm_pool_factory, &pool, NULL, path);
    int port = aio_server_port(good);
    /* the hung listener: IPv4 on another loopback address if IPv6 is
     * missing (127.0.0.2 answers on Linux) */
    int fillers[8], nfill = 0;
    ac_family hf = AC_INET;
    int hung = hung_listener(AC_INET, 0, fillers, &nfill);
    int hport = 0;
    ck_assert(hung >= 0 && port_of(hung, &hport));
    struct sockaddr_storage s1, s2;
    struct addrinfo *a1 = nu_addr(hf, hport, &s1);
    struct addrinfo *a2 = nu_addr(AC_INET, port, &s2);
    a1->ai_next = a2;
    sm cl;
    sm_init(&cl, loop);
    aio_transport *t = NULL;
    if (mode == 0) {
        aio_connect_options o = {.addrs = a1, .happy_eyeballs_delay = 0.1};
        double t0 = al_loop_time(loop);
        int rc = aio_create_connection(loop, &sm_protocol, &cl, NULL, 0, &o, &t);
        ck_assert_msg(rc == 0, "race: %s", aio_strerror(rc));
        double took = al_loop_time(loop) - t0;
        ck_assert_msg(took >= 0.09 && took < 3.0, "took %g s", took); /* the stagger, not a hang */
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        ck_assert_int_eq(aio_transport_peername(t, &peer, &len), 0);
        ck_assert_int_eq(ntohs(((struct sockaddr_in *)&peer)->sin_port), port); /* the winner */
        aio_transport_close(t);
        ck_assert_int_eq(sm_wait_lost(&cl), 0);
        sm_check_closed(&cl, 0);
    } else {
        a1->ai_next = NULL; /* one by one: the hung address alone */
        aio_connect_options o = {.addrs = a1, .timeout = 0.1};
        ck_assert_int_eq(aio_create_connection(loop, &sm_protocol, &cl, NULL, 0, &o, &t),
                         AL_ETIMEOUT);
        ck_assert_int_eq(cl.nmade, 0);
    }
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    close(hung);
    aio_server_close(good);
    ck_assert_int_eq(aio_server_wait_closed(good), 0);
    aio_server_free(good);
    free(a1);
    free(a2);
    sm_fini(&cl);
    sm_pool_fini(&pool);
    ck_assert_int_eq(ac_open_fds(), before); /* the losing attempt's socket is closed */
    return 0;
}

START_TEST(test_happy_eyeballs)
{
    ac_run_main(happy_main, AC_VP(_i));
}
END_TEST

/* The loop closes while a staggered race waits on two hung attempts: the
 * connecting task and both attempts unwind (AL_ELOOPCLOSING), in whatever
 * order the close resumes them, and no attempt touches the race after the
 * connecting task has returned (Valgrind sees a write to a dead frame). */
typedef struct race_call {
    struct addrinfo *addrs;
    int rc, ended;
} race_call;

static int race_call_main(void *arg, void **result)
{
    (void)result;
    race_call *c = arg;
    aio_connect_options o = {.addrs = c->addrs, .happy_eyeballs_delay = 0.01};
    aio_transport *t = NULL;
    c->rc = aio_create_connection(al_get_running_loop(), &sm_protocol, NULL, NULL, 0, &o, &t);
    c->ended = 1;
    return 0;
}

static int race_stop(al_loop *loop, void *arg)
{
    (void)arg;
    al_loop_stop(loop);
    return 0;
}

static void race_quiet(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop, (void)ctx, (void)user;
}

START_TEST(test_close_during_race)
{
    int before = ac_open_fds();
    int fillers[8], nfill = 0, hport = 0;
    int hung = hung_listener(AC_INET, 0, fillers, &nfill);
    ck_assert(hung >= 0 && port_of(hung, &hport));
    struct sockaddr_storage s1, s2, s3;
    struct addrinfo *a1 = nu_addr(AC_INET, hport, &s1);
    struct addrinfo *a2 = nu_addr(AC_INET, hport, &s2);
    struct addrinfo *a3 = nu_addr(AC_INET, hport, &s3);
    a1->ai_next = a2;
    a2->ai_next = a3;
    /* the first calls park in the race; the last one's attempts are
     * resumed by the close before it */
    race_call calls[3] = {{a1, 1, 0}, {a1, 1, 0}, {a1, 1, 0}};
    al_loop *loop = ac_loop_new();
    al_loop_set_exception_handler(loop, race_quiet, NULL);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(al_task_new(loop, race_call_main, &calls[i], NULL, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, 0.2, race_stop, NULL, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(calls[i].ended, 0); /* every race still waits */
    ck_assert_int_eq(al_loop_close(loop), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(calls[i].ended, 1);
        ck_assert_msg(calls[i].rc == AL_ELOOPCLOSING, "call %d: %s", i, aio_strerror(calls[i].rc));
    }
    ck_assert_int_eq(al_loop_free(loop), 0);
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    close(hung);
    free(a1);
    free(a2);
    free(a3);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

/* A protocol that closes its transport inside connection_made: its
 * connection_lost is queued before the call's wakeup, so it runs before
 * create_connection returns (as in CPython). The call must not hand out a
 * transport that connection_lost has already freed. */
typedef struct made_close {
    int made, lost;
} made_close;

static void mc_made(aio_transport *t, void *user)
{
    ((made_close *)user)->made++;
    aio_transport_close(t);
}

static void mc_lost(aio_transport *t, int error, void *user)
{
    (void)t, (void)error;
    ((made_close *)user)->lost++;
}

static const aio_protocol mc_protocol = {.connection_made = mc_made, .connection_lost = mc_lost};

static int close_in_made_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    sm_pool pool;
    sm_pool_init(&pool, loop, 1);
    char path[108];
    aio_server *srv = nu_serve(AC_INET, sm_pool_factory, &pool, NULL, path);
    made_close mc = {0, 0};
    aio_transport *t = (aio_transport *)&mc; /* must be overwritten */
    int rc =
        aio_create_connection(loop, &mc_protocol, &mc, "127.0.0.1", aio_server_port(srv), NULL, &t);
    ck_assert_msg(rc == 0, "%s", aio_strerror(rc));
    ck_assert_int_eq(mc.made, 1);
    if (mc.lost) {
        ck_assert_ptr_null(t); /* already ended: no transport to hand out */
    } else {
        ck_assert_ptr_nonnull(t);
        ck_assert(aio_transport_is_closing(t));
    }
    for (int i = 0; i < 100 && !mc.lost; i++)
        al_sleep(0.001);
    ck_assert_int_eq(mc.lost, 1);
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    aio_server_free(srv);
    sm_pool_fini(&pool);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_close_in_made)
{
    ac_run_main(close_in_made_main, NULL);
}
END_TEST

/* ---- EMFILE storm on accept ---------------------------------------------------------------- */

typedef struct storm {
    int reports;
    int last_error;
} storm;

static void count_reports(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop;
    storm *s = user;
    s->reports++;
    s->last_error = ctx->error;
}

static bool all_accepted(void *arg)
{
    sm_pool *p = arg;
    return p->used == p->n;
}

static int emfile_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    storm st = {0};
    al_loop_set_exception_handler(loop, count_reports, &st);
    enum { N = 20 };
    sm_pool pool;
    sm_pool_init(&pool, loop, N);
    pool.echo = true;
    aio_server_options o = {.accept_retry_delay = 0.05};
    char path[108];
    aio_server *srv = nu_serve(AC_INET, sm_pool_factory, &pool, &o, path);
    struct sockaddr_storage ss;
    struct addrinfo *ai = nu_addr(AC_INET, aio_server_port(srv), &ss);
    int cl[N];
    for (int i = 0; i < N; i++)
        cl[i] = ac_socket(AC_INET);
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)ac_open_fds() + 3 + 2; /* room for 2 accepted sockets */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    for (int i = 0; i < N; i++) {
        int rc = connect(cl[i], ai->ai_addr, ai->ai_addrlen);
        ck_assert(rc == 0 || errno == EINPROGRESS);
    }
    al_sleep(0.3); /* several retry periods at the limit */
    ck_assert_int_gt(st.reports, 0);
    ck_assert_int_eq(st.last_error, -EMFILE);
    ck_assert_int_le(st.reports, 20); /* paused, not spinning: ~1 per 50 ms */
    ck_assert_uint_lt(pool.used, N);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert(sm_until(all_accepted, &pool, 5)); /* it recovers */
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(aio_sock_sendall(loop, cl[i], "e", 1, NULL), 0);
        char c;
        ck_assert_int_eq(aio_sock_recv_into(loop, cl[i], &c, 1), 1);
        close(cl[i]);
    }
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    aio_server_free(srv);
    free(ai);
    sm_pool_fini(&pool);
    return 0;
}

START_TEST(test_emfile_storm)
{
    if (AC_UNDER_VALGRIND()) {
        /* Valgrind emulates RLIMIT_NOFILE: it closes an accepted fd above
         * its own limit and reports EMFILE, consuming the connection. */
        printf("EMFILE storm not run under Valgrind (it emulates RLIMIT_NOFILE)\n");
        return;
    }
    ac_run_main(emfile_main, NULL);
}
END_TEST

AL_TEST_SUITE(suite_servers)
{
    ac_require_backend();
    Suite *s = suite_create("servers");
    TCase *tc = al_tcase("servers");
    tcase_add_loop_test(tc, test_wait_closed, 0, 3);
    tcase_add_loop_test(tc, test_close_with_live_clients, 0, AC_NFAMILIES);
    tcase_add_test(tc, test_serve_forever);
    tcase_add_test(tc, test_close_ends_serve_forever);
    tcase_add_loop_test(tc, test_unix_cleanup, 0, 4);
    tcase_add_test(tc, test_unix_path_busy);
    tcase_add_test(tc, test_ports_and_addresses);
    tcase_add_test(tc, test_connect_errors);
    tcase_add_test(tc, test_connect_outside_task);
    tcase_add_loop_test(tc, test_multiple_errors, 0, 2);
    tcase_add_loop_test(tc, test_happy_eyeballs, 0, 2);
    tcase_add_test(tc, test_close_during_race);
    tcase_add_test(tc, test_close_in_made);
    tcase_add_test(tc, test_emfile_storm);
    suite_add_tcase(s, tc);
    return s;
}

/* Connections before their connection_made: a server closed (and its
 * clients closed or aborted) while accepted connections still wait for
 * their start, a protocol factory that fails, a create_connection
 * cancelled between connection_made and its return. wait_closed returns,
 * every protocol sees made then lost once, nothing is leaked. */
#include "net_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { NCLIENTS = 6, CLOSE_AT = 4 };

typedef struct pending {
    sm_pool pool;
    aio_server *srv;
    int mode;           /* 0: abort_clients, 1: close_clients, inside the factory */
    size_t made_before; /* connection_made calls seen when the factory closed */
} pending;

static int closing_factory(void *arg, const aio_protocol **proto, void **user)
{
    pending *p = arg;
    int rc = sm_pool_factory(&p->pool, proto, user);
    if (rc == 0 && p->pool.used == CLOSE_AT) {
        /* the earlier connections of this batch wait for their start */
        for (size_t i = 0; i + 1 < p->pool.used; i++)
            p->made_before += (size_t)p->pool.slots[i].nmade;
        aio_server_close(p->srv);
        if (p->mode == 0)
            aio_server_abort_clients(p->srv);
        else
            aio_server_close_clients(p->srv);
    }
    return rc;
}

static bool closed_at(void *arg)
{
    pending *p = arg;
    return p->pool.used == CLOSE_AT;
}

static int pending_main(void *arg, void **result)
{
    (void)result;
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    pending p = {.mode = AC_PV(arg)};
    sm_pool_init(&p.pool, loop, NCLIENTS);
    char path[108];
    aio_server_options o = {.start_later = true, .max_accepts = NCLIENTS};
    p.srv = nu_serve(AC_INET, closing_factory, &p, &o, path);
    /* every client in the backlog first: one accept batch takes them all */
    int fds[NCLIENTS];
    struct sockaddr_storage ss;
    struct addrinfo *ai = nu_addr(AC_INET, aio_server_port(p.srv), &ss);
    for (int i = 0; i < NCLIENTS; i++) {
        fds[i] = ac_socket(AC_INET);
        ac_set_nonblock(fds[i], false);
        ck_assert_int_eq(connect(fds[i], ai->ai_addr, ai->ai_addrlen), 0);
    }
    free(ai);
    ck_assert_int_eq(aio_server_start_serving(p.srv), 0);
    ck_assert(sm_until(closed_at, &p, 5));
    al_sleep(0.01);
    ck_assert_uint_eq(p.pool.used, CLOSE_AT); /* closed: no more accepted */
    ck_assert_uint_eq(p.made_before, 0);      /* they were pending indeed */
    aio_server_close_clients(p.srv);          /* the one accepted as it closed */
    ck_assert_int_eq(aio_server_wait_closed(p.srv), 0);
    ck_assert_uint_eq(aio_server_connections(p.srv), 0);
    for (size_t i = 0; i < p.pool.used; i++)
        sm_check_closed(&p.pool.slots[i], 0); /* made, then lost once */
    aio_server_free(p.srv);
    sm_pool_fini(&p.pool);
    for (int i = 0; i < NCLIENTS; i++)
        close(fds[i]);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_close_pending_handshakes)
{
    ac_run_main(pending_main, AC_VP(_i));
}
END_TEST

/* ---- a failing protocol factory ------------------------------------------------------ */

typedef struct failing {
    sm_pool pool;
    int calls;
    int reports;
} failing;

static int failing_factory(void *arg, const aio_protocol **proto, void **user)
{
    failing *f = arg;
    if (f->calls++ == 0)
        return -ENOSPC; /* the first connection is refused */
    return sm_pool_factory(&f->pool, proto, user);
}

static void count_report(al_loop *loop, const al_error_context *ctx, void *arg)
{
    (void)loop;
    failing *f = arg;
    if (ctx->error == -ENOSPC)
        f->reports++;
}

static int factory_error_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    failing f = {0};
    sm_pool_init(&f.pool, loop, 1);
    f.pool.echo = true;
    al_loop_set_exception_handler(loop, count_report, &f);
    char path[108];
    aio_server *srv = nu_serve(AC_INET, failing_factory, &f, NULL, path);
    sm c1, c2;
    sm_init(&c1, loop);
    sm_init(&c2, loop);
    /* the first: accepted, refused by the factory, closed (EOF) */
    ck_assert_int_eq(nu_connect(AC_INET, srv, path, &sm_protocol, &c1, NULL), 0);
    ck_assert_int_eq(sm_wait_lost(&c1), 0);
    sm_check_closed(&c1, 0);
    ck_assert_int_eq(f.reports, 1);
    /* the server goes on serving */
    aio_transport *t = NULL;
    ck_assert_int_eq(nu_connect(AC_INET, srv, path, &sm_protocol, &c2, &t), 0);
    ck_assert_int_eq(aio_transport_write(t, "x", 1), 0);
    ck_assert_int_eq(sm_wait_data(&c2, 1), 0);
    aio_transport_close(t);
    ck_assert_int_eq(sm_wait_lost(&c2), 0);
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    sm_check_closed(&c2, 0);
    sm_check_closed(&f.pool.slots[0], 0);
    al_loop_set_exception_handler(loop, NULL, NULL);
    aio_server_free(srv);
    sm_fini(&c1);
    sm_fini(&c2);
    sm_pool_fini(&f.pool);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_factory_error)
{
    ac_run_main(factory_error_main, NULL);
}
END_TEST

/* ---- a connection cancelled mid-creation ----------------------------------------------- */

typedef struct midway {
    sm cl;
    al_task *connecting;
    aio_server *srv;
    int rc;
} midway;

/* connection_made cancels the task still inside aio_create_connection */
static void made_cancels(aio_transport *t, void *user)
{
    midway *m = user;
    sm_protocol.connection_made(t, &m->cl);
    al_task_cancel(m->connecting, NULL);
}

static void midway_lost(aio_transport *t, int error, void *user)
{
    sm_protocol.connection_lost(t, error, &((midway *)user)->cl);
}

static const aio_protocol midway_protocol = {
    .connection_made = made_cancels,
    .connection_lost = midway_lost,
};

static int connecting_task(void *arg, void **result)
{
    (void)result;
    midway *m = arg;
    aio_transport *t = NULL;
    m->rc = aio_create_connection(ac_loop(), &midway_protocol, m, "127.0.0.1",
                                  aio_server_port(m->srv), NULL, &t);
    return 0;
}

static int midway_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    sm_pool pool;
    sm_pool_init(&pool, loop, 1);
    char path[108];
    midway m = {.rc = 1};
    m.srv = nu_serve(AC_INET, sm_pool_factory, &pool, NULL, path);
    sm_init(&m.cl, loop);
    m.connecting = ac_spawn(connecting_task, &m);
    al_await(al_task_future(m.connecting));
    al_task_unref(m.connecting);
    ck_assert_int_eq(m.rc, AL_ECANCELLED); /* the call gives the transport up */
    ck_assert_int_eq(sm_wait_lost(&m.cl), 0);
    sm_check_closed(&m.cl, 0); /* made, then lost once: aborted */
    aio_server_close(m.srv);
    aio_server_close_clients(m.srv);
    ck_assert_int_eq(aio_server_wait_closed(m.srv), 0);
    aio_server_free(m.srv);
    sm_fini(&m.cl);
    sm_pool_fini(&pool);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_connect_cancelled_midway)
{
    ac_run_main(midway_main, NULL);
}
END_TEST

/* start_server: the loop closes after a connection's connection_made
 * made its client task, before that task's first step: the task is
 * dropped without running (as CPython closes a never-started coroutine),
 * and the stream pair it was given is released all the same (it leaked:
 * ASan and Valgrind see it). */
static int never_runs(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    (void)r, (void)w;
    ++*(int *)arg;
    return 0;
}

START_TEST(test_client_task_dropped_unstarted)
{
    int before = ac_open_fds();
    al_loop *loop = ac_loop_new();
    bool eager = _i; /* then the body runs inside connection_made */
    ck_assert_int_eq(al_loop_set_eager_tasks(loop, eager), 0);
    int ran = 0;
    char path[108];
    nu_path(path, sizeof path);
    aio_server *srv;
    ck_assert_int_eq(aio_start_unix_server(loop, never_runs, &ran, path, NULL, 0, &srv), 0);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    /* accept, then connection_made (the task is made, not yet run) */
    for (int i = 0; i < 1000 && aio_server_connections(srv) == 0; i++)
        ck_assert_int_eq(al_loop_run_once(loop), 0);
    ck_assert_uint_eq(aio_server_connections(srv), 1);
    for (int i = 0; i < 1000 && (eager ? ran : (int)al_loop_all_tasks(loop, NULL, 0)) == 0; i++)
        ck_assert_int_eq(al_loop_run_once(loop), 0);
    ck_assert_uint_eq(al_loop_all_tasks(loop, NULL, 0), eager ? 0 : 1);
    ck_assert_int_eq(ran, eager);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(ran, eager);
    aio_server_free(srv);
    ck_assert_int_eq(al_loop_free(loop), 0);
    close(c);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

AL_TEST_SUITE(suite_server_pending)
{
    ac_require_backend();
    Suite *s = suite_create("server_pending");
    TCase *tc = al_tcase("server_pending");
    tcase_add_loop_test(tc, test_close_pending_handshakes, 0, 2);
    tcase_add_test(tc, test_factory_error);
    tcase_add_test(tc, test_connect_cancelled_midway);
    tcase_add_loop_test(tc, test_client_task_dropped_unstarted, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

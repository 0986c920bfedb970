/* Scenario 9, a server's life: created with start_later, serve_forever in
 * a task, two clients connected, close_clients, serve_forever cancelled
 * (it closes the server and waits for the connections), wait_closed;
 * every allocation failing in turn. */
#include "fa_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct life_st {
    fa_run run;
    int srv_made, srv_lost, cl_made, cl_lost;
    al_future *lost_f[2];
} life_st;

typedef struct conn {
    life_st *st;
} conn;

static void srv_made(aio_transport *t, void *user)
{
    (void)t;
    ((conn *)user)->st->srv_made++;
}

static void srv_lost(aio_transport *t, int error, void *user)
{
    conn *c = user;
    if (t) /* connection_lost(NULL) comes without connection_made */
        c->st->srv_lost++;
    fa_err(&c->st->run, error);
    free(c);
}

static const aio_protocol srv_proto = {.connection_made = srv_made, .connection_lost = srv_lost};

static int factory(void *arg, const aio_protocol **proto, void **user)
{
    conn *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->st = arg;
    *proto = &srv_proto;
    *user = c;
    return 0;
}

static void cl_made(aio_transport *t, void *user)
{
    (void)t;
    ((life_st *)user)->cl_made++;
}

static void cl_lost(life_st *st, int i, int error)
{
    st->cl_lost++;
    fa_err(&st->run, error);
    fa_set(&st->run, st->lost_f[i]);
}

static void cl_lost0(aio_transport *t, int error, void *user)
{
    (void)t;
    cl_lost(user, 0, error);
}

static void cl_lost1(aio_transport *t, int error, void *user)
{
    (void)t;
    cl_lost(user, 1, error);
}

static const aio_protocol cl_proto[2] = {{.connection_made = cl_made, .connection_lost = cl_lost0},
                                         {.connection_made = cl_made, .connection_lost = cl_lost1}};

static int serve_task(void *arg, void **result)
{
    (void)result;
    return aio_server_serve_forever(arg);
}

static int life_main(void *arg, void **result)
{
    (void)result;
    life_st *st = arg;
    fa_run *r = &st->run;
    al_loop *loop = al_get_running_loop();
    static const char *const hosts[] = {"127.0.0.1", NULL};
    aio_server_options o = {.start_later = true};
    aio_server *srv = NULL;
    al_task *serving = NULL;
    aio_transport *t[2] = {NULL, NULL};
    st->lost_f[0] = fa_future(r);
    st->lost_f[1] = fa_future(r);
    if (!st->lost_f[0] || !st->lost_f[1] ||
        fa_err(r, aio_create_server(loop, factory, st, hosts, 0, &o, &srv)) < 0)
        goto out;
    if (fa_err(r, al_task_new(loop, serve_task, srv, NULL, &serving)) < 0)
        goto out;
    for (int i = 0; i < 2; i++) {
        if (fa_err(r, aio_create_connection(loop, &cl_proto[i], st, "127.0.0.1",
                                            aio_server_port(srv), NULL, &t[i])) < 0)
            break;
        aio_transport_ref(t[i]);
    }
    aio_server_close_clients(srv); /* the clients see their end */
    for (int i = 0; i < 2; i++)
        if (t[i])
            fa_wait(r, st->lost_f[i]);
    al_task_cancel(serving, NULL);
    al_await(al_task_future(serving));
    int rc = al_future_error(al_task_future(serving));
    if (rc != AL_ECANCELLED)
        fa_err(r, rc < 0 ? rc : -EPROTO); /* serve_forever ends cancelled */
    aio_server_close(srv);                /* closed already, unless serve_forever never ran */
    fa_err(r, aio_server_wait_closed(srv));
out:
    for (int i = 0; i < 2; i++)
        if (t[i])
            aio_transport_unref(t[i]);
    if (serving)
        al_task_unref(serving);
    aio_server_free(srv);
    fa_drop(&st->lost_f[0]);
    fa_drop(&st->lost_f[1]);
    return 0;
}

static int life_scenario(void *arg)
{
    (void)arg;
    life_st st = {0};
    int rc = fa_run_main(FA_IO_LOOP, life_main, &st.run);
    if (st.srv_lost != st.srv_made || st.cl_lost != st.cl_made)
        return FA_UNCLEAN;
    if (rc == 0 && (st.cl_made != 2 || st.srv_made != 2))
        return FA_SILENT;
    return rc;
}

START_TEST(server_life_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "server-life/%s", al_test_impl);
    failalloc_sweep(name, life_scenario, NULL, 1);
}
END_TEST

AL_TEST_SUITE(failalloc_server_life)
{
    Suite *s = suite_create("failalloc_server_life");
    if (!fa_pure_row()) {
        fa_require_backend();
        TCase *tc = al_tcase("server_life");
        tcase_add_test(tc, server_life_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

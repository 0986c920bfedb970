/* Scenario 1, protocols over TCP: create_server + create_connection, one
 * echo exchange, close, wait_closed; every allocation failing in turn.
 * The server's factory makes a state per connection that its protocol's
 * connection_lost releases: released exactly once, also when the
 * transport could not be made after the factory (connection_lost(NULL,
 * error) without connection_made, protocol.h), which the sweep must
 * reach. */
#include "fa_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tcp_st {
    fa_run run;
    int states_made, states_freed, lost_without_t;
    int cl_made, cl_lost;
    char got[16];
    size_t len;
    al_future *data_f, *lost_f;
} tcp_st;

typedef struct conn {
    tcp_st *st;
    bool made;
    int lost;
} conn;

static const char msg[] = "hello\n";

static void srv_made(aio_transport *t, void *user)
{
    (void)t;
    conn *c = user;
    if (c->made)
        c->st->run.unclean = true;
    c->made = true;
}

static void srv_data(aio_transport *t, const void *data, size_t len, void *user)
{
    conn *c = user;
    fa_err(&c->st->run, aio_transport_write(t, data, len));
}

static bool srv_eof(aio_transport *t, void *user)
{
    (void)t;
    (void)user;
    return false;
}

static void srv_lost(aio_transport *t, int error, void *user)
{
    conn *c = user;
    tcp_st *st = c->st;
    fa_err(&st->run, error);
    if (!t) {
        st->lost_without_t++;
        if (c->made || error == 0) /* no connection_made before; an error */
            st->run.unclean = true;
    }
    if (c->lost++)
        st->run.unclean = true; /* never reached: c is freed below */
    free(c);
    st->states_freed++;
}

static const aio_protocol srv_proto = {
    .connection_made = srv_made,
    .data_received = srv_data,
    .eof_received = srv_eof,
    .connection_lost = srv_lost,
};

static int factory(void *arg, const aio_protocol **proto, void **user)
{
    tcp_st *st = arg;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->st = st;
    st->states_made++;
    *proto = &srv_proto;
    *user = c;
    return 0;
}

static void cl_made(aio_transport *t, void *user)
{
    (void)t;
    ((tcp_st *)user)->cl_made++;
}

static void cl_data(aio_transport *t, const void *data, size_t len, void *user)
{
    (void)t;
    tcp_st *st = user;
    if (st->len + len > sizeof st->got) {
        st->run.wrong = true;
        return;
    }
    memcpy(st->got + st->len, data, len);
    st->len += len;
    if (st->len >= sizeof msg - 1)
        fa_set(&st->run, st->data_f);
}

static void cl_lost(aio_transport *t, int error, void *user)
{
    (void)t;
    tcp_st *st = user;
    st->cl_lost++;
    fa_err(&st->run, error);
    fa_set(&st->run, st->data_f);
    fa_set(&st->run, st->lost_f);
}

static const aio_protocol cl_proto = {
    .connection_made = cl_made,
    .data_received = cl_data,
    .eof_received = srv_eof,
    .connection_lost = cl_lost,
};

static int tcp_main(void *arg, void **result)
{
    (void)result;
    tcp_st *st = arg;
    fa_run *r = &st->run;
    al_loop *loop = al_get_running_loop();
    static const char *const hosts[] = {"127.0.0.1", NULL};
    aio_server *srv = NULL;
    st->data_f = fa_future(r);
    st->lost_f = fa_future(r);
    if (!st->data_f || !st->lost_f)
        goto out;
    if (fa_err(r, aio_create_server(loop, factory, st, hosts, 0, NULL, &srv)))
        goto out;
    aio_transport *t = NULL;
    if (fa_err(r, aio_create_connection(loop, &cl_proto, st, "127.0.0.1", aio_server_port(srv),
                                        NULL, &t)) == 0) {
        aio_transport_ref(t); /* past connection_lost, which may come first */
        fa_err(r, aio_transport_write(t, msg, sizeof msg - 1));
        fa_wait(r, st->data_f);
        aio_transport_close(t);
        fa_wait(r, st->lost_f);
        aio_transport_unref(t);
    }
    aio_server_close(srv);
    fa_err(r, aio_server_wait_closed(srv));
out:
    aio_server_free(srv);
    if (st->data_f)
        al_future_unref(st->data_f);
    if (st->lost_f)
        al_future_unref(st->lost_f);
    return 0;
}

static int lost_without_t; /* over the whole sweep */

static int tcp_scenario(void *arg)
{
    (void)arg;
    tcp_st st = {0};
    int rc = fa_run_main(FA_IO_LOOP, tcp_main, &st.run);
    lost_without_t += st.lost_without_t;
    if (st.states_freed != st.states_made || st.cl_lost != st.cl_made)
        return FA_UNCLEAN;
    if (rc == 0 && (st.len != sizeof msg - 1 || memcmp(st.got, msg, st.len) != 0))
        return FA_SILENT;
    return rc;
}

START_TEST(tcp_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "tcp/%s", al_test_impl);
    lost_without_t = 0;
    failalloc_sweep(name, tcp_scenario, NULL, 1);
    ck_assert_msg(lost_without_t > 0,
                  "no run reached connection_lost(NULL, error) after the server's factory");
}
END_TEST

AL_TEST_SUITE(failalloc_tcp)
{
    Suite *s = suite_create("failalloc_tcp");
    if (!fa_pure_row()) {
        fa_require_backend();
        TCase *tc = al_tcase("tcp");
        tcase_add_test(tc, tcp_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

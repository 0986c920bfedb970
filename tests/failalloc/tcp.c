/* Scenario 1, protocols over TCP: create_server + create_connection, one
 * echo exchange, close, wait_closed; and over a Unix socket: 256 KiB
 * written with writelines and echoed back (write buffers growing and
 * draining), write_eof, the server closing on EOF; every allocation
 * failing in turn.
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
#include <sys/uio.h>
#include <unistd.h>

#define BULK (256 * 1024)

typedef struct tcp_st {
    fa_run run;
    int states_made, states_freed, lost_without_t;
    int cl_made, cl_lost;
    char got[16];
    size_t len;
    al_future *data_f, *lost_f;
    /* the bulk variant */
    const char *bulk;   /* what is sent (BULK bytes), NULL: the echo */
    size_t bulk_got;    /* bytes back, in order */
    bool bulk_bad, eof; /* a byte differed; eof_received */
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
    if (st->bulk) {
        if (st->bulk_got + len > BULK || memcmp(st->bulk + st->bulk_got, data, len) != 0)
            st->bulk_bad = true;
        else
            st->bulk_got += len;
        return;
    }
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

static bool cl_eof(aio_transport *t, void *user)
{
    (void)t;
    ((tcp_st *)user)->eof = true;
    return false;
}

static const aio_protocol cl_proto = {
    .connection_made = cl_made,
    .data_received = cl_data,
    .eof_received = cl_eof,
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
    /* staggered: the race's tasks and shared state under every failure
     * (server_life connects one address after the other) */
    aio_connect_options co = {.happy_eyeballs_delay = 0.05};
    if (fa_err(r, aio_create_connection(loop, &cl_proto, st, "127.0.0.1", aio_server_port(srv), &co,
                                        &t)) == 0) {
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
    fa_drop(&st->data_f);
    fa_drop(&st->lost_f);
    return 0;
}

/* The bulk variant over a Unix socket: writelines, write_eof, then
 * everything echoed back before the server's EOF and close. */
static int unix_main(void *arg, void **result)
{
    (void)result;
    tcp_st *st = arg;
    fa_run *r = &st->run;
    al_loop *loop = al_get_running_loop();
    char path[64];
    snprintf(path, sizeof path, "/tmp/failalloc-%d.sock", (int)getpid());
    aio_server *srv = NULL;
    st->lost_f = fa_future(r);
    if (!st->lost_f)
        return 0;
    if (fa_err(r, aio_create_unix_server(loop, factory, st, path, NULL, &srv)) == 0) {
        aio_transport *t = NULL;
        if (fa_err(r, aio_create_unix_connection(loop, &cl_proto, st, path, &t)) == 0) {
            aio_transport_ref(t);
            struct iovec iov[2] = {{(void *)st->bulk, BULK / 4},
                                   {(void *)(st->bulk + BULK / 4), BULK - BULK / 4}};
            if (fa_err(r, aio_transport_writelines(t, iov, 2)) == 0)
                fa_err(r, aio_transport_write_eof(t));
            fa_wait(r, st->lost_f); /* the server closes after our EOF */
            aio_transport_unref(t);
        }
        aio_server_close(srv);
        fa_err(r, aio_server_wait_closed(srv));
        aio_server_free(srv);
    }
    fa_drop(&st->lost_f);
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

static int unix_scenario(void *arg)
{
    tcp_st st = {.bulk = arg};
    int rc = fa_run_main(FA_IO_LOOP, unix_main, &st.run);
    lost_without_t += st.lost_without_t;
    if (st.states_freed != st.states_made || st.cl_lost != st.cl_made)
        return FA_UNCLEAN;
    if (st.bulk_bad || (rc == 0 && (st.bulk_got != BULK || !st.eof)))
        return FA_SILENT; /* a byte lost, reordered or changed */
    return rc;
}

START_TEST(unix_bulk_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "unix-bulk/%s", al_test_impl);
    char *bulk = malloc(BULK);
    ck_assert_ptr_nonnull(bulk);
    for (size_t i = 0; i < BULK; i++)
        bulk[i] = (char)(i * 13 + i / 509);
    failalloc_sweep(name, unix_scenario, bulk, 1);
    free(bulk);
}
END_TEST

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
        tcase_add_test(tc, unix_bulk_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

/* Scenario 3, UDP: a bound endpoint echoing what it receives, a connected
 * one sending a datagram and waiting for the echo, both closed; every
 * allocation failing in turn. */
#include "fa_util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

typedef struct udp_st {
    fa_run run;
    char got[16];
    size_t len;
    int made, lost;
    al_future *echo_f, *lost_f[2];
} udp_st;

static const char dgram[] = "ping";

static void made(aio_transport *t, void *user)
{
    (void)t;
    ((udp_st *)user)->made++;
}

static void srv_received(aio_transport *t, const void *data, size_t len,
                         const struct sockaddr *addr, socklen_t addrlen, void *user)
{
    udp_st *st = user;
    fa_err(&st->run, aio_transport_sendto(t, data, len, addr, addrlen));
}

static void cl_received(aio_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                        socklen_t addrlen, void *user)
{
    (void)t;
    (void)addr;
    (void)addrlen;
    udp_st *st = user;
    if (len <= sizeof st->got) {
        memcpy(st->got, data, len);
        st->len = len;
    }
    fa_set(&st->run, st->echo_f);
}

static void error_received(aio_transport *t, int error, void *user)
{
    (void)t;
    fa_err(&((udp_st *)user)->run, error);
}

static void srv_lost(aio_transport *t, int error, void *user)
{
    (void)t;
    udp_st *st = user;
    st->lost++;
    fa_err(&st->run, error);
    fa_set(&st->run, st->lost_f[0]);
}

static void cl_lost(aio_transport *t, int error, void *user)
{
    (void)t;
    udp_st *st = user;
    st->lost++;
    fa_err(&st->run, error);
    fa_set(&st->run, st->echo_f);
    fa_set(&st->run, st->lost_f[1]);
}

static const aio_datagram_protocol srv_proto = {
    .connection_made = made,
    .datagram_received = srv_received,
    .error_received = error_received,
    .connection_lost = srv_lost,
};

static const aio_datagram_protocol cl_proto = {
    .connection_made = made,
    .datagram_received = cl_received,
    .error_received = error_received,
    .connection_lost = cl_lost,
};

/* Task: closes t (if made), waits for its connection_lost and drops the
 * reference taken on it. */
static void close_wait(udp_st *st, aio_transport *t, al_future *lost)
{
    if (!t)
        return;
    aio_transport_close(t);
    fa_wait(&st->run, lost);
    aio_transport_unref(t);
}

static int udp_main(void *arg, void **result)
{
    (void)result;
    udp_st *st = arg;
    fa_run *r = &st->run;
    al_loop *loop = al_get_running_loop();
    aio_transport *srv = NULL, *cl = NULL;
    st->echo_f = fa_future(r);
    st->lost_f[0] = fa_future(r);
    st->lost_f[1] = fa_future(r);
    if (!st->echo_f || !st->lost_f[0] || !st->lost_f[1])
        goto out;
    aio_datagram_options so = {.local_host = "127.0.0.1"};
    if (fa_err(r, aio_create_datagram_endpoint(loop, &srv_proto, st, &so, &srv)))
        goto out;
    aio_transport_ref(srv); /* past connection_lost, which may come first */
    struct sockaddr_storage addr;
    socklen_t alen = sizeof addr;
    if (fa_err(r, aio_transport_sockname(srv, &addr, &alen)))
        goto out;
    aio_datagram_options co = {.remote_host = "127.0.0.1",
                               .remote_port = ntohs(((struct sockaddr_in *)&addr)->sin_port)};
    if (fa_err(r, aio_create_datagram_endpoint(loop, &cl_proto, st, &co, &cl)))
        goto out;
    aio_transport_ref(cl);
    if (fa_err(r, aio_transport_sendto(cl, dgram, sizeof dgram - 1, NULL, 0)) == 0)
        fa_wait(r, st->echo_f);
out:
    close_wait(st, cl, st->lost_f[1]);
    close_wait(st, srv, st->lost_f[0]);
    fa_drop(&st->echo_f);
    fa_drop(&st->lost_f[0]);
    fa_drop(&st->lost_f[1]);
    return 0;
}

static int udp_scenario(void *arg)
{
    (void)arg;
    udp_st st = {0};
    int rc = fa_run_main(FA_IO_LOOP, udp_main, &st.run);
    if (st.lost != st.made)
        return FA_UNCLEAN;
    if (rc == 0 && (st.len != sizeof dgram - 1 || memcmp(st.got, dgram, st.len) != 0))
        return FA_SILENT;
    return rc;
}

START_TEST(udp_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "udp/%s", al_test_impl);
    failalloc_sweep(name, udp_scenario, NULL, 1);
}
END_TEST

AL_TEST_SUITE(failalloc_udp)
{
    Suite *s = suite_create("failalloc_udp");
    if (!fa_pure_row()) {
        fa_require_backend();
        TCase *tc = al_tcase("udp");
        tcase_add_test(tc, udp_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

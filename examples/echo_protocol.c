/* echo_protocol: a TCP echo server (aio_create_server, a protocol whose
 * data_received writes back) and a client (aio_create_connection, a protocol
 * that sends a message, collects the echo, closes, and completes a future
 * in connection_lost) on 127.0.0.1, a port the kernel picks. Bounded by
 * al_wait_for; exits 0 only if the echo matches. */
#include "check.h"

#include <asyncio/asyncio.h>

#include <string.h>

static const char msg[] = "hello through a protocol\n";

static void echo(aio_transport *t, const void *data, size_t len, void *user)
{
    (void)user;
    if (aio_transport_write(t, data, len) < 0) /* tried at once, buffered if needed */
        aio_transport_abort(t);
}
static const aio_protocol echo_protocol = {.data_received = echo};
static int factory(void *arg, const aio_protocol **proto, void **user)
{
    (void)arg;
    *proto = &echo_protocol, *user = NULL; /* one static table, no state */
    return 0;
}

typedef struct {
    char buf[sizeof msg];
    size_t got;
    bool lost;
    al_future *done; /* completed by connection_lost: 0 or its error */
} client_state;

static void client_made(aio_transport *t, void *user)
{
    (void)user;
    if (aio_transport_write(t, msg, strlen(msg)) < 0)
        aio_transport_abort(t);
}
static void client_data(aio_transport *t, const void *data, size_t len, void *user)
{
    client_state *c = user;
    size_t n = len < sizeof c->buf - c->got ? len : sizeof c->buf - c->got;
    memcpy(c->buf + c->got, data, n);
    c->got += n;
    if (c->got >= strlen(msg))
        aio_transport_close(t); /* the whole echo is in */
}
static void client_lost(aio_transport *t, int error, void *user)
{
    (void)t;
    client_state *c = user;
    c->lost = true;
    if (!al_future_done(c->done)) /* done: cancelled by the timeout */
        (void)(error < 0 ? al_future_set_error(c->done, error)
                         : al_future_set_result(c->done, NULL, NULL));
}
static const aio_protocol client_protocol = {
    .connection_made = client_made, .data_received = client_data, .connection_lost = client_lost};

static int main_task(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = al_get_running_loop();
    const char *hosts[] = {"127.0.0.1", NULL};
    aio_server *srv;
    CHECK(aio_create_server(loop, factory, NULL, hosts, 0, NULL, &srv));
    int port = aio_server_port(srv), rc = port < 0 ? port : 0;
    client_state c = {.got = 0};
    aio_transport *t;
    if (rc == 0 && (rc = al_future_new(loop, &c.done)) == 0) {
        rc = aio_create_connection(loop, &client_protocol, &c, "127.0.0.1", port, NULL, &t);
        if (rc == 0)
            rc = al_wait_for(c.done, 10.0); /* bounded: 10 s at most */
        if (rc == AL_ETIMEOUT) {            /* t is alive until connection_lost: end it */
            aio_transport_abort(t);
            for (int i = 0; i < 100 && !c.lost && al_sleep(0.01) == 0; i++)
                ;
        }
        al_future_unref(c.done);
    }
    aio_server_close(srv);
    if (rc == 0)
        rc = aio_server_wait_closed(srv);
    aio_server_free(srv);
    CHECK(rc);
    if (c.got != strlen(msg) || memcmp(c.buf, msg, c.got) != 0)
        return AL_EFAILED;
    printf("echo_protocol: %zu bytes echoed on 127.0.0.1:%d (%s)\n", c.got, port,
           aio_loop_backend(loop));
    return 0;
}

int main(void)
{
    return example_exit("echo_protocol", aio_run(main_task, NULL, NULL, NULL));
}

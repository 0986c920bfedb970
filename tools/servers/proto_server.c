/* conn_server on transports and protocols (asyncio's create_server with a
 * Protocol or a BufferedProtocol): see conn_server.h. */
#include "conn_server.h"

#include <asyncio/asyncio.h>

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { READ_SIZE = 65536 };

typedef struct pserver {
    al_loop *loop;
    const conn_handler *h;
    void *shared;
    aio_server *server;
    al_handle *ticker;
    srv_shutdown sd;
    char buf[READ_SIZE]; /* the buffered protocol's read buffer, shared: each read
                            is handled before the next one starts */
} pserver;

typedef struct pconn {
    pserver *srv;
    bytebuf out;
    _Alignas(16) unsigned char state[]; /* the handler's */
} pconn;

static void handle(aio_transport *t, pconn *c, char *data, size_t len)
{
    pserver *s = c->srv;
    if (!s->h->feed) { /* echo */
        aio_transport_write(t, data, len);
        return;
    }
    int r = s->h->feed(c->state, data, len, &c->out, s->shared);
    if (r < 0) {
        aio_transport_abort(t);
        return;
    }
    if (c->out.len > 0) {
        aio_transport_write(t, bytebuf_head(&c->out), c->out.len); /* copies what waits */
        bytebuf_consume(&c->out, c->out.len);
    }
    if (r == CONN_CLOSE)
        aio_transport_close(t); /* after the answers are sent */
}

static void data_received(aio_transport *t, const void *data, size_t len, void *user)
{
    pconn *c = user;
    if (!c->srv->h->feed) {
        aio_transport_write(t, data, len);
        return;
    }
    /* feed may write into the bytes (RESP unquotes in place): a copy */
    char *copy = malloc(len);
    if (!copy) {
        aio_transport_abort(t);
        return;
    }
    memcpy(copy, data, len);
    handle(t, c, copy, len);
    free(copy);
}

static void *get_buffer(aio_transport *t, size_t *size, void *user)
{
    (void)t;
    pconn *c = user;
    *size = READ_SIZE;
    return c->srv->buf;
}

static void buffer_updated(aio_transport *t, size_t nbytes, void *user)
{
    pconn *c = user;
    handle(t, c, c->srv->buf, nbytes);
}

/* A client that does not read its answers: stop reading its requests until
 * the write buffer drains (memory stays bounded). */
static void pause_writing(aio_transport *t, void *user)
{
    (void)user;
    aio_transport_pause_reading(t);
}

static void resume_writing(aio_transport *t, void *user)
{
    (void)user;
    aio_transport_resume_reading(t);
}

static void connection_lost(aio_transport *t, int error, void *user)
{
    (void)t, (void)error;
    pconn *c = user;
    if (c->srv->h->fini)
        c->srv->h->fini(c->state);
    bytebuf_free(&c->out);
    free(c);
}

static const aio_protocol plain = {
    .data_received = data_received,
    .connection_lost = connection_lost,
    .pause_writing = pause_writing,
    .resume_writing = resume_writing,
};

static const aio_protocol buffered = {
    .connection_lost = connection_lost,
    .pause_writing = pause_writing,
    .resume_writing = resume_writing,
    .get_buffer = get_buffer,
    .buffer_updated = buffer_updated,
};

typedef struct factory_arg {
    pserver *srv;
    const aio_protocol *proto;
} factory_arg;

static int factory(void *arg, const aio_protocol **proto, void **user)
{
    factory_arg *f = arg;
    pconn *c = calloc(1, sizeof *c + f->srv->h->state_size);
    if (!c)
        return -ENOMEM;
    c->srv = f->srv;
    if (f->srv->h->init)
        f->srv->h->init(c->state, f->srv->shared);
    *proto = f->proto;
    *user = c;
    return 0;
}

static int tick(al_loop *loop, void *arg)
{
    pserver *s = arg;
    s->h->tick(s->shared, al_loop_time(loop));
    al_handle_unref(s->ticker); /* this call's handle; the loop holds its own */
    al_call_later(loop, 0.1, tick, s, &s->ticker);
    return 0;
}

static void stop(void *arg)
{
    aio_server_close(((pserver *)arg)->server);
}

static void close_clients(void *arg)
{
    aio_server_close_clients(((pserver *)arg)->server);
}

static size_t clients(void *arg)
{
    return aio_server_connections(((pserver *)arg)->server);
}

static const srv_shutdown_ops shutdown_ops = {stop, close_clients, clients};

static int main_task(void *arg, void **result)
{
    (void)result;
    pserver *s = arg;
    if (s->h->tick)
        al_call_later(s->loop, 0.1, tick, s, &s->ticker);
    srv_shutdown_wait(&s->sd);
    aio_server_close(s->server);
    aio_server_wait_closed(s->server);
    if (s->ticker) {
        al_handle_cancel(s->ticker);
        al_handle_unref(s->ticker);
        s->ticker = NULL;
    }
    return 0;
}

int conn_server_run_protocol(const srv_desc *d, const srv_options *o, const conn_handler *h,
                             void *shared, bool use_buffered)
{
    pserver *s = calloc(1, sizeof *s);
    if (!s)
        return 1;
    s->h = h;
    s->shared = shared;
    int r = aio_loop_new(o->selector, &s->loop);
    if (r != 0) {
        fprintf(stderr, "%s: selector '%s': %s\n", d->name, o->selector ? o->selector : "",
                aio_strerror(r));
        free(s);
        return 1;
    }
    factory_arg fa = {s, use_buffered ? &buffered : &plain};
    const char *hosts[] = {o->host, NULL};
    aio_server_options so = {.backlog = 1024, .reuse_port = o->workers > 1};
    r = aio_create_server(s->loop, factory, &fa, hosts, o->port, &so, &s->server);
    if (r == 0)
        r = srv_shutdown_init(&s->sd, s->loop, o, &shutdown_ops, s);
    if (r == 0) {
        int fd;
        aio_server_sockets(s->server, &fd, 1);
        srv_announce(d, o, fd, s->loop);
        r = al_run_on(s->loop, main_task, s, NULL);
    }
    if (r != 0)
        fprintf(stderr, "%s: %s:%d: %s\n", d->name, o->host, o->port, aio_strerror(r));
    if (s->server)
        aio_server_free(s->server);
    al_loop_free(s->loop);
    free(s);
    return r == 0 ? 0 : 1;
}

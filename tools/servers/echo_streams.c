/* asyncio-echo --api streams: aio_start_server runs one task per
 * connection with a stream reader and writer (asyncio's start_server with
 * read / write / drain). */
#include "conn_server.h"

#include <asyncio/asyncio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct sserver {
    aio_server *server;
    srv_shutdown sd;
} sserver;

enum { READ_SIZE = 65536 };

/* The read goes straight into buf (the reader copies nothing when its
 * buffer is empty). buf is on the heap, not the task's stack: the
 * compiler's stack-clash probes would touch every page of a 64 KiB frame
 * at once, while malloc'd pages become resident only as data lands in
 * them (an idle connection that exchanged a few bytes holds one page). */
static int echo_client(aio_stream_reader *r, aio_stream_writer *w, void *arg)
{
    (void)arg;
    char *buf = malloc(READ_SIZE);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    for (;;) {
        ssize_t n = aio_stream_read(r, buf, READ_SIZE);
        if (n <= 0) {
            rc = n < 0 && n != AL_ECANCELLED ? (int)n : 0;
            break;
        }
        int e = aio_stream_write(w, buf, (size_t)n);
        if (e == 0)
            e = aio_stream_drain(w);
        if (e < 0)
            break; /* the peer went away: nothing to report */
    }
    free(buf);
    return rc;
}

static void stop(void *arg)
{
    aio_server_close(((sserver *)arg)->server);
}

static void close_clients(void *arg)
{
    aio_server_close_clients(((sserver *)arg)->server);
}

static size_t clients(void *arg)
{
    return aio_server_connections(((sserver *)arg)->server);
}

static const srv_shutdown_ops shutdown_ops = {stop, close_clients, clients};

static int main_task(void *arg, void **result)
{
    (void)result;
    sserver *s = arg;
    srv_shutdown_wait(&s->sd);
    aio_server_close(s->server);
    aio_server_wait_closed(s->server);
    return 0;
}

int echo_serve_streams(const srv_desc *d, const srv_options *o)
{
    sserver s = {0};
    al_loop *loop;
    int r = aio_loop_new(o->selector, &loop);
    if (r != 0) {
        fprintf(stderr, "%s: selector '%s': %s\n", d->name, o->selector ? o->selector : "",
                aio_strerror(r));
        return 1;
    }
    const char *hosts[] = {o->host, NULL};
    aio_server_options so = {.backlog = 1024, .reuse_port = o->workers > 1};
    r = aio_start_server(loop, echo_client, NULL, hosts, o->port, &so, 0, &s.server);
    if (r == 0)
        r = srv_shutdown_init(&s.sd, loop, o, &shutdown_ops, &s);
    if (r == 0) {
        int fd;
        aio_server_sockets(s.server, &fd, 1);
        srv_announce(d, o, fd, loop);
        r = al_run_on(loop, main_task, &s, NULL);
    }
    if (r != 0)
        fprintf(stderr, "%s: %s:%d: %s\n", d->name, o->host, o->port, aio_strerror(r));
    if (s.server)
        aio_server_free(s.server);
    al_loop_free(loop);
    return r == 0 ? 0 : 1;
}

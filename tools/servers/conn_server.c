/* Request/response connections on the socket coroutines: see
 * conn_server.h. */
#include "conn_server.h"

#include <asyncio/asyncio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct conn {
    struct conn *prev, *next;
    struct server *srv;
    int fd;
    al_task *task; /* our reference, to cancel it at shutdown */
    bytebuf out;
    _Alignas(16) unsigned char state[]; /* the handler's */
} conn;

typedef struct server {
    al_loop *loop;
    const srv_desc *desc;
    const conn_handler *h;
    void *shared;
    int lfd;
    al_task *acceptor;
    al_handle *ticker;
    conn *conns;
    size_t nconns;
    srv_shutdown sd;
} server;

enum { READ_SIZE = 65536 }; /* on the task's stack: pages touched only as used */

static int serve_conn(void *arg, void **result)
{
    (void)result;
    conn *c = arg;
    server *s = c->srv;
    char buf[READ_SIZE];
    int r = CONN_OPEN;
    while (r == CONN_OPEN) {
        ssize_t n = aio_sock_recv_into(s->loop, c->fd, buf, sizeof buf);
        if (n <= 0)
            break;         /* end of stream, reset, or cancelled at shutdown */
        if (!s->h->feed) { /* echo: the bytes go back as they are */
            if (aio_sock_sendall(s->loop, c->fd, buf, (size_t)n, NULL) < 0)
                break;
            continue;
        }
        r = s->h->feed(c->state, buf, (size_t)n, &c->out, s->shared);
        if (r >= 0 && c->out.len > 0) {
            if (aio_sock_sendall(s->loop, c->fd, bytebuf_head(&c->out), c->out.len, NULL) < 0)
                break;
            bytebuf_consume(&c->out, c->out.len);
        }
    }
    if (s->h->fini)
        s->h->fini(c->state);
    bytebuf_free(&c->out);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    al_task_unref(c->task); /* the loop keeps its own until we return */
    free(c);
    return 0;
}

static void start_conn(server *s, int fd)
{
    srv_nodelay(fd);
    conn *c = calloc(1, sizeof *c + s->h->state_size);
    if (!c) {
        close(fd);
        return;
    }
    c->srv = s;
    c->fd = fd;
    if (s->h->init)
        s->h->init(c->state, s->shared);
    if (al_task_new(s->loop, serve_conn, c, NULL, &c->task) != 0) {
        if (s->h->fini)
            s->h->fini(c->state);
        close(fd);
        free(c);
        return;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
}

static int acceptor(void *arg, void **result)
{
    (void)result;
    server *s = arg;
    for (;;) {
        int fd = aio_sock_accept(s->loop, s->lfd, NULL, NULL);
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            fprintf(stderr, "%s: accept: %s (pausing 0.1 s)\n", s->desc->name, aio_strerror(fd));
            if (al_sleep(0.1) != 0)
                break;
            continue;
        }
        if (fd == -ECONNABORTED || fd == -EPERM || fd == -EPROTO)
            continue;
        if (fd < 0)
            break; /* cancelled (shutdown) or the loop closing */
        start_conn(s, fd);
    }
    close(s->lfd);
    s->lfd = -1;
    return 0;
}

static int tick(al_loop *loop, void *arg)
{
    server *s = arg;
    s->h->tick(s->shared, al_loop_time(loop));
    al_handle_unref(s->ticker); /* this call's handle; the loop holds its own */
    al_call_later(loop, 0.1, tick, s, &s->ticker);
    return 0;
}

static void stop(void *arg)
{
    server *s = arg;
    al_task_cancel(s->acceptor, "shutdown");
}

static void close_clients(void *arg)
{
    server *s = arg;
    for (conn *c = s->conns; c; c = c->next)
        al_task_cancel(c->task, "shutdown");
}

static size_t clients(void *arg)
{
    return ((server *)arg)->nconns;
}

static const srv_shutdown_ops shutdown_ops = {stop, close_clients, clients};

static int main_task(void *arg, void **result)
{
    (void)result;
    server *s = arg;
    int r = al_task_new(s->loop, acceptor, s, NULL, &s->acceptor);
    if (r != 0)
        return r;
    if (s->h->tick)
        al_call_later(s->loop, 0.1, tick, s, &s->ticker);
    srv_shutdown_wait(&s->sd);
    al_task_cancel(s->acceptor, "shutdown");
    al_await(al_task_future(s->acceptor));
    al_task_unref(s->acceptor);
    if (s->ticker) {
        al_handle_cancel(s->ticker);
        al_handle_unref(s->ticker);
        s->ticker = NULL;
    }
    return 0;
}

int conn_server_run(const srv_desc *d, const srv_options *o, const conn_handler *h, void *shared)
{
    server s = {.desc = d, .h = h, .shared = shared, .lfd = srv_listen(o)};
    if (s.lfd < 0)
        return 1;
    int r = aio_loop_new(o->selector, &s.loop);
    if (r != 0) {
        fprintf(stderr, "%s: selector '%s': %s\n", d->name, o->selector ? o->selector : "",
                aio_strerror(r));
        close(s.lfd);
        return 1;
    }
    r = srv_shutdown_init(&s.sd, s.loop, o, &shutdown_ops, &s);
    if (r == 0) {
        srv_announce(d, o, s.lfd, s.loop);
        r = al_run_on(s.loop, main_task, &s, NULL);
    }
    if (r != 0)
        fprintf(stderr, "%s: %s\n", d->name, aio_strerror(r));
    if (s.lfd >= 0)
        close(s.lfd);
    al_loop_free(s.loop);
    return r == 0 ? 0 : 1;
}

const char *const conn_server_apis[] = {"buffered", "protocol", "sockets", NULL};

int conn_server_run_api(const srv_desc *d, const srv_options *o, const conn_handler *h,
                        void *shared)
{
    if (strcmp(o->api, "sockets") == 0)
        return conn_server_run(d, o, h, shared);
    return conn_server_run_protocol(d, o, h, shared, strcmp(o->api, "buffered") == 0);
}

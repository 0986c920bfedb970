/* The transport base: the public calls (through the kind's operations),
 * flow control, the start (connection_made) and the end (connection_lost
 * once), references, extra info, and the loop's list of transports and
 * servers that its close ends. */
#include "transport_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct aio__net {
    aio__res head;        /* circular list of open servers */
    aio_transport *first; /* open transports, newest first */
    void *rbuf;           /* the shared read buffer, AIO_READ_BUFFER bytes */
};

static aio__net *net_of(aio__io *io)
{
    if (!io->net) {
        aio__net *n = calloc(1, sizeof *n);
        if (!n)
            return NULL;
        n->head.prev = n->head.next = &n->head;
        io->net = n;
    }
    return io->net;
}

int aio__res_add(aio__io *io, aio__res *r)
{
    aio__net *n = net_of(io);
    if (!n)
        return -ENOMEM;
    r->next = &n->head;
    r->prev = n->head.prev;
    r->prev->next = r;
    n->head.prev = r;
    return 0;
}

void aio__res_remove(aio__io *io, aio__res *r)
{
    (void)io;
    if (!r->next)
        return;
    r->prev->next = r->next;
    r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static int list_add(aio_transport *t)
{
    aio__net *n = net_of(t->io);
    if (!n)
        return -ENOMEM;
    t->prev = NULL;
    t->next = n->first;
    if (n->first)
        n->first->prev = t;
    n->first = t;
    t->listed = true;
    return 0;
}

static void list_remove(aio_transport *t)
{
    if (!t->listed)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        t->io->net->first = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->listed = false;
}

void aio__each_transport(aio__io *io, aio_server *s, void (*fn)(aio_transport *))
{
    if (!io->net)
        return;
    /* fn may end t at once (then it leaves the list); next is held */
    aio_transport *t = aio_transport_ref(io->net->first);
    while (t) {
        aio_transport *next = aio_transport_ref(t->next);
        if (t->server == s)
            fn(t);
        aio_transport_unref(t);
        t = next;
    }
}

static void loop_closing(aio_transport *t);

void aio__net_close(aio__io *io)
{
    aio__net *n = io->net;
    if (!n)
        return;
    while (n->head.next != &n->head) {
        aio__res *r = n->head.next;
        aio__res_remove(io, r);
        r->loop_closing(r);
    }
    while (n->first)
        loop_closing(n->first);
    free(n->rbuf);
    free(n);
    io->net = NULL;
}

void *aio__read_buffer(aio__io *io, size_t *size)
{
    aio__net *n = net_of(io);
    if (!n)
        return NULL;
    if (!n->rbuf && !(n->rbuf = malloc(AIO_READ_BUFFER)))
        return NULL;
    *size = AIO_READ_BUFFER;
    return n->rbuf;
}

void aio__report(al_loop *loop, const char *message, int error)
{
    al_error_context ctx = {.message = message, .error = error};
    al_loop_call_exception_handler(loop, &ctx);
}

/* ---- protocol calls ------------------------------------------------------- */

static void call_made(aio_transport *t)
{
    void (*fn)(aio_transport *, void *) =
        t->dgram ? t->dproto->connection_made : t->proto->connection_made;
    if (fn)
        fn(t, t->user);
}

static void call_lost(aio_transport *t, int error)
{
    void (*fn)(aio_transport *, int, void *) =
        t->dgram ? t->dproto->connection_lost : t->proto->connection_lost;
    if (fn)
        fn(t, error, t->user);
}

static void call_flow(aio_transport *t, bool pause)
{
    void (*fn)(aio_transport *, void *);
    if (t->dgram)
        fn = pause ? t->dproto->pause_writing : t->dproto->resume_writing;
    else
        fn = pause ? t->proto->pause_writing : t->proto->resume_writing;
    if (fn)
        fn(t, t->user);
}

void aio__transport_flow(aio_transport *t)
{
    aio__wq *w = t->wq;
    size_t size = w ? w->size : 0;
    size_t high = w ? w->high : AIO_WRITE_HIGH_DEFAULT;
    size_t low = w ? w->low : AIO_WRITE_HIGH_DEFAULT / 4;
    if (!t->paused_w && size > high) {
        t->paused_w = true;
        call_flow(t, true);
    } else if (t->paused_w && size <= low) {
        t->paused_w = false;
        call_flow(t, false);
    }
}

/* ---- the write state -------------------------------------------------------- */

int aio__transport_set_writer(aio_transport *t, al_callback_fn fn)
{
    bool on = fn != NULL;
    if (t->writer == on)
        return 0;
    int rc = aio__set_interest(t->io, t->fd, AIO_WRITE, fn, t);
    if (rc >= 0 || !on)
        t->writer = on;
    return rc < 0 && on ? rc : 0;
}

aio__wq *aio__wq_get(aio_transport *t)
{
    if (!t->wq) {
        aio__wq *w = calloc(1, t->ops->wq_size);
        if (!w)
            return NULL;
        w->high = AIO_WRITE_HIGH_DEFAULT;
        w->low = AIO_WRITE_HIGH_DEFAULT / 4;
        t->wq = w;
    }
    return t->wq;
}

void aio__wq_drained(aio_transport *t, size_t keep)
{
    aio__wq *w = t->wq;
    if (!w)
        return;
    w->size = 0;
    if (w->high == AIO_WRITE_HIGH_DEFAULT && w->low == AIO_WRITE_HIGH_DEFAULT / 4) {
        free(w);
        t->wq = NULL;
    } else if ((w = realloc(w, keep))) { /* the user's watermarks stay */
        t->wq = w;
    }
}

/* ---- start and end -------------------------------------------------------- */

int aio__transport_init(aio_transport *t, const aio__transport_ops *ops, al_loop *loop, int fd,
                        const aio_protocol *proto, const aio_datagram_protocol *dproto, void *user,
                        aio_server *server)
{
    t->ops = ops;
    t->io = al_loop_impl(loop);
    if (dproto) {
        t->dproto = dproto;
        t->dgram = true;
    } else {
        t->proto = proto;
    }
    t->user = user;
    t->fd = fd;
    t->refs = 1;
    t->reading = true;
    int rc = list_add(t);
    if (rc == 0 && server) {
        t->server = server;
        aio__server_attach(server);
    }
    return rc;
}

void aio__transport_discard(aio_transport *t)
{
    if (t->pending) {
        al_handle_cancel(t->pending);
        al_handle_unref(t->pending);
        t->pending = NULL;
    }
    if (t->server)
        aio__server_detach(t->server);
    t->server = NULL;
    list_remove(t);
}

static int lost_cb(al_loop *loop, void *arg);
static void run_lost(aio_transport *t);

/* Schedules connection_lost (synchronously when the loop can no longer
 * schedule). */
static void schedule_lost(aio_transport *t)
{
    if (al_call_soon(t->io->loop, lost_cb, t, &t->pending) < 0)
        run_lost(t); /* the loop is closing: now */
}

static void run_start(aio_transport *t)
{
    t->started = true;
    aio_transport_ref(t);
    call_made(t);
    if (!t->closing && t->reading && t->ops->set_reading) {
        int rc = t->ops->set_reading(t, true);
        if (rc < 0)
            t->ops->abort(t, rc);
    }
    if (t->lost && !t->pending)
        schedule_lost(t); /* ended before it started */
    aio_transport_unref(t);
}

static int start_cb(al_loop *loop, void *arg)
{
    (void)loop;
    aio_transport *t = arg;
    al_handle_unref(t->pending);
    t->pending = NULL;
    run_start(t);
    return 0;
}

int aio__transport_start(aio_transport *t)
{
    return al_call_soon(t->io->loop, start_cb, t, &t->pending);
}

static void run_lost(aio_transport *t)
{
    if (t->started)
        call_lost(t, t->lost_error);
    if (t->fd >= 0) {
        aio__flush(t->io); /* the selector lets go of the socket before it closes */
        close(t->fd);
    }
    t->fd = -1;
    if (t->server)
        aio__server_detach(t->server);
    t->server = NULL;
    list_remove(t);
    aio_transport_unref(t); /* the transport's own reference */
}

static int lost_cb(al_loop *loop, void *arg)
{
    (void)loop;
    aio_transport *t = arg;
    al_handle_unref(t->pending);
    t->pending = NULL;
    run_lost(t);
    return 0;
}

void aio__transport_lost(aio_transport *t, int error)
{
    if (t->lost)
        return;
    t->lost = true;
    t->closing = true;
    t->lost_error = error;
    if (t->started)
        schedule_lost(t);
    /* else: the start call is pending; connection_lost follows it */
}

/* The loop closes under an open transport: it ends now, in order
 * (connection_made if it was still due, connection_lost once). */
static void loop_closing(aio_transport *t)
{
    aio_transport_ref(t);
    if (!t->started) {
        al_handle_cancel(t->pending);
        al_handle_unref(t->pending);
        t->pending = NULL;
        t->closing = true;
        run_start(t);
    }
    if (!t->lost)
        t->ops->abort(t, AL_ELOOPCLOSED);
    if (t->pending) {
        al_handle_cancel(t->pending);
        al_handle_unref(t->pending);
        t->pending = NULL;
        run_lost(t);
    }
    aio_transport_unref(t);
}

/* ---- the public calls ------------------------------------------------------- */

aio_transport *aio_transport_ref(aio_transport *t)
{
    if (t)
        t->refs++;
    return t;
}

void aio_transport_unref(aio_transport *t)
{
    if (t && --t->refs == 0)
        t->ops->free(t);
}

int aio_transport_writelines(aio_transport *t, const struct iovec *iov, int iovcnt)
{
    if (!t || iovcnt < 0 || (!iov && iovcnt))
        return -EINVAL;
    if (!t->ops->writev)
        return -ENOTSUP;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return -EINVAL;
        total += iov[i].iov_len;
    }
    return t->ops->writev(t, iov, iovcnt, total);
}

int aio_transport_write(aio_transport *t, const void *data, size_t len)
{
    struct iovec v = {.iov_base = (void *)data, .iov_len = len};
    return aio_transport_writelines(t, &v, 1);
}

int aio_transport_write_eof(aio_transport *t)
{
    if (!t)
        return -EINVAL;
    if (!t->ops->write_eof || !aio_transport_can_write_eof(t))
        return -ENOTSUP;
    return t->ops->write_eof(t);
}

bool aio_transport_can_write_eof(const aio_transport *t)
{
    return t && t->ops->can_write_eof && t->ops->can_write_eof(t);
}

static int set_reading(aio_transport *t, bool on)
{
    if (!t)
        return -EINVAL;
    if (t->closing)
        return AL_EINVALIDSTATE;
    if (t->reading == on)
        return 0;
    t->reading = on;
    if (!t->started || !t->ops->set_reading)
        return 0; /* applied when connection_made has run */
    return t->ops->set_reading(t, on);
}

int aio_transport_pause_reading(aio_transport *t)
{
    return set_reading(t, false);
}

int aio_transport_resume_reading(aio_transport *t)
{
    return set_reading(t, true);
}

bool aio_transport_is_reading(const aio_transport *t)
{
    return t && !t->closing && t->reading;
}

int aio_transport_set_write_buffer_limits(aio_transport *t, ssize_t high, ssize_t low)
{
    if (!t)
        return -EINVAL;
    size_t h, l;
    if (high < 0)
        h = low < 0 ? AIO_WRITE_HIGH_DEFAULT : 4 * (size_t)low;
    else
        h = (size_t)high;
    l = low < 0 ? h / 4 : (size_t)low;
    if (h < l)
        return -EINVAL;
    bool defaults = h == AIO_WRITE_HIGH_DEFAULT && l == AIO_WRITE_HIGH_DEFAULT / 4;
    if (!defaults || t->wq) {
        aio__wq *w = aio__wq_get(t);
        if (!w)
            return -ENOMEM;
        w->high = h;
        w->low = l;
    }
    aio__transport_flow(t);
    return 0;
}

void aio_transport_get_write_buffer_limits(const aio_transport *t, size_t *low, size_t *high)
{
    const aio__wq *w = t ? t->wq : NULL;
    if (low)
        *low = w ? w->low : t ? AIO_WRITE_HIGH_DEFAULT / 4 : 0;
    if (high)
        *high = w ? w->high : t ? AIO_WRITE_HIGH_DEFAULT : 0;
}

size_t aio_transport_get_write_buffer_size(const aio_transport *t)
{
    return t ? aio__wsize(t) : 0;
}

void aio_transport_close(aio_transport *t)
{
    if (t && !t->closing)
        t->ops->close(t);
}

void aio_transport_abort(aio_transport *t)
{
    if (t && !t->lost)
        t->ops->abort(t, 0);
}

bool aio_transport_is_closing(const aio_transport *t)
{
    return !t || t->closing;
}

int aio_transport_fd(const aio_transport *t)
{
    return t ? t->fd : -1;
}

static int name_of(const aio_transport *t, struct sockaddr_storage *addr, socklen_t *len, bool peer)
{
    if (!t || !addr || !len)
        return -EINVAL;
    if (t->fd < 0)
        return -EBADF;
    socklen_t l = *len;
    int rc = peer ? getpeername(t->fd, (struct sockaddr *)addr, &l)
                  : getsockname(t->fd, (struct sockaddr *)addr, &l);
    if (rc < 0)
        return -errno;
    *len = l;
    return 0;
}

int aio_transport_peername(const aio_transport *t, struct sockaddr_storage *addr, socklen_t *len)
{
    return name_of(t, addr, len, true);
}

int aio_transport_sockname(const aio_transport *t, struct sockaddr_storage *addr, socklen_t *len)
{
    return name_of(t, addr, len, false);
}

al_loop *aio_transport_loop(const aio_transport *t)
{
    return t ? t->io->loop : NULL;
}

void aio_transport_get_protocol(const aio_transport *t, const aio_protocol **proto, void **user)
{
    if (proto)
        *proto = t && !t->dgram ? t->proto : NULL;
    if (user)
        *user = t ? t->user : NULL;
}

int aio_transport_set_protocol(aio_transport *t, const aio_protocol *proto, void *user)
{
    if (!t || !proto || t->dgram)
        return -EINVAL;
    t->proto = proto;
    t->user = user;
    return 0;
}

int aio_transport_sendto(aio_transport *t, const void *data, size_t len,
                         const struct sockaddr *addr, socklen_t addrlen)
{
    if (!t || (!data && len))
        return -EINVAL;
    if (!t->ops->sendto)
        return -ENOTSUP;
    return t->ops->sendto(t, data, len, addr, addrlen);
}

int aio_transport_sendfile(aio_transport *t, int file, off_t offset, size_t count, size_t *sent)
{
    if (sent)
        *sent = 0;
    if (!t || offset < 0)
        return -EINVAL;
    if (file < 0)
        return -EBADF;
    if (!t->ops->sendfile)
        return -ENOTSUP;
    if (t->closing)
        return AL_EINVALIDSTATE;
    return t->ops->sendfile(t, file, offset, count, sent);
}

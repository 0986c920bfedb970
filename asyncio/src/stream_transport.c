/* The selector socket transport for TCP and Unix stream sockets
 * (selector_events._SelectorSocketTransport): read on readiness into the
 * loop's shared buffer (or the buffered protocol's), write at once when
 * nothing is buffered, buffer the rest and send it on writability. */
#include "transport_internal.h"

#include <asynclib/task.h>

#include <asyncio/sock.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct sock_transport {
    aio_transport base;
    char *wbuf; /* base.wsize bytes from wstart; freed when drained */
    size_t wstart, wcap;
    al_future *drained; /* a sendfile waits for the buffer to drain */
    bool writer_on;
    bool eof_pending; /* write_eof called */
    bool eof_seen;    /* the peer's EOF arrived */
    bool sendfile_busy;
} sock_transport;

static sock_transport *st_of(aio_transport *t)
{
    return (sock_transport *)t;
}

static void set_writer(sock_transport *s, bool on);

static void drop_buffer(sock_transport *s)
{
    free(s->wbuf);
    s->wbuf = NULL;
    s->wstart = s->wcap = 0;
    s->base.wsize = 0;
}

static void wake_drained(sock_transport *s, int error)
{
    if (!s->drained)
        return;
    if (error)
        al_future_set_error(s->drained, error);
    else
        al_future_set_result(s->drained, NULL, NULL);
    al_future_unref(s->drained);
    s->drained = NULL;
}

/* _force_close: drop the buffer, stop both directions, connection_lost. */
static void st_abort(aio_transport *t, int error)
{
    sock_transport *s = st_of(t);
    if (t->lost)
        return;
    drop_buffer(s);
    set_writer(s, false);
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    t->closing = true;
    wake_drained(s, error ? error : -ECONNABORTED);
    aio__transport_lost(t, error);
}

static void st_close(aio_transport *t)
{
    sock_transport *s = st_of(t);
    t->closing = true;
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    if (t->wsize == 0)
        aio__transport_lost(t, 0);
    (void)s;
}

/* ---- reading --------------------------------------------------------------- */

static void on_eof(sock_transport *s)
{
    aio_transport *t = &s->base;
    s->eof_seen = true;
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    bool keep = t->proto->eof_received && t->proto->eof_received(t, t->user);
    if (!keep)
        aio_transport_close(t);
}

static int read_ready(al_loop *loop, void *arg)
{
    (void)loop;
    sock_transport *s = arg;
    aio_transport *t = &s->base;
    if (t->closing || !t->reading)
        return 0;
    const aio_protocol *p = t->proto;
    size_t size = AIO_READ_BUFFER;
    void *buf = p->get_buffer ? p->get_buffer(t, &size, t->user) : aio__read_buffer(t->io, &size);
    if (!buf || !size) {
        st_abort(t, p->get_buffer ? -ENOBUFS : -ENOMEM);
        return 0;
    }
    ssize_t n = recv(t->fd, buf, size, MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            st_abort(t, -errno);
        return 0;
    }
    aio_transport_ref(t);
    if (n == 0)
        on_eof(s);
    else if (p->get_buffer)
        p->buffer_updated(t, (size_t)n, t->user);
    else if (p->data_received)
        p->data_received(t, buf, (size_t)n, t->user);
    aio_transport_unref(t);
    return 0;
}

static int st_set_reading(aio_transport *t, bool on)
{
    sock_transport *s = st_of(t);
    if (s->eof_seen)
        return 0; /* nothing more to read */
    int rc = aio__set_interest(t->io, t->fd, AIO_READ, on ? read_ready : NULL, s);
    return rc < 0 ? rc : 0;
}

/* ---- writing --------------------------------------------------------------- */

static int write_ready(al_loop *loop, void *arg);

static void set_writer(sock_transport *s, bool on)
{
    if (s->writer_on == on)
        return;
    if (aio__set_interest(s->base.io, s->base.fd, AIO_WRITE, on ? write_ready : NULL, s) >= 0 ||
        !on)
        s->writer_on = on;
}

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* Appends the bytes of iov after `skip` to the buffer. */
static int buffer_append(sock_transport *s, const struct iovec *iov, int n, size_t skip,
                         size_t total)
{
    size_t add = total - skip, size = s->base.wsize;
    if (s->wstart + size + add > s->wcap && s->wstart && s->wstart >= size) {
        /* moving costs no more than what was sent before: O(1) a byte */
        memcpy(s->wbuf, s->wbuf + s->wstart, size);
        s->wstart = 0;
    }
    if (s->wstart + size + add > s->wcap) {
        size_t cap = s->wcap ? s->wcap : 4096;
        while (cap < size + add)
            cap *= 2;
        if (cap == s->wcap)
            cap *= 2; /* fits only once compacted: grow so that moves stay rare */
        char *b = s->wstart ? malloc(cap) : realloc(s->wbuf, cap);
        if (!b)
            return -ENOMEM;
        if (s->wstart) { /* only the unsent bytes move */
            memcpy(b, s->wbuf + s->wstart, size);
            free(s->wbuf);
            s->wstart = 0;
        }
        s->wbuf = b;
        s->wcap = cap;
    }
    char *out = s->wbuf + s->wstart + s->base.wsize;
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(out, (const char *)iov[i].iov_base + skip, len - skip);
        out += len - skip;
        skip = 0;
    }
    s->base.wsize += add;
    return 0;
}

static int st_writev(aio_transport *t, const struct iovec *iov, int n, size_t total)
{
    sock_transport *s = st_of(t);
    if (s->eof_pending)
        return AL_EINVALIDSTATE; /* write() after write_eof() */
    if (s->sendfile_busy)
        return -EBUSY;
    if (total == 0 || t->closing)
        return 0; /* dropped after close, as asyncio drops them */
    size_t sent = 0;
    if (t->wsize == 0) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
        ssize_t k = sendmsg(t->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && !would_block(errno)) {
            st_abort(t, -errno);
            return 0;
        }
        sent = k > 0 ? (size_t)k : 0;
        if (sent == total)
            return 0;
    }
    int rc = buffer_append(s, iov, n, sent, total);
    if (rc < 0) {
        st_abort(t, rc);
        return rc;
    }
    set_writer(s, true);
    aio__transport_flow(t);
    return 0;
}

static int write_ready(al_loop *loop, void *arg)
{
    (void)loop;
    sock_transport *s = arg;
    aio_transport *t = &s->base;
    if (t->wsize) {
        ssize_t k = send(t->fd, s->wbuf + s->wstart, t->wsize, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0) {
            if (!would_block(errno))
                st_abort(t, -errno);
            return 0;
        }
        s->wstart += (size_t)k;
        t->wsize -= (size_t)k;
        aio_transport_ref(t);
        aio__transport_flow(t);
        bool gone = t->lost;
        aio_transport_unref(t);
        if (gone || t->wsize)
            return 0;
    }
    set_writer(s, false);
    drop_buffer(s);
    wake_drained(s, 0);
    if (t->closing)
        aio__transport_lost(t, 0);
    else if (s->eof_pending)
        shutdown(t->fd, SHUT_WR);
    return 0;
}

static int st_write_eof(aio_transport *t)
{
    sock_transport *s = st_of(t);
    if (t->closing || s->eof_pending)
        return 0;
    s->eof_pending = true;
    if (t->wsize == 0 && shutdown(t->fd, SHUT_WR) < 0 && errno != ENOTCONN)
        return -errno;
    return 0;
}

static bool st_can_write_eof(const aio_transport *t)
{
    (void)t;
    return true;
}

/* ---- sendfile (BaseSelectorEventLoop._sendfile_native) ---------------------- */

static int st_sendfile(aio_transport *t, int file, off_t offset, size_t count, size_t *sent)
{
    sock_transport *s = st_of(t);
    if (s->sendfile_busy)
        return -EBUSY;
    if (s->eof_pending)
        return AL_EINVALIDSTATE;
    bool was_reading = aio_transport_is_reading(t);
    aio_transport_pause_reading(t);
    s->sendfile_busy = true;
    aio_transport_ref(t);
    int rc = 0;
    if (t->wsize) {
        al_future *f;
        if ((rc = al_future_new(t->loop, &f)) == 0) {
            s->drained = al_future_ref(f);
            rc = al_await(f);
            if (s->drained == f) {
                al_future_unref(f);
                s->drained = NULL;
            }
            al_future_unref(f);
        }
    }
    if (rc == 0 && t->closing)
        rc = AL_EINVALIDSTATE;
    if (rc == 0)
        rc = aio_sock_sendfile(t->loop, t->fd, file, offset, count, sent);
    s->sendfile_busy = false;
    if (was_reading && !t->closing)
        aio_transport_resume_reading(t);
    aio_transport_unref(t);
    return rc;
}

static void st_free(aio_transport *t)
{
    sock_transport *s = st_of(t);
    free(s->wbuf);
    free(s);
}

static const aio__transport_ops sock_ops = {
    .writev = st_writev,
    .write_eof = st_write_eof,
    .can_write_eof = st_can_write_eof,
    .set_reading = st_set_reading,
    .close = st_close,
    .abort = st_abort,
    .sendfile = st_sendfile,
    .free = st_free,
};

int aio__socket_transport_new(al_loop *loop, int fd, const aio_protocol *proto, void *user,
                              aio_server *server, al_callback_fn done, void *arg,
                              aio_transport **out)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
        int err = -errno;
        close(fd);
        return err;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        int one = 1; /* asyncio sets TCP_NODELAY on every TCP transport */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    sock_transport *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return -ENOMEM;
    }
    aio_transport *t = &s->base;
    int rc = aio__transport_init(t, &sock_ops, loop, fd, proto, NULL, user);
    if (rc == 0 && server) {
        t->server = server;
        aio__server_attach(server, t);
    }
    if (rc == 0)
        rc = aio__transport_start(t, done, arg);
    if (rc < 0) {
        if (t->server)
            aio__server_detach(server, t);
        aio__res_remove(t->io, &t->res);
        close(fd);
        free(s);
        return rc;
    }
    if (out)
        *out = t;
    return 0;
}

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

/* The socket transport is the base alone (an idle connection holds
 * nothing more); its flags are the base's kflags. */
enum {
    EOF_PENDING = 1,   /* write_eof called */
    EOF_SEEN = 2,      /* the peer's EOF arrived */
    SENDFILE_BUSY = 4, /* a sendfile runs */
};

static bool flag(const aio_transport *t, unsigned f)
{
    return (t->kflags & f) != 0;
}

static void set_flag(aio_transport *t, unsigned f, bool on)
{
    t->kflags = on ? (t->kflags | f) : (t->kflags & ~f);
}

static void wake_drained(aio_transport *t, int error)
{
    aio__wbuf *w = aio__wbuf_of(t);
    if (!w || !w->drained)
        return;
    if (error)
        al_future_set_error(w->drained, error);
    else
        al_future_set_result(w->drained, NULL, NULL);
    al_future_unref(w->drained);
    w->drained = NULL;
}

/* _force_close: drop the buffer, stop both directions, connection_lost. */
static void st_abort(aio_transport *t, int error)
{
    if (t->lost)
        return;
    wake_drained(t, error ? error : -ECONNABORTED);
    aio__wbuf_drop(t);
    aio__transport_set_writer(t, NULL);
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    t->closing = true;
    aio__transport_lost(t, error);
}

static void st_close(aio_transport *t)
{
    t->closing = true;
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    if (aio__wsize(t) == 0)
        aio__transport_lost(t, 0);
}

/* ---- reading --------------------------------------------------------------- */

static void on_eof(aio_transport *t)
{
    set_flag(t, EOF_SEEN, true);
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    bool keep = t->proto->eof_received && t->proto->eof_received(t, t->user);
    if (!keep)
        aio_transport_close(t);
}

static ssize_t sock_recv(int fd, void *buf, size_t len)
{
    return recv(fd, buf, len, MSG_DONTWAIT);
}

static int read_ready(al_loop *loop, void *arg)
{
    (void)loop;
    aio__stream_read(arg, sock_recv, on_eof);
    return 0;
}

static int st_set_reading(aio_transport *t, bool on)
{
    if (flag(t, EOF_SEEN))
        return 0; /* nothing more to read */
    int rc = aio__set_interest(t->io, t->fd, AIO_READ, on ? read_ready : NULL, t);
    return rc < 0 ? rc : 0;
}

/* ---- writing --------------------------------------------------------------- */

/* send(2) for one buffer, sendmsg(2) for several; never SIGPIPE. */
static ssize_t sock_send(int fd, const struct iovec *iov, int n)
{
    if (n == 1)
        return send(fd, iov->iov_base, iov->iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int write_ready(al_loop *loop, void *arg)
{
    (void)loop;
    aio_transport *t = arg;
    if (!aio__wbuf_flush(t, sock_send))
        return 0;
    wake_drained(t, 0);
    aio__wbuf_drop(t);
    if (t->closing)
        aio__transport_lost(t, 0);
    else if (flag(t, EOF_PENDING))
        shutdown(t->fd, SHUT_WR);
    return 0;
}

static int st_writev(aio_transport *t, const struct iovec *iov, int n, size_t total)
{
    if (flag(t, EOF_PENDING))
        return AL_EINVALIDSTATE; /* write() after write_eof() */
    if (flag(t, SENDFILE_BUSY))
        return -EBUSY;
    return aio__wbuf_write(t, iov, n, total, sock_send, write_ready);
}

static int st_write_eof(aio_transport *t)
{
    if (t->closing || flag(t, EOF_PENDING))
        return 0;
    set_flag(t, EOF_PENDING, true);
    if (aio__wsize(t) == 0 && shutdown(t->fd, SHUT_WR) < 0 && errno != ENOTCONN)
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
    if (flag(t, SENDFILE_BUSY))
        return -EBUSY;
    if (flag(t, EOF_PENDING))
        return AL_EINVALIDSTATE;
    bool was_reading = aio_transport_is_reading(t);
    aio_transport_pause_reading(t);
    set_flag(t, SENDFILE_BUSY, true);
    aio_transport_ref(t);
    al_loop *loop = aio__transport_loop(t);
    int rc = 0;
    if (aio__wsize(t)) {
        al_future *f;
        if ((rc = al_future_new(loop, &f)) == 0) {
            aio__wbuf_of(t)->drained = al_future_ref(f);
            rc = al_await(f);
            aio__wbuf *w = aio__wbuf_of(t); /* a cancelled wait leaves it set */
            if (w && w->drained == f) {
                al_future_unref(f);
                w->drained = NULL;
            }
            al_future_unref(f);
        }
    }
    if (rc == 0 && t->closing)
        rc = AL_EINVALIDSTATE;
    if (rc == 0)
        rc = aio_sock_sendfile(loop, t->fd, file, offset, count, sent);
    set_flag(t, SENDFILE_BUSY, false);
    if (was_reading && !t->closing)
        aio_transport_resume_reading(t);
    aio_transport_unref(t);
    return rc;
}

static void st_free(aio_transport *t)
{
    aio__wbuf *w = aio__wbuf_of(t);
    if (w)
        al_future_unref(w->drained);
    free(w);
    free(t);
}

static const aio__transport_ops sock_ops = {
    .wq_size = sizeof(aio__wbuf),
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
                              aio_server *server, aio_transport **out)
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
    aio_transport *t = calloc(1, sizeof *t);
    if (!t) {
        close(fd);
        return -ENOMEM;
    }
    int rc = aio__transport_init(t, &sock_ops, loop, fd, proto, NULL, user, server);
    if (rc == 0)
        rc = aio__transport_start(t);
    if (rc < 0) {
        aio__transport_discard(t);
        close(fd);
        free(t);
        return rc;
    }
    if (out)
        *out = t;
    return 0;
}

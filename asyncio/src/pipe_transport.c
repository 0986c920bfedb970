/* Pipe transports (unix_events._UnixReadPipeTransport and
 * _UnixWritePipeTransport) over a non-blocking pipe end: the read end
 * delivers data_received, eof_received and then connection_lost(0); the
 * write end writes at once when nothing is buffered, buffers the rest
 * under the flow control of the base, and watches its fd for reading to
 * learn that the reader went away (the pipe reports an error: a buffer
 * still pending ends with -EPIPE, none with a clean connection_lost). */
#include "pipe_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The pipe transport is the base alone; its flags are the base's kflags
 * and its buffer the stream kinds' (aio__wbuf). */
enum {
    WRITE_END = 1,   /* the write end (else the read end) */
    EOF_PENDING = 2, /* write_eof: close once drained */
};

static bool flag(const aio_transport *t, unsigned f)
{
    return (t->kflags & f) != 0;
}

static void set_flag(aio_transport *t, unsigned f, bool on)
{
    t->kflags = on ? (t->kflags | f) : (t->kflags & ~f);
}

ssize_t aio__writev_nosigpipe(int fd, const struct iovec *iov, int n)
{
    sigset_t pipe, old, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    ssize_t k = writev(fd, iov, n);
    int e = errno;
    if (k < 0 && e == EPIPE && !was_pending) { /* take back the SIGPIPE it raised */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return k;
}

static void stop_all(aio_transport *t)
{
    aio__transport_set_writer(t, NULL);
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    aio__wbuf_drop(t);
}

static void pt_abort(aio_transport *t, int error)
{
    if (t->lost)
        return;
    t->closing = true;
    stop_all(t);
    aio__transport_lost(t, error);
}

static void pt_close(aio_transport *t)
{
    t->closing = true;
    if (aio__wsize(t) == 0) {
        stop_all(t);
        aio__transport_lost(t, 0);
    } /* else: the rest is written first (write_ready ends it) */
}

/* ---- the read end ------------------------------------------------------- */

/* End of file: eof_received, then connection_lost(0). */
static void on_eof(aio_transport *t)
{
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    t->closing = true;
    if (t->proto->eof_received)
        t->proto->eof_received(t, t->user);
    aio__transport_lost(t, 0);
}

static int read_ready(al_loop *loop, void *arg)
{
    (void)loop;
    aio__stream_read(arg, read, on_eof);
    return 0;
}

static int pt_set_reading(aio_transport *t, bool on)
{
    int rc = aio__set_interest(t->io, t->fd, AIO_READ, on ? read_ready : NULL, t);
    return rc < 0 ? rc : 0;
}

/* ---- the write end ------------------------------------------------------ */

/* The write end polled for reading: the reader closed its end. */
static int peer_gone(al_loop *loop, void *arg)
{
    (void)loop;
    aio_transport *t = arg;
    if (t->lost)
        return 0;
    pt_abort(t, aio__wsize(t) ? -EPIPE : 0);
    return 0;
}

static int write_ready(al_loop *loop, void *arg)
{
    (void)loop;
    aio_transport *t = arg;
    if (!aio__wbuf_flush(t, aio__writev_nosigpipe))
        return 0;
    aio__wbuf_drop(t);
    if (t->closing || flag(t, EOF_PENDING)) {
        t->closing = true;
        stop_all(t);
        aio__transport_lost(t, 0);
    }
    return 0;
}

static int pt_writev(aio_transport *t, const struct iovec *iov, int n, size_t total)
{
    if (flag(t, EOF_PENDING))
        return AL_EINVALIDSTATE;
    return aio__wbuf_write(t, iov, n, total, aio__writev_nosigpipe, write_ready);
}

/* A pipe's end of file is its close (asyncio's write_eof on a pipe). */
static int pt_write_eof(aio_transport *t)
{
    if (t->closing || flag(t, EOF_PENDING))
        return 0;
    set_flag(t, EOF_PENDING, true);
    pt_close(t);
    return 0;
}

static bool pt_can_write_eof(const aio_transport *t)
{
    return flag(t, WRITE_END);
}

static void pt_free(aio_transport *t)
{
    free(aio__wbuf_of(t));
    free(t);
}

static const aio__transport_ops read_ops = {
    .wq_size = sizeof(aio__wbuf),
    .set_reading = pt_set_reading,
    .close = pt_close,
    .abort = pt_abort,
    .free = pt_free,
};

static const aio__transport_ops write_ops = {
    .wq_size = sizeof(aio__wbuf),
    .writev = pt_writev,
    .write_eof = pt_write_eof,
    .can_write_eof = pt_can_write_eof,
    .close = pt_close,
    .abort = pt_abort,
    .free = pt_free,
};

int aio__pipe_transport_new(al_loop *loop, int fd, bool write_end, const aio_protocol *proto,
                            void *user, aio_transport **out)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
        int err = -errno;
        close(fd);
        return err;
    }
    aio_transport *t = calloc(1, sizeof *t);
    if (!t) {
        close(fd);
        return -ENOMEM;
    }
    set_flag(t, WRITE_END, write_end);
    int rc = aio__transport_init(t, write_end ? &write_ops : &read_ops, loop, fd, proto, NULL, user,
                                 NULL);
    if (rc == 0 && write_end) /* the reader's close shows as readable */
        rc = aio__set_interest(t->io, fd, AIO_READ, peer_gone, t);
    if (rc == 0)
        rc = aio__transport_start(t);
    if (rc < 0) {
        aio__set_interest(t->io, fd, AIO_READ, NULL, NULL);
        aio__transport_discard(t);
        aio__flush(t->io);
        close(fd);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* Socket coroutines (BaseSelectorEventLoop.sock_*): try the system call,
 * wait for readiness only when it would block, try again. */
#include "io_internal.h"

#include <asyncio/sock.h>

#include <asynclib/task.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

/* The checks of every sock_* call, before any system call. */
static int sock_begin(al_loop *loop, int fd, aio__io **io)
{
    int rc = aio__io_get(loop, io);
    if (rc < 0)
        return rc;
    if (!al_current_task() || al_get_running_loop() != loop)
        return AL_ENOTINTASK;
    if (fd < 0)
        return -EBADF;
    if (al_loop_get_debug(loop)) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
            return -errno;
        if (!(fl & O_NONBLOCK))
            return AIO_EBLOCKING;
    }
    return 0;
}

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

typedef ssize_t (*attempt_fn)(int fd, void *ctx);

/* attempt until it does not block; EINTR is retried at once. A read may
 * wait first, without its first attempt, when that attempt would only find
 * nothing and nothing else can run before the wait (aio__skip_try). */
static ssize_t retry(aio__io *io, int fd, int dir, attempt_fn attempt, void *ctx)
{
    bool first = true;
    if (dir == AIO_READ && aio__skip_try(io, fd, dir)) {
        int rc = aio__wait_fd(io, fd, dir, AIO_WAIT_UNTRIED);
        if (rc < 0)
            return rc;
        first = false;
    }
    for (;;) {
        ssize_t n = attempt(fd, ctx);
        if (n >= 0) {
            if (first)
                aio__try_found(io, fd, dir);
            return n;
        }
        int err = errno;
        if (err == EINTR)
            continue;
        if (!would_block(err))
            return -err;
        int rc = aio__wait_fd(io, fd, dir, first ? AIO_WAIT_TRIED : AIO_WAIT_AGAIN);
        if (rc < 0)
            return rc;
        first = false;
    }
}

typedef struct msg_args {
    void *buf;
    size_t len;
    struct sockaddr *addr;
    socklen_t *addrlen;
    const struct sockaddr *to;
    socklen_t tolen;
} msg_args;

static ssize_t try_recvfrom(int fd, void *ctx)
{
    msg_args *a = ctx;
    return recvfrom(fd, a->buf, a->len, MSG_DONTWAIT, a->addr, a->addrlen);
}

static ssize_t try_sendto(int fd, void *ctx)
{
    msg_args *a = ctx;
    return sendto(fd, a->buf, a->len, MSG_DONTWAIT | MSG_NOSIGNAL, a->to, a->tolen);
}

static ssize_t try_accept(int fd, void *ctx)
{
    msg_args *a = ctx;
    return accept4(fd, a->addr, a->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

ssize_t aio_sock_recvfrom_into(al_loop *loop, int fd, void *buf, size_t len, struct sockaddr *addr,
                               socklen_t *addrlen)
{
    aio__io *io;
    int rc = sock_begin(loop, fd, &io);
    if (rc < 0)
        return rc;
    if ((!buf && len) || (addr && !addrlen))
        return -EINVAL;
    msg_args a = {.buf = buf, .len = len, .addr = addr, .addrlen = addr ? addrlen : NULL};
    return retry(io, fd, AIO_READ, try_recvfrom, &a);
}

ssize_t aio_sock_recv_into(al_loop *loop, int fd, void *buf, size_t len)
{
    return aio_sock_recvfrom_into(loop, fd, buf, len, NULL, NULL);
}

ssize_t aio_sock_recvfrom(al_loop *loop, int fd, size_t n, void **data, struct sockaddr *addr,
                          socklen_t *addrlen)
{
    if (!data)
        return -EINVAL;
    *data = NULL;
    void *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    ssize_t got = aio_sock_recvfrom_into(loop, fd, buf, n, addr, addrlen);
    if (got > 0)
        *data = buf;
    else
        free(buf);
    return got;
}

ssize_t aio_sock_recv(al_loop *loop, int fd, size_t n, void **data)
{
    return aio_sock_recvfrom(loop, fd, n, data, NULL, NULL);
}

ssize_t aio_sock_sendto(al_loop *loop, int fd, const void *buf, size_t len,
                        const struct sockaddr *addr, socklen_t addrlen)
{
    aio__io *io;
    int rc = sock_begin(loop, fd, &io);
    if (rc < 0)
        return rc;
    if (!buf && len)
        return -EINVAL;
    msg_args a = {.buf = (void *)buf, .len = len, .to = addr, .tolen = addr ? addrlen : 0};
    return retry(io, fd, AIO_WRITE, try_sendto, &a);
}

int aio_sock_sendall(al_loop *loop, int fd, const void *buf, size_t len, size_t *sent)
{
    size_t done = 0;
    aio__io *io;
    int rc = sock_begin(loop, fd, &io);
    if (rc == 0 && !buf && len)
        rc = -EINVAL;
    while (rc == 0 && done < len) {
        ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            done += (size_t)n;
        else if (errno == EINTR)
            continue;
        else if (!would_block(errno))
            rc = -errno;
        else
            rc = aio__wait_fd(io, fd, AIO_WRITE, AIO_WAIT_AGAIN);
    }
    if (sent)
        *sent = done;
    return rc;
}

/* A Unix stream socket whose listener's backlog is full says EAGAIN and
 * polls writable at once, so readiness says nothing: try again after a
 * short sleep (1 ms doubling to 50 ms) until it connects or fails. */
static int connect_again(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    double delay = 0.001;
    for (;;) {
        int rc = al_sleep(delay);
        if (rc < 0)
            return rc;
        if (connect(fd, addr, addrlen) == 0 || errno == EISCONN)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        delay = delay * 2 < 0.05 ? delay * 2 : 0.05;
    }
}

int aio_sock_connect(al_loop *loop, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    aio__io *io;
    int rc = sock_begin(loop, fd, &io);
    if (rc < 0)
        return rc;
    if (!addr)
        return -EINVAL;
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    int err = errno;
    if (would_block(err))
        return connect_again(fd, addr, addrlen);
    /* EINTR: the connection goes on in the background, as EINPROGRESS. */
    if (err != EINPROGRESS && err != EINTR)
        return -err;
    if ((rc = aio__wait_fd(io, fd, AIO_WRITE, AIO_WAIT_AGAIN)) < 0)
        return rc;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return err ? -err : 0;
}

int aio_sock_accept(al_loop *loop, int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    aio__io *io;
    int rc = sock_begin(loop, fd, &io);
    if (rc < 0)
        return rc;
    if (addr && !addrlen)
        return -EINVAL;
    msg_args a = {.addr = addr, .addrlen = addr ? addrlen : NULL};
    return (int)retry(io, fd, AIO_READ, try_accept, &a);
}

/* ---- sendfile ------------------------------------------------------------ */

#define AIO_SENDFILE_CHUNK ((size_t)0x7ffff000) /* Linux's most per call */
#define AIO_FALLBACK_CHUNK ((size_t)65536)

static size_t chunk_size(size_t count, size_t done, size_t max)
{
    size_t left = count ? count - done : max;
    return left < max ? left : max;
}

/* read + sendall, for what sendfile(2) refuses. */
static int sendfile_fallback(al_loop *loop, int fd, int file, off_t *off, size_t count,
                             size_t *done)
{
    char *buf = malloc(AIO_FALLBACK_CHUNK);
    if (!buf)
        return -ENOMEM;
    bool seekable = true;
    int rc = 0;
    while (rc == 0 && (count == 0 || *done < count)) {
        size_t want = chunk_size(count, *done, AIO_FALLBACK_CHUNK);
        ssize_t n = seekable ? pread(file, buf, want, *off) : read(file, buf, want);
        if (n < 0 && errno == ESPIPE && seekable) {
            seekable = false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        size_t out = 0;
        rc = aio_sock_sendall(loop, fd, buf, (size_t)n, &out);
        *done += out;
        *off += (off_t)out;
    }
    free(buf);
    return rc;
}

int aio_sock_sendfile(al_loop *loop, int fd, int file, off_t offset, size_t count, size_t *sent)
{
    size_t done = 0;
    off_t off = offset;
    aio__io *io;
    int rc = sock_begin(loop, fd, &io);
    if (rc == 0 && (file < 0 || offset < 0))
        rc = file < 0 ? -EBADF : -EINVAL;
    bool fallback = false;
    while (rc == 0 && !fallback && (count == 0 || done < count)) {
        ssize_t n = sendfile(fd, file, &off, chunk_size(count, done, AIO_SENDFILE_CHUNK));
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0)
            break; /* end of file */
        int err = errno;
        if (err == EINTR)
            continue;
        if (would_block(err))
            rc = aio__wait_fd(io, fd, AIO_WRITE, AIO_WAIT_AGAIN);
        else if (done == 0 &&
                 (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == ESPIPE))
            fallback = true; /* asyncio's SendfileNotAvailableError: read + send */
        else
            rc = -err;
    }
    if (rc == 0 && fallback)
        rc = sendfile_fallback(loop, fd, file, &off, count, &done);
    if (done > 0 || rc == 0)
        lseek(file, offset + (off_t)done, SEEK_SET); /* ESPIPE on a pipe: nothing to do */
    if (sent)
        *sent = done;
    return rc;
}

/* Readers and writers: the per-fd records and their selector registration
 * (BaseSelectorEventLoop._add_reader / _remove_reader), and the one wait
 * every sock_* call makes after EAGAIN. */
#include "io_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

static const unsigned dir_bit[2] = {SEL_READ, SEL_WRITE};

static aio__fd *record(aio__io *io, int fd)
{
    return (size_t)fd < io->nfds ? io->fds[fd] : NULL;
}

static aio__fd *record_make(aio__io *io, int fd)
{
    if ((size_t)fd >= io->nfds) {
        size_t n = io->nfds ? io->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        aio__fd **v = realloc(io->fds, n * sizeof *v);
        if (!v)
            return NULL;
        memset(v + io->nfds, 0, (n - io->nfds) * sizeof *v);
        io->fds = v;
        io->nfds = n;
    }
    if (!io->fds[fd]) {
        aio__fd *rec = calloc(1, sizeof *rec);
        if (!rec)
            return NULL;
        rec->fd = fd;
        io->fds[fd] = rec;
    }
    return io->fds[fd];
}

/* Keeps aio_loop_fd's epoll set in step with the selector. */
static void mirror(aio__io *io, aio__fd *rec, unsigned mask)
{
    if (io->embed_fd < 0)
        return;
    struct epoll_event ev = {.events = ((mask & SEL_READ) ? EPOLLIN : 0u) |
                                       ((mask & SEL_WRITE) ? EPOLLOUT : 0u),
                             .data.fd = rec->fd};
    if (!mask || rec->unpollable) {
        if (rec->unpollable) {
            rec->unpollable = false;
            io->embed_unpollable--;
        } else {
            epoll_ctl(io->embed_fd, EPOLL_CTL_DEL, rec->fd, &ev);
        }
        if (!mask)
            return;
    }
    int op = rec->mask && !rec->unpollable ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(io->embed_fd, op, rec->fd, &ev) == 0)
        return;
    if (op == EPOLL_CTL_MOD && errno == ENOENT &&
        epoll_ctl(io->embed_fd, EPOLL_CTL_ADD, rec->fd, &ev) == 0)
        return;
    if (errno == EPERM) { /* a regular file: always ready */
        rec->unpollable = true;
        io->embed_unpollable++;
    }
}

/* Who the file behind an fd is: a socket's cookie (SO_COOKIE, unique for
 * the system's life, one cheap getsockopt), else device and inode (fstat,
 * dearer: it costs a ping-pong round trip a fifth of its time). */
static void file_identity(int fd, aio__fd *rec)
{
    socklen_t len = sizeof rec->cookie;
    rec->cookie = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &rec->cookie, &len) == 0 && rec->cookie)
        return;
    struct stat st;
    rec->cookie = 0;
    if (fstat(fd, &st) == 0) {
        rec->dev = st.st_dev;
        rec->ino = st.st_ino;
    }
}

/* The file behind fd is the one registered (a closed number may have been
 * reused by the time a deferred removal is taken back). */
static bool same_file(const aio__fd *rec)
{
    if (rec->cookie) {
        uint64_t cookie = 0;
        socklen_t len = sizeof cookie;
        return getsockopt(rec->fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0 &&
               cookie == rec->cookie;
    }
    struct stat st;
    return fstat(rec->fd, &st) == 0 && st.st_dev == rec->dev && st.st_ino == rec->ino;
}

/* The selector registration follows the mask: register, modify or
 * unregister. A modify refused because the file behind the number is gone
 * (closed, perhaps reopened) becomes a fresh registration. */
static int apply_mask(aio__io *io, aio__fd *rec, unsigned mask)
{
    int rc;
    if (!rec->mask) {
        rc = sel_register(io->sel, rec->fd, mask, rec);
    } else if (!mask) {
        rc = sel_unregister(io->sel, rec->fd);
    } else {
        rc = sel_modify(io->sel, rec->fd, mask, rec);
        if (rc == -ENOENT || rc == -EBADF) {
            sel_unregister(io->sel, rec->fd);
            mirror(io, rec, 0);
            rec->mask = 0;
            rc = sel_register(io->sel, rec->fd, mask, rec);
        }
    }
    if (rc < 0)
        return rc;
    if (!rec->mask && mask)
        file_identity(rec->fd, rec);
    mirror(io, rec, mask);
    rec->mask = mask;
    return 0;
}

static int defer_removal(aio__io *io, aio__fd *rec)
{
    if (rec->pending)
        return 0;
    if (io->npending == io->cap_pending) {
        size_t cap = io->cap_pending ? io->cap_pending * 2 : 64;
        int *v = realloc(io->pending, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        io->pending = v;
        io->cap_pending = cap;
    }
    io->pending[io->npending++] = rec->fd;
    rec->pending = true;
    return 0;
}

/* The interest of fd becomes `want`. New directions reach the selector at
 * once (so a closed fd is refused now); removals wait for the flush before
 * the next select, so that a removal taken back before it (the next
 * sock_* call's wait) costs no selector call, only an fstat to make sure
 * the number still names the registered file. */
static int arm(aio__io *io, aio__fd *rec, unsigned want)
{
    if (want == rec->want)
        return 0;
    if ((want & ~rec->want) && rec->mask != rec->want && !same_file(rec)) {
        /* A removal was pending and the number now names another file:
         * the old registration goes before the new one is made. */
        sel_unregister(io->sel, rec->fd);
        mirror(io, rec, 0);
        rec->mask = 0;
        rec->want = 0;
    }
    if (want & ~rec->mask) {
        int rc = apply_mask(io, rec, want);
        if (rc < 0)
            return rc;
        rec->want = want;
        return 0;
    }
    if (defer_removal(io, rec) < 0) {
        int rc = apply_mask(io, rec, want); /* no room to defer: now */
        if (rc < 0)
            return rc;
    }
    rec->want = want;
    return 0;
}

void aio__flush(aio__io *io)
{
    for (size_t i = 0; i < io->npending; i++) {
        aio__fd *rec = io->fds[io->pending[i]];
        rec->pending = false;
        if (rec->want != rec->mask)
            apply_mask(io, rec, rec->want); /* a removal: fails only on a dead fd */
    }
    io->npending = 0;
}

int aio__set_interest(aio__io *io, int fd, int dir, al_callback_fn fn, void *arg)
{
    if (fd < 0)
        return -EBADF;
    aio__fd *rec = fn ? record_make(io, fd) : record(io, fd);
    if (!rec)
        return fn ? -ENOMEM : 0;
    al_handle *h = NULL;
    int rc;
    if (fn && (rc = al_loop_handle_new(io->loop, fn, arg, &h)) < 0)
        return rc;
    unsigned want = (rec->want & ~dir_bit[dir]) | (fn ? dir_bit[dir] : 0u);
    if ((rc = arm(io, rec, want)) < 0) {
        al_handle_unref(h);
        return rc;
    }
    al_handle *old = rec->h[dir];
    rec->h[dir] = h;
    if (!old)
        return 0;
    al_handle_cancel(old); /* due in this iteration: it must not run */
    al_handle_unref(old);
    return 1;
}

static int add_callback(al_loop *loop, int fd, int dir, al_callback_fn fn, void *arg)
{
    if (!loop || !fn)
        return -EINVAL;
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    if (fd < 0)
        return -EBADF;
    aio__fd *rec = record(io, fd);
    if (rec && rec->waiter[dir])
        return AIO_EFDBUSY; /* replacing it would leave a task hanging */
    rc = aio__set_interest(io, fd, dir, fn, arg);
    return rc < 0 ? rc : 0;
}

static int remove_callback(al_loop *loop, int fd, int dir)
{
    aio__io *io;
    int rc = aio__io_get_removal(loop, &io);
    if (rc < 0 || !io)
        return rc;
    aio__fd *rec = fd >= 0 ? record(io, fd) : NULL;
    if (!rec || !rec->h[dir] || rec->waiter[dir])
        return 0;
    return aio__set_interest(io, fd, dir, NULL, NULL);
}

int aio_loop_add_reader(al_loop *loop, int fd, al_callback_fn fn, void *arg)
{
    return add_callback(loop, fd, AIO_READ, fn, arg);
}

int aio_loop_add_writer(al_loop *loop, int fd, al_callback_fn fn, void *arg)
{
    return add_callback(loop, fd, AIO_WRITE, fn, arg);
}

int aio_loop_remove_reader(al_loop *loop, int fd)
{
    return remove_callback(loop, fd, AIO_READ);
}

int aio_loop_remove_writer(al_loop *loop, int fd)
{
    return remove_callback(loop, fd, AIO_WRITE);
}

/* ---- the sock_* wait ---------------------------------------------------- */

static int wake_waiter(al_loop *loop, void *arg)
{
    (void)loop;
    al_future *f = *(al_future **)arg;
    if (f && !al_future_done(f))
        al_future_set_result(f, NULL, NULL);
    return 0;
}

int aio__wait_fd(aio__io *io, int fd, int dir)
{
    if (fd < 0)
        return -EBADF;
    aio__fd *rec = record_make(io, fd);
    if (!rec)
        return -ENOMEM;
    if (rec->h[dir])
        return AIO_EFDBUSY;
    al_future *f;
    int rc = al_future_new(io->loop, &f);
    if (rc < 0)
        return rc;
    /* The record is the heap home of the waiter: nothing registered points
     * into the task's stack. */
    if ((rc = aio__set_interest(io, fd, dir, wake_waiter, &rec->waiter[dir])) < 0) {
        al_future_unref(f);
        return rc;
    }
    rec->waiter[dir] = f;
    rc = al_await(f);
    rec->waiter[dir] = NULL;
    aio__set_interest(io, fd, dir, NULL, NULL);
    al_future_unref(f);
    return rc;
}

void aio__fds_free(aio__io *io)
{
    for (size_t fd = 0; fd < io->nfds; fd++) {
        aio__fd *rec = io->fds[fd];
        if (!rec)
            continue;
        for (int dir = 0; dir < 2; dir++) {
            if (rec->h[dir]) {
                al_handle_cancel(rec->h[dir]);
                al_handle_unref(rec->h[dir]);
            }
            if (rec->waiter[dir])
                al_future_unref(rec->waiter[dir]);
        }
        free(rec);
    }
    free(io->fds);
    io->fds = NULL;
    io->nfds = 0;
    free(io->pending);
    io->pending = NULL;
    io->npending = io->cap_pending = 0;
}

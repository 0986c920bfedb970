/* Readers and writers: the per-fd records and their selector registration
 * (BaseSelectorEventLoop._add_reader / _remove_reader), and the one wait
 * every sock_* call makes after EAGAIN. */
#include "io_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static const unsigned dir_bit[2] = {SEL_READ, SEL_WRITE};

static aio__fd *record(aio__io *io, int fd)
{
    size_t c = (size_t)fd / AIO_FD_CHUNK;
    return c < io->nchunks && io->chunks[c] ? &io->chunks[c][(size_t)fd % AIO_FD_CHUNK] : NULL;
}

static aio__fd *record_make(aio__io *io, int fd)
{
    size_t c = (size_t)fd / AIO_FD_CHUNK;
    if (c >= io->nchunks) {
        size_t n = io->nchunks ? io->nchunks : 4;
        while (n <= c)
            n *= 2;
        aio__fd **v = realloc(io->chunks, n * sizeof *v);
        if (!v)
            return NULL;
        memset(v + io->nchunks, 0, (n - io->nchunks) * sizeof *v);
        io->chunks = v;
        io->nchunks = n;
    }
    if (!io->chunks[c] && !(io->chunks[c] = calloc(AIO_FD_CHUNK, sizeof(aio__fd))))
        return NULL;
    return &io->chunks[c][(size_t)fd % AIO_FD_CHUNK];
}

static bool is_waiter(const aio__fd *rec, int dir)
{
    return rec->flags & AIO_FD_WAITER(dir);
}

/* A callback or a waiter holds the direction. */
static bool taken(const aio__fd *rec, int dir)
{
    return rec->fn[dir] || is_waiter(rec, dir);
}

/* Keeps aio_loop_fd's epoll set in step with the selector, when it is a
 * mirror (the selector has no fd of its own to put in it). 0, or the
 * negated errno of a failed update (-EBADF: fd is closed). */
static int mirror(aio__io *io, int fd, aio__fd *rec, unsigned mask)
{
    if (io->embed_fd < 0 || io->embed_sel)
        return 0;
    struct epoll_event ev = {.events = ((mask & SEL_READ) ? EPOLLIN : 0u) |
                                       ((mask & SEL_WRITE) ? EPOLLOUT : 0u),
                             .data.fd = fd};
    bool unpollable = rec->flags & AIO_FD_UNPOLLABLE;
    if (!mask || unpollable) {
        if (unpollable) {
            rec->flags &= (uint16_t)~AIO_FD_UNPOLLABLE;
            io->embed_unpollable--;
        } else {
            epoll_ctl(io->embed_fd, EPOLL_CTL_DEL, fd, &ev);
        }
        if (!mask)
            return 0;
    }
    int op = rec->mask && !unpollable ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(io->embed_fd, op, fd, &ev) == 0)
        return 0;
    if (op == EPOLL_CTL_MOD && errno == ENOENT &&
        epoll_ctl(io->embed_fd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    if (errno != EPERM)
        return -errno;
    rec->flags |= AIO_FD_UNPOLLABLE; /* a regular file: always ready */
    io->embed_unpollable++;
    return 0;
}

/* The embedding mirror was updated with the selector: if it still holds
 * fd's registration for the file fd names now (an epoll set knows its
 * files: a modify of another file's number fails), so does the selector,
 * and one system call told. */
static bool mirror_holds(aio__io *io, int fd, const aio__fd *rec)
{
    if (io->embed_fd < 0 || io->embed_sel || (rec->flags & AIO_FD_UNPOLLABLE))
        return false;
    struct epoll_event ev = {.events = ((rec->mask & SEL_READ) ? EPOLLIN : 0u) |
                                       ((rec->mask & SEL_WRITE) ? EPOLLOUT : 0u),
                             .data.fd = fd};
    return epoll_ctl(io->embed_fd, EPOLL_CTL_MOD, fd, &ev) == 0;
}

/* The selector registration follows the mask: register, modify or
 * unregister. */
static int apply_mask(aio__io *io, int fd, aio__fd *rec, unsigned mask)
{
    int rc;
    if (!rec->mask)
        rc = sel_register(io->sel, fd, mask, rec);
    else if (!mask)
        rc = sel_unregister(io->sel, fd);
    else
        rc = sel_modify(io->sel, fd, mask, rec);
    if (rc < 0)
        return rc;
    mirror(io, fd, rec, mask);
    rec->mask = (uint8_t)mask;
    return 0;
}

/* Appends x to a growable array (*v, *n, *cap) of elements of size sz. */
static int push(void *vp, size_t *n, size_t *cap, const void *x, size_t sz)
{
    char **v = vp;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        char *p = realloc(*v, c * sz);
        if (!p)
            return -ENOMEM;
        *v = p;
        *cap = c;
    }
    memcpy(*v + *n * sz, x, sz);
    (*n)++;
    return 0;
}

/* A deferred removal was taken back: the registration is kept without a
 * system call, and checked later (aio__verify). Without room to remember
 * it, it is checked now. */
static void suspect(aio__io *io, int fd, aio__fd *rec)
{
    if (io->by_number)
        return;
    aio__suspect s = {.fd = fd, .since = io->iter};
    if (push(&io->suspects, &io->nsuspects, &io->cap_suspects, &s, sizeof s) == 0) {
        rec->flags |= AIO_FD_SUSPECT;
        return;
    }
    if (sel_rewatch(io->sel, fd) < 0 || mirror(io, fd, rec, rec->mask) < 0) {
        sel_unregister(io->sel, fd); /* closed: as an unregistered one */
        mirror(io, fd, rec, 0);
        rec->mask = 0;
    }
}

/* The interest of fd becomes `want`. New directions reach the selector at
 * once (so a closed fd is refused now); removals wait for the flush before
 * the next select, so that a removal taken back before it (the next
 * sock_* call's wait) costs no system call. */
static int arm(aio__io *io, int fd, aio__fd *rec, unsigned want)
{
    if (want == rec->want)
        return 0;
    /* A removal is pending and interest comes back: the number may name
     * another file by now. */
    bool taken_back = rec->mask != rec->want && want;
    if (want & ~rec->mask) {
        int rc = apply_mask(io, fd, rec, want);
        if (rc < 0)
            return rc;
    } else if (!(want & ~rec->want) && !(rec->flags & AIO_FD_PENDING)) {
        int fdv = fd;
        if (push(&io->pending, &io->npending, &io->cap_pending, &fdv, sizeof fdv) == 0)
            rec->flags |= AIO_FD_PENDING;
        else if (apply_mask(io, fd, rec, want) < 0) /* no room to defer: now */
            return -ENOMEM;
    }
    if (taken_back && !(rec->flags & AIO_FD_SUSPECT))
        suspect(io, fd, rec);
    rec->want = (uint8_t)want;
    return 0;
}

void aio__flush(aio__io *io)
{
    for (size_t i = 0; i < io->npending; i++) {
        int fd = io->pending[i];
        aio__fd *rec = record(io, fd);
        rec->flags &= (uint16_t)~AIO_FD_PENDING;
        if (rec->want != rec->mask)
            apply_mask(io, fd, rec, rec->want); /* a removal: fails only on a dead fd */
    }
    io->npending = 0;
}

/* The queued run of a callback: arg is the record, tagged with the
 * direction in its lowest bit (records are aligned). */
static int run_callback(al_loop *loop, void *tagged)
{
    int dir = (int)((uintptr_t)tagged & 1u);
    aio__fd *rec = (aio__fd *)((uintptr_t)tagged & ~(uintptr_t)1);
    unsigned stale = rec->flags & AIO_FD_STALE(dir);
    rec->flags &= (uint16_t) ~(AIO_FD_QUEUED(dir) | AIO_FD_STALE(dir));
    return stale ? 0 : rec->fn[dir](loop, rec->arg[dir]);
}

void aio__dispatch(aio__io *io, aio__fd *rec, unsigned events)
{
    for (int dir = 0; dir < 2; dir++) {
        if (!(events & dir_bit[dir]) || (rec->flags & AIO_FD_QUEUED(dir)))
            continue;
        if (rec->fn[dir]) {
            /* A source ready twice runs once; no room: the next select. */
            if (al_call_soon(io->loop, run_callback, (void *)((uintptr_t)rec | (uintptr_t)dir),
                             NULL) == 0)
                rec->flags |= AIO_FD_QUEUED(dir);
        } else if (is_waiter(rec, dir) && !al_future_done(rec->arg[dir])) {
            al_future_set_result(rec->arg[dir], NULL, NULL);
        }
    }
}

void aio__dispatch_events(aio__io *io, const sel_event *ev, int n)
{
    aio__fd *u = io->untried;
    io->untried = NULL;
    if (u) {
        /* Reported by the first select: resumed first, as if it had
         * tried. Not reported while more were ready than one select
         * returns: resumed first all the same, to try. */
        int i = 0;
        while (i < n && ev[i].data != u)
            i++;
        if (i < n || n == AIO_MAX_EVENTS) {
            aio__dispatch(io, u, dir_bit[io->untried_dir]);
            u->flags &= (uint16_t)~AIO_FD_SKIP(io->untried_dir);
        }
    }
    for (int i = 0; i < n; i++)
        if (ev[i].fd != io->wake_fd)
            aio__dispatch(io, ev[i].data, ev[i].events);
}

int aio__verify(aio__io *io, uint32_t age)
{
    int closed = 0;
    size_t keep = 0;
    for (size_t i = 0; i < io->nsuspects; i++) {
        aio__suspect s = io->suspects[i];
        if (io->iter - s.since < age) {
            io->suspects[keep++] = s;
            continue;
        }
        aio__fd *rec = record(io, s.fd);
        rec->flags &= (uint16_t)~AIO_FD_SUSPECT;
        if (!rec->mask || mirror_holds(io, s.fd, rec))
            continue; /* unregistered since, or the same file */
        /* It watches the file the number names now (one epoll_ctl when it
         * is the same file), and so does the mirror. */
        int rc = sel_rewatch(io->sel, s.fd);
        if (rc == 0)
            rc = mirror(io, s.fd, rec, rec->mask);
        if (rc < 0) {
            sel_unregister(io->sel, s.fd);
            mirror(io, s.fd, rec, 0);
            rec->mask = 0;
            if (rec->want) {
                aio__dispatch(io, rec, rec->want); /* closed: its owner's next call says so */
                closed++;
            }
        }
    }
    io->nsuspects = keep;
    return closed;
}

/* Gives the dir direction of fd to a callback (fn, arg), a waiter (fn
 * NULL, arg its future) or nobody (both NULL), and applies the new
 * interest. A queued run of the callback it had does not happen. */
static int set_dir(aio__io *io, int fd, aio__fd *rec, int dir, al_callback_fn fn, void *arg)
{
    unsigned want = (rec->want & ~dir_bit[dir]) | (fn || arg ? dir_bit[dir] : 0u);
    int rc = arm(io, fd, rec, want);
    if (rc < 0)
        return rc;
    if (rec->flags & AIO_FD_QUEUED(dir))
        rec->flags |= AIO_FD_STALE(dir); /* due in this iteration: it must not run */
    rec->fn[dir] = fn;
    rec->arg[dir] = arg;
    rec->flags =
        (uint16_t)((rec->flags & ~AIO_FD_WAITER(dir)) | (!fn && arg ? AIO_FD_WAITER(dir) : 0u));
    return 0;
}

int aio__set_interest(aio__io *io, int fd, int dir, al_callback_fn fn, void *arg)
{
    if (fd < 0)
        return -EBADF;
    aio__fd *rec = fn ? record_make(io, fd) : record(io, fd);
    if (!rec)
        return fn ? -ENOMEM : 0;
    if (is_waiter(rec, dir))
        return fn ? AIO_EFDBUSY : 0; /* replacing it would leave a task hanging */
    bool had = rec->fn[dir];
    int rc = set_dir(io, fd, rec, dir, fn, fn ? arg : NULL);
    if (rc < 0)
        return rc;
    return had;
}

static int add_callback(al_loop *loop, int fd, int dir, al_callback_fn fn, void *arg)
{
    if (!loop || !fn)
        return -EINVAL;
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    rc = aio__set_interest(io, fd, dir, fn, arg);
    return rc < 0 ? rc : 0;
}

static int remove_callback(al_loop *loop, int fd, int dir)
{
    aio__io *io;
    int rc = aio__io_get_removal(loop, &io);
    if (rc < 0 || !io)
        return rc;
    return fd >= 0 ? aio__set_interest(io, fd, dir, NULL, NULL) : 0;
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

bool aio__skip_try(aio__io *io, int fd, int dir)
{
    aio__fd *rec = record(io, fd);
    return rec && (rec->flags & AIO_FD_SKIP(dir)) && !taken(rec, dir) &&
           al_loop_waits_next(io->loop);
}

void aio__try_found(aio__io *io, int fd, int dir)
{
    aio__fd *rec = record(io, fd);
    if (rec)
        rec->flags &= (uint16_t)~AIO_FD_SKIP(dir);
}

int aio__wait_fd(aio__io *io, int fd, int dir, int how)
{
    if (fd < 0)
        return -EBADF;
    aio__fd *rec = record_make(io, fd);
    if (!rec)
        return -ENOMEM;
    if (taken(rec, dir))
        return AIO_EFDBUSY;
    al_future *f;
    int rc = al_future_new(io->loop, &f);
    if (rc < 0)
        return rc;
    if ((rc = set_dir(io, fd, rec, dir, NULL, f)) < 0) {
        al_future_unref(f);
        return rc;
    }
    if (how == AIO_WAIT_TRIED)
        rec->flags |= AIO_FD_SKIP(dir);
    if (how == AIO_WAIT_UNTRIED) {
        io->untried = rec;
        io->untried_dir = dir;
    }
    rc = al_await(f);
    if (io->untried == rec && io->untried_dir == dir)
        io->untried = NULL;
    set_dir(io, fd, rec, dir, NULL, NULL); /* a removal cannot fail */
    al_future_unref(f);
    return rc;
}

void aio__fds_free(aio__io *io)
{
    for (size_t c = 0; c < io->nchunks; c++) {
        for (size_t i = 0; io->chunks[c] && i < AIO_FD_CHUNK; i++) {
            aio__fd *rec = &io->chunks[c][i];
            for (int dir = 0; dir < 2; dir++)
                if (is_waiter(rec, dir))
                    al_future_unref(rec->arg[dir]);
        }
        free(io->chunks[c]);
    }
    free(io->chunks);
    io->chunks = NULL;
    io->nchunks = 0;
    free(io->pending);
    io->pending = NULL;
    io->npending = io->cap_pending = 0;
    free(io->suspects);
    io->suspects = NULL;
    io->nsuspects = io->cap_suspects = 0;
}

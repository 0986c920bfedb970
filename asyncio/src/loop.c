/* The I/O loop: the third implementation of loop_ops.h, after the real and
 * virtual pure loops. Its wait is the selector's select, then the ready
 * fds' handles are queued as ready callbacks of this iteration
 * (BaseSelectorEventLoop._process_events); its wakeup is an eventfd. */
#include "io_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

atomic_uint aio__fork_gen;

static void on_fork_child(void)
{
    atomic_fetch_add(&aio__fork_gen, 1);
}

static void install_fork_handler(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static bool forked(const aio__io *io)
{
    return io->fork_gen != atomic_load_explicit(&aio__fork_gen, memory_order_relaxed);
}

static aio__io *io_of(al_loop *loop)
{
    return al_loop_impl(loop);
}

bool aio_loop_is_io(const al_loop *loop)
{
    return loop && al_loop_get_ops(loop) == &aio__ops;
}

const char *aio_loop_backend(const al_loop *loop)
{
    if (!aio_loop_is_io(loop))
        return NULL;
    return sel_name(((aio__io *)al_loop_impl(loop))->sel);
}

int aio__io_get(al_loop *loop, aio__io **out)
{
    if (!loop)
        return -EINVAL;
    if (!aio_loop_is_io(loop))
        return AL_ENOTIOLOOP;
    if (al_loop_is_closed(loop))
        return AL_ELOOPCLOSED;
    aio__io *io = io_of(loop);
    if (forked(io))
        return AIO_EFORKED;
    if (al_loop_get_debug(loop) && al_loop_is_running(loop) && al_get_running_loop() != loop)
        return AL_EWRONGTHREAD;
    *out = io;
    return 0;
}

int aio__io_get_removal(al_loop *loop, aio__io **out)
{
    *out = NULL;
    if (!loop)
        return -EINVAL;
    int rc = aio__io_get(loop, out);
    return rc == AL_ELOOPCLOSED ? 0 : rc;
}

/* ---- the hooks ------------------------------------------------------------ */

static double io_time(al_loop *loop)
{
    (void)loop;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The counter is read before the flag is cleared. A wakeup that finds the
 * flag still set skips its write, but its call was queued before it and
 * is taken after this wait (take_threadsafe_calls); a wakeup after the
 * clear writes again, which is at worst an early return of the next wait.
 * (Clearing first lost wakeups: a write landing between the clear and the
 * read was consumed while the flag stayed set, so every later wakeup
 * skipped its write and the loop slept through them: seen under TSan.) */
static void drain_wakeup(aio__io *io)
{
    uint64_t n;
    while (read(io->wake_fd, &n, sizeof n) < 0 && errno == EINTR)
        ;
    atomic_store(&io->wake_pending, false);
}

/* Readers and writers run as ready callbacks of this iteration; a sock_*
 * call's future is completed here instead (aio__dispatch): its task's
 * wakeup is then queued in this iteration too, not one later (asyncio goes
 * through the reader callback and resumes the task an iteration after it;
 * one select per wakeup instead of two). */
static int io_select(aio__io *io, double timeout)
{
    aio__flush(io);
    io->iter++;
    if (io->nsuspects && timeout != 0) {
        /* Suspects are checked only before a wait that blocks: a poll
         * first, which a busy loop's wait is anyway; a quiet loop's poll
         * would find nothing (see aio__verify). */
        if (!io->quiet || ++io->quiet_waits % AIO_QUIET_PROBE == 0) {
            int n = sel_select(io->sel, 0, io->events, AIO_MAX_EVENTS);
            io->quiet = n == 0;
            if (n != 0)
                return n;
        }
        if (aio__verify(io, 0) > 0)
            return 0; /* closed fds were dispatched: no blocking */
    }
    return sel_select(io->sel, timeout, io->events, AIO_MAX_EVENTS);
}

static int io_wait(al_loop *loop, double timeout)
{
    aio__io *io = io_of(loop);
    if (forked(io)) {
        al_loop_stop(loop); /* the parent's kernel state: never wait on it */
        return AIO_EFORKED;
    }
    int n = io_select(io, timeout);
    if (n < 0) {
        io->untried = NULL;
        return n;
    }
    /* Only handles are queued here; callbacks run after, so no result can
     * be stale yet. A callback that removes a reader cancels its handle,
     * which then does not run even if queued. */
    for (int i = 0; i < n; i++)
        if (io->events[i].fd == io->wake_fd)
            drain_wakeup(io);
    aio__dispatch_events(io, io->events, n);
    /* A busy loop never blocks: its suspects are checked when old. */
    if (io->nsuspects && io->iter - io->suspects[0].since >= AIO_SUSPECT_AGE)
        aio__verify(io, AIO_SUSPECT_AGE);
    return 0;
}

/* Any thread. Coalesced: one eventfd write until the loop has read it. */
static void io_wakeup(al_loop *loop)
{
    aio__io *io = io_of(loop);
    if (forked(io) || atomic_exchange(&io->wake_pending, true))
        return;
    uint64_t one = 1;
    while (write(io->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* What only the loop's thread uses. */
static void io_release(aio__io *io)
{
    aio__net_close(io);
    aio__dns_close(io);
    aio__signals_close(io);
    aio__subprocess_close(io);
    aio__fds_free(io);
    sel_free(io->sel);
    io->sel = NULL;
    if (io->embed_fd >= 0)
        close(io->embed_fd);
    io->embed_fd = -1;
}

/* The rest: wakeup may still come from another thread until the loop's
 * memory goes. */
static void io_free(aio__io *io)
{
    io_release(io);
    if (io->wake_fd >= 0)
        close(io->wake_fd);
    free(io);
}

static void io_close(al_loop *loop)
{
    io_release(io_of(loop));
}

static void io_destroy(al_loop *loop)
{
    io_free(io_of(loop));
}

const al_loop_ops aio__ops = {.name = "io",
                              .time = io_time,
                              .wait = io_wait,
                              .wakeup = io_wakeup,
                              .close = io_close,
                              .destroy = io_destroy};

int aio_loop_new(const char *backend, al_loop **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!out)
        return -EINVAL;
    pthread_once(&once, install_fork_handler);
    aio__io *io = calloc(1, sizeof *io);
    if (!io)
        return -ENOMEM;
    io->wake_fd = io->embed_fd = -1;
    io->fork_gen = atomic_load(&aio__fork_gen);
    int rc = sel_open(&io->sel, backend);
    if (rc < 0) {
        io->sel = NULL;
        io_free(io);
        return rc;
    }
    io->by_number =
        strcmp(sel_name(io->sel), "select") == 0 || strcmp(sel_name(io->sel), "poll") == 0;
    io->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (io->wake_fd < 0) {
        rc = -errno;
        io_free(io);
        return rc;
    }
    if ((rc = sel_register(io->sel, io->wake_fd, SEL_READ, NULL)) < 0) {
        io_free(io);
        return rc;
    }
    al_loop *loop = al_loop_new_with_ops(&aio__ops, io);
    if (!loop) {
        io_free(io);
        return -ENOMEM;
    }
    io->loop = loop;
    *out = loop;
    return 0;
}

/* ---- embedding ------------------------------------------------------------ */

/* The host-facing epoll set. When the selector has a pollable fd of its
 * own (sel_fd: epoll, io_uring), the set holds just that one, which the
 * wakeup eventfd is registered in: nothing to mirror. Otherwise (select,
 * poll, libev) it is a mirror: the wakeup eventfd and every registered fd
 * with its mask, kept in step by aio__set_interest. */
int aio_loop_fd(al_loop *loop)
{
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    if (io->embed_fd >= 0)
        return io->embed_fd;
    aio__flush(io);
    aio__verify(io, 0); /* the mirror copies registrations of the files the numbers name */
    int own = sel_fd(io->sel);
    if (own < 0 && own != SEL_ENOFD)
        return own;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    int first = own >= 0 ? own : io->wake_fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = first};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, first, &ev) < 0) {
        rc = -errno;
        close(ep);
        return rc;
    }
    io->embed_fd = ep;
    io->embed_sel = own >= 0;
    if (io->embed_sel)
        return ep;
    io->embed_unpollable = 0;
    for (size_t fd = 0; fd < io->nchunks * AIO_FD_CHUNK; fd++) {
        aio__fd *rec = io->chunks[fd / AIO_FD_CHUNK]
                           ? &io->chunks[fd / AIO_FD_CHUNK][fd % AIO_FD_CHUNK]
                           : NULL;
        if (rec && rec->mask) {
            ev.events =
                ((rec->mask & SEL_READ) ? EPOLLIN : 0u) | ((rec->mask & SEL_WRITE) ? EPOLLOUT : 0u);
            ev.data.fd = (int)fd;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, (int)fd, &ev) < 0 && errno == EPERM) {
                rec->flags |= AIO_FD_UNPOLLABLE;
                io->embed_unpollable++;
            }
        }
    }
    return ep;
}

/* The selector's own fd in the host-facing set sees what the selector
 * will: its pending changes applied (io_uring arms lazily). 0, or 1 if
 * that failed (the host must then not block). */
static int embed_ready(aio__io *io)
{
    return io->embed_sel && sel_fd(io->sel) < 0;
}

double aio_loop_timeout(al_loop *loop)
{
    aio__io *io;
    if (aio__io_get(loop, &io) < 0)
        return NAN;
    aio__flush(io);             /* the mirror holds no interest the loop dropped */
    if (aio__verify(io, 0) > 0) /* the host blocks on the mirror: no suspect left */
        return 0;
    if (io->embed_unpollable > 0 || embed_ready(io))
        return 0;
    return al_loop_next_timeout(loop);
}

int aio_loop_run_nowait(al_loop *loop)
{
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    if (al_loop_is_running(loop))
        return AL_ELOOPRUNNING;
    /* A stop request makes the iteration's wait a poll; the run ends it. */
    al_loop_stop(loop);
    rc = al_loop_run_once(loop);
    /* What the callbacks registered reaches the host's fd now, for a host
     * that waits again without asking aio_loop_timeout. */
    if (rc == 0 && io->embed_fd >= 0)
        embed_ready(io);
    return rc;
}

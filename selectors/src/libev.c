/* libev backend: one ev_io watcher per registration in a private ev_loop,
 * one ev_run(EVRUN_ONCE) per select with a one-shot timer for the timeout.
 * The loop's clock is refreshed (ev_now_update) before the timer is armed so
 * the timeout counts from the call, not from the previous iteration.
 * "libev:X" forces libev's backend X; sel_name says which one runs.
 *
 * Closed fds: libev aborts (assert) when its epoll backend meets an fd
 * closed before its watcher was stopped: at the epoll_ctl of a started or
 * changed watcher, and when it rebuilds its epoll set (after a fork, or
 * when it sees an event of a stale registration). So libev never sees a
 * closed fd here: a watcher is started or changed only at the next select,
 * after an fcntl check (the "check list": registered or modified since the
 * last select, or given up by libev), and an ev_fork watcher, which libev
 * runs before every rebuild, stops the watchers of closed fds first. A
 * closed fd that is still registered is reported ready for its mask by
 * every select until unregistered (as poll reports POLLNVAL).
 * libev's poll backend asserts on any closed fd in its set and its
 * io_uring backend on any poll request that meets one, with no hook before
 * either: "libev:poll" and "libev:io_uring" are not offered, and plain
 * "libev" lets libev choose only between epoll and select.
 *
 * Watchers: libev keeps pointers to them, so they live at stable
 * addresses, in a table indexed by fd of blocks of SEL__LIBEV_BLOCK
 * (allocated when a number of the block is first registered, kept until
 * the selector closes, never moved): no allocation per registration, and
 * sizeof(ev_io) per fd (48 bytes with Debian's libev; a malloc'd watcher
 * was 64 with malloc's overhead). A lone fd in a range of
 * SEL__LIBEV_BLOCK numbers costs a whole block (3 KiB).
 * reg->be: idx the place in the check list; flags below.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"
#include "fair.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#define SEL__LIBEV_STARTED 1u /* the watcher is started in libev */
#define SEL__LIBEV_CHECK 2u   /* in the check list */

#define SEL__LIBEV_BLOCK 64 /* watchers per block */

struct sel__libev_be {
    struct ev_loop *loop;
    ev_timer timer;
    ev_fork fork;
    ev_io **blocks; /* watchers of fds [i * SEL__LIBEV_BLOCK, (i + 1) * ...), or NULL */
    int nblocks;
    int *check; /* fds to validate before libev sees them; capacity >= registrations */
    int ncheck, capcheck;
    struct sel__fair fair; /* results of the select in progress */
    int killed;            /* libev gave up on an fd during this run */
    int rerun;             /* second run: skip fds already reported */
};

/* The selector backend names served here and the libev backends they
 * allow: the ones libev handles closed fds in without aborting. */
static const struct {
    const char *name;
    unsigned flags;
} sel__libev_names[] = {
    {"libev", EVBACKEND_EPOLL | EVBACKEND_SELECT},
    {"libev:select", EVBACKEND_SELECT},
    {"libev:epoll", EVBACKEND_EPOLL},
};
#define SEL__LIBEV_NNAMES (int)(sizeof sel__libev_names / sizeof sel__libev_names[0])

#define SEL__LIBEV_FLAGS (EVFLAG_NOENV | EVFLAG_NOSIGMASK | EVFLAG_NOINOTIFY)

/* The libev flags of a selector backend name; 0 if libev lacks it. */
static unsigned sel__libev_flags(const char *name)
{
    for (int i = 0; i < SEL__LIBEV_NNAMES; i++) {
        if (strcmp(name, sel__libev_names[i].name) != 0)
            continue;
        unsigned flags = sel__libev_names[i].flags & ev_supported_backends();
        return flags ? flags | SEL__LIBEV_FLAGS : 0;
    }
    return 0;
}

/* "libev:X" for the backend a loop runs. */
static const char *sel__libev_backend_name(struct ev_loop *loop)
{
    unsigned b = ev_backend(loop);
    for (int i = 1; i < SEL__LIBEV_NNAMES; i++)
        if (b == sel__libev_names[i].flags)
            return sel__libev_names[i].name;
    return "libev";
}

int sel__libev_probe(const char *name)
{
    unsigned flags = sel__libev_flags(name);
    if (!flags)
        return SEL_ENOBACKEND;
    struct ev_loop *loop = ev_loop_new(flags);
    if (!loop)
        return SEL_ENOBACKEND;
    ev_loop_destroy(loop);
    return 0;
}

static int sel__libev_evmask(unsigned events)
{
    return (events & SEL_READ ? EV_READ : 0) | (events & SEL_WRITE ? EV_WRITE : 0);
}

static void sel__libev_queue(struct sel__libev_be *be, int fd, struct sel__reg *reg)
{
    if (reg->be.flags & SEL__LIBEV_CHECK)
        return;
    reg->be.flags |= SEL__LIBEV_CHECK;
    reg->be.idx = be->ncheck;
    be->check[be->ncheck++] = fd; /* capacity >= registrations: see add */
}

static void sel__libev_dequeue(sel_selector *sel, struct sel__reg *reg)
{
    struct sel__libev_be *be = sel->be;
    if (!(reg->be.flags & SEL__LIBEV_CHECK))
        return;
    int last = be->check[--be->ncheck];
    be->check[reg->be.idx] = last;
    sel->regs[last].be.idx = reg->be.idx;
    reg->be.flags &= ~SEL__LIBEV_CHECK;
}

/* The watcher of a registered fd. */
static ev_io *sel__libev_watcher(const struct sel__libev_be *be, int fd)
{
    return &be->blocks[fd / SEL__LIBEV_BLOCK][fd % SEL__LIBEV_BLOCK];
}

/* The watcher of fd, its block made if needed; NULL on -ENOMEM. */
static ev_io *sel__libev_watcher_make(struct sel__libev_be *be, int fd)
{
    size_t b = (size_t)fd / SEL__LIBEV_BLOCK;
    if (b >= (size_t)be->nblocks) {
        size_t n = be->nblocks ? (size_t)be->nblocks : 4;
        while (n <= b)
            n *= 2;
        ev_io **v = realloc(be->blocks, n * sizeof *v);
        if (!v)
            return NULL;
        memset(v + be->nblocks, 0, (n - (size_t)be->nblocks) * sizeof *v);
        be->blocks = v;
        be->nblocks = (int)n;
    }
    if (!be->blocks[b] && !(be->blocks[b] = malloc(SEL__LIBEV_BLOCK * sizeof(ev_io))))
        return NULL;
    return sel__libev_watcher(be, fd);
}

static void sel__libev_stop(struct sel__libev_be *be, int fd, struct sel__reg *reg)
{
    if (!(reg->be.flags & SEL__LIBEV_STARTED))
        return;
    ev_io_stop(be->loop, sel__libev_watcher(be, fd));
    reg->be.flags &= ~SEL__LIBEV_STARTED;
}

/* A registered fd found closed: ready for its whole mask. */
static void sel__libev_report_closed(struct sel__libev_be *be, int fd, const struct sel__reg *reg)
{
    sel__fair_offer(&be->fair, (sel_event){fd, reg->events, reg->data, reg->gen});
}

/* Before ev_run: start the watchers of the check list whose fd is open;
 * report the closed ones (they stay in the list). Returns how many. */
static int sel__libev_check(sel_selector *sel)
{
    struct sel__libev_be *be = sel->be;
    int closed = 0;
    for (int i = 0; i < be->ncheck;) {
        int fd = be->check[i];
        struct sel__reg *reg = &sel->regs[fd];
        if (fcntl(fd, F_GETFD) < 0) {
            sel__libev_report_closed(be, fd, reg);
            closed++;
            i++;
            continue;
        }
        sel__libev_dequeue(sel, reg); /* moves the last entry to i */
        ev_io *w = sel__libev_watcher(be, fd);
        ev_io_set(w, fd, sel__libev_evmask(reg->events));
        ev_io_start(be->loop, w);
        reg->be.flags |= SEL__LIBEV_STARTED;
    }
    return closed;
}

/* libev is about to rebuild its kernel state (after ev_loop_fork, or on a
 * stale event): stop the watchers of closed fds first. */
static void sel__libev_fork_cb(struct ev_loop *loop, ev_fork *w, int revents)
{
    (void)w, (void)revents;
    sel_selector *sel = ev_userdata(loop);
    struct sel__libev_be *be = sel->be;
    for (int fd = 0; fd < sel->cap; fd++) {
        struct sel__reg *reg = &sel->regs[fd];
        if (!reg->gen || !(reg->be.flags & SEL__LIBEV_STARTED) || fcntl(fd, F_GETFD) >= 0)
            continue;
        sel__libev_stop(be, fd, reg);
        sel__libev_queue(be, fd, reg);
        sel__libev_report_closed(be, fd, reg);
    }
}

static void sel__libev_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
}

static void sel__libev_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    sel_selector *sel = ev_userdata(loop);
    struct sel__libev_be *be = sel->be;
    int fd = w->fd;
    struct sel__reg *reg = &sel->regs[fd];
    if (revents & EV_ERROR) {
        /* libev gave up on this fd (closed: select's EBADF) and stopped the
         * watcher: validate it again before the next run. */
        reg->be.flags &= ~SEL__LIBEV_STARTED;
        sel__libev_queue(be, fd, reg);
        sel__libev_report_closed(be, fd, reg);
        be->killed = 1;
        return;
    }
    unsigned ev = (revents & EV_READ ? SEL_READ : 0) | (revents & EV_WRITE ? SEL_WRITE : 0);
    ev &= reg->events;
    for (int i = 0; be->rerun && i < be->fair.k; i++)
        if (be->fair.out[i].fd == fd)
            return;
    if (ev)
        sel__fair_offer(&be->fair, (sel_event){fd, ev, reg->data, reg->gen});
}

static int sel__libev_open(sel_selector *sel, const char *name)
{
    unsigned flags = sel__libev_flags(name);
    if (!flags)
        return SEL_ENOBACKEND;
    struct sel__libev_be *be = calloc(1, sizeof *be);
    if (!be)
        return -ENOMEM;
    be->loop = ev_loop_new(flags);
    if (!be->loop) {
        free(be);
        return strcmp(name, "libev") == 0 ? -ENOMEM : SEL_ENOBACKEND;
    }
    snprintf(sel->name, sizeof sel->name, "%s", sel__libev_backend_name(be->loop));
    ev_set_userdata(be->loop, sel);
    ev_init(&be->timer, sel__libev_timer_cb);
    ev_fork_init(&be->fork, sel__libev_fork_cb);
    ev_fork_start(be->loop, &be->fork);
    ev_unref(be->loop); /* the fork watcher alone does not keep the loop alive */
    sel->be = be;
    return 0;
}

static void sel__libev_close(sel_selector *sel)
{
    struct sel__libev_be *be = sel->be;
    if (!be)
        return;
    for (int fd = 0; fd < sel->cap; fd++)
        if (sel->regs[fd].gen)
            sel__libev_stop(be, fd, &sel->regs[fd]);
    for (int b = 0; b < be->nblocks; b++)
        free(be->blocks[b]);
    free(be->blocks);
    ev_ref(be->loop);
    ev_fork_stop(be->loop, &be->fork);
    ev_loop_destroy(be->loop);
    free(be->check);
    free(be);
    sel->be = NULL;
}

static int sel__libev_add(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__libev_be *be = sel->be;
    if (be->capcheck <= sel->count) {
        int cap = be->capcheck ? be->capcheck * 2 : 64;
        int *c = realloc(be->check, (size_t)cap * sizeof *c);
        if (!c)
            return -ENOMEM;
        be->check = c;
        be->capcheck = cap;
    }
    ev_io *w = sel__libev_watcher_make(be, fd);
    if (!w)
        return -ENOMEM;
    ev_io_init(w, sel__libev_io_cb, fd, sel__libev_evmask(reg->events));
    sel__libev_queue(be, fd, reg);
    return 0;
}

/* The new mask (stored by the core) is set at the next select's check. */
static int sel__libev_mod(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    struct sel__libev_be *be = sel->be;
    (void)events;
    sel__libev_stop(be, fd, reg);
    sel__libev_queue(be, fd, reg);
    return 0;
}

static void sel__libev_del(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__libev_be *be = sel->be;
    sel__libev_stop(be, fd, reg);
    sel__libev_dequeue(sel, reg);
}

static int sel__libev_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel__libev_be *be = sel->be;
    sel__fair_begin(&be->fair, out, max);
    if (be->ncheck > 0 && sel__libev_check(sel) > 0)
        timeout = 0; /* closed fds are ready */
    if (timeout == 0) {
        ev_run(be->loop, EVRUN_NOWAIT);
    } else {
        /* Forever: a far timer keeps ev_run blocking even with no watcher;
         * libev still wakes up every MAX_BLOCKTIME (~60 s) and returns. */
        ev_now_update(be->loop);
        ev_timer_set(&be->timer, timeout < 0 ? SEL__TIMEOUT_FOREVER : timeout, 0.);
        ev_timer_start(be->loop, &be->timer);
        ev_run(be->loop, EVRUN_ONCE);
        ev_timer_stop(be->loop, &be->timer);
    }
    if (be->killed) {
        /* libev's select backend drops every event of a run whose select()
         * failed on a closed fd: poll the others once more. */
        be->killed = 0;
        be->rerun = 1;
        ev_run(be->loop, EVRUN_NOWAIT);
        be->rerun = 0;
        be->killed = 0;
    }
    return sel__fair_end(&be->fair);
}

/* libev re-creates its kernel state (epoll fd) at the next ev_run, after
 * the fork watcher has stopped the watchers of closed fds. */
static int sel__libev_reinit(sel_selector *sel)
{
    struct sel__libev_be *be = sel->be;
    ev_loop_fork(be->loop);
    return 0;
}

/* A new request (libev: watcher start) at the next select, on whatever
 * file the number names then. */
static int sel__libev_rewatch(sel_selector *sel, int fd, struct sel__reg *reg)
{
    return sel__libev_mod(sel, fd, reg, reg->events);
}

const struct sel__ops sel__libev_ops = {
    .open = sel__libev_open,
    .close = sel__libev_close,
    .add = sel__libev_add,
    .mod = sel__libev_mod,
    .del = sel__libev_del,
    .select = sel__libev_select,
    .reinit = sel__libev_reinit,
    .rewatch = sel__libev_rewatch,
};

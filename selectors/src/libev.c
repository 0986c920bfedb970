/* libev backend: one ev_io watcher per registration in a private ev_loop,
 * one ev_run(EVRUN_ONCE) per select with a one-shot timer for the timeout.
 * The loop's clock is refreshed (ev_now_update) before the timer is armed so
 * the timeout counts from the call, not from the previous iteration.
 * "libev:X" forces libev's backend X; sel_name says which one runs.
 * reg->be.ptr: the registration's watcher. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

/* A watcher: lives at a stable address (libev keeps pointers to it), so
 * registrations point to it rather than embed it. Recycled through a free
 * list so register/unregister do not call malloc in steady state. */
struct sel__ev_io {
    ev_io io;
    struct sel__ev_io *next_free;
};

struct sel__libev_be {
    struct ev_loop *loop;
    ev_timer timer;
    struct sel__ev_io *free_list;
    /* Output of the select in progress, filled by the watcher callback. */
    sel_event *out;
    int max, k;
};

/* The selector backend names served here and the libev backends they
 * allow ("libev" lets libev choose among its recommended ones). */
static const struct {
    const char *name;
    unsigned flags;
} sel__libev_names[] = {
    {"libev", EVFLAG_AUTO},
    {"libev:select", EVBACKEND_SELECT},
    {"libev:poll", EVBACKEND_POLL},
    {"libev:epoll", EVBACKEND_EPOLL},
    {"libev:io_uring", EVBACKEND_IOURING},
};
#define SEL__LIBEV_NNAMES (int)(sizeof sel__libev_names / sizeof sel__libev_names[0])

#define SEL__LIBEV_FLAGS (EVFLAG_NOENV | EVFLAG_NOSIGMASK | EVFLAG_NOINOTIFY)

/* The libev backend flags of a selector backend name; 0 if libev lacks it. */
static unsigned sel__libev_flags(const char *name)
{
    for (int i = 0; i < SEL__LIBEV_NNAMES; i++) {
        if (strcmp(name, sel__libev_names[i].name) != 0)
            continue;
        unsigned flags = sel__libev_names[i].flags;
        if (flags != EVFLAG_AUTO && !(ev_supported_backends() & flags))
            return 0;
        return flags | SEL__LIBEV_FLAGS;
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
        return SEL_ENOBACKEND; /* e.g. io_uring refused by the kernel */
    ev_loop_destroy(loop);
    return 0;
}

static void sel__libev_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
}

static void sel__libev_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    sel_selector *sel = ev_userdata(loop);
    struct sel__libev_be *be = sel->be;
    if (be->k >= be->max)
        return; /* level-triggered: reported again by a later call */
    const struct sel__reg *reg = &sel->regs[w->fd];
    unsigned ev = (revents & EV_READ ? SEL_READ : 0) | (revents & EV_WRITE ? SEL_WRITE : 0);
    if (revents & EV_ERROR) /* libev gave up on this fd (e.g. closed): readiness */
        ev = SEL_READ | SEL_WRITE;
    ev &= reg->events;
    if (ev)
        be->out[be->k++] = (sel_event){w->fd, ev, reg->data, reg->gen};
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
    sel->be = be;
    return 0;
}

static void sel__libev_close(sel_selector *sel)
{
    struct sel__libev_be *be = sel->be;
    if (!be)
        return;
    for (int fd = 0; fd < sel->cap; fd++) {
        struct sel__ev_io *w = sel->regs[fd].gen ? sel->regs[fd].be.ptr : NULL;
        if (w) {
            ev_io_stop(be->loop, &w->io);
            free(w);
        }
    }
    while (be->free_list) {
        struct sel__ev_io *w = be->free_list;
        be->free_list = w->next_free;
        free(w);
    }
    ev_loop_destroy(be->loop);
    free(be);
    sel->be = NULL;
}

static int sel__libev_evmask(unsigned events)
{
    return (events & SEL_READ ? EV_READ : 0) | (events & SEL_WRITE ? EV_WRITE : 0);
}

static int sel__libev_add(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__libev_be *be = sel->be;
    struct sel__ev_io *w = be->free_list;
    if (w)
        be->free_list = w->next_free;
    else if (!(w = malloc(sizeof *w)))
        return -ENOMEM;
    ev_io_init(&w->io, sel__libev_io_cb, fd, sel__libev_evmask(reg->events));
    ev_io_start(be->loop, &w->io);
    reg->be.ptr = w;
    return 0;
}

static int sel__libev_mod(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    struct sel__libev_be *be = sel->be;
    struct sel__ev_io *w = reg->be.ptr;
    ev_io_stop(be->loop, &w->io);
    ev_io_set(&w->io, fd, sel__libev_evmask(events));
    ev_io_start(be->loop, &w->io);
    return 0;
}

static void sel__libev_del(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__libev_be *be = sel->be;
    struct sel__ev_io *w = reg->be.ptr;
    (void)fd;
    ev_io_stop(be->loop, &w->io);
    w->next_free = be->free_list;
    be->free_list = w;
}

static int sel__libev_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel__libev_be *be = sel->be;
    be->out = out;
    be->max = max;
    be->k = 0;
    if (timeout == 0) {
        ev_run(be->loop, EVRUN_NOWAIT);
    } else {
        /* Forever: a far timer keeps ev_run blocking even with no watcher;
         * libev still wakes up every MAX_BLOCKTIME (~60 s) and returns. */
        ev_now_update(be->loop);
        ev_timer_set(&be->timer, timeout < 0 || timeout > 1e9 ? 1e9 : timeout, 0.);
        ev_timer_start(be->loop, &be->timer);
        ev_run(be->loop, EVRUN_ONCE);
        ev_timer_stop(be->loop, &be->timer);
    }
    be->out = NULL;
    return be->k;
}

/* libev re-creates its kernel state (epoll fd, io_uring ring) at the next
 * ev_run and re-arms every watcher. */
static int sel__libev_reinit(sel_selector *sel)
{
    struct sel__libev_be *be = sel->be;
    ev_loop_fork(be->loop);
    return 0;
}

const struct sel__ops sel__libev_ops = {
    .open = sel__libev_open,
    .close = sel__libev_close,
    .add = sel__libev_add,
    .mod = sel__libev_mod,
    .del = sel__libev_del,
    .select = sel__libev_select,
    .reinit = sel__libev_reinit,
};

/* libev backend: one ev_io watcher per registration in a private ev_loop,
 * one ev_run(EVRUN_ONCE) per select with a one-shot timer for the timeout.
 * The loop's clock is refreshed (ev_now_update) before the timer is armed so
 * the timeout counts from the call, not from the previous iteration.
 * "libev:X" forces libev's backend X (select, poll, epoll, io_uring). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

/* A watcher: lives at a stable address (libev keeps pointers to it), so
 * registrations point to it rather than embed it. Recycled through a free
 * list so register/unregister do not call malloc in steady state. */
struct sel_ev_io {
    ev_io io;
    struct sel_ev_io *next_free;
};

struct sel_libev_be {
    struct ev_loop *loop;
    ev_timer timer;
    struct sel_ev_io *free_list;
    /* Output of the select in progress, filled by the watcher callback. */
    sel_event *out;
    int max, k;
};

static const struct {
    const char *name;
    unsigned flag;
} sel_libev_names[] = {
    {"select", EVBACKEND_SELECT},
    {"poll", EVBACKEND_POLL},
    {"epoll", EVBACKEND_EPOLL},
    {"io_uring", EVBACKEND_IOURING},
};
#define SEL_LIBEV_NNAMES (int)(sizeof sel_libev_names / sizeof sel_libev_names[0])
static const char *const sel_libev_full[SEL_LIBEV_NNAMES] = {"libev:select", "libev:poll",
                                                             "libev:epoll", "libev:io_uring"};

#define SEL_LIBEV_FLAGS (EVFLAG_NOENV | EVFLAG_NOSIGMASK | EVFLAG_NOINOTIFY)

int sel_libev_variants(const char **names, int max)
{
    int n = 0;
    for (int i = 0; i < SEL_LIBEV_NNAMES; i++) {
        if (!(ev_supported_backends() & sel_libev_names[i].flag))
            continue;
        struct ev_loop *loop = ev_loop_new(sel_libev_names[i].flag | SEL_LIBEV_FLAGS);
        if (!loop)
            continue; /* e.g. io_uring refused by the kernel */
        ev_loop_destroy(loop);
        if (n < max)
            names[n] = sel_libev_full[i];
        n++;
    }
    return n;
}

static void sel_libev_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
}

static void sel_libev_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    sel_selector *sel = ev_userdata(loop);
    struct sel_libev_be *be = sel->be;
    if (be->k >= be->max)
        return; /* level-triggered: reported again by a later call */
    const struct sel_reg *reg = &sel->regs[w->fd];
    unsigned ev = (revents & EV_READ ? SEL_READ : 0) | (revents & EV_WRITE ? SEL_WRITE : 0);
    if (revents & EV_ERROR) /* libev gave up on this fd (e.g. closed): readiness */
        ev = SEL_READ | SEL_WRITE;
    ev &= reg->events;
    if (ev)
        be->out[be->k++] = (sel_event){w->fd, ev, reg->data, reg->gen};
}

static int sel_libev_open(sel_selector *sel, const char *arg)
{
    unsigned flags = EVFLAG_AUTO;
    if (arg) {
        int i = 0;
        while (i < SEL_LIBEV_NNAMES && strcmp(arg, sel_libev_names[i].name) != 0)
            i++;
        if (i == SEL_LIBEV_NNAMES)
            return -EINVAL;
        flags = sel_libev_names[i].flag;
        if (!(ev_supported_backends() & flags))
            return -ENOTSUP;
    }
    struct sel_libev_be *be = calloc(1, sizeof *be);
    if (!be)
        return -ENOMEM;
    be->loop = ev_loop_new(flags | SEL_LIBEV_FLAGS);
    if (!be->loop) {
        free(be);
        return arg ? -ENOTSUP : -ENOMEM;
    }
    ev_set_userdata(be->loop, sel);
    ev_init(&be->timer, sel_libev_timer_cb);
    sel->be = be;
    return 0;
}

static void sel_libev_close(sel_selector *sel)
{
    struct sel_libev_be *be = sel->be;
    if (!be)
        return;
    for (int fd = 0; fd < sel->cap; fd++) {
        struct sel_ev_io *w = sel->regs[fd].gen ? sel->regs[fd].priv : NULL;
        if (w) {
            ev_io_stop(be->loop, &w->io);
            free(w);
        }
    }
    while (be->free_list) {
        struct sel_ev_io *w = be->free_list;
        be->free_list = w->next_free;
        free(w);
    }
    ev_loop_destroy(be->loop);
    free(be);
    sel->be = NULL;
}

static int sel_libev_evmask(unsigned events)
{
    return (events & SEL_READ ? EV_READ : 0) | (events & SEL_WRITE ? EV_WRITE : 0);
}

static int sel_libev_add(sel_selector *sel, int fd, struct sel_reg *reg)
{
    struct sel_libev_be *be = sel->be;
    struct sel_ev_io *w = be->free_list;
    if (w)
        be->free_list = w->next_free;
    else if (!(w = malloc(sizeof *w)))
        return -ENOMEM;
    ev_io_init(&w->io, sel_libev_io_cb, fd, sel_libev_evmask(reg->events));
    ev_io_start(be->loop, &w->io);
    reg->priv = w;
    return 0;
}

static int sel_libev_mod(sel_selector *sel, int fd, struct sel_reg *reg, unsigned events)
{
    struct sel_libev_be *be = sel->be;
    struct sel_ev_io *w = reg->priv;
    ev_io_stop(be->loop, &w->io);
    ev_io_set(&w->io, fd, sel_libev_evmask(events));
    ev_io_start(be->loop, &w->io);
    return 0;
}

static void sel_libev_del(sel_selector *sel, int fd, struct sel_reg *reg)
{
    struct sel_libev_be *be = sel->be;
    struct sel_ev_io *w = reg->priv;
    (void)fd;
    ev_io_stop(be->loop, &w->io);
    w->next_free = be->free_list;
    be->free_list = w;
}

static int sel_libev_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel_libev_be *be = sel->be;
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
static int sel_libev_reinit(sel_selector *sel)
{
    struct sel_libev_be *be = sel->be;
    ev_loop_fork(be->loop);
    return 0;
}

const struct sel_ops sel_libev_ops = {
    .name = "libev",
    .open = sel_libev_open,
    .close = sel_libev_close,
    .add = sel_libev_add,
    .mod = sel_libev_mod,
    .del = sel_libev_del,
    .select = sel_libev_select,
    .reinit = sel_libev_reinit,
};

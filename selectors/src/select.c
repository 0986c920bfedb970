/* select(2) backend: master fd_sets copied on every call, O(highest fd).
 * fds >= FD_SETSIZE cannot be represented and are refused at register. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>

struct sel__select_be {
    fd_set rd, wr;
    int maxfd; /* highest registered fd, -1 if none */
};

static int sel__select_open(sel_selector *sel, const char *arg)
{
    (void)arg;
    struct sel__select_be *be = calloc(1, sizeof *be);
    if (!be)
        return -ENOMEM;
    FD_ZERO(&be->rd);
    FD_ZERO(&be->wr);
    be->maxfd = -1;
    sel->be = be;
    return 0;
}

static void sel__select_close(sel_selector *sel)
{
    free(sel->be);
    sel->be = NULL;
}

static void sel__select_set(struct sel__select_be *be, int fd, unsigned events)
{
    if (events & SEL_READ)
        FD_SET(fd, &be->rd);
    else
        FD_CLR(fd, &be->rd);
    if (events & SEL_WRITE)
        FD_SET(fd, &be->wr);
    else
        FD_CLR(fd, &be->wr);
}

static int sel__select_add(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__select_be *be = sel->be;
    if (fd >= FD_SETSIZE)
        return SEL_EFDLIMIT;
    sel__select_set(be, fd, reg->events);
    if (fd > be->maxfd)
        be->maxfd = fd;
    return 0;
}

static int sel__select_mod(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    (void)reg;
    sel__select_set(sel->be, fd, events);
    return 0;
}

static void sel__select_del(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__select_be *be = sel->be;
    (void)reg;
    sel__select_set(be, fd, 0);
    if (fd == be->maxfd) {
        int m = fd - 1;
        while (m >= 0 && !FD_ISSET(m, &be->rd) && !FD_ISSET(m, &be->wr))
            m--;
        be->maxfd = m;
    }
}

static int sel__select_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel__select_be *be = sel->be;
    fd_set rd = be->rd, wr = be->wr;
    struct timespec ts;
    int n = pselect(be->maxfd + 1, &rd, &wr, NULL, sel__timeout_ts(timeout, &ts), NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int k = 0;
    for (int fd = 0; fd <= be->maxfd && n > 0 && k < max; fd++) {
        unsigned ev = (FD_ISSET(fd, &rd) ? SEL_READ : 0) | (FD_ISSET(fd, &wr) ? SEL_WRITE : 0);
        if (!ev)
            continue;
        n -= (ev & SEL_READ ? 1 : 0) + (ev & SEL_WRITE ? 1 : 0);
        const struct sel__reg *reg = &sel->regs[fd];
        out[k].fd = fd;
        out[k].events = ev & reg->events;
        out[k].data = reg->data;
        out[k].gen = reg->gen;
        k++;
    }
    return k;
}

static int sel__select_reinit(sel_selector *sel)
{
    (void)sel;
    return 0;
}

const struct sel__ops sel__select_ops = {
    .open = sel__select_open,
    .close = sel__select_close,
    .add = sel__select_add,
    .mod = sel__select_mod,
    .del = sel__select_del,
    .select = sel__select_select,
    .reinit = sel__select_reinit,
};

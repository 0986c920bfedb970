/* select(2) backend: master fd_sets copied on every call, O(highest fd).
 * fds >= FD_SETSIZE cannot be represented and are refused at register.
 * A registered fd closed before its unregister makes pselect fail with
 * EBADF: it is then found and reported ready, like poll's POLLNVAL. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/select.h>

struct sel__select_be {
    fd_set rd, wr;
    int maxfd; /* highest registered fd, -1 if none */
    int next;  /* where the next scan of the results starts */
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

/* Results from the sets pselect left; `n` is the number of bits set in
 * both. The scan starts at be->next and wraps, so that when more fds are
 * ready than `max` the next call starts with the first one left out: every
 * ready fd is reported within ceil(ready / max) calls. */
static int sel__select_collect(sel_selector *sel, const fd_set *rd, const fd_set *wr, int n,
                               sel_event *out, int max)
{
    struct sel__select_be *be = sel->be;
    int k = 0, span = be->maxfd + 1;
    int fd = be->next < span ? be->next : 0;
    for (int i = 0; i < span && n > 0; i++, fd = fd + 1 < span ? fd + 1 : 0) {
        unsigned ev = (FD_ISSET(fd, rd) ? SEL_READ : 0) | (FD_ISSET(fd, wr) ? SEL_WRITE : 0);
        if (!ev)
            continue;
        n -= (ev & SEL_READ ? 1 : 0) + (ev & SEL_WRITE ? 1 : 0);
        if (k == max) {
            be->next = fd;
            break;
        }
        const struct sel__reg *reg = &sel->regs[fd];
        out[k++] = (sel_event){fd, ev & reg->events, reg->data, reg->gen};
    }
    return k;
}

/* pselect failed with EBADF: a registered fd was closed before its
 * unregister. Find those (one fcntl per registered fd, on this error path
 * only), report them ready for both events (the mask keeps the registered
 * ones), as poll reports POLLNVAL, and poll the others without waiting. */
static int sel__select_closed(sel_selector *sel, sel_event *out, int max)
{
    struct sel__select_be *be = sel->be;
    fd_set rd = be->rd, wr = be->wr, closed;
    FD_ZERO(&closed);
    int nclosed = 0;
    for (int fd = 0; fd <= be->maxfd; fd++) {
        if ((FD_ISSET(fd, &rd) || FD_ISSET(fd, &wr)) && fcntl(fd, F_GETFD) < 0) {
            FD_CLR(fd, &rd);
            FD_CLR(fd, &wr);
            FD_SET(fd, &closed);
            nclosed++;
        }
    }
    if (nclosed == 0)
        return -EBADF; /* not ours to explain */
    struct timespec zero = {0, 0};
    int n = pselect(be->maxfd + 1, &rd, &wr, NULL, &zero, NULL);
    if (n < 0) { /* interrupted: the closed fds alone */
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        n = 0;
    }
    for (int fd = 0; fd <= be->maxfd; fd++) {
        if (FD_ISSET(fd, &closed)) {
            FD_SET(fd, &rd);
            FD_SET(fd, &wr);
        }
    }
    return sel__select_collect(sel, &rd, &wr, n + 2 * nclosed, out, max);
}

static int sel__select_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel__select_be *be = sel->be;
    fd_set rd = be->rd, wr = be->wr;
    struct timespec ts;
    int n = pselect(be->maxfd + 1, &rd, &wr, NULL, sel__timeout_ts(timeout, &ts), NULL);
    if (n < 0) {
        if (errno == EBADF)
            return sel__select_closed(sel, out, max);
        return errno == EINTR ? 0 : -errno;
    }
    return sel__select_collect(sel, &rd, &wr, n, out, max);
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

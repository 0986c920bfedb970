/* epoll(7) backend, level-triggered. Each epoll_event carries the fd and
 * the low 32 bits of the registration's generation, so events of a stale
 * kernel registration (an fd closed before unregister while its file stays
 * open elsewhere, then reused) are recognised and dropped. Files epoll
 * refuses (EPERM: regular files, /dev/null) are kept in an "always ready"
 * list and reported on every call, as select and poll would. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define SEL__EPOLL_BATCH 512

/* reg->be: flags SEL__EPOLL_ALWAYS for a file epoll refuses, idx its place
 * in the always-ready list. */
#define SEL__EPOLL_ALWAYS 1u

struct sel__epoll_be {
    int epfd;
    int have_pwait2; /* 0 after epoll_pwait2 reported ENOSYS */
    int *always;     /* fds of always-ready registrations */
    int nalways, capalways;
    struct epoll_event evs[SEL__EPOLL_BATCH];
};

static uint32_t sel__epoll_mask(unsigned events)
{
    return (events & SEL_READ ? EPOLLIN | EPOLLRDHUP : 0) | (events & SEL_WRITE ? EPOLLOUT : 0);
}

static int sel__epoll_open(sel_selector *sel, const char *arg)
{
    (void)arg;
    struct sel__epoll_be *be = calloc(1, sizeof *be);
    if (!be)
        return -ENOMEM;
    be->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (be->epfd < 0) {
        int err = errno;
        free(be);
        return -err;
    }
    be->have_pwait2 = 1;
    sel->be = be;
    return 0;
}

static void sel__epoll_close(sel_selector *sel)
{
    struct sel__epoll_be *be = sel->be;
    if (!be)
        return;
    if (be->epfd >= 0)
        close(be->epfd);
    free(be->always);
    free(be);
    sel->be = NULL;
}

static int sel__epoll_ctl(struct sel__epoll_be *be, int op, int fd, const struct sel__reg *reg,
                          unsigned events)
{
    struct epoll_event ev = {.events = sel__epoll_mask(events),
                             .data.u64 = (uint32_t)fd | ((uint64_t)(uint32_t)reg->gen << 32)};
    return epoll_ctl(be->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static int sel__epoll_add(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__epoll_be *be = sel->be;
    int rc = sel__epoll_ctl(be, EPOLL_CTL_ADD, fd, reg, reg->events);
    if (rc != -EPERM)
        return rc;
    if (be->nalways == be->capalways) {
        int cap = be->capalways ? be->capalways * 2 : 8;
        int *a = realloc(be->always, (size_t)cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        be->always = a;
        be->capalways = cap;
    }
    reg->be.flags = SEL__EPOLL_ALWAYS;
    reg->be.idx = be->nalways;
    be->always[be->nalways++] = fd;
    return 0;
}

static int sel__epoll_mod(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    if (reg->be.flags & SEL__EPOLL_ALWAYS)
        return 0;
    return sel__epoll_ctl(sel->be, EPOLL_CTL_MOD, fd, reg, events);
}

static void sel__epoll_del(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__epoll_be *be = sel->be;
    if (reg->be.flags & SEL__EPOLL_ALWAYS) {
        int last = be->always[--be->nalways];
        be->always[reg->be.idx] = last;
        sel->regs[last].be.idx = reg->be.idx;
        return;
    }
    /* EBADF/ENOENT: closed before unregister; the kernel already dropped it,
     * or keeps watching a file we cannot name any more (filtered by gen). */
    struct epoll_event ev = {0};
    epoll_ctl(be->epfd, EPOLL_CTL_DEL, fd, &ev);
}

static int sel__epoll_wait(struct sel__epoll_be *be, int n, double timeout)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    if (be->have_pwait2 && timeout > 0) {
        struct timespec ts;
        int r = epoll_pwait2(be->epfd, be->evs, n, sel__timeout_ts(timeout, &ts), NULL);
        if (r >= 0 || errno != ENOSYS)
            return r;
        be->have_pwait2 = 0;
    }
#endif
    return epoll_wait(be->epfd, be->evs, n, sel__timeout_ms(timeout));
}

static int sel__epoll_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel__epoll_be *be = sel->be;
    int k = 0;
    for (int i = 0; i < be->nalways && k < max; i++) {
        const struct sel__reg *reg = &sel->regs[be->always[i]];
        out[k++] = (sel_event){be->always[i], reg->events, reg->data, reg->gen};
    }
    if (k)
        timeout = 0;
    int room = max - k < SEL__EPOLL_BATCH ? max - k : SEL__EPOLL_BATCH;
    if (room <= 0)
        return k;
    int n = sel__epoll_wait(be, room, timeout);
    if (n < 0)
        return errno == EINTR ? k : -errno;
    for (int i = 0; i < n; i++) {
        int fd = (int)(uint32_t)be->evs[i].data.u64;
        const struct sel__reg *reg = sel__reg_get(sel, fd);
        if (!reg || (uint32_t)reg->gen != (uint32_t)(be->evs[i].data.u64 >> 32))
            continue; /* stale kernel registration */
        uint32_t e = be->evs[i].events;
        unsigned ev = 0;
        if (e & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
            ev |= SEL_READ;
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            ev |= SEL_WRITE;
        ev &= reg->events;
        if (ev)
            out[k++] = (sel_event){fd, ev, reg->data, reg->gen};
    }
    return k;
}

/* Child after fork: the inherited epoll instance is the parent's. Closing our
 * descriptor of it does not touch the parent's registrations (EPOLL_CTL_DEL
 * would), so drop it and build a new one. */
static int sel__epoll_reinit(sel_selector *sel)
{
    struct sel__epoll_be *be = sel->be;
    close(be->epfd);
    be->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (be->epfd < 0)
        return -errno;
    for (int fd = 0; fd < sel->cap; fd++) {
        struct sel__reg *reg = &sel->regs[fd];
        if (!reg->gen || (reg->be.flags & SEL__EPOLL_ALWAYS))
            continue;
        int rc = sel__epoll_ctl(be, EPOLL_CTL_ADD, fd, reg, reg->events);
        if (rc < 0 && rc != -EBADF) /* closed in the child: forget it silently */
            return rc;
    }
    return 0;
}

const struct sel__ops sel__epoll_ops = {
    .open = sel__epoll_open,
    .close = sel__epoll_close,
    .add = sel__epoll_add,
    .mod = sel__epoll_mod,
    .del = sel__epoll_del,
    .select = sel__epoll_select,
    .reinit = sel__epoll_reinit,
};

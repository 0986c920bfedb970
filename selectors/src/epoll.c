/* epoll(7) backend, level-triggered. Each epoll_event carries the fd and
 * a token, new each time the backend adds the number to its set, so events
 * of a stale kernel registration are recognised and dropped. A stale
 * registration comes from an fd closed before its unregister while its file
 * stays open elsewhere (a dup, a forked child): the kernel keeps watching
 * that file and EPOLL_CTL_DEL cannot name it any more (libuv#1148). Its
 * first stale event makes the backend rebuild its epoll instance from the
 * table, so it does not come back: the waits block again.
 * A modify or rewatch whose EPOLL_CTL_MOD says ENOENT finds the number
 * naming a file the set does not hold (the old one closed, the number
 * reused): the registration follows the number, added under a new token.
 * Files epoll refuses (EPERM: regular files, /dev/null) are kept in an
 * "always ready" list and reported on every call, as select and poll
 * would; calls alternate between serving that list first and epoll's
 * results first, so neither starves the other when more than `max` are
 * ready (epoll itself moves the events it returned behind the others).
 * Once sel_fd has exposed the epoll fd, a non-empty always-ready list
 * keeps an eventfd (written once, never read) in the set, so that the
 * epoll fd polls readable for them too; its events are dropped. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define SEL__EPOLL_BATCH 512

/* reg->be: token the tag of its epoll_event; flags SEL__EPOLL_ALWAYS for a
 * file epoll refuses, idx its place in the always-ready list. */
#define SEL__EPOLL_ALWAYS 1u

/* epoll_event data of ready_fd: no registration's (fds are < 2^31). */
#define SEL__EPOLL_READY_TAG UINT64_MAX

struct sel__epoll_be {
    int epfd;
    int have_pwait2; /* 0 after epoll_pwait2 reported ENOSYS */
    int *always;     /* fds of always-ready registrations */
    int nalways, capalways;
    int next_always; /* where the next report of the always list starts */
    unsigned turn;   /* odd: the always list first */
    uint32_t seq;    /* last token handed out */
    int exposed;     /* sel_fd was called: keep ready_fd in step */
    int ready_fd;    /* eventfd, readable, in the set while always-ready fds exist; or -1 */
    int ready_in;    /* ready_fd is in the set */
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
    be->ready_fd = -1;
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
    if (be->ready_fd >= 0)
        close(be->ready_fd);
    free(be->always);
    free(be);
    sel->be = NULL;
}

static int sel__epoll_ctl(int epfd, int op, int fd, const struct sel__reg *reg, unsigned events)
{
    struct epoll_event ev = {.events = sel__epoll_mask(events),
                             .data.u64 = (uint32_t)fd | ((uint64_t)reg->be.token << 32)};
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* Puts ready_fd in the set or takes it out, as the always-ready list is
 * empty or not (once exposed). */
static int sel__epoll_ready_sync(struct sel__epoll_be *be)
{
    int want = be->exposed && be->nalways > 0;
    if (want == be->ready_in)
        return 0;
    if (want && be->ready_fd < 0) {
        be->ready_fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
        if (be->ready_fd < 0)
            return -errno;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SEL__EPOLL_READY_TAG};
    if (epoll_ctl(be->epfd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, be->ready_fd, &ev) < 0)
        return -errno;
    be->ready_in = want;
    return 0;
}

static int sel__epoll_always_add(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__epoll_be *be = sel->be;
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
    int rc = sel__epoll_ready_sync(be);
    if (rc < 0) {
        be->nalways--;
        reg->be.flags = 0;
    }
    return rc;
}

static void sel__epoll_always_remove(sel_selector *sel, struct sel__reg *reg)
{
    struct sel__epoll_be *be = sel->be;
    int last = be->always[--be->nalways];
    be->always[reg->be.idx] = last;
    sel->regs[last].be.idx = reg->be.idx;
    reg->be.flags &= ~SEL__EPOLL_ALWAYS;
    sel__epoll_ready_sync(be); /* a DEL of a live eventfd: cannot fail */
}

/* Adds fd to the set for `events` under a new token (EEXIST: the kernel
 * still holds a stale registration of this very file under this number,
 * closed before its unregister and back through a dup2: it becomes this
 * one). -EPERM: a file epoll refuses. */
static int sel__epoll_watch(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    struct sel__epoll_be *be = sel->be;
    reg->be.token = ++be->seq;
    int rc = sel__epoll_ctl(be->epfd, EPOLL_CTL_ADD, fd, reg, events);
    if (rc == -EEXIST)
        rc = sel__epoll_ctl(be->epfd, EPOLL_CTL_MOD, fd, reg, events);
    return rc;
}

static int sel__epoll_add(sel_selector *sel, int fd, struct sel__reg *reg)
{
    int rc = sel__epoll_watch(sel, fd, reg, reg->events);
    return rc == -EPERM ? sel__epoll_always_add(sel, fd, reg) : rc;
}

/* The registration watches the file fd names now, for `events`: one
 * EPOLL_CTL_MOD when it is the same file; if the set does not hold it
 * (ENOENT), it is added (a stale registration of the old file, if that
 * lives on, keeps the old token). -EBADF: fd is closed. */
static int sel__epoll_follow(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    int rc;
    if (reg->be.flags & SEL__EPOLL_ALWAYS) {
        /* A file epoll refused: the number may name one it takes now. */
        rc = sel__epoll_watch(sel, fd, reg, events);
        if (rc == 0)
            sel__epoll_always_remove(sel, reg);
        return rc == -EPERM ? 0 : rc;
    }
    struct sel__epoll_be *be = sel->be;
    rc = sel__epoll_ctl(be->epfd, EPOLL_CTL_MOD, fd, reg, events);
    if (rc != -ENOENT)
        return rc;
    rc = sel__epoll_watch(sel, fd, reg, events);
    return rc == -EPERM ? sel__epoll_always_add(sel, fd, reg) : rc;
}

static int sel__epoll_mod(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    int rc = sel__epoll_follow(sel, fd, reg, events);
    return rc == -EBADF ? 0 : rc; /* closed before its unregister: accepted */
}

static int sel__epoll_rewatch(sel_selector *sel, int fd, struct sel__reg *reg)
{
    return sel__epoll_follow(sel, fd, reg, reg->events);
}

static void sel__epoll_del(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__epoll_be *be = sel->be;
    if (reg->be.flags & SEL__EPOLL_ALWAYS) {
        sel__epoll_always_remove(sel, reg);
        return;
    }
    /* EBADF/ENOENT: closed before unregister; the kernel already dropped it,
     * or keeps watching a file we cannot name any more (filtered by token). */
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

/* Report up to max always-ready fds, from next_always on, wrapping. */
static int sel__epoll_always(sel_selector *sel, sel_event *out, int max)
{
    struct sel__epoll_be *be = sel->be;
    int n = be->nalways < max ? be->nalways : max;
    int i = be->next_always < be->nalways ? be->next_always : 0;
    for (int k = 0; k < n; k++, i = i + 1 < be->nalways ? i + 1 : 0) {
        const struct sel__reg *reg = &sel->regs[be->always[i]];
        out[k] = (sel_event){be->always[i], reg->events, reg->data, reg->gen};
    }
    if (n < be->nalways)
        be->next_always = i;
    return n;
}

/* A new epoll instance holding the table's registrations replaces the old
 * one (and any stale registration in it) under the same descriptor number
 * (dup3): a number the caller freed stays free. On failure nothing
 * changes. */
static int sel__epoll_rebuild(sel_selector *sel)
{
    struct sel__epoll_be *be = sel->be;
    int fresh = epoll_create1(EPOLL_CLOEXEC);
    if (fresh < 0)
        return -errno;
    for (int fd = 0; fd < sel->cap; fd++) {
        struct sel__reg *reg = &sel->regs[fd];
        /* fd == fresh: a registered fd closed before its unregister, its
         * number taken by the new instance. */
        if (!reg->gen || (reg->be.flags & SEL__EPOLL_ALWAYS) || fd == fresh)
            continue;
        int rc = sel__epoll_ctl(fresh, EPOLL_CTL_ADD, fd, reg, reg->events);
        /* EBADF: closed before its unregister; EPERM: the number now names
         * a file epoll refuses. Nothing to watch until the unregister. */
        if (rc < 0 && rc != -EBADF && rc != -EPERM) {
            close(fresh);
            return rc;
        }
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SEL__EPOLL_READY_TAG};
    if (be->ready_in && epoll_ctl(fresh, EPOLL_CTL_ADD, be->ready_fd, &ev) < 0) {
        int rc = -errno;
        close(fresh);
        return rc;
    }
    int rc = dup3(fresh, be->epfd, O_CLOEXEC) < 0 ? -errno : 0;
    close(fresh);
    return rc;
}

/* Translate epoll's results; *stale is set if one came from a stale
 * kernel registration. */
static int sel__epoll_harvest(sel_selector *sel, int n, sel_event *out, int *stale)
{
    struct sel__epoll_be *be = sel->be;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (be->evs[i].data.u64 == SEL__EPOLL_READY_TAG)
            continue; /* the always-ready list is served by sel__epoll_always */
        int fd = (int)(uint32_t)be->evs[i].data.u64;
        const struct sel__reg *reg = sel__reg_get(sel, fd);
        if (!reg || reg->be.token != (uint32_t)(be->evs[i].data.u64 >> 32)) {
            *stale = 1;
            continue;
        }
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

/* Wait and translate into out[0..room); a stale event rebuilds the
 * instance (dropped at once; if the rebuild fails, the next stale event
 * retries it: an early empty return is legal). */
static int sel__epoll_poll(sel_selector *sel, double timeout, sel_event *out, int room)
{
    struct sel__epoll_be *be = sel->be;
    int n = sel__epoll_wait(be, room < SEL__EPOLL_BATCH ? room : SEL__EPOLL_BATCH, timeout);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int stale = 0, k = sel__epoll_harvest(sel, n, out, &stale);
    if (stale)
        sel__epoll_rebuild(sel);
    return k;
}

static int sel__epoll_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel__epoll_be *be = sel->be;
    if (be->nalways == 0)
        return sel__epoll_poll(sel, timeout, out, max);
    /* Something is always ready: poll, and take turns at serving first. */
    int k;
    if (be->turn++ & 1) {
        k = sel__epoll_always(sel, out, max);
        if (k < max) {
            int e = sel__epoll_poll(sel, 0, out + k, max - k);
            if (e < 0)
                return e;
            k += e;
        }
    } else {
        k = sel__epoll_poll(sel, 0, out, max);
        if (k < 0)
            return k;
        k += sel__epoll_always(sel, out + k, max - k);
    }
    return k;
}

/* Child after fork: the inherited epoll instance is the parent's. Closing our
 * descriptor of it does not touch the parent's registrations (EPOLL_CTL_DEL
 * would), so build a new one and drop ours. */
static int sel__epoll_reinit(sel_selector *sel)
{
    return sel__epoll_rebuild(sel);
}

static int sel__epoll_fd(sel_selector *sel)
{
    struct sel__epoll_be *be = sel->be;
    be->exposed = 1;
    int rc = sel__epoll_ready_sync(be);
    return rc < 0 ? rc : be->epfd;
}

const struct sel__ops sel__epoll_ops = {
    .open = sel__epoll_open,
    .close = sel__epoll_close,
    .add = sel__epoll_add,
    .mod = sel__epoll_mod,
    .del = sel__epoll_del,
    .select = sel__epoll_select,
    .reinit = sel__epoll_reinit,
    .fd = sel__epoll_fd,
    .rewatch = sel__epoll_rewatch,
    .add_refuses_closed = 1, /* EPOLL_CTL_ADD: EBADF */
};

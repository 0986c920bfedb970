/* io_uring backend, readiness mode: one one-shot IORING_OP_POLL_ADD per
 * registration. A completed poll is re-armed at the start of the next select
 * (so an fd still ready completes again at once: level-triggered). Arming is
 * lazy and batched with the wait in one io_uring_enter. Each request is
 * tagged with the fd and a per-arm token, so completions of cancelled or
 * superseded requests (unregister, modify, fd reuse) are recognised as
 * stale and dropped. Unregister cancels the request at once, because a poll
 * request holds a reference to the file (a socket closed after unregister
 * really closes). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#define SEL__URING_SQ 256
#define SEL__URING_CQ 16384
#define SEL__URING_REMOVE_TAG (UINT64_MAX - 1) /* user_data of poll-remove requests */

/* reg->be: token tags the armed request, idx is the place in the pending
 * list, flags: */
#define SEL__URING_ARMED 1u  /* a poll request is in flight */
#define SEL__URING_QUEUED 2u /* waiting to be armed */

struct sel__uring_be {
    struct io_uring ring;
    int ring_ok;
    uint32_t seq; /* last token handed out */
    int *pending; /* fds waiting to be armed; reg->be.idx is the position */
    int npending, cappending;
};

static int sel__uring_init(struct sel__uring_be *be)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = SEL__URING_CQ;
    int rc = io_uring_queue_init_params(SEL__URING_SQ, &be->ring, &p);
    if (rc == -EINVAL)
        rc = io_uring_queue_init(SEL__URING_SQ, &be->ring, 0);
    if (rc < 0)
        return rc;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&be->ring);
    if (probe) {
        int ok = io_uring_opcode_supported(probe, IORING_OP_POLL_ADD) &&
                 io_uring_opcode_supported(probe, IORING_OP_POLL_REMOVE);
        io_uring_free_probe(probe);
        if (!ok) {
            io_uring_queue_exit(&be->ring);
            return -ENOTSUP;
        }
    }
    be->ring_ok = 1;
    return 0;
}

int sel__uring_probe(const char *name)
{
    (void)name;
    struct sel__uring_be be;
    memset(&be, 0, sizeof be);
    int rc = sel__uring_init(&be);
    if (rc == 0)
        io_uring_queue_exit(&be.ring);
    return rc;
}

static int sel__uring_open(sel_selector *sel, const char *arg)
{
    (void)arg;
    struct sel__uring_be *be = calloc(1, sizeof *be);
    if (!be)
        return -ENOMEM;
    int rc = sel__uring_init(be);
    if (rc < 0) {
        free(be);
        return rc;
    }
    sel->be = be;
    return 0;
}

static void sel__uring_close(sel_selector *sel)
{
    struct sel__uring_be *be = sel->be;
    if (!be)
        return;
    if (be->ring_ok)
        io_uring_queue_exit(&be->ring);
    free(be->pending);
    free(be);
    sel->be = NULL;
}

static void sel__uring_queue(struct sel__uring_be *be, int fd, struct sel__reg *reg)
{
    if (reg->be.flags & SEL__URING_QUEUED)
        return;
    reg->be.flags |= SEL__URING_QUEUED;
    reg->be.idx = be->npending;
    be->pending[be->npending++] = fd; /* capacity >= registrations: see add */
}

static void sel__uring_dequeue(sel_selector *sel, struct sel__reg *reg)
{
    struct sel__uring_be *be = sel->be;
    if (!(reg->be.flags & SEL__URING_QUEUED))
        return;
    int last = be->pending[--be->npending];
    be->pending[reg->be.idx] = last;
    sel->regs[last].be.idx = reg->be.idx;
    reg->be.flags &= ~SEL__URING_QUEUED;
}

static struct io_uring_sqe *sel__uring_sqe(struct sel__uring_be *be)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&be->ring);
    if (!sqe) { /* SQ full: flush it */
        io_uring_submit(&be->ring);
        sqe = io_uring_get_sqe(&be->ring);
    }
    return sqe;
}

/* Cancel the armed request of reg, if any. */
static int sel__uring_disarm(struct sel__uring_be *be, int fd, struct sel__reg *reg)
{
    if (!(reg->be.flags & SEL__URING_ARMED))
        return 0;
    struct io_uring_sqe *sqe = sel__uring_sqe(be);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_poll_remove(sqe, (uint32_t)fd | ((uint64_t)reg->be.token << 32));
    io_uring_sqe_set_data64(sqe, SEL__URING_REMOVE_TAG);
    reg->be.flags &= ~SEL__URING_ARMED;
    return 0;
}

static int sel__uring_add(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__uring_be *be = sel->be;
    if (be->cappending <= sel->count) {
        int cap = be->cappending ? be->cappending * 2 : 64;
        int *p = realloc(be->pending, (size_t)cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        be->pending = p;
        be->cappending = cap;
    }
    sel__uring_queue(be, fd, reg);
    return 0;
}

static int sel__uring_mod(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    struct sel__uring_be *be = sel->be;
    (void)events; /* armed from reg->events, which the core updates */
    int rc = sel__uring_disarm(be, fd, reg);
    if (rc < 0)
        return rc;
    sel__uring_queue(be, fd, reg);
    return 0;
}

static void sel__uring_del(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__uring_be *be = sel->be;
    sel__uring_dequeue(sel, reg);
    if ((reg->be.flags & SEL__URING_ARMED) && sel__uring_disarm(be, fd, reg) == 0)
        io_uring_submit(&be->ring);
}

static int sel__uring_arm(sel_selector *sel)
{
    struct sel__uring_be *be = sel->be;
    while (be->npending > 0) {
        int fd = be->pending[be->npending - 1];
        struct sel__reg *reg = &sel->regs[fd];
        struct io_uring_sqe *sqe = sel__uring_sqe(be);
        if (!sqe)
            return -EBUSY;
        be->npending--;
        reg->be.flags &= ~SEL__URING_QUEUED;
        reg->be.flags |= SEL__URING_ARMED;
        reg->be.token = ++be->seq;
        unsigned mask = (reg->events & SEL_READ ? POLLIN | POLLRDHUP : 0) |
                        (reg->events & SEL_WRITE ? POLLOUT : 0);
        io_uring_prep_poll_add(sqe, fd, mask);
        io_uring_sqe_set_data64(sqe, (uint32_t)fd | ((uint64_t)reg->be.token << 32));
    }
    return 0;
}

static int sel__uring_harvest(sel_selector *sel, sel_event *out, int max, unsigned *nseen)
{
    struct sel__uring_be *be = sel->be;
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    int k = 0;
    io_uring_for_each_cqe(&be->ring, head, cqe)
    {
        if (k >= max)
            break;
        seen++;
        uint64_t ud = cqe->user_data;
        if (ud == SEL__URING_REMOVE_TAG || ud == LIBURING_UDATA_TIMEOUT)
            continue;
        int fd = (int)(uint32_t)ud;
        struct sel__reg *reg = sel__reg_get(sel, fd);
        if (!reg || !(reg->be.flags & SEL__URING_ARMED) || reg->be.token != (uint32_t)(ud >> 32))
            continue; /* cancelled or superseded request */
        reg->be.flags &= ~SEL__URING_ARMED;
        sel__uring_queue(be, fd, reg);
        unsigned ev = SEL_READ | SEL_WRITE; /* res < 0: the fd is bad, let I/O say why */
        if (cqe->res >= 0) {
            unsigned r = (unsigned)cqe->res;
            ev =
                (r & (POLLIN | POLLPRI | POLLRDHUP | POLLERR | POLLHUP | POLLNVAL) ? SEL_READ : 0) |
                (r & (POLLOUT | POLLERR | POLLHUP | POLLNVAL) ? SEL_WRITE : 0);
        }
        ev &= reg->events;
        if (ev)
            out[k++] = (sel_event){fd, ev, reg->data, reg->gen};
    }
    io_uring_cq_advance(&be->ring, seen);
    *nseen = seen;
    return k;
}

static int sel__uring_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel__uring_be *be = sel->be;
    double deadline = timeout > 0 ? sel__now() + timeout : 0;
    for (;;) {
        int rc = sel__uring_arm(sel);
        if (rc < 0)
            return rc;
        if (io_uring_cq_ready(&be->ring) > 0 || timeout == 0) {
            rc = io_uring_submit(&be->ring);
        } else if (timeout < 0) {
            rc = io_uring_submit_and_wait(&be->ring, 1);
        } else {
            struct timespec ts;
            sel__timeout_ts(timeout, &ts);
            struct __kernel_timespec kts = {.tv_sec = ts.tv_sec, .tv_nsec = ts.tv_nsec};
            struct io_uring_cqe *cqe;
            rc = io_uring_submit_and_wait_timeout(&be->ring, &cqe, 1, &kts, NULL);
        }
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
            return rc;
        unsigned seen;
        int k = sel__uring_harvest(sel, out, max, &seen);
        /* A wait that submitted requests returns their count even when a
         * signal or the timeout ended it: no completion at all means
         * interrupted or timed out, both a 0 result. */
        if (k > 0 || timeout == 0 || rc == -ETIME || rc == -EINTR || seen == 0)
            return k;
        /* Only stale completions woke us: wait for the rest of the time. */
        if (timeout > 0 && (timeout = deadline - sel__now()) <= 0)
            return 0;
    }
}

/* Child after fork: leave the parent's ring alone (unmap and close our
 * copy), make a new one, re-arm everything. */
static int sel__uring_reinit(sel_selector *sel)
{
    struct sel__uring_be *be = sel->be;
    if (be->ring_ok)
        io_uring_queue_exit(&be->ring);
    be->ring_ok = 0;
    be->npending = 0;
    for (int fd = 0; fd < sel->cap; fd++) {
        struct sel__reg *reg = &sel->regs[fd];
        if (reg->gen) {
            reg->be.flags &= ~SEL__URING_ARMED;
            reg->be.flags &= ~SEL__URING_QUEUED;
            sel__uring_queue(be, fd, reg);
        }
    }
    return sel__uring_init(be);
}

/* sel_fd: the ring polls readable while completions wait in its CQ
 * (liburing's own tests watch ring_fd with epoll). Requests queued since
 * the last select are submitted now, so that the ring completes when
 * their fds are ready. */
static int sel__uring_fd(sel_selector *sel)
{
    struct sel__uring_be *be = sel->be;
    if (be->npending > 0) {
        int rc = sel__uring_arm(sel);
        if (rc == 0)
            rc = io_uring_submit(&be->ring);
        /* EBUSY, EAGAIN: the CQ is full, which makes the ring readable:
         * the caller's select harvests it and arms the rest. */
        if (rc < 0 && rc != -EBUSY && rc != -EAGAIN)
            return rc;
    }
    return be->ring.ring_fd;
}

/* A new request (libev: watcher start) at the next select, on whatever
 * file the number names then. */
static int sel__uring_rewatch(sel_selector *sel, int fd, struct sel__reg *reg)
{
    return sel__uring_mod(sel, fd, reg, reg->events);
}

const struct sel__ops sel__uring_ops = {
    .open = sel__uring_open,
    .close = sel__uring_close,
    .add = sel__uring_add,
    .mod = sel__uring_mod,
    .del = sel__uring_del,
    .select = sel__uring_select,
    .reinit = sel__uring_reinit,
    .rewatch = sel__uring_rewatch,
    .fd = sel__uring_fd,
};

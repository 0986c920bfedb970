/* poll(2) backend: a dense pollfd array (swap-remove on unregister), waited
 * on with ppoll for nanosecond timeouts. O(registered fds) per call. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

struct sel__poll_be {
    struct pollfd *fds;
    int n, cap;
    int next; /* index where the next scan of the results starts */
};

/* reg->be.idx: index of the registration in the pollfd array. */

static short sel__poll_mask(unsigned events)
{
    return (short)((events & SEL_READ ? POLLIN : 0) | (events & SEL_WRITE ? POLLOUT : 0));
}

static int sel__poll_open(sel_selector *sel, const char *arg)
{
    (void)arg;
    sel->be = calloc(1, sizeof(struct sel__poll_be));
    return sel->be ? 0 : -ENOMEM;
}

static void sel__poll_close(sel_selector *sel)
{
    struct sel__poll_be *be = sel->be;
    if (be)
        free(be->fds);
    free(be);
    sel->be = NULL;
}

static int sel__poll_add(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__poll_be *be = sel->be;
    if (be->n == be->cap) {
        int cap = be->cap ? be->cap * 2 : 64;
        struct pollfd *fds = realloc(be->fds, (size_t)cap * sizeof *fds);
        if (!fds)
            return -ENOMEM;
        be->fds = fds;
        be->cap = cap;
    }
    reg->be.idx = be->n++;
    be->fds[reg->be.idx] = (struct pollfd){.fd = fd, .events = sel__poll_mask(reg->events)};
    return 0;
}

static int sel__poll_mod(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events)
{
    struct sel__poll_be *be = sel->be;
    (void)fd;
    be->fds[reg->be.idx].events = sel__poll_mask(events);
    return 0;
}

static void sel__poll_del(sel_selector *sel, int fd, struct sel__reg *reg)
{
    struct sel__poll_be *be = sel->be;
    (void)fd;
    int last = --be->n;
    if (reg->be.idx != last) {
        be->fds[reg->be.idx] = be->fds[last];
        sel->regs[be->fds[reg->be.idx].fd].be.idx = reg->be.idx;
    }
}

static int sel__poll_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    struct sel__poll_be *be = sel->be;
    struct timespec ts;
    int n = ppoll(be->fds, (nfds_t)be->n, sel__timeout_ts(timeout, &ts), NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    /* From be->next on, wrapping: when more fds are ready than max, the
     * next call starts with the first one left out (fair rotation). */
    int k = 0, i = be->next < be->n ? be->next : 0;
    for (int c = 0; c < be->n && n > 0; c++, i = i + 1 < be->n ? i + 1 : 0) {
        short re = be->fds[i].revents;
        if (!re)
            continue;
        n--;
        /* Errors, hang-ups and closed fds (POLLNVAL) are readiness. */
        unsigned ev = 0;
        if (re & (POLLIN | POLLPRI | POLLERR | POLLHUP | POLLNVAL))
            ev |= SEL_READ;
        if (re & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
            ev |= SEL_WRITE;
        const struct sel__reg *reg = &sel->regs[be->fds[i].fd];
        ev &= reg->events;
        if (!ev)
            continue;
        if (k == max) {
            be->next = i;
            break;
        }
        out[k++] = (sel_event){be->fds[i].fd, ev, reg->data, reg->gen};
    }
    return k;
}

static int sel__poll_reinit(sel_selector *sel)
{
    (void)sel;
    return 0;
}

const struct sel__ops sel__poll_ops = {
    .open = sel__poll_open,
    .close = sel__poll_close,
    .add = sel__poll_add,
    .mod = sel__poll_mod,
    .del = sel__poll_del,
    .select = sel__poll_select,
    .reinit = sel__poll_reinit,
};

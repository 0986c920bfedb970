/* The selector core: the backend table, the registration table, argument
 * checks, fork detection. Backends live in select.c, poll.c, epoll.c,
 * libev.c and uring.c; error names in errors.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bumped in every child by a pthread_atfork handler: a selector whose epoch
 * differs was opened in an ancestor process. */
static atomic_uint sel__fork_epoch;
static pthread_once_t sel__atfork_once = PTHREAD_ONCE_INIT;

static void sel__on_fork_child(void)
{
    atomic_fetch_add_explicit(&sel__fork_epoch, 1, memory_order_relaxed);
}

static void sel__atfork_init(void)
{
    pthread_atfork(NULL, NULL, sel__on_fork_child);
}

static unsigned sel__epoch_now(void)
{
    return atomic_load_explicit(&sel__fork_epoch, memory_order_relaxed);
}

/* 0 if the selector may be used, else the error for any call but the few
 * that are always allowed. */
static int sel__usable(const sel_selector *sel)
{
    if (!sel)
        return -EINVAL;
    if (sel->closed)
        return SEL_ECLOSED;
    if (sel->epoch != sel__epoch_now())
        return SEL_EFORKED;
    return 0;
}

#ifdef SEL_HAVE_URING
#define SEL__URING_OPS (&sel__uring_ops)
#define SEL__URING_PROBE sel__uring_probe
#else
#define SEL__URING_OPS NULL
#define SEL__URING_PROBE NULL
#endif

/* The backends, in the order sel_backends lists them: base names first,
 * then the libev:X variants. */
static const struct sel__backend sel__backends[] = {
    {"select", &sel__select_ops, NULL},
    {"poll", &sel__poll_ops, NULL},
    {"epoll", &sel__epoll_ops, NULL},
    {"libev", &sel__libev_ops, sel__libev_probe},
    {"io_uring", SEL__URING_OPS, SEL__URING_PROBE},
    {"libev:select", &sel__libev_ops, sel__libev_probe},
    {"libev:epoll", &sel__libev_ops, sel__libev_probe},
    /* libev aborts on an fd closed before its unregister: see libev.c. */
    {"libev:poll", NULL, NULL},
    {"libev:io_uring", NULL, NULL},
};
#define SEL__NBACKENDS (int)(sizeof sel__backends / sizeof sel__backends[0])

static const struct sel__backend *sel__find(const char *name)
{
    for (int i = 0; i < SEL__NBACKENDS; i++)
        if (strcmp(sel__backends[i].name, name) == 0)
            return &sel__backends[i];
    return NULL;
}

int sel_open(sel_selector **out, const char *name)
{
    if (!out)
        return -EINVAL;
    if (!name || !*name)
        name = getenv(SEL_ENV_BACKEND);
    if (!name || !*name)
        name = SEL_DEFAULT_BACKEND;

    const struct sel__backend *be = sel__find(name);
    if (!be)
        return SEL_EBACKEND;
    if (!be->ops)
        return SEL_ENOBACKEND;

    pthread_once(&sel__atfork_once, sel__atfork_init);
    sel_selector *sel = calloc(1, sizeof *sel);
    if (!sel)
        return -ENOMEM;
    sel->ops = be->ops;
    sel->epoch = sel__epoch_now();
    snprintf(sel->name, sizeof sel->name, "%s", be->name);
    int rc = be->ops->open(sel, be->name);
    if (rc < 0) {
        free(sel);
        return rc;
    }
    *out = sel;
    return 0;
}

const char *sel_name(const sel_selector *sel)
{
    return sel ? sel->name : "(null)";
}

int sel_backends(const char **names, int max)
{
    int n = 0;
    for (int i = 0; i < SEL__NBACKENDS; i++) {
        const struct sel__backend *be = &sel__backends[i];
        if (!be->ops || (be->probe && be->probe(be->name) != 0))
            continue;
        if (names && n < max)
            names[n] = be->name;
        n++;
    }
    return n;
}

static int sel__check_events(unsigned events)
{
    if (events == 0 || (events & ~(SEL_READ | SEL_WRITE)))
        return -EINVAL;
    return 0;
}

/* Not the hot path: register grows the table to hold fd. calloc, not
 * realloc + memset: a large table's fresh pages come zeroed from the
 * kernel and stay out of resident memory until their fds are used (the
 * doubling would otherwise make up to half the table resident unused). */
static int sel__grow(sel_selector *sel, int fd)
{
    if (fd < sel->cap)
        return 0;
    int cap = sel->cap ? sel->cap : 64;
    while (cap <= fd)
        cap = cap > (1 << 29) ? fd + 1 : cap * 2;
    struct sel__reg *regs = calloc((size_t)cap, sizeof *regs);
    if (!regs)
        return -ENOMEM;
    if (sel->cap)
        memcpy(regs, sel->regs, (size_t)sel->cap * sizeof *regs);
    free(sel->regs);
    sel->regs = regs;
    sel->cap = cap;
    return 0;
}

/* The validation shared by register and modify: usable selector, valid
 * fd, non-empty known event mask. */
static int check_args(const sel_selector *sel, int fd, unsigned events)
{
    int rc = sel__usable(sel);
    if (rc < 0)
        return rc;
    if (fd < 0)
        return -EBADF;
    return sel__check_events(events);
}

int sel_register(sel_selector *sel, int fd, unsigned events, void *data)
{
    int rc = check_args(sel, fd, events);
    if (rc < 0)
        return rc;
    if (sel__reg_get(sel, fd))
        return -EEXIST;
    /* A closed fd is -EBADF on every backend, and changes nothing. Those
     * whose add does not reach the kernel at once (libev, io_uring arm at
     * the next select; select and poll never ask it) are checked here;
     * epoll's epoll_ctl says EBADF itself, except for a number beyond the
     * table, checked here so that a bad number does not grow it. */
    if ((fd >= sel->cap || !sel->ops->add_refuses_closed) && fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    if ((rc = sel__grow(sel, fd)) < 0)
        return rc;
    struct sel__reg *reg = &sel->regs[fd];
    memset(reg, 0, sizeof *reg);
    reg->gen = ++sel->gen;
    reg->events = events;
    reg->data = data;
    if ((rc = sel->ops->add(sel, fd, reg)) < 0) {
        memset(reg, 0, sizeof *reg);
        return rc;
    }
    sel->count++;
    return 0;
}

int sel_modify(sel_selector *sel, int fd, unsigned events, void *data)
{
    int rc = check_args(sel, fd, events);
    if (rc < 0)
        return rc;
    struct sel__reg *reg = sel__reg_get(sel, fd);
    if (!reg)
        return -ENOENT;
    if (events != reg->events && (rc = sel->ops->mod(sel, fd, reg, events)) < 0)
        return rc;
    reg->events = events;
    reg->data = data;
    return 0;
}

/* The registration of fd on a usable selector: 0 and *out, or the
 * error sel_rewatch / sel_unregister / sel_get share (SEL_ECLOSED,
 * SEL_EFORKED, -EBADF for a negative fd, -ENOENT). */
static int lookup(const sel_selector *sel, int fd, struct sel__reg **out)
{
    int rc = sel__usable(sel);
    if (rc < 0)
        return rc;
    if (fd < 0)
        return -EBADF;
    *out = sel__reg_get(sel, fd);
    return *out ? 0 : -ENOENT;
}

int sel_rewatch(sel_selector *sel, int fd)
{
    struct sel__reg *reg;
    int rc = lookup(sel, fd, &reg);
    if (rc < 0)
        return rc;
    return sel->ops->rewatch ? sel->ops->rewatch(sel, fd, reg) : 0;
}

int sel_unregister(sel_selector *sel, int fd)
{
    struct sel__reg *reg;
    int rc = lookup(sel, fd, &reg);
    if (rc < 0)
        return rc;
    sel->ops->del(sel, fd, reg);
    memset(reg, 0, sizeof *reg);
    sel->count--;
    return 0;
}

int sel_get(const sel_selector *sel, int fd, unsigned *events, void **data)
{
    struct sel__reg *reg;
    int rc = lookup(sel, fd, &reg);
    if (rc < 0)
        return rc;
    if (events)
        *events = reg->events;
    if (data)
        *data = reg->data;
    return 0;
}

int sel_count(const sel_selector *sel)
{
    return sel && !sel->closed ? sel->count : 0;
}

int sel_select(sel_selector *sel, double timeout, sel_event *out, int max)
{
    int rc = sel__usable(sel);
    if (rc < 0)
        return rc;
    if (max < 0 || (max > 0 && !out) || isnan(timeout))
        return -EINVAL;
    if (max == 0)
        return 0;
    if (timeout < 0 || timeout > SEL__TIMEOUT_FOREVER)
        timeout = -1; /* -inf, +inf and beyond ~31 years: forever */
    return sel->ops->select(sel, timeout, out, max);
}

unsigned sel_event_check(const sel_selector *sel, sel_event *ev)
{
    if (!ev)
        return 0;
    const struct sel__reg *reg = sel && !sel->closed ? sel__reg_get(sel, ev->fd) : NULL;
    if (!reg || reg->gen != ev->gen) {
        ev->events = 0;
        ev->data = NULL;
        return 0;
    }
    ev->events &= reg->events;
    ev->data = reg->data;
    return ev->events;
}

int sel_fd(sel_selector *sel)
{
    int rc = sel__usable(sel);
    if (rc < 0)
        return rc;
    return sel->ops->fd ? sel->ops->fd(sel) : SEL_ENOFD;
}

int sel_reinit(sel_selector *sel)
{
    if (!sel)
        return -EINVAL;
    if (sel->closed)
        return SEL_ECLOSED;
    if (sel->epoch == sel__epoch_now())
        return 0;
    int rc = sel->ops->reinit(sel);
    if (rc < 0) {
        /* Nothing usable is left: the backend's close copes with the
         * half-reinitialised state. */
        sel_close(sel);
        return rc;
    }
    sel->epoch = sel__epoch_now();
    return 0;
}

int sel_close(sel_selector *sel)
{
    if (!sel || sel->closed)
        return 0;
    sel->ops->close(sel);
    sel->closed = 1;
    free(sel->regs);
    sel->regs = NULL;
    sel->cap = 0;
    sel->count = 0;
    return 0;
}

void sel_free(sel_selector *sel)
{
    if (!sel)
        return;
    sel_close(sel);
    free(sel);
}

/* The selector core: backend choice, the registration table, argument
 * checks, fork detection. Backends live in select.c, poll.c, epoll.c,
 * libev.c and uring.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Bumped in every child by a pthread_atfork handler: a selector whose epoch
 * differs was opened in an ancestor process. */
static atomic_uint sel_fork_epoch;
static pthread_once_t sel_atfork_once = PTHREAD_ONCE_INIT;

static void sel_on_fork_child(void)
{
    atomic_fetch_add_explicit(&sel_fork_epoch, 1, memory_order_relaxed);
}

static void sel_atfork_init(void)
{
    pthread_atfork(NULL, NULL, sel_on_fork_child);
}

static unsigned sel_epoch_now(void)
{
    return atomic_load_explicit(&sel_fork_epoch, memory_order_relaxed);
}

/* 0 if the selector may be used, else the error for any call but the few
 * that are always allowed. */
static int sel_usable(const sel_selector *sel)
{
    if (!sel || sel->closed)
        return -EBADF;
    if (sel->epoch != sel_epoch_now())
        return -ECHILD;
    return 0;
}

struct timespec *sel_timeout_ts(double timeout, struct timespec *ts)
{
    if (timeout < 0 || isnan(timeout))
        return NULL;
    if (timeout > 1e9) /* ~31 years: forever for practical purposes */
        timeout = 1e9;
    ts->tv_sec = (time_t)timeout;
    ts->tv_nsec = (long)((timeout - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L)
        ts->tv_nsec = 999999999L;
    if (ts->tv_nsec < 0)
        ts->tv_nsec = 0;
    return ts;
}

int sel_timeout_ms(double timeout)
{
    if (timeout < 0 || isnan(timeout))
        return -1;
    double ms = ceil(timeout * 1e3);
    return ms > 1e9 ? 1000000000 : (int)ms;
}

double sel_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const struct sel_ops *sel_find(const char *name, const char **arg)
{
    *arg = NULL;
    if (strcmp(name, "select") == 0)
        return &sel_select_ops;
    if (strcmp(name, "poll") == 0)
        return &sel_poll_ops;
    if (strcmp(name, "epoll") == 0)
        return &sel_epoll_ops;
    if (strcmp(name, "libev") == 0)
        return &sel_libev_ops;
    if (strncmp(name, "libev:", 6) == 0) {
        *arg = name + 6;
        return &sel_libev_ops;
    }
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

    const char *arg;
    const struct sel_ops *ops = sel_find(name, &arg);
    if (!ops) {
        if (strcmp(name, "io_uring") != 0)
            return -EINVAL;
#ifdef SEL_HAVE_URING
        ops = &sel_uring_ops;
#else
        return -ENOTSUP;
#endif
    }
    if (strlen(name) >= sizeof(((sel_selector *)0)->name))
        return -EINVAL;

    pthread_once(&sel_atfork_once, sel_atfork_init);
    sel_selector *sel = calloc(1, sizeof *sel);
    if (!sel)
        return -ENOMEM;
    sel->ops = ops;
    sel->epoch = sel_epoch_now();
    strcpy(sel->name, name);
    int rc = ops->open(sel, arg);
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
    static const char *const base[] = {"select", "poll", "epoll", "libev"};
    int n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++, n++)
        if (names && n < max)
            names[n] = base[i];
#ifdef SEL_HAVE_URING
    if (sel_uring_probe() == 0) {
        if (names && n < max)
            names[n] = "io_uring";
        n++;
    }
#endif
    const char *variants[8];
    int nv = sel_libev_variants(variants, 8);
    for (int i = 0; i < nv && i < 8; i++, n++)
        if (names && n < max)
            names[n] = variants[i];
    return n;
}

static int sel_check_events(unsigned events)
{
    if (events == 0 || (events & ~(SEL_READ | SEL_WRITE)))
        return -EINVAL;
    return 0;
}

/* Not the hot path: register grows the table to hold fd. */
static int sel_grow(sel_selector *sel, int fd)
{
    if (fd < sel->cap)
        return 0;
    int cap = sel->cap ? sel->cap : 64;
    while (cap <= fd)
        cap = cap > (1 << 29) ? fd + 1 : cap * 2;
    struct sel_reg *regs = realloc(sel->regs, (size_t)cap * sizeof *regs);
    if (!regs)
        return -ENOMEM;
    memset(regs + sel->cap, 0, (size_t)(cap - sel->cap) * sizeof *regs);
    sel->regs = regs;
    sel->cap = cap;
    return 0;
}

/* The validation shared by register and modify: usable selector, valid
 * fd, non-empty known event mask. */
static int check_args(const sel_selector *sel, int fd, unsigned events)
{
    int rc = sel_usable(sel);
    if (rc < 0)
        return rc;
    if (fd < 0)
        return -EBADF;
    return sel_check_events(events);
}

int sel_register(sel_selector *sel, int fd, unsigned events, void *data)
{
    int rc = check_args(sel, fd, events);
    if (rc < 0)
        return rc;
    if (sel_reg_get(sel, fd))
        return -EEXIST;
    /* Every backend reports a closed fd the same way: here. */
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    if ((rc = sel_grow(sel, fd)) < 0)
        return rc;
    struct sel_reg *reg = &sel->regs[fd];
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
    struct sel_reg *reg = sel_reg_get(sel, fd);
    if (!reg)
        return -ENOENT;
    if (events != reg->events && (rc = sel->ops->mod(sel, fd, reg, events)) < 0)
        return rc;
    reg->events = events;
    reg->data = data;
    return 0;
}

int sel_unregister(sel_selector *sel, int fd)
{
    int rc = sel_usable(sel);
    if (rc < 0)
        return rc;
    if (fd < 0)
        return -EBADF;
    struct sel_reg *reg = sel_reg_get(sel, fd);
    if (!reg)
        return -ENOENT;
    sel->ops->del(sel, fd, reg);
    memset(reg, 0, sizeof *reg);
    sel->count--;
    return 0;
}

int sel_get(const sel_selector *sel, int fd, unsigned *events, void **data)
{
    int rc = sel_usable(sel);
    if (rc < 0)
        return rc;
    if (fd < 0)
        return -EBADF;
    const struct sel_reg *reg = sel_reg_get(sel, fd);
    if (!reg)
        return -ENOENT;
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
    int rc = sel_usable(sel);
    if (rc < 0)
        return rc;
    if (max < 0 || (max > 0 && !out))
        return -EINVAL;
    return sel->ops->select(sel, timeout, out, max);
}

unsigned sel_event_check(const sel_selector *sel, sel_event *ev)
{
    const struct sel_reg *reg = sel && !sel->closed ? sel_reg_get(sel, ev->fd) : NULL;
    if (!reg || reg->gen != ev->gen) {
        ev->events = 0;
        ev->data = NULL;
        return 0;
    }
    ev->events &= reg->events;
    ev->data = reg->data;
    return ev->events;
}

int sel_reinit(sel_selector *sel)
{
    if (!sel || sel->closed)
        return -EBADF;
    if (sel->epoch == sel_epoch_now())
        return 0;
    int rc = sel->ops->reinit(sel);
    if (rc < 0) {
        /* Nothing usable is left: the backend's close copes with the
         * half-reinitialised state. */
        sel_close(sel);
        return rc;
    }
    sel->epoch = sel_epoch_now();
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

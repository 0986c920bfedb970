/* Internal: the selector object and the operations table of a backend.
 *
 * The core (selector.c) owns the registration table, indexed by fd, and
 * checks every argument; a backend only mirrors registrations into its
 * kernel object and translates readiness. Backends never see bad input.
 */
#ifndef SELECTORS_BACKEND_H
#define SELECTORS_BACKEND_H

#include <selectors/selector.h>

#include <stdint.h>
#include <time.h>

struct sel_reg {
    uint64_t gen; /* 0: slot free */
    void *data;
    unsigned events;
    /* Backend state. */
    int idx;              /* poll: index in the pollfd array; epoll: in the always-ready list */
    uint32_t token;       /* io_uring: tag of the armed poll request */
    unsigned char armed;  /* io_uring: a poll request is in flight */
    unsigned char queued; /* io_uring: waiting to be armed */
    unsigned char always; /* epoll: not pollable (regular file), always ready */
    void *priv;           /* libev: the ev_io watcher */
};

struct sel_ops {
    const char *name;
    /* arg: what follows "libev:" (NULL otherwise). Sets sel->be. */
    int (*open)(sel_selector *sel, const char *arg);
    void (*close)(sel_selector *sel);
    /* reg is filled (gen, events, data) and in the table when add is called. */
    int (*add)(sel_selector *sel, int fd, struct sel_reg *reg);
    /* reg still holds the old mask; the core stores the new one on success. */
    int (*mod)(sel_selector *sel, int fd, struct sel_reg *reg, unsigned events);
    /* Cannot fail: a closed fd is forgotten all the same. */
    void (*del)(sel_selector *sel, int fd, struct sel_reg *reg);
    int (*select)(sel_selector *sel, double timeout, sel_event *out, int max);
    /* In a forked child: new kernel state, same registrations. */
    int (*reinit)(sel_selector *sel);
};

struct sel_selector {
    const struct sel_ops *ops;
    struct sel_reg *regs; /* indexed by fd, cap entries */
    int cap;
    int count;
    uint64_t gen;
    unsigned epoch; /* fork epoch at open/reinit */
    int closed;
    void *be; /* backend state */
    char name[32];
};

static inline struct sel_reg *sel_reg_get(const sel_selector *sel, int fd)
{
    if (fd < 0 || fd >= sel->cap || sel->regs[fd].gen == 0)
        return 0;
    return &sel->regs[fd];
}

/* timeout (seconds) -> *ts; returns NULL for "forever" (timeout < 0). */
struct timespec *sel_timeout_ts(double timeout, struct timespec *ts);
/* Milliseconds for poll-like calls: -1 forever, rounded up, clamped. */
int sel_timeout_ms(double timeout);
/* CLOCK_MONOTONIC in seconds. */
double sel_now(void);

extern const struct sel_ops sel_select_ops;
extern const struct sel_ops sel_poll_ops;
extern const struct sel_ops sel_epoll_ops;
extern const struct sel_ops sel_libev_ops;
#ifdef SEL_HAVE_URING
extern const struct sel_ops sel_uring_ops;
int sel_uring_probe(void);
#endif
/* libev backends supported here, as "libev:X" names (static strings). */
int sel_libev_variants(const char **names, int max);

#endif

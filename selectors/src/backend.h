/* Internal: the selector object, the registration table, the operations
 * table of a backend and the helpers every backend shares.
 *
 * The core (selector.c) owns the registration table, indexed by fd, and
 * checks every argument; a backend only mirrors registrations into its
 * kernel object and translates readiness. Backends never see bad input:
 * sel_select's backend receives a timeout of -1 (forever), 0 or a finite
 * value in (0, SEL__TIMEOUT_FOREVER], and max >= 1.
 *
 * Adding a backend: one file defining a `const struct sel__ops`, and one
 * row in the backend table of selector.c.
 */
#ifndef SELECTORS_BACKEND_H
#define SELECTORS_BACKEND_H

#include <selectors/selector.h>

#include <math.h>
#include <stdint.h>
#include <time.h>

/* One registration, at sel->regs[fd]. The core owns gen, data and events;
 * `be` belongs to the backend: the core zeroes it at register and never
 * reads it (each backend file says what it keeps there). 32 bytes: the
 * table holds one per fd number, so every idle connection pays for it (a
 * backend that needs more per fd keeps it in an fd-indexed table of its
 * own, as libev.c does its watchers). */
struct sel__reg {
    uint64_t gen; /* 0: slot free */
    void *data;
    unsigned events;
    struct {
        int idx;
        uint32_t token;
        uint32_t flags;
    } be;
};
_Static_assert(sizeof(struct sel__reg) <= 32, "one registration per fd number: keep it small");

struct sel__ops {
    /* name: the backend table row ("libev:epoll", ...), already copied to
     * sel->name, which open may refine. Sets sel->be. */
    int (*open)(sel_selector *sel, const char *name);
    void (*close)(sel_selector *sel);
    /* reg is filled (gen, events, data) and in the table when add is called. */
    int (*add)(sel_selector *sel, int fd, struct sel__reg *reg);
    /* reg still holds the old mask; the core stores the new one on success. */
    int (*mod)(sel_selector *sel, int fd, struct sel__reg *reg, unsigned events);
    /* Cannot fail: a closed fd is forgotten all the same. */
    void (*del)(sel_selector *sel, int fd, struct sel__reg *reg);
    int (*select)(sel_selector *sel, double timeout, sel_event *out, int max);
    /* In a forked child: new kernel state, same registrations. */
    int (*reinit)(sel_selector *sel);
    /* sel_fd: apply what is pending, return the pollable fd; NULL: none. */
    int (*fd)(sel_selector *sel);
    /* sel_rewatch: watch the file the number names now (same mask); NULL:
     * the backend watches numbers (select, poll). */
    int (*rewatch)(sel_selector *sel, int fd, struct sel__reg *reg);
    /* 1: add's own system call refuses a closed fd with -EBADF, so the
     * core need not check it first (see sel_register). */
    int add_refuses_closed;
};

/* A row of the backend table: `ops` NULL marks a name that is known but not
 * offered by this build (io_uring without liburing, an unsafe libev
 * backend); `probe` NULL means "always usable", else it returns 0 when the
 * kernel and the libraries allow the backend here. */
struct sel__backend {
    const char *name;
    const struct sel__ops *ops;
    int (*probe)(const char *name);
};

struct sel_selector {
    const struct sel__ops *ops;
    struct sel__reg *regs; /* indexed by fd, cap entries */
    int cap;
    int count;
    uint64_t gen;
    unsigned epoch; /* fork epoch at open/reinit */
    int closed;
    void *be; /* backend state */
    char name[32];
};

static inline struct sel__reg *sel__reg_get(const sel_selector *sel, int fd)
{
    if (fd < 0 || fd >= sel->cap || sel->regs[fd].gen == 0)
        return 0;
    return &sel->regs[fd];
}

/* Longest finite wait (seconds, ~31.7 years); the core turns longer
 * timeouts, +inf included, into "forever". */
#define SEL__TIMEOUT_FOREVER 1e9

/* timeout (seconds) -> *ts; returns NULL for "forever" (timeout < 0). */
static inline struct timespec *sel__timeout_ts(double timeout, struct timespec *ts)
{
    if (timeout < 0)
        return NULL;
    ts->tv_sec = (time_t)timeout;
    ts->tv_nsec = (long)((timeout - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec > 999999999L)
        ts->tv_nsec = 999999999L;
    if (ts->tv_nsec < 0)
        ts->tv_nsec = 0;
    return ts;
}

/* Milliseconds for poll-like calls: -1 forever, rounded up (never a busy
 * poll for a sub-millisecond wait); fits an int since timeout <= 1e9 s
 * is clamped to 1e9 ms (~11.6 days: an early empty return is legal). */
static inline int sel__timeout_ms(double timeout)
{
    if (timeout < 0)
        return -1;
    double ms = ceil(timeout * 1e3);
    return ms > 1e9 ? 1000000000 : (int)ms;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double sel__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

extern const struct sel__ops sel__select_ops;
extern const struct sel__ops sel__poll_ops;
extern const struct sel__ops sel__epoll_ops;
extern const struct sel__ops sel__libev_ops;
int sel__libev_probe(const char *name);
#ifdef SEL_HAVE_URING
extern const struct sel__ops sel__uring_ops;
int sel__uring_probe(const char *name);
#endif

#endif

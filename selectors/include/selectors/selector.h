/* Selector: one level-triggered readiness interface, five backends.
 * (Programs include <selectors/selectors.h>, the layer's umbrella header,
 * which includes this one.)
 *
 * A selector watches file descriptors for readability and writability, like
 * Python's `selectors` module: one registration per fd, each with an event
 * mask and a user pointer; sel_select() waits and returns (fd, events, data)
 * triples. The backends are `select`, `poll`, `epoll`, `libev` (optionally
 * `libev:select` and `libev:epoll` to force libev's own backend) and
 * `io_uring` (when built with liburing and allowed by the kernel).
 * `libev:poll` and `libev:io_uring` are known names but not offered
 * (SEL_ENOBACKEND): libev aborts the process when those backends meet an fd
 * closed before its unregister. sel_backends() lists those usable here.
 * Every backend has the same semantics:
 *
 * - Level-triggered: an fd stays reported while it is ready.
 * - Errors and hang-ups are readiness: an fd with a pending error, a closed
 *   or reset peer is reported for every event of its mask that the kernel
 *   flags, at least SEL_READ if registered for reading, so that the next
 *   read() or write() returns the EOF or error.
 * - Regular files (and other fds the kernel cannot poll, e.g. /dev/null)
 *   are always ready, as select(2) and poll(2) report them; epoll refuses
 *   them (EPERM) so the epoll backend keeps them aside and reports them
 *   ready on every call.
 * - A signal interrupting the wait is not an error: sel_select returns 0.
 *   An empty result is always legal (spurious wakeup); callers loop.
 *
 * Ownership: a selector is created by sel_open and owned by the caller until
 * sel_free. Registered fds stay owned by the caller; the selector never
 * closes them. The `data` pointer is opaque, never dereferenced or freed.
 *
 * Threads: a selector belongs to one thread at a time; no call on the same
 * selector may run concurrently with another. Distinct selectors are
 * independent. sel_backends() is thread-safe. To wake a thread blocked in
 * sel_select from another thread, register an eventfd (or pipe) for
 * SEL_READ and write to it: that write is the only cross-thread operation.
 *
 * Fork: a selector opened before fork() cannot be used in the child as is
 * (epoll and io_uring instances are shared with the parent). In the child,
 * every call except sel_reinit, sel_close, sel_free, sel_name and sel_count
 * returns SEL_EFORKED until sel_reinit() gives it fresh kernel state with the
 * same registrations; or close it and open another. The parent is
 * unaffected.
 *
 * Close-before-unregister: unregister an fd before closing it. If it was
 * closed first, it is tolerated on every backend: no call aborts, fails or
 * spins because of it. Until its unregister, sel_select may report the
 * closed fd ready for its mask (select, poll, libev and io_uring do; epoll
 * does only while the file stays open elsewhere, through a dup or a forked
 * child), so that a read or write tells the owner; sel_modify accepts it.
 * sel_unregister succeeds, and must be called before the number is
 * registered again (else -EEXIST); then waits block again and events of the
 * old file are never delivered under the new registration (generation
 * numbers; epoll rebuilds its instance at the first stale event, which may
 * make that one call return 0 early).
 *
 * Fairness: when more fds are ready than a call's `max`, every backend
 * rotates (the next call starts after the last fd reported, or the kernel
 * queues the reported ones behind the others), so with a stable ready set
 * each ready fd is reported within about 2 * ceil(ready / max) calls.
 *
 * Errors are negated errno values or, where errno would say the wrong
 * thing, the SEL_E* codes of sel_errors.h (sel_strerror names both); no
 * function sets errno. A NULL selector is -EINVAL for every call that
 * returns an error code (sel_count returns 0, sel_name "(null)",
 * sel_event_check 0; sel_close and sel_free do nothing).
 */
#ifndef SELECTORS_SELECTOR_H
#define SELECTORS_SELECTOR_H

#include <selectors/export.h>
#include <selectors/sel_errors.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Event mask bits, for registration and in results. */
#define SEL_READ 0x1u
#define SEL_WRITE 0x2u

/* Name of the environment variable choosing the backend of sel_open(NULL). */
#define SEL_ENV_BACKEND "SELECTORS_BACKEND"
/* The backend used when neither a name nor the environment chooses. */
#define SEL_DEFAULT_BACKEND "libev"

typedef struct sel_selector sel_selector;

/* One result of sel_select. `gen` identifies the registration that produced
 * it (a per-selector counter bumped by every sel_register), for
 * sel_event_check. */
typedef struct sel_event {
    int fd;
    unsigned events; /* SEL_READ and/or SEL_WRITE, always within the registered mask */
    void *data;      /* the registration's data pointer */
    uint64_t gen;
} sel_event;

/* Open a selector. Backend: `name` if not NULL and not empty, else the value
 * of $SELECTORS_BACKEND if set and not empty, else SEL_DEFAULT_BACKEND.
 * On success stores a new selector in *out (caller-owned, release with
 * sel_free) and returns 0; on failure *out is left unchanged.
 * Errors: -EINVAL out is NULL; SEL_EBACKEND the name is not a backend name;
 * SEL_ENOBACKEND the backend is not built in (io_uring without liburing) or
 * libev lacks the requested backend; -ENOSYS/-EPERM/-ENOMEM... io_uring or
 * epoll setup refused by the kernel (the errno of the failing call);
 * -ENOMEM out of memory. */
SEL_API int sel_open(sel_selector **out, const char *name);

/* Backend name ("epoll", "io_uring", ...). For libev it names the backend
 * libev runs: "libev:epoll" for a selector opened as "libev" (so a
 * selector opened with the name sel_name returns runs the same backend).
 * Borrowed: valid until sel_free. Works on a closed selector. */
SEL_API const char *sel_name(const sel_selector *sel);

/* Names of the backends this build and this kernel support (io_uring is
 * probed by opening a ring), base names first, then the libev:X variants
 * that libev supports here. Stores up to `max` static strings in `names`
 * (nothing if names is NULL or max <= 0) and returns how many backends
 * exist (may exceed max). Thread-safe. */
SEL_API int sel_backends(const char **names, int max);

/* Register fd for `events` (SEL_READ | SEL_WRITE, not empty) with `data`.
 * Errors, all leaving the selector unchanged: -EBADF fd negative or not an
 * open fd; -EINVAL events empty or with unknown bits; SEL_EFDLIMIT fd >=
 * FD_SETSIZE on the select backend; -EEXIST fd already registered; -ENOMEM;
 * SEL_ECLOSED selector closed; SEL_EFORKED used in a forked child before
 * sel_reinit. */
SEL_API int sel_register(sel_selector *sel, int fd, unsigned events, void *data);

/* Change the mask and data of a registered fd. The registration (and its
 * gen) stays the same. A new mask reaches the kernel; the same mask changes
 * only data, without a system call.
 * Closed and reused: if fd was closed without its unregister and the
 * number now names another file, a new mask follows the number: the
 * registration watches the new file, and events of the old one (alive in
 * a dup) are never reported under it. Every backend does so (select and
 * poll watch numbers anyway; epoll's EPOLL_CTL_MOD fails with ENOENT there
 * and the backend adds the new file; CPython's EpollSelector.modify raises
 * that ENOENT instead, leaving a registration that watches nothing on the
 * backends that keep kernel state). A closed number that is not reused is
 * accepted (0), see Close-before-unregister.
 * Errors as sel_register, -ENOENT fd not registered. */
SEL_API int sel_modify(sel_selector *sel, int fd, unsigned events, void *data);

/* Make fd's registration watch the file the number names now, with the
 * same mask, data and gen: for a caller that cannot rule out that fd was
 * closed and the number reused since it registered (as sel_modify with a
 * new mask does, see above), and cheaper than unregister + register.
 * Cost: epoll one epoll_ctl (EPOLL_CTL_MOD; ENOENT: another file, added);
 * io_uring none (the poll request is replaced with the next select's
 * submission); libev an fcntl and libev's own epoll_ctl at the next
 * select; select and poll nothing (they watch numbers).
 * Returns 0; -EBADF fd negative, or closed now on epoll (the backend that
 * checks at once; the registration stays, as for any fd closed before its
 * unregister; the others report a closed number at the next sel_select,
 * ready for its mask); -ENOENT not registered; -ENOMEM (epoll: a file it
 * cannot poll, no room to list it); SEL_ECLOSED; SEL_EFORKED. Selector's
 * thread. */
SEL_API int sel_rewatch(sel_selector *sel, int fd);

/* Forget fd. Works even if fd was already closed (see the header comment).
 * After it returns, no result of a later sel_select names this
 * registration, and sel_event_check() zeroes results of earlier calls.
 * Errors: -EBADF fd negative; -ENOENT not registered; SEL_ECLOSED;
 * SEL_EFORKED. */
SEL_API int sel_unregister(sel_selector *sel, int fd);

/* Look up a registration: stores its mask and data (either pointer may be
 * NULL) and returns 0, or -ENOENT, -EBADF (negative fd), SEL_ECLOSED,
 * SEL_EFORKED. */
SEL_API int sel_get(const sel_selector *sel, int fd, unsigned *events, void **data);

/* Number of registered fds (0 on a closed selector). */
SEL_API int sel_count(const sel_selector *sel);

/* Wait until a registered fd is ready or `timeout` seconds have passed:
 * timeout < 0 (-infinity included), +infinity or above 1e9 (~31.7 years)
 * waits forever (libev wakes up at least once a minute and returns 0); 0
 * polls without blocking (-0.0 too); > 0 waits at most that long, with
 * sub-millisecond precision honoured (the wait is never rounded down to a
 * busy poll); NaN is -EINVAL. Writes at most `max` results to `out`
 * (caller-owned, not retained) and returns their count; each fd appears at
 * most once per call. max == 0 returns 0 at once, without waiting (out may
 * be NULL). Ready fds beyond `max` are reported by later calls
 * (level-triggered), fairly (see Fairness above).
 * Returns 0 when the timeout expires or a signal interrupts the wait.
 * Does not allocate memory.
 * Errors: -EINVAL sel NULL, out NULL with max > 0, max < 0, or timeout NaN;
 * SEL_ECLOSED; SEL_EFORKED forked child before sel_reinit; other negated
 * errno of the underlying wait (should not happen with correct use).
 *
 * Callback-safe iteration: while processing the results of one call, a
 * callback may unregister, modify or re-register any fd (and free the data
 * of an unregistered one). Before acting on result i, call
 * sel_event_check(sel, &out[i]) and skip it if it returns 0. */
SEL_API int sel_select(sel_selector *sel, double timeout, sel_event *out, int max);

/* Revalidate a result of sel_select against the current registrations.
 * If ev->fd is still registered by the same registration (same gen), masks
 * ev->events with the current mask, refreshes ev->data and returns the new
 * ev->events (0 if modify removed every reported event); otherwise (fd
 * unregistered, or unregistered and registered again) sets ev->events to 0,
 * ev->data to NULL and returns 0. O(1), no system call. */
SEL_API unsigned sel_event_check(const sel_selector *sel, sel_event *ev);

/* The backend's own pollable fd, for a program that waits in another event
 * system (its own epoll set, GLib, libuv) and calls sel_select(sel, 0, ...)
 * when the fd is readable. epoll: its epoll instance; io_uring: its ring
 * (readable while completions wait in it); select, poll and libev have
 * none: SEL_ENOFD (libev replaces its epoll instance, closing the old one,
 * whenever it meets a stale registration, and applies changes only inside
 * its own wait, so its fd could not be watched from outside).
 *
 * The fd polls readable (POLLIN) whenever a sel_select would report a
 * registered fd, files the kernel cannot poll included (epoll then keeps
 * an internal eventfd readable in its set), with two limits: a change made
 * after this call may not be seen until the next sel_fd or sel_select
 * (io_uring arms its poll requests lazily), so call sel_fd again before
 * each wait on the fd, which applies pending changes (io_uring: one
 * io_uring_enter when some are pending; epoll: no system call); and an fd
 * closed before its unregister may not make it readable (see
 * Close-before-unregister). Readiness may be spurious (a cancelled poll's
 * completion): sel_select then returns 0. With io_uring a poll armed by
 * sel_fd can complete before the caller consumes what made it ready: the
 * next sel_select may then report that fd once more (its read says
 * EAGAIN); and the kernel posts a completion as task work of the thread
 * that armed it, which interrupts that thread's poll or epoll_wait on the
 * fd with EINTR: retry it, as event loops do.
 *
 * Ownership: the selector's. Do not close it or read from it; it stays the
 * same descriptor until sel_reinit (io_uring makes a new ring) or
 * sel_close. Another thread may poll it, the calls on the selector stay
 * with the selector's thread.
 * Returns the fd (>= 0), or SEL_ENOFD, SEL_ECLOSED, SEL_EFORKED, -EINVAL
 * (NULL), or the negated errno of io_uring_enter or eventfd (pending
 * changes not applied; the next call retries). */
SEL_API int sel_fd(sel_selector *sel);

/* In a child process after fork(): give the selector new kernel state
 * (epoll instance, io_uring ring, libev loop fork) holding the same
 * registrations, leaving the parent's untouched. Also allowed, and a no-op
 * for select and poll, in the process that opened it.
 * Errors: SEL_ECLOSED; -ENOMEM, or the errno of epoll/io_uring setup
 * (the selector is then closed). */
SEL_API int sel_reinit(sel_selector *sel);

/* Release the kernel resources. The selector stays allocated, all calls on
 * it then fail with SEL_ECLOSED (sel_name, sel_count and sel_free still
 * work).
 * Does not close registered fds. Idempotent: returns 0. Allowed in a
 * forked child. */
SEL_API int sel_close(sel_selector *sel);

/* sel_close if needed, then free the selector. NULL is a no-op. */
SEL_API void sel_free(sel_selector *sel);

#ifdef __cplusplus
}
#endif
#endif

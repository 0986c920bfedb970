/* The I/O loop's private state (the impl of its al_loop), shared by the
 * files of the asyncio layer. */
#ifndef ASYNCIO_IO_INTERNAL_H
#define ASYNCIO_IO_INTERNAL_H

#include <asyncio/error.h>
#include <asyncio/fd.h>
#include <asyncio/loop.h>

#include <asynclib/loop_ops.h>
#include <asynclib/task.h>
#include <selectors/selector.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { AIO_READ = 0, AIO_WRITE = 1 };

#define AIO_MAX_EVENTS 256

/* The reader / writer state of one fd number, the selector's data pointer.
 * Records live in chunks of AIO_FD_CHUNK by number (made when a number is
 * first used, freed with the loop): no allocation per record, and their
 * addresses never move. A direction holds the user's callback (fn, arg),
 * run through a handle from the loop's free list each time the fd is
 * ready (no allocation per event once warm, none held while idle), or,
 * with AIO_FD_WAITER(dir) in flags, the al_future of a sock_* call parked
 * on it (in arg, completed directly). */
typedef struct aio__fd {
    al_callback_fn fn[2]; /* reader / writer, or NULL */
    void *arg[2];         /* its argument, or a waiter's future */
    uint8_t mask;         /* registered with the selector; 0: not registered */
    uint8_t want;         /* the directions taken: mask after the next flush */
    uint16_t flags;       /* AIO_FD_* */
} aio__fd;

#define AIO_FD_CHUNK 64
#define AIO_FD_WAITER(dir) (1u << (dir))   /* arg[dir] is a waiter's future */
#define AIO_FD_PENDING 4u                  /* in io->pending: a removal waits for the flush */
#define AIO_FD_SUSPECT 8u                  /* in io->suspects: see aio__verify */
#define AIO_FD_UNPOLLABLE 16u              /* the embedding mirror could not watch it (EPERM) */
#define AIO_FD_SKIP(dir) (32u << (dir))    /* its last try found nothing: see aio__skip_try */
#define AIO_FD_QUEUED(dir) (128u << (dir)) /* a run of its callback is queued */
#define AIO_FD_STALE(dir) (512u << (dir))  /* ... and must not happen (removed or replaced) */

/* A registration whose deferred removal was taken back (see aio__verify). */
typedef struct aio__suspect {
    int fd;
    uint32_t since; /* io->iter when it became one */
} aio__suspect;

typedef struct aio__signals aio__signals;
typedef struct aio__net aio__net;
struct aio__dns;

typedef struct aio__io {
    al_loop *loop;
    sel_selector *sel;
    int wake_fd; /* eventfd, registered for reading */
    atomic_bool wake_pending;
    unsigned fork_gen; /* aio__fork_gen when made: differs in a forked child */
    aio__fd **chunks;  /* records of fds [i * AIO_FD_CHUNK, (i + 1) * AIO_FD_CHUNK), or NULL */
    size_t nchunks;
    bool by_number;       /* select, poll: the kernel keeps no registration to go stale */
    uint32_t iter;        /* waits so far */
    bool quiet;           /* the last poll before a blocking wait found nothing */
    uint8_t quiet_waits;  /* blocking waits with suspects since quiet was set */
    int embed_fd;         /* aio_loop_fd's epoll set, or -1 */
    bool embed_sel;       /* it holds the selector's own fd (sel_fd): no mirror */
    int embed_unpollable; /* fds the mirror could not watch (regular files) */
    aio__signals *signals;
    struct aio__dns *dns; /* lookups in flight (dns.c) */
    int *pending;         /* fds whose removals wait for the flush before the next select */
    size_t npending, cap_pending;
    aio__fd *untried; /* a waiter parked without a try (aio__skip_try), until the next select */
    int untried_dir;
    aio__suspect *suspects; /* registrations to check again (aio__verify) */
    size_t nsuspects, cap_suspects;
    aio__net *net;             /* transports and servers (transport.c), or NULL */
    struct aio_process *procs; /* children not yet reaped (subprocess.c) */
    sel_event events[AIO_MAX_EVENTS];
} aio__io;

/* The ops table of I/O loops (identity of the subclass). */
extern const al_loop_ops aio__ops;

/* Incremented in every child process after fork(). */
extern atomic_uint aio__fork_gen;

/* The I/O state of loop for an aio_* call, after the checks every such
 * call makes: -EINVAL (NULL), AL_ENOTIOLOOP, AL_ELOOPCLOSED, AIO_EFORKED,
 * AL_EWRONGTHREAD (debug mode, while another thread runs it). */
int aio__io_get(al_loop *loop, aio__io **out);

/* aio__io_get for a removal: on a closed loop there is nothing to remove
 * (asyncio returns False), which is 0 with *out NULL. */
int aio__io_get_removal(al_loop *loop, aio__io **out);

/* Sets or clears (fn NULL) the callback of one direction of fd, replacing
 * an existing one, and applies the new mask to the selector (and the
 * embedding mirror). Returns 1 if a callback was replaced or removed, 0,
 * or a negative code (then nothing changed). */
int aio__set_interest(aio__io *io, int fd, int dir, al_callback_fn fn, void *arg);

/* How a sock_* call comes to wait (aio__wait_fd). */
enum {
    AIO_WAIT_AGAIN,   /* an attempt after a wait found nothing */
    AIO_WAIT_TRIED,   /* the call's first attempt found nothing */
    AIO_WAIT_UNTRIED, /* no attempt was made: aio__skip_try said so */
};

/* Parks the calling task until fd is ready in direction dir (a sock_*
 * call after EAGAIN, or instead of its first attempt). Leaves no
 * registration behind whatever happens (ready, cancelled, loop closing).
 * 0 when ready, AIO_EFDBUSY when something already waits in that
 * direction, AL_ECANCELLED, or the errors of al_await and
 * aio__set_interest. */
int aio__wait_fd(aio__io *io, int fd, int dir, int how);

/* Whether a sock_* call may wait for readiness without its first attempt
 * (asyncio tries first: a call with data already there returns without
 * waiting). It may when the attempt would most likely find nothing (the
 * last one on this fd did) and nothing can run before the loop's next
 * select (al_loop_waits_next): the select then tells at no extra cost, and
 * if the fd is ready the task resumes first, before any other callback, as
 * if its attempt had succeeded. A task that the first select reports at
 * once tries first again next time (the data may have been there). */
bool aio__skip_try(aio__io *io, int fd, int dir);

/* The first attempt of a sock_* call found something: the next tries
 * first. */
void aio__try_found(aio__io *io, int fd, int dir);

/* Applies the removals that were deferred (to the next select) to the
 * selector. A direction removed and added again before the next select (a
 * sock_* call after the previous one's wait) costs no system call. */
void aio__flush(aio__io *io);

/* A removal taken back leaves the registration as it was, but the number
 * may name another file by then (closed and reused in between): epoll,
 * libev and io_uring would then watch nothing, or the old file. Such
 * registrations are suspects; aio__verify re-points each one at the file
 * the number names now (sel_rewatch: one epoll_ctl on epoll, none on
 * io_uring) when it is at least `age` waits old (0: all of them), and
 * returns how many fds it found closed (their callbacks are then queued,
 * as for any closed fd, and need no wait).
 * The I/O loop calls it with age 0 only before a wait that would block,
 * which a busy loop never reaches (a poll first finds events, which serve
 * as the wait's): a busy fd is checked once every AIO_SUSPECT_AGE waits
 * instead of once per sock_* wait. A quiet loop (its last such poll found
 * nothing) skips the poll and checks at once, polling first again every
 * AIO_QUIET_PROBE waits to notice a busy spell. */
#define AIO_SUSPECT_AGE 256
#define AIO_QUIET_PROBE 16
int aio__verify(aio__io *io, uint32_t age);

/* Queues what fd's readiness in the directions `events` (SEL_*) runs: the
 * callback's handle, or the waiter's completion. Called by the wait. */
void aio__dispatch(aio__io *io, aio__fd *rec, unsigned events);

/* Queues the readiness of the n results of a select (the wakeup eventfd
 * excepted): the untried waiter's first (see aio__skip_try). */
void aio__dispatch_events(aio__io *io, const sel_event *ev, int n);

/* Releases every fd record (close). */
void aio__fds_free(aio__io *io);

/* Transports and servers still open (transport.c): ended by the loop's
 * close, before the fd records go. */
void aio__net_close(aio__io *io);
/* Lookups in flight (dns.c): the loop lets go of them at close. */
void aio__dns_close(aio__io *io);

/* Signals of this loop (signals.c): released by the loop's close. */
void aio__signals_close(aio__io *io);
/* Kills (SIGKILL) and reaps every child of the loop still running. */
void aio__subprocess_close(aio__io *io);

#endif

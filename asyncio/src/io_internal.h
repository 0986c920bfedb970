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

/* One per fd number ever registered, reused for the next file with that
 * number, freed with the loop: the selector's data pointer. The handles
 * live as long as the interest in a direction, and are queued as they are
 * each time the fd is ready (no allocation per event). */
typedef struct aio__fd {
    int fd;
    unsigned mask;   /* registered with the selector; 0: not registered */
    unsigned want;   /* the directions with a handle: mask after the next flush */
    bool pending;    /* in io->pending: a removal waits for the flush */
    uint64_t cookie; /* the file registered: a socket's SO_COOKIE, or 0 and */
    dev_t dev;       /* its device and inode (fstat), to tell a reused number */
    ino_t ino;
    al_handle *h[2];      /* reader / writer: a user callback or a waiter's wake */
    al_future *waiter[2]; /* a sock_* call parked on this direction, or NULL */
    bool unpollable;      /* the embedding mirror could not watch it (EPERM) */
} aio__fd;

typedef struct aio__signals aio__signals;
typedef struct aio__net aio__net;
struct aio__dns;

typedef struct aio__io {
    al_loop *loop;
    sel_selector *sel;
    int wake_fd; /* eventfd, registered for reading */
    atomic_bool wake_pending;
    unsigned fork_gen; /* aio__fork_gen when made: differs in a forked child */
    aio__fd **fds;     /* by fd number */
    size_t nfds;
    int embed_fd;         /* aio_loop_fd's epoll mirror, or -1 */
    int embed_unpollable; /* fds the mirror could not watch (regular files) */
    aio__signals *signals;
    struct aio__dns *dns; /* lookups in flight (dns.c) */
    int *pending;         /* fds whose removals wait for the flush before the next select */
    size_t npending, cap_pending;
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

/* Parks the calling task until fd is ready in direction dir (a sock_*
 * call after EAGAIN). Leaves no registration behind whatever happens
 * (ready, cancelled, loop closing). 0 when ready, AIO_EFDBUSY when
 * something already waits in that direction, AL_ECANCELLED, or the errors
 * of al_await and aio__set_interest. */
int aio__wait_fd(aio__io *io, int fd, int dir);

/* Applies the removals that were deferred (to the next select) to the
 * selector. A direction removed and added again before the next select (a
 * sock_* call after the previous one's wait) costs no system call. */
void aio__flush(aio__io *io);

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

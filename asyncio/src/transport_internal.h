/* The transport base (transport.c) and what its kinds share: the
 * operations table the public calls go through, the state every kind has
 * (protocol, flow control, lifetime), and the loop's list of open
 * transports and servers (ended at the loop's close). */
#ifndef ASYNCIO_TRANSPORT_INTERNAL_H
#define ASYNCIO_TRANSPORT_INTERNAL_H

#include "io_internal.h"

#include <asyncio/protocol.h>
#include <asyncio/server.h>
#include <asyncio/transport.h>

/* One node of the loop's list of things to end at close. */
typedef struct aio__res aio__res;
struct aio__res {
    aio__res *prev, *next;
    void (*loop_closing)(aio__res *r); /* end it now: the loop is closing */
};

/* The write state of a transport: allocated (ops->wq_size bytes, zeroed
 * past this header) when a write cannot complete at once or the
 * watermarks are set to other than the defaults; freed when the kind's
 * buffer drains and the watermarks are the defaults. An idle transport
 * holds none. A kind extends it (this header first) with its buffer. */
typedef struct aio__wq {
    size_t size;      /* bytes buffered (kept by the kind) */
    size_t high, low; /* watermarks */
} aio__wq;

/* The operations a kind of transport supplies. NULL: not supported.
 *
 * Nothing here assumes readiness. A completion-based kind (io_uring,
 * as asyncio's proactor_events beside selector_events) plugs in as
 * follows: writev copies (or pins) the data, submits it and counts it
 * in wq->size until its completion arrives (the proactor's
 * _pending_write), then calls aio__transport_flow; set_reading(true)
 * posts a receive into a buffer of its own (or the buffered protocol's
 * get_buffer, held until the completion's buffer_updated), false stops
 * posting new ones; close waits for the writes in flight, abort cancels
 * everything in flight. aio__read_buffer (the loop's shared buffer) is
 * for readiness kinds only: a receive in flight needs its own buffer. A
 * completion kind calls aio__transport_lost only once none of its
 * operations is in flight (the base closes the fd then), and keeps its
 * buffers in the memory that free releases (after the last reference).
 * The base never touches the fd except to close it after
 * connection_lost and for the extra info calls. */
typedef struct aio__transport_ops {
    size_t wq_size; /* the kind's write state: sizeof its extension of aio__wq */
    int (*writev)(aio_transport *t, const struct iovec *iov, int n, size_t total);
    int (*write_eof)(aio_transport *t);
    bool (*can_write_eof)(const aio_transport *t);
    int (*set_reading)(aio_transport *t, bool on); /* state already checked */
    void (*close)(aio_transport *t);
    void (*abort)(aio_transport *t, int error);
    int (*sendto)(aio_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                  socklen_t addrlen);
    int (*sendfile)(aio_transport *t, int file, off_t offset, size_t count, size_t *sent);
    void (*free)(aio_transport *t); /* the kind's own memory, at the last unref */
} aio__transport_ops;

/* The base of every transport. Kept small: an idle connection is this
 * plus the kind's few fields (88 bytes for a socket transport); what only
 * a writing transport needs is in wq, allocated on demand. */
struct aio_transport {
    const aio__transport_ops *ops;
    aio__io *io; /* io->loop is the loop */
    union {
        const aio_protocol *proto;           /* stream kinds */
        const aio_datagram_protocol *dproto; /* datagram kinds (dgram set) */
    };
    void *user;
    aio_server *server;         /* the server that accepted it, or NULL */
    aio_transport *prev, *next; /* the loop's list of open transports (NULL-ended) */
    al_handle *pending;         /* the start call until started, then connection_lost's */
    union {
        al_future *made; /* until started: settled after connection_made */
        aio__wq *wq;     /* from then on: the write state, or NULL */
    };
    int fd;
    unsigned refs;
    int lost_error;
    unsigned closing : 1;  /* close / abort / error */
    unsigned lost : 1;     /* connection_lost scheduled or done */
    unsigned reading : 1;  /* wanted by the user (pause/resume) */
    unsigned started : 1;  /* connection_made has run */
    unsigned paused_w : 1; /* the protocol was told pause_writing */
    unsigned dgram : 1;    /* dproto, not proto */
    unsigned listed : 1;   /* on the loop's list */
    unsigned writer : 1;   /* watched for writability (aio__transport_set_writer) */
    unsigned kflags : 8;   /* the kind's own flags */
};

/* Fills the base of a new transport (one reference: the transport's own,
 * dropped after connection_lost) and puts it on the loop's list (or the
 * server's count when server is set). */
int aio__transport_init(aio_transport *t, const aio__transport_ops *ops, al_loop *loop, int fd,
                        const aio_protocol *proto, const aio_datagram_protocol *dproto, void *user,
                        aio_server *server);
/* Undoes aio__transport_init for a transport never started (the fd is
 * the caller's). */
void aio__transport_discard(aio_transport *t);

/* Schedules connection_made (then reading, unless paused in it): the
 * start of every transport. */
int aio__transport_start(aio_transport *t);

static inline al_loop *aio__transport_loop(const aio_transport *t)
{
    return t->io->loop;
}

/* The write state, made on first use (NULL on -ENOMEM). */
aio__wq *aio__wq_get(aio_transport *t);
/* The kind's buffer drained (wq->size 0): the write state is freed, or,
 * with watermarks of the user's, shrunk to its first keep bytes (the
 * kind resets its fields past the header). */
void aio__wq_drained(aio_transport *t, size_t keep);
/* Bytes buffered. */
static inline size_t aio__wsize(const aio_transport *t)
{
    return t->wq ? t->wq->size : 0;
}

/* The byte buffer of the stream kinds (wbuf.c): their write state. The
 * bytes not yet sent are buf[start, start + q.size). */
typedef struct aio__wbuf {
    aio__wq q;
    al_future *drained; /* the kind's: a wait for the drain (sendfile) */
    size_t start, cap;
    char buf[];
} aio__wbuf;
/* The buffer, or NULL when nothing was buffered. */
aio__wbuf *aio__wbuf_of(aio_transport *t);
/* Appends the bytes of iov after the first skip (of total), making or
 * growing the buffer. 0, -ENOMEM (nothing appended). */
int aio__wbuf_append(aio_transport *t, const struct iovec *iov, int n, size_t skip, size_t total);
/* n bytes from the front were sent. */
void aio__wbuf_consumed(aio_transport *t, size_t n);
/* Empty (all sent, or dropped): the memory goes. drained must be NULL. */
void aio__wbuf_drop(aio_transport *t);

/* How a stream kind receives on its fd without blocking: as read(2), the
 * bytes read (0: end of file), or -1 with errno. */
typedef ssize_t (*aio__recv_fn)(int fd, void *buf, size_t len);
/* On readability of a stream kind (stream_read.c): nothing while closing
 * or paused; else one receive with recv_fn into the buffered protocol's
 * get_buffer memory or the loop's shared buffer, then buffer_updated or
 * data_received, or at end of file the kind's on_eof(t) (the transport
 * referenced meanwhile). No buffer (get_buffer gave none: -ENOBUFS; the
 * shared one could not be made: -ENOMEM) or a failed receive aborts the
 * transport (t->ops->abort). */
void aio__stream_read(aio_transport *t, aio__recv_fn recv_fn, void (*on_eof)(aio_transport *t));

/* How a stream kind sends bytes on its fd without blocking: as
 * writev(2) (n <= IOV_MAX), the bytes sent, or -1 with errno. */
typedef ssize_t (*aio__send_fn)(int fd, const struct iovec *iov, int n);
/* The write of a stream kind, after the kind's own checks: dropped when
 * total is 0 or the transport is closing; tried at once with send_fn when
 * nothing is buffered; what is left is buffered, the fd watched with
 * write_ready (which calls aio__wbuf_flush) and flow control applied. A
 * failed send aborts the transport (t->ops->abort) and returns 0;
 * -ENOMEM when the rest could not be buffered (the transport is then
 * aborted too). */
int aio__wbuf_write(aio_transport *t, const struct iovec *iov, int n, size_t total,
                    aio__send_fn send_fn, al_callback_fn write_ready);
/* On writability: sends what is buffered with send_fn. true when nothing
 * is left (the writability watch then stopped; the kind finishes a close
 * or write_eof), false when bytes remain, the send would block, or the
 * transport was aborted or lost meanwhile. */
bool aio__wbuf_flush(aio_transport *t, aio__send_fn send_fn);

/* Watches the transport's fd for writability with fn (the kind's
 * callback, given t), or stops watching (fn NULL); nothing when already
 * so. Readiness kinds only. 0, or the error when the watch cannot be set
 * (-ENOMEM...): the transport stays unwatched and its buffered data would
 * never drain, so the kind aborts it or refuses what it was given.
 * Stopping cannot fail. */
int aio__transport_set_writer(aio_transport *t, al_callback_fn fn);

/* Flow control after wq->size changed: pause_writing above high, resume
 * at or below low. */
void aio__transport_flow(aio_transport *t);

/* Schedules connection_lost(error) once (synchronously when the loop can
 * no longer schedule), after which the fd is closed and the transport's
 * own reference dropped. */
void aio__transport_lost(aio_transport *t, int error);

/* The loop's shared read buffer (AIO_READ_BUFFER bytes, made on first use,
 * freed with the loop), or NULL on -ENOMEM. */
#define AIO_READ_BUFFER 65536
void *aio__read_buffer(aio__io *io, size_t *size);

/* The loop's list of servers to end at close. */
int aio__res_add(aio__io *io, aio__res *r);
void aio__res_remove(aio__io *io, aio__res *r);

/* Reports an error to the loop's exception handler. */
void aio__report(al_loop *loop, const char *message, int error);

/* A server's count of its connections (server.c): attach when made,
 * detach when gone. */
void aio__server_attach(aio_server *s);
void aio__server_detach(aio_server *s);
/* Calls fn on every open transport of server s. */
void aio__each_transport(aio__io *io, aio_server *s, void (*fn)(aio_transport *));
/* The server frees its factory argument with fn when its memory goes. */
void aio__server_own_arg(aio_server *s, void (*fn)(void *));

/* The selector socket transport (stream_transport.c) over connected
 * socket fd (made non-blocking; owned by the transport from here on, also
 * when this fails: then it is closed). On success the transport is
 * started: connection_made runs in a later callback. */
int aio__socket_transport_new(al_loop *loop, int fd, const aio_protocol *proto, void *user,
                              aio_server *server, aio_transport **out);

/* Waits in the calling task until the start of transport t (just
 * started) has run, connection_made included (connect.c); on error or
 * cancellation the transport is aborted: connection_lost follows if
 * connection_made had run, else the protocol is never called. 0, or the
 * error (the transport is then not the caller's). On 0, *out (when out is
 * not NULL) is t, or NULL when connection_lost has already run. */
int aio__transport_await_made(aio_transport *t, aio_transport **out);

#endif

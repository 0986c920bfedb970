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

/* The operations a kind of transport supplies. NULL: not supported. */
typedef struct aio__transport_ops {
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

struct aio_transport {
    const aio__transport_ops *ops;
    al_loop *loop;
    aio__io *io;
    const aio_protocol *proto; /* stream kinds */
    const aio_datagram_protocol *dproto;
    void *user;
    aio_server *server; /* the server that accepted it, or NULL */
    aio_transport *srv_prev, *srv_next;
    aio__res res;
    al_handle *start_h, *lost_h; /* pending start / connection_lost call */
    al_callback_fn start_done;
    void *start_arg;
    int lost_error;
    int fd;
    unsigned refs;
    size_t high, low;
    size_t wsize;  /* bytes buffered (kept by the kind) */
    bool closing;  /* close / abort / error */
    bool lost;     /* connection_lost scheduled or done */
    bool reading;  /* wanted by the user (pause/resume) */
    bool started;  /* connection_made has run */
    bool paused_w; /* the protocol was told pause_writing */
};

/* Fills the base of a new transport (one reference: the transport's own,
 * dropped after connection_lost) and puts it on the loop's list. */
int aio__transport_init(aio_transport *t, const aio__transport_ops *ops, al_loop *loop, int fd,
                        const aio_protocol *proto, const aio_datagram_protocol *dproto, void *user);

/* Schedules connection_made (then reading, unless paused in it, then
 * done(arg) when set): the start of every transport. */
int aio__transport_start(aio_transport *t, al_callback_fn done, void *arg);

/* Flow control after wsize changed: pause_writing above high, resume at
 * or below low. */
void aio__transport_flow(aio_transport *t);

/* Schedules connection_lost(error) once (synchronously when the loop can
 * no longer schedule), after which the fd is closed and the transport's
 * own reference dropped. */
void aio__transport_lost(aio_transport *t, int error);

/* The loop's shared read buffer (AIO_READ_BUFFER bytes, made on first use,
 * freed with the loop), or NULL on -ENOMEM. */
#define AIO_READ_BUFFER 65536
void *aio__read_buffer(aio__io *io, size_t *size);

/* The loop's list of things to end at close. */
int aio__res_add(aio__io *io, aio__res *r);
void aio__res_remove(aio__io *io, aio__res *r);

/* Reports an error to the loop's exception handler. */
void aio__report(al_loop *loop, const char *message, int error);

/* A server's hooks for its connections (server.c). */
void aio__server_attach(aio_server *s, aio_transport *t);
void aio__server_detach(aio_server *s, aio_transport *t);
/* The server frees its factory argument with fn when its memory goes. */
void aio__server_own_arg(aio_server *s, void (*fn)(void *));

/* The selector socket transport (stream_transport.c) over connected
 * socket fd (made non-blocking; owned by the transport from here on, also
 * when this fails: then it is closed). On success the transport is
 * started: connection_made runs in a later callback, then done(arg). */
int aio__socket_transport_new(al_loop *loop, int fd, const aio_protocol *proto, void *user,
                              aio_server *server, al_callback_fn done, void *arg,
                              aio_transport **out);

/* Starts transport t (made by the caller) and waits in the calling task
 * until connection_made has run (connect.c); on error or cancellation
 * the transport is aborted (connection_made still runs first). */
int aio__transport_await_made(aio_transport *t, al_future *made);
/* The callback that settles the future aio__transport_await_made waits on. */
int aio__settle_cb(al_loop *loop, void *arg);

#endif

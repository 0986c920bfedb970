/* Protocols: what a transport calls (asyncio's Protocol, BufferedProtocol,
 * DatagramProtocol).
 *
 * A protocol is a table of callbacks (usually static const) plus the
 * user's pointer, given back to every callback. Callbacks run on the
 * loop's thread as ordinary loop callbacks; they must not block. Any of
 * them may call the transport (write, close, abort...), including
 * closing it from inside data_received.
 *
 * Order, for a stream transport (asyncio's rule, checked by the tests):
 *     connection_made, data_received* (or get_buffer/buffer_updated*),
 *     eof_received at most once, connection_lost exactly once.
 * pause_writing / resume_writing alternate (pause first) in between.
 * After connection_lost returns, the transport pointer is dead unless the
 * user holds a reference (aio_transport_ref); the protocol's user state
 * is the user's to free there.
 *
 * A NULL callback does nothing (eof_received NULL: close the transport).
 */
#ifndef ASYNCIO_PROTOCOL_H
#define ASYNCIO_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <asyncio/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aio_transport aio_transport;

typedef struct aio_protocol {
    /* The connection is up; t is valid until connection_lost returns. */
    void (*connection_made)(aio_transport *t, void *user);
    /* len > 0 bytes arrived. data is borrowed for the call only (the
     * transport reuses its read buffer). Not used when get_buffer is set. */
    void (*data_received)(aio_transport *t, const void *data, size_t len, void *user);
    /* The peer shut down its side. Return true to keep the transport open
     * (half-closed: writing still works; close it later yourself), false to
     * let the transport close itself. */
    bool (*eof_received)(aio_transport *t, void *user);
    /* Called exactly once: error 0 after a clean close or EOF, else the
     * error that ended the connection (-ECONNRESET, -EPIPE...;
     * AL_ELOOPCLOSED when the loop closed under it). For a protocol made
     * by a server's factory whose transport then could not be made
     * (-ENOMEM...), it is called with t NULL and that error, without
     * connection_made: the state the factory made is released there. */
    void (*connection_lost)(aio_transport *t, int error, void *user);
    /* The write buffer went above the high watermark / back to the low one. */
    void (*pause_writing)(aio_transport *t, void *user);
    void (*resume_writing)(aio_transport *t, void *user);
    /* Buffered protocol (BufferedProtocol): when set, the transport reads
     * straight into the protocol's memory. get_buffer returns a buffer of
     * *size bytes (in: a size hint; out: the buffer's size, > 0), valid
     * until buffer_updated; NULL or a size of 0 is a fatal error for the
     * connection (-ENOBUFS). buffer_updated says nbytes > 0 were written. */
    void *(*get_buffer)(aio_transport *t, size_t *size, void *user);
    void (*buffer_updated)(aio_transport *t, size_t nbytes, void *user);
} aio_protocol;

typedef struct aio_datagram_protocol {
    void (*connection_made)(aio_transport *t, void *user);
    /* One datagram (len may be 0) from addr (addrlen bytes); data and addr
     * borrowed for the call. */
    void (*datagram_received)(aio_transport *t, const void *data, size_t len,
                              const struct sockaddr *addr, socklen_t addrlen, void *user);
    /* A send or receive failed (-ECONNREFUSED after an ICMP error...); the
     * endpoint stays open. */
    void (*error_received)(aio_transport *t, int error, void *user);
    void (*connection_lost)(aio_transport *t, int error, void *user);
    void (*pause_writing)(aio_transport *t, void *user);
    void (*resume_writing)(aio_transport *t, void *user);
} aio_datagram_protocol;

/* A protocol per connection (a server's protocol_factory): sets *proto and
 * *user for a new connection, or returns a negative code (the connection
 * is then closed and the error reported to the loop's exception handler).
 * When it succeeded but the transport cannot be made, proto's
 * connection_lost(NULL, error, user) releases *user (see there).
 * arg is the pointer given with the factory. */
typedef int (*aio_protocol_factory)(void *arg, const aio_protocol **proto, void **user);

#ifdef __cplusplus
}
#endif
#endif

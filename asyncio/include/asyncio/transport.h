/* Transports: a connection driven by the loop, delivering to a protocol
 * (asyncio's Transport / DatagramTransport).
 *
 * Every call goes through the transport's operations table, so the same
 * calls work for the readiness-based socket transports of this layer and
 * for completion-based ones (io_uring; not built yet) behind the same
 * interface: nothing here promises readiness. A completion transport
 * counts submitted, not yet completed writes in
 * aio_transport_get_write_buffer_size and flow-controls on them, and
 * reads into buffers of its own (or the buffered protocol's get_buffer,
 * held until buffer_updated); how a kind plugs in is described at the
 * operations table in asyncio/src/transport_internal.h.
 *
 * TLS (asyncio's ssl= and start_tls) is not part of this layer.
 *
 * Writing: aio_transport_write tries the system call at once when nothing
 * is buffered; what the socket does not take is copied into the write
 * buffer and sent when the socket is writable. When the buffer grows
 * above the high watermark the protocol's pause_writing runs; when it
 * drains to the low watermark, resume_writing. Writes after close, abort
 * or a connection error are dropped (return 0), as asyncio drops them.
 *
 * Lifetime: the transport holds itself until connection_lost has run;
 * then it is freed unless the user took references (aio_transport_ref).
 * Calls on a transport whose connection was lost are harmless (writes
 * dropped, reading calls refused with AL_EINVALIDSTATE).
 *
 * Closing the loop ends every transport still open: its fd is closed and
 * connection_lost runs with AL_ELOOPCLOSED.
 *
 * Threads: the loop's thread only.
 */
#ifndef ASYNCIO_TRANSPORT_H
#define ASYNCIO_TRANSPORT_H

#include <asynclib/loop.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <asyncio/export.h>
#include <asyncio/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default write buffer limits: high 64 KiB, low high/4. */
#define AIO_WRITE_HIGH_DEFAULT ((size_t)65536)

/* Queues len bytes (copied when not sent at once). 0 (also when dropped
 * after close or for len 0), -EINVAL (NULL t, or NULL data with a length),
 * AL_EINVALIDSTATE after write_eof (asyncio's RuntimeError), -EBUSY
 * while a sendfile runs, -ENOMEM (the connection is then aborted).
 * A send error is not returned: it ends the connection (connection_lost
 * gets it). Not for datagram transports (-ENOTSUP). */
AIO_API int aio_transport_write(aio_transport *t, const void *data, size_t len);

/* Writes iovcnt buffers as one stream, in one writev when nothing is
 * buffered. Same results as aio_transport_write. */
AIO_API int aio_transport_writelines(aio_transport *t, const struct iovec *iov, int iovcnt);

/* Shuts down the sending side once the buffer has drained (shutdown
 * SHUT_WR); a second call, or a call after close, does nothing. 0,
 * -ENOTSUP when the transport cannot (can_write_eof false). */
AIO_API int aio_transport_write_eof(aio_transport *t);
AIO_API bool aio_transport_can_write_eof(const aio_transport *t);

/* Stops / resumes calling data_received. Idempotent; a pause made inside
 * connection_made holds (reading never starts until resumed). 0, or
 * AL_EINVALIDSTATE once closing. */
AIO_API int aio_transport_pause_reading(aio_transport *t);
AIO_API int aio_transport_resume_reading(aio_transport *t);
AIO_API bool aio_transport_is_reading(const aio_transport *t);

/* Sets the watermarks in bytes. high < 0: the default (64 KiB, or 4*low
 * when low >= 0); low < 0: high/4. -EINVAL when high < low, -ENOMEM
 * (nothing changes either way). May pause or resume the protocol at once.
 * Memory: an idle transport with the default watermarks holds no write
 * state; other watermarks are kept in a small record (24 bytes). */
AIO_API int aio_transport_set_write_buffer_limits(aio_transport *t, ssize_t high, ssize_t low);
AIO_API void aio_transport_get_write_buffer_limits(const aio_transport *t, size_t *low,
                                                   size_t *high);
/* Bytes buffered, not yet handed to the kernel. */
AIO_API size_t aio_transport_get_write_buffer_size(const aio_transport *t);

/* Stops reading now, sends what is buffered, then closes the socket and
 * calls connection_lost(0) once (in a later callback). Idempotent. */
AIO_API void aio_transport_close(aio_transport *t);
/* Drops the buffer and closes at once; connection_lost(0) in a later
 * callback. Idempotent. */
AIO_API void aio_transport_abort(aio_transport *t);
/* True once close or abort was called or the connection was lost. */
AIO_API bool aio_transport_is_closing(const aio_transport *t);

/* ---- extra info (get_extra_info) ------------------------------------------ */

/* The socket fd (borrowed: the transport closes it), or -1 once closed. */
AIO_API int aio_transport_fd(const aio_transport *t);
/* The peer's / the socket's own address into *addr (*len in: its size,
 * out: the address's length). 0, -ENOTCONN, -EBADF once closed. */
AIO_API int aio_transport_peername(const aio_transport *t, struct sockaddr_storage *addr,
                                   socklen_t *len);
AIO_API int aio_transport_sockname(const aio_transport *t, struct sockaddr_storage *addr,
                                   socklen_t *len);
AIO_API al_loop *aio_transport_loop(const aio_transport *t);

/* The protocol and its user pointer, and replacing them (set_protocol):
 * the next callbacks go to the new pair. set_protocol: 0, or -EINVAL (NULL
 * t or proto, or a datagram transport: its protocol is another type). */
AIO_API void aio_transport_get_protocol(const aio_transport *t, const aio_protocol **proto,
                                        void **user);
AIO_API int aio_transport_set_protocol(aio_transport *t, const aio_protocol *proto, void *user);

/* References: keep the struct alive past connection_lost. */
AIO_API aio_transport *aio_transport_ref(aio_transport *t);
AIO_API void aio_transport_unref(aio_transport *t);

/* ---- datagram transports ---------------------------------------------------- */

/* Sends one datagram to addr (NULL: the connected peer; -EINVAL for NULL
 * on an unconnected endpoint, -EISCONN for an address other than the
 * peer's on a connected one). Tried at once when nothing is buffered,
 * else queued (copied) and flow-controlled like writes. Returns 0 once
 * sent or queued; errors of the send itself go to error_received. Dropped
 * (0) after close. -EINVAL also for NULL t or NULL data with len > 0;
 * -ENOTSUP on a stream transport (use aio_transport_write). */
AIO_API int aio_transport_sendto(aio_transport *t, const void *data, size_t len,
                                 const struct sockaddr *addr, socklen_t addrlen);

/* ---- sendfile --------------------------------------------------------------- */

/* Inside a task: sends count bytes (0: to end of file) of `file` from
 * offset over the transport, after what is buffered, with sendfile(2)
 * (read + write fallback when sendfile cannot), pausing reading while it
 * runs as asyncio does. 0 with *sent (may be NULL) the bytes sent, or a
 * negative code (-EBUSY: another sendfile runs; AL_EINVALIDSTATE: closing). */
AIO_API int aio_transport_sendfile(aio_transport *t, int file, off_t offset, size_t count,
                                   size_t *sent);

#ifdef __cplusplus
}
#endif
#endif

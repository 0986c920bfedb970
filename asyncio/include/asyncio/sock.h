/* Socket coroutines: asyncio's loop.sock_* calls.
 *
 * Each call must be made from inside a task running on loop, at any depth
 * of its call stack; it suspends the task, never the loop. It first tries
 * the system call and waits for readiness only when the call would block
 * (EAGAIN), so a socket with data ready costs one system call. Sockets
 * should be non-blocking (the calls pass MSG_DONTWAIT where the system
 * call has it; in debug mode a blocking socket is refused with
 * AIO_EBLOCKING, as asyncio raises ValueError). Every send passes
 * MSG_NOSIGNAL: a closed peer gives -EPIPE, never SIGPIPE.
 *
 * Waiting: while a call waits, the fd is watched in one direction for that
 * task alone; a second call waiting in the same direction on the same fd
 * (or an aio_loop_add_reader/writer on it) fails with AIO_EFDBUSY instead
 * of replacing the first. Whatever ends the wait (readiness, cancellation,
 * the loop closing) leaves no registration behind.
 *
 * Cancellation (al_task_cancel while waiting) returns AL_ECANCELLED and
 * loses no data: a cancelled receive consumed nothing; a cancelled
 * aio_sock_sendall sent nothing more than *sent says.
 *
 * Errors common to every call: -EINVAL (NULL loop or buffer with a length),
 * AL_ENOTIOLOOP, AL_ELOOPCLOSED, AIO_EFORKED, AL_ENOTINTASK (not called
 * from a task), AIO_EBLOCKING, AIO_EFDBUSY, AL_ECANCELLED, and the negated
 * errno of the system call (-ECONNRESET, -EPIPE, -ECONNREFUSED, -EBADF,
 * -EMFILE, ...). Buffers and addresses are the caller's, borrowed for the
 * duration of the call (they may live on the task's stack).
 *
 * Threads: the loop's thread, inside a task.
 */
#ifndef ASYNCIO_SOCK_H
#define ASYNCIO_SOCK_H

#include <asynclib/loop.h>

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <asyncio/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Receives up to len bytes into buf: the count (0 at end of stream, or
 * for len 0), or a negative code. */
AIO_API ssize_t aio_sock_recv_into(al_loop *loop, int fd, void *buf, size_t len);

/* Receives up to n bytes into a new buffer: *data (malloc'd, the caller's
 * to free(); NULL when 0 is returned) and the count, or a negative code
 * (*data NULL). */
AIO_API ssize_t aio_sock_recv(al_loop *loop, int fd, size_t n, void **data);

/* Receives one datagram into buf: the count, with the sender's address in
 * *addr (may be NULL) of *addrlen bytes (in: its size; may be NULL if
 * addr is). */
AIO_API ssize_t aio_sock_recvfrom_into(al_loop *loop, int fd, void *buf, size_t len,
                                       struct sockaddr *addr, socklen_t *addrlen);

/* aio_sock_recvfrom_into into a new buffer of n bytes (*data as for
 * aio_sock_recv). */
AIO_API ssize_t aio_sock_recvfrom(al_loop *loop, int fd, size_t n, void **data,
                                  struct sockaddr *addr, socklen_t *addrlen);

/* Sends all len bytes, waiting as needed. Returns 0 when all were sent, or
 * a negative code; either way *sent (may be NULL) holds the bytes sent. */
AIO_API int aio_sock_sendall(al_loop *loop, int fd, const void *buf, size_t len, size_t *sent);

/* Sends one datagram to addr (NULL: the connected peer): the count. */
AIO_API ssize_t aio_sock_sendto(al_loop *loop, int fd, const void *buf, size_t len,
                                const struct sockaddr *addr, socklen_t addrlen);

/* Connects fd to addr, waiting for the connection to complete. 0, or the
 * connection's error (-ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH...).
 * Cancelled: the connection attempt may go on; close the socket. A Unix
 * socket whose listener's backlog is full (EAGAIN) cannot be waited for
 * by readiness: the call retries after 1 ms, doubling up to 50 ms. */
AIO_API int aio_sock_connect(al_loop *loop, int fd, const struct sockaddr *addr, socklen_t addrlen);

/* Accepts a connection on listening socket fd: the new socket (the
 * caller's; non-blocking and close-on-exec), with the peer's address in
 * *addr / *addrlen (both may be NULL). -EMFILE / -ENFILE are returned at
 * once (the pending connection stays queued; accept again when fds are
 * free). */
AIO_API int aio_sock_accept(al_loop *loop, int fd, struct sockaddr *addr, socklen_t *addrlen);

/* Sends count bytes (0: up to end of file) of file `file` from offset
 * `offset` to socket fd with sendfile(2), falling back to read + send when
 * sendfile cannot do it (a file that cannot be mapped, a non-socket...).
 * Returns 0 when done (end of file or count reached), or a negative code;
 * *sent (may be NULL) holds the bytes sent either way. Afterwards the
 * file's offset is offset + *sent, as asyncio leaves it. */
AIO_API int aio_sock_sendfile(al_loop *loop, int fd, int file, off_t offset, size_t count,
                              size_t *sent);

#ifdef __cplusplus
}
#endif
#endif

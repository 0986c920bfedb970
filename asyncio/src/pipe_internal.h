/* Pipe transports (pipe_transport.c), used by the subprocess streams and
 * the subprocess transport. */
#ifndef ASYNCIO_PIPE_INTERNAL_H
#define ASYNCIO_PIPE_INTERNAL_H

#include "transport_internal.h"

#include <sys/uio.h>

/* A transport over pipe end fd (made non-blocking; the transport's from
 * here on, also when this fails: then it is closed): the read end
 * (write_end false: data_received, eof_received, connection_lost(0) at end
 * of file) or the write end (writes, write_eof closes it; connection_lost
 * -EPIPE when the reader goes away under buffered data, 0 otherwise).
 * connection_made runs in a later callback. */
int aio__pipe_transport_new(al_loop *loop, int fd, bool write_end, const aio_protocol *proto,
                            void *user, aio_transport **out);

/* writev that never raises SIGPIPE in this process: SIGPIPE is blocked
 * for the call, and one it raised is taken back before unblocking (EPIPE
 * is returned as usual). */
ssize_t aio__writev_nosigpipe(int fd, const struct iovec *iov, int n);

#endif

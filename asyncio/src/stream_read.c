/* The read of the stream kinds (socket and pipe transports) on
 * readiness, as selector_events._SelectorSocketTransport._read_ready:
 * one receive into the buffered protocol's memory (get_buffer) or the
 * loop's shared buffer, handed to the protocol; the kind says how it
 * receives and what its end of file does. */
#include "transport_internal.h"

#include <errno.h>

void aio__stream_read(aio_transport *t, aio__recv_fn recv_fn, void (*on_eof)(aio_transport *t))
{
    if (t->closing || !t->reading)
        return;
    const aio_protocol *p = t->proto;
    size_t size = AIO_READ_BUFFER;
    void *buf = p->get_buffer ? p->get_buffer(t, &size, t->user) : aio__read_buffer(t->io, &size);
    if (!buf || !size) {
        t->ops->abort(t, p->get_buffer ? -ENOBUFS : -ENOMEM);
        return;
    }
    ssize_t n = recv_fn(t->fd, buf, size);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            t->ops->abort(t, -errno);
        return;
    }
    aio_transport_ref(t);
    if (n == 0)
        on_eof(t);
    else if (p->get_buffer)
        p->buffer_updated(t, (size_t)n, t->user);
    else if (p->data_received)
        p->data_received(t, buf, (size_t)n, t->user);
    aio_transport_unref(t);
}

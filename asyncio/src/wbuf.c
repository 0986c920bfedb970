/* The byte write buffer of the stream kinds (socket and pipe transports):
 * the bytes a write could not send at once, in one allocation with the
 * transport's write state, made when needed and freed once sent; and the
 * write path over it that those kinds share (selector_events'
 * _SelectorSocketTransport.write / _write_ready), through their send. */
#include "transport_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

aio__wbuf *aio__wbuf_of(aio_transport *t)
{
    return (aio__wbuf *)t->wq;
}

int aio__wbuf_append(aio_transport *t, const struct iovec *iov, int n, size_t skip, size_t total)
{
    aio__wbuf *w = (aio__wbuf *)aio__wq_get(t);
    if (!w)
        return -ENOMEM;
    size_t add = total - skip, size = w->q.size;
    if (w->start + size + add > w->cap && w->start && w->start >= size) {
        /* moving costs no more than what was sent before: O(1) a byte */
        memcpy(w->buf, w->buf + w->start, size);
        w->start = 0;
    }
    if (w->start + size + add > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < size + add)
            cap *= 2;
        if (cap == w->cap)
            cap *= 2; /* fits only once compacted: grow so that moves stay rare */
        bool move = w->start != 0;
        aio__wbuf *b = move ? malloc(sizeof *b + cap) : realloc(w, sizeof *b + cap);
        if (!b)
            return -ENOMEM;
        if (move) { /* only the unsent bytes move */
            *b = *w;
            memcpy(b->buf, w->buf + w->start, size);
            b->start = 0;
            free(w);
        }
        t->wq = &b->q;
        w = b;
        w->cap = cap;
    }
    char *out = w->buf + w->start + w->q.size;
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(out, (const char *)iov[i].iov_base + skip, len - skip);
        out += len - skip;
        skip = 0;
    }
    w->q.size += add;
    return 0;
}

void aio__wbuf_consumed(aio_transport *t, size_t n)
{
    aio__wbuf *w = aio__wbuf_of(t);
    w->start += n;
    w->q.size -= n;
}

void aio__wbuf_drop(aio_transport *t)
{
    if (!aio__wbuf_of(t))
        return;
    aio__wq_drained(t, sizeof(aio__wbuf));
    aio__wbuf *w = aio__wbuf_of(t);
    if (w)
        w->start = w->cap = 0;
}

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

int aio__wbuf_write(aio_transport *t, const struct iovec *iov, int n, size_t total,
                    aio__send_fn send_fn, al_callback_fn write_ready)
{
    if (total == 0 || t->closing)
        return 0; /* dropped after close, as asyncio drops them */
    size_t sent = 0;
    if (aio__wsize(t) == 0) {
        ssize_t k = send_fn(t->fd, iov, n > IOV_MAX ? IOV_MAX : n);
        if (k < 0 && !would_block(errno)) {
            t->ops->abort(t, -errno);
            return 0;
        }
        sent = k > 0 ? (size_t)k : 0;
        if (sent == total)
            return 0;
    }
    int rc = aio__wbuf_append(t, iov, n, sent, total);
    if (rc < 0) {
        t->ops->abort(t, rc);
        return rc;
    }
    if ((rc = aio__transport_set_writer(t, write_ready)) < 0) {
        t->ops->abort(t, rc); /* the buffer could never drain */
        return rc;
    }
    aio__transport_flow(t);
    return 0;
}

bool aio__wbuf_flush(aio_transport *t, aio__send_fn send_fn)
{
    aio__wbuf *w = aio__wbuf_of(t);
    if (w && w->q.size) {
        struct iovec v = {.iov_base = w->buf + w->start, .iov_len = w->q.size};
        ssize_t k = send_fn(t->fd, &v, 1);
        if (k < 0) {
            if (!would_block(errno))
                t->ops->abort(t, -errno);
            return false;
        }
        aio__wbuf_consumed(t, (size_t)k);
        aio_transport_ref(t);
        aio__transport_flow(t);
        bool gone = t->lost;
        aio_transport_unref(t);
        if (gone || aio__wsize(t))
            return false;
    }
    aio__transport_set_writer(t, NULL);
    return true;
}

/* The stream reader's buffer and how bytes reach it: a consume-offset
 * buffer that compacts only when its free tail is too short, reused while
 * data flows and freed when a read waits on it empty; the transport reads
 * straight into a waiting read's memory when nothing is buffered (no
 * copy at all), else into the buffer's free tail, else into the loop's
 * shared read buffer, copied in (StreamReader.feed_data, with asyncio's
 * BufferedProtocol underneath). */
#include "stream_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
    BUF_MIN = 1024,  /* the smallest buffer allocated */
    TAIL_MIN = 4096, /* a free tail shorter than this is not lent */
};

void aio__reader_wakeup(aio_stream_reader *r, int error)
{
    al_future *f = r->waiter;
    if (!f || al_future_done(f))
        return;
    if (error)
        al_future_set_error(f, error);
    else
        al_future_set_result(f, NULL, NULL);
}

static size_t tail(const aio_stream_reader *r)
{
    return r->cap - r->start - r->len;
}

/* Moves the buffered bytes to the front when that costs no more than what
 * was consumed before them (so each byte is moved O(1) times). */
static void compact(aio_stream_reader *r)
{
    if (r->start && r->start >= r->len) {
        memcpy(r->buf, r->buf + r->start, r->len); /* no overlap */
        r->start = 0;
    }
}

/* Makes room for add more bytes after the buffered ones: compacts, else
 * grows to a power of two (copying only the live bytes). 0 or -ENOMEM
 * (nothing changed). */
static int reserve(aio_stream_reader *r, size_t add)
{
    if (tail(r) >= add)
        return 0;
    compact(r);
    if (tail(r) >= add)
        return 0;
    size_t cap = r->cap > BUF_MIN ? r->cap : BUF_MIN;
    while (cap < r->len + add)
        cap *= 2;
    char *b;
    if (r->start == 0) {
        if (!(b = realloc(r->buf, cap)))
            return -ENOMEM;
    } else {
        if (!(b = malloc(cap)))
            return -ENOMEM;
        memcpy(b, r->buf + r->start, r->len);
        free(r->buf);
    }
    r->buf = b;
    r->cap = cap;
    r->start = 0;
    return 0;
}

/* New bytes are there: wake the waiting read (a read into dst only once
 * dst_min arrived) and pause the transport above 2 * limit. */
static void arrived(aio_stream_reader *r)
{
    if (!r->dst || r->dst_len >= r->dst_min)
        aio__reader_wakeup(r, 0);
    aio_transport *t = r->s->t;
    if (t && !r->paused && r->len > 2 * r->limit && aio_transport_pause_reading(t) == 0)
        r->paused = true;
}

int aio__reader_feed(aio_stream_reader *r, const void *data, size_t len)
{
    const char *p = data;
    if (r->dst && r->len == 0 && r->dst_len < r->dst_cap) {
        size_t k = r->dst_cap - r->dst_len < len ? r->dst_cap - r->dst_len : len;
        memcpy(r->dst + r->dst_len, p, k);
        r->dst_len += k;
        p += k;
        len -= k;
    }
    if (len) {
        int rc = reserve(r, len);
        if (rc < 0)
            return rc;
        memcpy(r->buf + r->start + r->len, p, len);
        r->len += len;
    }
    arrived(r);
    return 0;
}

int aio_stream_feed_data(aio_stream_reader *r, const void *data, size_t len)
{
    if (!r || (!data && len) || r->eof)
        return -EINVAL;
    return len ? aio__reader_feed(r, data, len) : 0;
}

void *aio__reader_get_buffer(aio_stream_reader *r, aio_transport *t, size_t *size)
{
    if (r->dst && r->len == 0 && r->dst_len < r->dst_cap) {
        r->lent_to = AIO__LENT_DST;
        *size = r->dst_cap - r->dst_len;
        return r->dst + r->dst_len;
    }
    if (tail(r) < TAIL_MIN)
        compact(r);
    if (tail(r) >= TAIL_MIN) {
        r->lent_to = AIO__LENT_TAIL; /* at most the hint: bounds what a pause lets in */
        *size = tail(r) < *size ? tail(r) : *size;
        return r->buf + r->start + r->len;
    }
    r->lent_to = AIO__LENT_SHARED;
    r->lent = aio__read_buffer(t->io, size);
    return (void *)r->lent;
}

int aio__reader_buffer_updated(aio_stream_reader *r, size_t n)
{
    switch (r->lent_to) {
    case AIO__LENT_DST:
        r->dst_len += n;
        break;
    case AIO__LENT_TAIL:
        r->len += n;
        break;
    case AIO__LENT_SHARED:
        return aio__reader_feed(r, r->lent, n);
    }
    arrived(r);
    return 0;
}

void aio__reader_consume(aio_stream_reader *r, size_t n)
{
    r->start += n;
    r->len -= n;
    if (r->len == 0)
        r->start = 0;
    if (r->paused && r->len <= r->limit) {
        r->paused = false;
        aio_transport_resume_reading(r->s->t);
    }
}

void aio__reader_idle(aio_stream_reader *r)
{
    if (r->len || !r->buf)
        return;
    free(r->buf);
    r->buf = NULL;
    r->start = r->cap = 0;
}

int aio__reader_unread(aio_stream_reader *r, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (r->start < n) {
        size_t cap = r->cap > BUF_MIN ? r->cap : BUF_MIN;
        while (cap < r->len + n)
            cap *= 2;
        char *b = malloc(cap);
        if (!b) {
            r->error = -ENOMEM; /* the bytes are lost: every later read says so */
            return -ENOMEM;
        }
        if (r->len)
            memcpy(b + n, r->buf + r->start, r->len);
        free(r->buf);
        r->buf = b;
        r->cap = cap;
        r->start = n;
    }
    r->start -= n;
    r->len += n;
    memcpy(r->buf + r->start, data, n);
    return 0;
}

int aio__reader_detachable(aio_stream_reader *r)
{
    if (r->buf && r->len < r->cap) { /* room for the NUL */
        if (r->start)
            memmove(r->buf, r->buf + r->start, r->len);
        r->start = 0;
        return 0;
    }
    char *b = malloc(r->len + 1);
    if (!b)
        return -ENOMEM;
    if (r->len)
        memcpy(b, r->buf + r->start, r->len);
    free(r->buf);
    r->buf = b;
    r->start = 0;
    r->cap = r->len + 1;
    return 0;
}

char *aio__reader_detach(aio_stream_reader *r, size_t *len)
{
    char *b = r->buf;
    *len = r->len;
    b[r->len] = 0;
    aio__reader_consume(r, r->len); /* resumes a paused transport */
    r->buf = NULL;
    r->start = r->cap = 0;
    return b;
}

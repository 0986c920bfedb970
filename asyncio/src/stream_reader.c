/* StreamReader (streams.py): waiting for data, read / readline /
 * readuntil / readexactly (the buffer and its filling: stream_buffer.c).
 * read and readexactly on an empty buffer wait with their own memory as
 * the destination, so the transport reads straight into it. */
#include "stream_internal.h"

#include <asynclib/task.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

aio__stream *aio__stream_new(al_loop *loop, size_t limit, unsigned refs)
{
    aio__stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->refs = refs;
    s->r.s = s;
    s->w.s = s;
    s->r.limit = limit ? limit : AIO_STREAM_LIMIT_DEFAULT;
    return s;
}

int aio_stream_reader_new(al_loop *loop, size_t limit, aio_stream_reader **out)
{
    if (!loop || !out)
        return -EINVAL;
    aio__stream *s = aio__stream_new(loop, limit, 1);
    if (!s)
        return -ENOMEM;
    s->lost = true; /* no transport */
    *out = &s->r;
    return 0;
}

void aio_stream_reader_free(aio_stream_reader *r)
{
    if (r)
        aio__stream_unref(r->s);
}

void aio_stream_feed_eof(aio_stream_reader *r)
{
    if (!r)
        return;
    r->eof = true;
    aio__reader_wakeup(r, 0);
}

void aio_stream_set_error(aio_stream_reader *r, int error)
{
    if (!r || error >= 0)
        return;
    r->error = error;
    aio__reader_wakeup(r, error);
}

int aio_stream_reader_error(const aio_stream_reader *r)
{
    return r ? r->error : -EINVAL;
}

bool aio_stream_at_eof(const aio_stream_reader *r)
{
    return r && r->eof && r->len == 0;
}

size_t aio_stream_buffered(const aio_stream_reader *r)
{
    return r ? r->len : 0;
}

/* _wait_for_data: one waiter at a time. */
static int wait_for_data(aio_stream_reader *r)
{
    if (r->waiter)
        return AL_EINVALIDSTATE;
    if (r->paused) {
        r->paused = false;
        aio_transport_resume_reading(r->s->t);
    }
    aio__reader_idle(r);
    /* The last wait's future again, if nothing else holds it: a fresh
     * one per wait cost a tenth of a streams echo's user time. */
    al_future *f = r->spare;
    r->spare = NULL;
    int rc = f ? al_future_reset(f) : -1;
    if (rc < 0) {
        al_future_unref(f);
        if ((rc = al_future_new(r->s->loop, &f)) < 0)
            return rc;
    }
    r->waiter = f;
    r->s->refs++;
    rc = al_await(f);
    r->waiter = NULL;
    r->spare = f;
    aio__stream *s = r->s;
    aio__stream_unref(s);
    return rc;
}

/* Waits with dst[0..n) as the destination of arriving bytes (nothing is
 * buffered): until min bytes are there (have of them already), end of
 * stream or an error. The count there, or a negative code with nothing
 * in dst (a cancelled wait puts what arrived back into the buffer). */
static ssize_t wait_into(aio_stream_reader *r, void *dst, size_t have, size_t n, size_t min)
{
    r->dst = dst;
    r->dst_len = have;
    r->dst_cap = n;
    r->dst_min = min;
    int rc = 0;
    while (r->dst_len < min && !r->eof && !r->error && rc == 0)
        rc = wait_for_data(r);
    size_t got = r->dst_len;
    r->dst = NULL;
    r->dst_len = r->dst_cap = r->dst_min = 0;
    if (rc == 0 && got < min && !r->eof)
        rc = r->error; /* the loop ended on it */
    if (rc < 0) {
        aio__reader_unread(r, dst, got);
        return rc;
    }
    return (ssize_t)got;
}

static int begin(aio_stream_reader *r)
{
    if (!r)
        return -EINVAL;
    return r->error;
}

ssize_t aio_stream_read(aio_stream_reader *r, void *buf, size_t n)
{
    int rc = begin(r);
    if (rc < 0)
        return rc;
    if (!buf && n)
        return -EINVAL;
    if (n == 0)
        return 0;
    if (r->len == 0 && !r->eof) {
        if (r->waiter)
            return AL_EINVALIDSTATE;
        return wait_into(r, buf, 0, n, 1); /* straight into buf */
    }
    size_t k = r->len < n ? r->len : n;
    if (k == 0)
        return 0; /* end of stream */
    memcpy(buf, r->buf + r->start, k);
    aio__reader_consume(r, k);
    return (ssize_t)k;
}

/* Moves the whole buffer (or its first n bytes) out as *data. */
static int take(aio_stream_reader *r, size_t n, void **data, size_t *len)
{
    *data = NULL;
    *len = n;
    if (n == 0)
        return 0;
    void *d = malloc(n);
    if (!d)
        return -ENOMEM;
    memcpy(d, r->buf + r->start, n);
    aio__reader_consume(r, n);
    *data = d;
    return 0;
}

int aio_stream_read_all(aio_stream_reader *r, void **data, size_t *len)
{
    int rc = begin(r);
    if (rc < 0)
        return rc;
    if (!data || !len)
        return -EINVAL;
    if ((rc = aio__reader_wait_eof(r)) < 0)
        return rc; /* cancelled: everything stays buffered */
    return take(r, r->len, data, len);
}

int aio__reader_wait_eof(aio_stream_reader *r)
{
    /* All of it is wanted: no pause on the way (asyncio's read(-1) takes
     * limit-sized blocks as they come, so its transport never pauses);
     * a pause and resume per arrival would cost three syscalls each. */
    size_t limit = r->limit;
    r->limit = SIZE_MAX / 2;
    int rc = 0;
    while (!r->eof && rc == 0) {
        if ((rc = wait_for_data(r)) == 0)
            rc = r->error;
    }
    r->limit = limit;
    return rc < 0 ? rc : r->error;
}

/* The earliest end of any separator at or after offset, or SIZE_MAX. */
static size_t find_end(const aio_stream_reader *r, const aio_sep *seps, size_t nseps, size_t offset,
                       size_t *match_start)
{
    size_t best = SIZE_MAX;
    const char *b = r->buf + r->start;
    for (size_t i = 0; i < nseps; i++) {
        size_t sl = seps[i].len;
        for (size_t p = offset; p + sl <= r->len && p + sl < best; p++) {
            if (memcmp(b + p, seps[i].data, sl) == 0) {
                best = p + sl;
                *match_start = p;
                break;
            }
        }
    }
    return best;
}

int aio_stream_readuntil(aio_stream_reader *r, const aio_sep *seps, size_t nseps, void **data,
                         size_t *len)
{
    if (!r || !data || !len || !seps || nseps == 0)
        return -EINVAL;
    size_t max_sl = 0;
    for (size_t i = 0; i < nseps; i++) {
        if (!seps[i].data || seps[i].len == 0)
            return -EINVAL;
        if (seps[i].len > max_sl)
            max_sl = seps[i].len;
    }
    *data = NULL;
    *len = 0;
    int rc = begin(r);
    if (rc < 0)
        return rc;
    size_t offset = 0, start = 0, end;
    while ((end = find_end(r, seps, nseps, offset, &start)) == SIZE_MAX) {
        offset = r->len + 1 > max_sl ? r->len + 1 - max_sl : 0;
        if (offset > r->limit) {
            *len = offset; /* "Separator is not found, and chunk exceed the limit" */
            return AIO_ELIMITOVERRUN;
        }
        if (r->eof) {
            rc = take(r, r->len, data, len);
            return rc < 0 ? rc : AIO_EINCOMPLETE;
        }
        if ((rc = wait_for_data(r)) < 0)
            return rc;
        if (r->error)
            return r->error;
    }
    if (start > r->limit) {
        *len = start; /* "Separator is found, but chunk is longer than limit" */
        return AIO_ELIMITOVERRUN;
    }
    return take(r, end, data, len);
}

int aio_stream_readline(aio_stream_reader *r, void **data, size_t *len)
{
    aio_sep nl = {"\n", 1};
    int rc = aio_stream_readuntil(r, &nl, 1, data, len);
    if (rc == AIO_EINCOMPLETE)
        return 0; /* the partial line at end of stream */
    if (rc == AIO_ELIMITOVERRUN) {
        size_t consumed = *len;
        *len = 0;
        if (consumed < r->len && r->buf[r->start + consumed] == '\n')
            aio__reader_consume(r, consumed + 1);
        else
            aio__reader_consume(r, r->len);
    }
    return rc;
}

int aio_stream_readexactly(aio_stream_reader *r, void *buf, size_t n, size_t *got)
{
    if (got)
        *got = 0;
    int rc = begin(r);
    if (rc < 0)
        return rc;
    if (!buf && n)
        return -EINVAL;
    if (r->len < n && !r->eof && r->waiter)
        return AL_EINVALIDSTATE;
    size_t k = r->len < n ? r->len : n;
    if (k)
        memcpy(buf, r->buf + r->start, k);
    aio__reader_consume(r, k);
    if (k < n && !r->eof) {
        /* the rest straight into buf; a cancel puts all k + more back */
        ssize_t m = wait_into(r, buf, k, n, n);
        if (m < 0)
            return (int)m;
        k = (size_t)m;
    }
    if (got)
        *got = k;
    return k < n ? AIO_EINCOMPLETE : 0;
}

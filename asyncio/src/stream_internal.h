/* The stream pair of one connection (streams.c, stream_reader.c): the
 * reader's buffer and waiter, the writer's drain waiters, the protocol
 * state linking them to the transport. */
#ifndef ASYNCIO_STREAM_INTERNAL_H
#define ASYNCIO_STREAM_INTERNAL_H

#include "transport_internal.h"

#include <asyncio/streams.h>

typedef struct aio__stream aio__stream;

/* Where the reader's last get_buffer pointed the transport. */
typedef enum aio__lent { AIO__LENT_DST, AIO__LENT_TAIL, AIO__LENT_SHARED } aio__lent;

struct aio_stream_reader {
    aio__stream *s;
    size_t limit;
    /* The buffer: len bytes from start, cap allocated; reused while data
     * flows, freed when a read waits on an empty buffer (idle). */
    char *buf;
    size_t start, len, cap;
    /* The destination of the read waiting on an empty buffer (read,
     * readexactly): arriving bytes go straight there, dst_len of dst_cap
     * so far; the read wakes at dst_min. Older than anything in buf. */
    char *dst;
    size_t dst_len, dst_cap, dst_min;
    const char *lent; /* the loop's shared buffer when lent_to is SHARED */
    aio__lent lent_to;
    bool eof;
    bool paused; /* we paused the transport */
    int error;
    al_future *waiter; /* the one read waiting for data */
    al_future *spare;  /* the last waiter, done: reset for the next wait */
};

struct aio_stream_writer {
    aio__stream *s;
};

struct aio__stream {
    aio_stream_reader r;
    aio_stream_writer w;
    al_loop *loop;
    unsigned refs; /* reader handle, writer handle, the protocol while connected */
    aio_transport *t;
    bool lost;
    bool paused_w; /* the transport said pause_writing */
    int lost_error;
    al_future **drainers;
    size_t ndrain;
    al_future *closed; /* wait_closed's, made on demand */
    aio_client_fn fn;  /* the server's callback, or NULL */
    void *arg;
};

/* A stream of limit (0: default) on loop, with refs references. */
aio__stream *aio__stream_new(al_loop *loop, size_t limit, unsigned refs);
void aio__stream_unref(aio__stream *s);
/* The protocol feeding s (user pointer) from a transport: connection_made
 * takes a reference on s and on the transport (subprocess pipes). */
extern const aio_protocol *const aio__stream_protocol;
/* The reader's side of the protocol: get_buffer / buffer_updated (the
 * transport reads into a waiting read's memory, the buffer's free tail,
 * or the loop's shared buffer, copied in), feed (0 or -ENOMEM). */
void aio__reader_wakeup(aio_stream_reader *r, int error);
void *aio__reader_get_buffer(aio_stream_reader *r, aio_transport *t, size_t *size);
int aio__reader_buffer_updated(aio_stream_reader *r, size_t n);
int aio__reader_feed(aio_stream_reader *r, const void *data, size_t len);
/* Drops n buffered bytes from the front; resumes the transport at or
 * below the limit. */
void aio__reader_consume(aio_stream_reader *r, size_t n);
/* A read is about to wait: frees the buffer if empty (nothing held while
 * the connection is idle). */
void aio__reader_idle(aio_stream_reader *r);
/* Puts n bytes (a waiting read's, on cancel) back in front of the buffer:
 * 0, or -ENOMEM (they are lost; the reader's error becomes -ENOMEM). */
int aio__reader_unread(aio_stream_reader *r, const void *data, size_t n);

/* Waits until end of stream, keeping everything buffered (read_all
 * without the take): 0, the reader's error, AL_ECANCELLED. */
int aio__reader_wait_eof(aio_stream_reader *r);
/* Makes the buffer one that aio__reader_detach can hand out: its bytes at
 * its front with room for a NUL after them. 0 or -ENOMEM (nothing
 * changed). */
int aio__reader_detachable(aio_stream_reader *r);
/* After aio__reader_detachable: hands the buffer out (malloc'd,
 * NUL-terminated, *len bytes; the caller frees it), the reader empty. */
char *aio__reader_detach(aio_stream_reader *r, size_t *len);

#endif

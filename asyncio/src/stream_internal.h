/* The stream pair of one connection (streams.c, stream_reader.c): the
 * reader's buffer and waiter, the writer's drain waiters, the protocol
 * state linking them to the transport. */
#ifndef ASYNCIO_STREAM_INTERNAL_H
#define ASYNCIO_STREAM_INTERNAL_H

#include "transport_internal.h"

#include <asyncio/streams.h>

typedef struct aio__stream aio__stream;

struct aio_stream_reader {
    aio__stream *s;
    size_t limit;
    char *buf; /* len bytes from start; cap allocated */
    size_t start, len, cap;
    bool eof;
    bool paused; /* we paused the transport */
    int error;
    al_future *waiter; /* the one read waiting for data */
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
/* The reader's side of the protocol. */
void aio__reader_wakeup(aio_stream_reader *r, int error);

#endif

/* A growable byte buffer with a consumed prefix: the servers' input and
 * output queues. Bytes live in data[start, start + len); appending grows
 * the allocation (doubling), consuming advances start, and the buffer
 * moves its bytes to the front only when that makes room, so a read
 * buffer that is emptied every time never copies. Owned by its user;
 * not thread-safe. */
#ifndef SERVERS_BYTEBUF_H
#define SERVERS_BYTEBUF_H

#include <stddef.h>

typedef struct bytebuf {
    char *data;
    size_t start; /* first unconsumed byte */
    size_t len;   /* unconsumed bytes */
    size_t cap;   /* allocated bytes */
} bytebuf;

/* An empty buffer (no allocation until the first append). */
#define BYTEBUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Frees the memory; the buffer is empty and usable again. */
void bytebuf_free(bytebuf *b);

/* The unconsumed bytes. */
static inline char *bytebuf_head(const bytebuf *b)
{
    return b->data + b->start;
}

/* Makes room for at least n more bytes after the unconsumed ones and
 * returns where they go (write there, then bytebuf_commit). NULL when out
 * of memory (the buffer is unchanged). */
char *bytebuf_reserve(bytebuf *b, size_t n);

/* Free bytes after the unconsumed ones without growing. */
static inline size_t bytebuf_room(const bytebuf *b)
{
    return b->cap - b->start - b->len;
}

/* n bytes written after bytebuf_reserve now count as unconsumed. */
static inline void bytebuf_commit(bytebuf *b, size_t n)
{
    b->len += n;
}

/* Appends n bytes: 0, or -ENOMEM (unchanged). */
int bytebuf_append(bytebuf *b, const void *p, size_t n);

/* Drops the first n unconsumed bytes (n <= len). */
void bytebuf_consume(bytebuf *b, size_t n);

#endif

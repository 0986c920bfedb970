#include "bytebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bytebuf_free(bytebuf *b)
{
    free(b->data);
    *b = (bytebuf)BYTEBUF_INIT;
}

char *bytebuf_reserve(bytebuf *b, size_t n)
{
    if (bytebuf_room(b) >= n)
        return b->data + b->start + b->len;
    if (b->start > 0 && b->cap - b->len >= n && b->len <= b->cap / 2) {
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
        return b->data + b->len;
    }
    if (b->len > (size_t)-1 / 2 - n)
        return NULL;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n)
        cap *= 2;
    char *p = malloc(cap);
    if (!p)
        return NULL;
    if (b->len)
        memcpy(p, b->data + b->start, b->len);
    free(b->data);
    b->data = p;
    b->start = 0;
    b->cap = cap;
    return p + b->len;
}

int bytebuf_append(bytebuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    char *dst = bytebuf_reserve(b, n);
    if (!dst)
        return -ENOMEM;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

void bytebuf_consume(bytebuf *b, size_t n)
{
    b->len -= n;
    b->start = b->len ? b->start + n : 0;
}

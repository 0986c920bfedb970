/* The HTTP/1.1 side of asyncio-http, separate from any I/O: request bytes
 * in (any split), response bytes appended to an output buffer.
 *
 * Parsing is Debian's libhttp-parser (the parser Node.js used before
 * llhttp): incremental, callbacks into the bytes given, no copy. This file
 * adds what a server decides:
 *   - GET / (and HEAD /) answer 200 "Hello, World!" (text/plain, 13
 *     bytes); another path 404; another method 405 (Allow: GET, HEAD).
 *   - Keep-alive as HTTP/1.1 and 1.0 define it (http_should_keep_alive);
 *     "Connection: close" gets its answer with "Connection: close" and then
 *     the connection ends: requests pipelined after it are not answered.
 *   - Pipelined requests are answered in order (each answer is appended
 *     when its request is complete, so one read's worth of requests gives
 *     one write).
 *   - A malformed request gets 400, a request head above the limit 431, a
 *     body above the limit 413, an HTTP version other than 1.x 505, each with "Connection: close",
 * after the answers to the requests before it; then the connection ends.
 *
 * The head limit (max_head, default 8 KiB) counts the URL and every
 * header's name and value plus 4 bytes per header; blanks around values
 * are bounded by the parser's own cap (80 KiB), which also answers 431.
 *
 * Thread: one http_conn per connection; the Date header's cache is per
 * thread.
 */
#ifndef SERVERS_HTTP_CONN_H
#define SERVERS_HTTP_CONN_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"

typedef struct http_limits {
    size_t max_head;   /* 0: 8 KiB */
    uint64_t max_body; /* 0: 1 MiB */
} http_limits;

typedef struct http_conn {
    http_parser parser;
    http_limits lim;
    bytebuf *out;
    size_t head;      /* counted bytes of the current request's head */
    uint64_t body;    /* body bytes of the current request */
    char url[16];     /* the URL's first bytes (enough to tell "/" apart) */
    size_t url_len;   /* its whole length */
    bool in_field;    /* the last piece was of a header name */
    int error_status; /* 413 / 431 decided in a callback, else 0 */
    bool closing;     /* no more requests: close once out is sent */
    int err;          /* -ENOMEM once an append failed */
} http_conn;

enum {
    HTTP_CONN_OPEN = 0, /* go on reading */
    HTTP_CONN_CLOSE = 1 /* send what is in out, then close */
};

/* Initialises c for a new connection (lim NULL: the defaults). */
void http_conn_init(http_conn *c, const http_limits *lim);

/* Parses len bytes (len > 0) and appends the answers to out. Returns
 * HTTP_CONN_OPEN, HTTP_CONN_CLOSE (also on every later call), or -ENOMEM
 * (close without sending). */
int http_conn_feed(http_conn *c, const char *data, size_t len, bytebuf *out);

/* The peer closed its side: HTTP_CONN_CLOSE (a request cut short gets no
 * answer: it is not known to be complete). */
int http_conn_eof(http_conn *c, bytebuf *out);

#endif

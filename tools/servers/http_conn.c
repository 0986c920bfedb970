/* HTTP/1.1 request handling of asyncio-http: see http_conn.h. */
#include "http_conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { DEF_MAX_HEAD = 8 * 1024, DEF_MAX_BODY = 1024 * 1024 };

static const char HELLO[] = "Hello, World!";

/* "Date: <IMF-fixdate>\r\n", rebuilt once a second; *sec is that second. */
static const char *date_line(time_t *sec)
{
    static _Thread_local time_t last = -1;
    static _Thread_local char line[48];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        last = now;
    }
    *sec = last;
    return line;
}

static void put(http_conn *c, const char *s, size_t n)
{
    if (!c->err && bytebuf_append(c->out, s, n) < 0)
        c->err = -ENOMEM;
}

/* The last response built (head, and body unless head_only), reused while
 * its inputs and the second are the same: a keep-alive client asking for
 * the same thing costs one copy, no formatting. The strings are the
 * callers' constants, so comparing pointers compares them. */
typedef struct response {
    time_t sec;
    int status;
    const char *reason, *extra, *body, *conn;
    bool head_only;
    size_t len;
    char bytes[320];
} response;

static void respond(http_conn *c, int status, const char *reason, const char *extra,
                    const char *body, bool head_only, bool close)
{
    static _Thread_local response last = {.sec = -1};
    time_t sec;
    const char *date = date_line(&sec);
    const char *conn = close ? "Connection: close\r\n"
                       : (c->parser.http_major == 1 && c->parser.http_minor == 0)
                           ? "Connection: keep-alive\r\n"
                           : "";
    if (last.sec == sec && last.status == status && last.reason == reason && last.extra == extra &&
        last.body == body && last.conn == conn && last.head_only == head_only) {
        put(c, last.bytes, last.len);
        return;
    }
    char h[256];
    size_t blen = strlen(body);
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d %s\r\nServer: asyncio-http\r\n%sContent-Type: "
                     "text/plain\r\nContent-Length: %zu\r\n%s%s\r\n",
                     status, reason, date, blen, extra, conn);
    size_t total = (size_t)n + (head_only ? 0 : blen);
    if (total > sizeof last.bytes) { /* not kept: built for this once */
        put(c, h, (size_t)n);
        if (!head_only)
            put(c, body, blen);
        return;
    }
    last = (response){sec, status, reason, extra, body, conn, head_only, total, {0}};
    memcpy(last.bytes, h, (size_t)n);
    memcpy(last.bytes + n, body, total - (size_t)n);
    put(c, last.bytes, last.len);
}

static int on_message_begin(http_parser *p)
{
    http_conn *c = p->data;
    c->head = 16; /* the request line's method, version and line ends */
    c->body = 0;
    c->url_len = 0;
    c->in_field = false;
    return 0;
}

static int count_head(http_conn *c, size_t n)
{
    c->head += n;
    if (c->head > c->lim.max_head) {
        c->error_status = 431;
        return 1;
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (c->url_len < sizeof c->url) {
        size_t k = sizeof c->url - c->url_len < n ? sizeof c->url - c->url_len : n;
        memcpy(c->url + c->url_len, at, k);
    }
    c->url_len += n;
    return count_head(c, n);
}

/* A name may come in several calls (split input): its 4 bytes of ": " and
 * CR LF are counted at its first piece. */
static int on_header_field(http_parser *p, const char *at, size_t n)
{
    (void)at;
    http_conn *c = p->data;
    size_t extra = c->in_field ? 0 : 4;
    c->in_field = true;
    return count_head(c, n + extra);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    (void)at;
    http_conn *c = p->data;
    c->in_field = false;
    return count_head(c, n);
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    (void)at;
    http_conn *c = p->data;
    c->body += n;
    if (c->body > c->lim.max_body) {
        c->error_status = 413;
        return 1;
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    http_conn *c = p->data;
    if (p->http_major != 1) {
        c->error_status = 505;
        return -1; /* not 0, 1 or 2 (body flags): an error */
    }
    if (p->content_length != UINT64_MAX && p->content_length > c->lim.max_body) {
        c->error_status = 413;
        return -1;
    }
    return 0;
}

/* Whether the URL's path (before '?') is "/". */
static bool is_root(const http_conn *c)
{
    if (c->url_len == 0 || c->url[0] != '/')
        return false;
    return c->url_len == 1 || c->url[1] == '?';
}

static int on_message_complete(http_parser *p)
{
    http_conn *c = p->data;
    bool close = !http_should_keep_alive(p) || p->upgrade;
    bool head = p->method == HTTP_HEAD;
    if (p->method != HTTP_GET && !head)
        respond(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "Method Not Allowed\n", false,
                close);
    else if (!is_root(c))
        respond(c, 404, "Not Found", "", "Not Found\n", head, close);
    else
        respond(c, 200, "OK", "", HELLO, head, close);
    if (close) {
        c->closing = true;
        return 1; /* stop: nothing after it is answered */
    }
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_conn_init(http_conn *c, const http_limits *lim)
{
    memset(c, 0, sizeof *c);
    if (lim)
        c->lim = *lim;
    if (!c->lim.max_head)
        c->lim.max_head = DEF_MAX_HEAD;
    if (!c->lim.max_body)
        c->lim.max_body = DEF_MAX_BODY;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
}

static void fail(http_conn *c)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    int status = c->error_status;
    if (!status)
        status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
    if (status == 431)
        respond(c, 431, "Request Header Fields Too Large", "", "Request Header Fields Too Large\n",
                false, true);
    else if (status == 505)
        respond(c, 505, "HTTP Version Not Supported", "", "HTTP Version Not Supported\n", false,
                true);
    else if (status == 413)
        respond(c, 413, "Payload Too Large", "", "Payload Too Large\n", false, true);
    else
        respond(c, 400, "Bad Request", "", "Bad Request\n", false, true);
    c->closing = true;
}

int http_conn_feed(http_conn *c, const char *data, size_t len, bytebuf *out)
{
    if (c->closing)
        return c->err ? c->err : HTTP_CONN_CLOSE;
    c->out = out;
    size_t n = http_parser_execute(&c->parser, &settings, data, len);
    if (!c->closing && (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || c->parser.upgrade || n != len))
        fail(c);
    if (c->err)
        return c->err;
    return c->closing ? HTTP_CONN_CLOSE : HTTP_CONN_OPEN;
}

int http_conn_eof(http_conn *c, bytebuf *out)
{
    (void)out;
    c->closing = true;
    return c->err ? c->err : HTTP_CONN_CLOSE;
}

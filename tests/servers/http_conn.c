/* The HTTP/1.1 request handling of asyncio-http (tools/servers/http_conn.c)
 * over libhttp-parser: answers, keep-alive, pipelining, errors, limits. */
#include "al_test.h"
#include "http_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated copy of an answer buffer (strndup would read past it:
 * ASan's strict_string_checks). */
static char *dup_text(const bytebuf *b)
{
    char *text = malloc(b->len + 1);
    ck_assert_ptr_nonnull(text);
    memcpy(text, bytebuf_head(b), b->len);
    text[b->len] = 0;
    return text;
}

/* Feeds in (split: byte by byte) and returns the answers' status lines and
 * bodies as "<status>:<body>;" plus "CLOSE" if the connection is to end. */
static const char *serve(const char *in, bool split, const http_limits *lim)
{
    static char res[4096];
    http_conn c;
    http_conn_init(&c, lim);
    bytebuf out = BYTEBUF_INIT;
    size_t n = strlen(in);
    int r = HTTP_CONN_OPEN;
    for (size_t i = 0; i < n && r == HTTP_CONN_OPEN;) {
        size_t k = split ? 1 : n;
        r = http_conn_feed(&c, in + i, k, &out);
        i += k;
    }
    ck_assert_int_ge(r, 0);
    /* render */
    size_t o = 0;
    res[0] = 0;
    /* A NUL-terminated copy: atoi/strstr must not run past the buffer. */
    char *text = dup_text(&out);
    const char *p = text, *end = p + out.len;
    while (p < end) {
        ck_assert_int_eq(strncmp(p, "HTTP/1.1 ", 9), 0);
        int status = atoi(p + 9);
        const char *hend = strstr(p, "\r\n\r\n");
        ck_assert_ptr_nonnull(hend);
        const char *cl = strstr(p, "Content-Length: ");
        ck_assert(cl && cl < hend);
        size_t blen = strtoul(cl + 16, NULL, 10);
        bool head_only = hend + 4 == end || strncmp(hend + 4, "HTTP/1.1 ", 9) == 0;
        const char *body = hend + 4;
        size_t take = head_only && blen && (size_t)(end - body) < blen ? 0 : blen;
        if (head_only && take && strncmp(body, "HTTP/1.1 ", 9) == 0)
            take = 0;
        o += (size_t)snprintf(res + o, sizeof res - o, "%d:%.*s;", status, (int)take, body);
        p = body + take;
    }
    if (r == HTTP_CONN_CLOSE)
        snprintf(res + o, sizeof res - o, "CLOSE");
    free(text);
    bytebuf_free(&out);
    return res;
}

static void check(const char *in, const char *want)
{
    ck_assert_str_eq(serve(in, false, NULL), want);
    ck_assert_str_eq(serve(in, true, NULL), want);
}

#define GET "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

START_TEST(hello)
{
    check(GET, "200:Hello, World!;");
    check("GET /?a=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n", "200:Hello, World!;");
    check("GET /x HTTP/1.1\r\n\r\n", "404:Not Found\n;");
    check("GET /index.html HTTP/1.1\r\n\r\n", "404:Not Found\n;");
    check("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "405:Method Not Allowed\n;");
    check("HEAD / HTTP/1.1\r\n\r\n", "200:;");
    /* the headers wrk and curl rely on */
    http_conn c;
    http_conn_init(&c, NULL);
    bytebuf out = BYTEBUF_INIT;
    ck_assert_int_eq(http_conn_feed(&c, GET, strlen(GET), &out), HTTP_CONN_OPEN);
    char *text = dup_text(&out);
    ck_assert_ptr_nonnull(strstr(text, "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Content-Type: text/plain\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Content-Length: 13\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\nDate: "));
    ck_assert_ptr_null(strstr(text, "Connection:"));
    free(text);
    bytebuf_free(&out);
}
END_TEST

START_TEST(pipelining_and_close)
{
    check(GET GET "GET /y HTTP/1.1\r\n\r\n" GET,
          "200:Hello, World!;200:Hello, World!;404:Not Found\n;200:Hello, World!;");
    /* Connection: close ends it; what follows is not answered */
    check(GET "GET / HTTP/1.1\r\nConnection: close\r\n\r\n" GET,
          "200:Hello, World!;200:Hello, World!;CLOSE");
    /* HTTP/1.0 closes unless keep-alive is asked for */
    check("GET / HTTP/1.0\r\n\r\n" GET, "200:Hello, World!;CLOSE");
    check("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" GET,
          "200:Hello, World!;200:Hello, World!;");
    /* bodies are read past (Content-Length and chunked) */
    check("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" GET,
          "405:Method Not Allowed\n;200:Hello, World!;");
    check("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" GET,
          "405:Method Not Allowed\n;200:Hello, World!;");
}
END_TEST

START_TEST(malformed)
{
    check("GARBAGE\r\n\r\n", "400:Bad Request\n;CLOSE");
    check(GET "GET / HTTP/1.1\r\nBad Header\r\n\r\n" GET,
          "200:Hello, World!;400:Bad Request\n;CLOSE");
    check("GET / HTTP/2.0\r\n\r\n", "505:HTTP Version Not Supported\n;CLOSE");
    check("GET / HTTP/1.1 x\r\n\r\n", "400:Bad Request\n;CLOSE");
    check("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "400:Bad Request\n;CLOSE");
    check("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
          "200:Hello, World!;CLOSE");
    check("\x01\x02\x03", "400:Bad Request\n;CLOSE");
}
END_TEST

START_TEST(limits)
{
    http_limits lim = {.max_head = 100, .max_body = 10};
    ck_assert_str_eq(serve(GET, true, &lim), "200:Hello, World!;");
    char big[512];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Big: %0100d\r\n\r\n", 0);
    ck_assert_str_eq(serve(big, false, &lim), "431:Request Header Fields Too Large\n;CLOSE");
    ck_assert_str_eq(serve(big, true, &lim), "431:Request Header Fields Too Large\n;CLOSE");
    snprintf(big, sizeof big, "GET /%0100d HTTP/1.1\r\n\r\n", 0);
    ck_assert_str_eq(serve(big, true, &lim), "431:Request Header Fields Too Large\n;CLOSE");
    ck_assert_str_eq(serve("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", true, &lim),
                     "413:Payload Too Large\n;CLOSE");
    ck_assert_str_eq(
        serve("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n", true,
              &lim),
        "413:Payload Too Large\n;CLOSE");
    /* the default head limit: 8 KiB */
    char *huge = malloc(20000);
    int n = snprintf(huge, 20000, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 200; i++)
        n += snprintf(huge + n, 20000 - (size_t)n, "X-H%d: %060d\r\n", i, i);
    snprintf(huge + n, 20000 - (size_t)n, "\r\n");
    check(huge, "431:Request Header Fields Too Large\n;CLOSE");
    free(huge);
}
END_TEST

START_TEST(eof_and_after_close)
{
    http_conn c;
    http_conn_init(&c, NULL);
    bytebuf out = BYTEBUF_INIT;
    ck_assert_int_eq(http_conn_feed(&c, "GET / HT", 8, &out), HTTP_CONN_OPEN);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(http_conn_eof(&c, &out), HTTP_CONN_CLOSE);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(http_conn_feed(&c, GET, strlen(GET), &out), HTTP_CONN_CLOSE);
    ck_assert_uint_eq(out.len, 0);
    bytebuf_free(&out);
}
END_TEST

AL_TEST_SUITE(http_conn_suite)
{
    Suite *s = suite_create("http_conn");
    TCase *tc = al_tcase("http_conn");
    tcase_add_test(tc, hello);
    tcase_add_test(tc, pipelining_and_close);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, eof_and_after_close);
    suite_add_tcase(s, tc);
    return s;
}

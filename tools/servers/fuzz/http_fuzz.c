/* libFuzzer target of the HTTP/1.1 request handling (http_conn over
 * libhttp-parser). The input's first byte picks the limits and the read
 * size. Checks: the answers are the same whole and split (status lines
 * and bodies; the Date line masked), each one a well-formed HTTP/1.1
 * response, and nothing is answered after the connection is to close.
 *   build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DASYNCLIB_FUZZ=ON
 *          cmake --build build-fuzz --target http_fuzz
 *   run:   build-fuzz/tools/servers/fuzz/http_fuzz -max_len=1024 -max_total_time=60 */
#include "bytebuf.h"
#include "http_conn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answers with every Date value masked. */
static char *run(const uint8_t *data, size_t size, const http_limits *lim, size_t chunk,
                 size_t *len, int *status)
{
    http_conn c;
    http_conn_init(&c, lim);
    bytebuf out = BYTEBUF_INIT;
    int r = HTTP_CONN_OPEN;
    for (size_t off = 0; off < size && r == HTTP_CONN_OPEN;) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t before = out.len;
        r = http_conn_feed(&c, (const char *)data + off, n, &out);
        if (r < 0)
            abort();
        if (out.len > before && strncmp(bytebuf_head(&out) + before, "HTTP/1.1 ", 9) != 0)
            abort();
        off += n;
    }
    if (r == HTTP_CONN_CLOSE) {
        size_t before = out.len;
        if (http_conn_feed(&c, "GET / HTTP/1.1\r\n\r\n", 18, &out) != HTTP_CONN_CLOSE ||
            out.len != before)
            abort(); /* nothing after close */
    }
    for (size_t i = 0; i + 6 <= out.len; i++)
        if (memcmp(bytebuf_head(&out) + i, "\nDate:", 6) == 0)
            memset(bytebuf_head(&out) + i + 6, '#', 30);
    *status = r;
    *len = out.len;
    char *p = malloc(out.len + 1);
    if (out.len)
        memcpy(p, bytebuf_head(&out), out.len);
    bytebuf_free(&out);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    http_limits lim = {0};
    if (mode & 1)
        lim = (http_limits){.max_head = 64, .max_body = 16};
    size_t chunk = 1 + (mode >> 1) % 9;
    size_t la, lb;
    int sa, sb;
    char *a = run(data, size, &lim, size ? size : 1, &la, &sa);
    char *b = run(data, size, &lim, chunk, &lb, &sb);
    if (la != lb || sa != sb || memcmp(a, b, la) != 0) {
        fprintf(stderr, "whole and split differ (%zu / %zu bytes, %d / %d)\n%.*s\n----\n%.*s\n", la,
                lb, sa, sb, (int)la, a, (int)lb, b);
        abort();
    }
    free(a);
    free(b);
    return 0;
}

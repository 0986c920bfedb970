/* RESP2 request parser: see resp_parser.h. */
#include "resp_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    DEF_MAX_INLINE = 64 * 1024,
    DEF_MAX_BULK = 512 * 1024 * 1024,
    DEF_MAX_ARGS = 1024 * 1024,
    PREALLOC_ARGS = 1024
};

void resp_parser_init(resp_parser *p, const resp_limits *lim)
{
    memset(p, 0, sizeof *p);
    if (lim)
        p->lim = *lim;
    if (!p->lim.max_inline)
        p->lim.max_inline = DEF_MAX_INLINE;
    if (!p->lim.max_bulk)
        p->lim.max_bulk = DEF_MAX_BULK;
    if (!p->lim.max_args)
        p->lim.max_args = DEF_MAX_ARGS;
    p->left = -1;
    p->bulk = -1;
}

void resp_parser_free(resp_parser *p)
{
    free(p->argv);
    p->argv = NULL;
    p->argc = p->cap = 0;
}

bool resp_str_to_ll(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 20)
        return false;
    size_t i = 0;
    bool neg = s[0] == '-';
    if (neg && ++i == len)
        return false;
    if (s[i] == '0' && len > i + 1)
        return false; /* leading zero ("-0" is refused too, as Redis does) */
    if (neg && s[i] == '0')
        return false;
    unsigned long long v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        if (v > (18446744073709551615ULL - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > 9223372036854775808ULL)
            return false;
        *out = v == 9223372036854775808ULL ? (-9223372036854775807LL - 1) : -(long long)v;
    } else {
        if (v > 9223372036854775807ULL)
            return false;
        *out = (long long)v;
    }
    return true;
}

static int fail(resp_parser *p, const char *msg)
{
    snprintf(p->error, sizeof p->error, "%s", msg);
    p->failed = true;
    return RESP_ERROR;
}

static int push_arg(resp_parser *p, size_t off, size_t len)
{
    if (p->argc == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        resp_arg *a = realloc(p->argv, cap * sizeof *a);
        if (!a)
            return fail(p, "ERR out of memory");
        p->argv = a;
        p->cap = cap;
    }
    p->argv[p->argc++] = (resp_arg){off, len};
    return 0;
}

static int reserve_args(resp_parser *p, size_t n)
{
    if (n > PREALLOC_ARGS)
        n = PREALLOC_ARGS;
    if (n <= p->cap)
        return 0;
    resp_arg *a = realloc(p->argv, n * sizeof *a);
    if (!a)
        return fail(p, "ERR out of memory");
    p->argv = a;
    p->cap = n;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* One quoted word starting at line[*i] (the quote), written unquoted at
 * line[*o...]; *i then follows the closing quote, which must end the word. */
static bool unquote(char *line, size_t n, size_t *i, size_t *o)
{
    char q = line[(*i)++];
    while (*i < n) {
        char c = line[*i];
        if (c == q) {
            (*i)++;
            return *i == n || is_blank(line[*i]);
        }
        if (c == '\\' && *i + 1 < n) {
            char e = line[*i + 1];
            if (q == '\'') {
                if (e == '\'') {
                    line[(*o)++] = '\'';
                    *i += 2;
                    continue;
                }
            } else if (e == 'x' && *i + 3 < n && hexval(line[*i + 2]) >= 0 &&
                       hexval(line[*i + 3]) >= 0) {
                line[(*o)++] = (char)(hexval(line[*i + 2]) * 16 + hexval(line[*i + 3]));
                *i += 4;
                continue;
            } else {
                static const char from[] = "nrtab", to[] = "\n\r\t\a\b";
                const char *f = memchr(from, e, 5);
                line[(*o)++] = f ? to[f - from] : e;
                *i += 2;
                continue;
            }
        }
        line[(*o)++] = c;
        (*i)++;
    }
    return false; /* no closing quote */
}

static int parse_inline(resp_parser *p, char *buf, size_t len, size_t *used)
{
    size_t scan = len < p->lim.max_inline + 1 ? len : p->lim.max_inline + 1;
    char *nl = memchr(buf, '\n', scan);
    if (!nl) {
        if (len > p->lim.max_inline)
            return fail(p, "Protocol error: too big inline request");
        return RESP_MORE;
    }
    size_t n = (size_t)(nl - buf);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    size_t i = 0;
    p->argc = 0;
    while (i < n) {
        while (i < n && is_blank(buf[i]))
            i++;
        if (i == n)
            break;
        /* A word: plain bytes, then at most one quoted part, which must end it
         * (a quote inside a word starts quoting, as sdssplitargs does). */
        size_t start = i, o = i;
        while (i < n && !is_blank(buf[i])) {
            if (buf[i] == '"' || buf[i] == '\'') {
                if (!unquote(buf, n, &i, &o))
                    return fail(p, "Protocol error: unbalanced quotes in request");
                break;
            }
            buf[o++] = buf[i++];
        }
        if (p->argc == p->lim.max_args)
            return fail(p, "Protocol error: invalid multibulk length");
        if (push_arg(p, start, o - start) < 0)
            return RESP_ERROR;
    }
    *used = (size_t)(nl - buf) + 1;
    p->done = true;
    return RESP_COMMAND;
}

/* The usual count line in one pass: its type byte, 1 to 18 digits with
 * no leading zero ("0" alone), CR LF, all within len and the inline
 * limit. 1 with *v and p->pos after it; 0 for anything else, which the
 * general path below decides (the outcome is the same either way: this
 * only skips memchr and the overflow checks that 18 digits cannot need). */
static int fast_count_line(resp_parser *p, const char *buf, size_t len, long long *v)
{
    const char *line = buf + p->pos;
    size_t avail = len - p->pos;
    size_t max = avail < 20 ? avail : 20; /* type, 18 digits, one more */
    unsigned long long x = 0;             /* 19 digits fit */
    size_t i = 1;
    for (; i < max; i++) {
        unsigned d = (unsigned char)line[i] - '0';
        if (d > 9)
            break;
        x = x * 10 + d;
    }
    size_t digits = i - 1;
    if (digits == 0 || digits > 18 || (line[1] == '0' && digits > 1) || digits >= p->lim.max_inline)
        return 0;
    if (i + 1 >= avail || line[i] != '\r' || line[i + 1] != '\n')
        return 0;
    *v = (long long)x;
    p->pos += i + 2;
    return 1;
}

/* A "<c><integer>\r\n" line at buf[p->pos]: 1 with *v and p->pos after it,
 * RESP_MORE, or RESP_ERROR with too_big when no line end comes in time. */
static int read_count_line(resp_parser *p, const char *buf, size_t len, long long *v,
                           const char *too_big, const char *invalid)
{
    if (fast_count_line(p, buf, len, v))
        return 1;
    /* The line (without CR LF) may have max_inline bytes: its CR is looked
     * for only that far, so the outcome never depends on how the bytes were
     * split into reads. */
    size_t avail = len - p->pos;
    const char *line = buf + p->pos;
    size_t scan = avail < p->lim.max_inline + 1 ? avail : p->lim.max_inline + 1;
    const char *cr = memchr(line, '\r', scan);
    if (!cr) {
        if (avail > p->lim.max_inline)
            return fail(p, too_big);
        return RESP_MORE;
    }
    if ((size_t)(cr - line) + 1 >= avail)
        return RESP_MORE;
    size_t n = (size_t)(cr - line);
    if (cr[1] != '\n' || !resp_str_to_ll(line + 1, n - 1, v))
        return fail(p, invalid);
    p->pos += n + 2;
    return 1;
}

int resp_parse(resp_parser *p, char *buf, size_t len, size_t *used)
{
    if (p->failed)
        return RESP_ERROR;
    if (p->done) {
        p->done = false;
        p->pos = 0;
        p->left = -1;
        p->bulk = -1;
        p->argc = 0;
    }
    if (len == 0)
        return RESP_MORE;
    if (buf[0] != '*')
        return parse_inline(p, buf, len, used);

    if (p->left < 0) {
        long long n;
        int r = read_count_line(p, buf, len, &n, "Protocol error: too big mbulk count string",
                                "Protocol error: invalid multibulk length");
        if (r != 1)
            return r;
        if (n > (long long)p->lim.max_args)
            return fail(p, "Protocol error: invalid multibulk length");
        p->argc = 0;
        p->left = n > 0 ? n : 0;
        if (reserve_args(p, (size_t)p->left) < 0)
            return RESP_ERROR;
    }
    while (p->left > 0) {
        if (p->bulk < 0) {
            if (len - p->pos == 0)
                return RESP_MORE;
            if (buf[p->pos] != '$') {
                char msg[48];
                snprintf(msg, sizeof msg, "Protocol error: expected '$', got '%c'",
                         (unsigned char)buf[p->pos] >= 32 && (unsigned char)buf[p->pos] < 127
                             ? buf[p->pos]
                             : '?');
                return fail(p, msg);
            }
            long long n;
            int r = read_count_line(p, buf, len, &n, "Protocol error: too big bulk count string",
                                    "Protocol error: invalid bulk length");
            if (r != 1)
                return r;
            if (n < 0 || (unsigned long long)n > p->lim.max_bulk)
                return fail(p, "Protocol error: invalid bulk length");
            p->bulk = n;
        }
        size_t need = (size_t)p->bulk + 2;
        if (len - p->pos < need)
            return RESP_MORE;
        if (buf[p->pos + need - 2] != '\r' || buf[p->pos + need - 1] != '\n')
            return fail(p, "Protocol error: expected CRLF after bulk data");
        if (push_arg(p, p->pos, (size_t)p->bulk) < 0)
            return RESP_ERROR;
        p->pos += need;
        p->bulk = -1;
        p->left--;
    }
    *used = p->pos;
    p->done = true;
    return RESP_COMMAND;
}

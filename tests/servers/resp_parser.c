/* The RESP2 request parser (tools/servers/resp_parser.c): both forms,
 * every split of the input, pipelining, limits and malformed input. */
#include "al_test.h"
#include "resp_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses all of in (copied: inline parsing writes into it) and renders the
 * commands as "a|b|c;" (argc 0: ";"), or "ERR:<message>" at an error.
 * With split, feeds one more byte at a time (every split point). */
static char *parse_all(const char *in, size_t n, bool split, const resp_limits *lim)
{
    char *buf = malloc(n + 1);
    memcpy(buf, in, n);
    static char out[4096];
    size_t o = 0, start = 0;
    out[0] = 0;
    resp_parser p;
    resp_parser_init(&p, lim);
    size_t avail = split ? 0 : n;
    while (start < n) {
        if (split && avail < n - start)
            avail++;
        else
            avail = n - start;
        size_t used = 0;
        int r = resp_parse(&p, buf + start, avail, &used);
        if (r == RESP_ERROR) {
            o += (size_t)snprintf(out + o, sizeof out - o, "ERR:%s", p.error);
            break;
        }
        if (r == RESP_MORE) {
            if (avail == n - start)
                break; /* incomplete at the end */
            continue;
        }
        for (size_t i = 0; i < p.argc && o + p.argv[i].len + 2 < sizeof out; i++) {
            if (i)
                out[o++] = '|';
            memcpy(out + o, buf + start + p.argv[i].off, p.argv[i].len);
            o += p.argv[i].len;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, ";");
        start += used;
        avail = 0;
    }
    resp_parser_free(&p);
    free(buf);
    return out;
}

/* Both whole and split, the same rendering. */
static void check(const char *in, const char *want)
{
    ck_assert_str_eq(parse_all(in, strlen(in), false, NULL), want);
    ck_assert_str_eq(parse_all(in, strlen(in), true, NULL), want);
}

START_TEST(multibulk)
{
    check("*1\r\n$4\r\nPING\r\n", "PING;");
    check("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", "SET|k|;");
    check("*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", "ECHO|a\r\nb;");
    /* pipelined, and an incomplete third left unparsed */
    check("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$4\r\nPI", "PING;GET|x;");
    /* empty multibulks: nothing to run */
    check("*0\r\n*-1\r\n*1\r\n$1\r\nA\r\n", ";;A;");
}
END_TEST

START_TEST(binary_bulk)
{
    const char in[] = "*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n";
    char *out = parse_all(in, sizeof in - 1, true, NULL);
    ck_assert_int_eq(memcmp(out, "ECHO|a\0b;", 9), 0);
}
END_TEST

START_TEST(inline_commands)
{
    check("PING\r\n", "PING;");
    check("PING\n", "PING;");
    check("  SET  key\tvalue \r\nGET key\n", "SET|key|value;GET|key;");
    check("\r\n\n", ";;");
    check("SET k \"a b\\n\\x41\\\"\"\n", "SET|k|a b\nA\";");
    check("SET k 'it\\'s'\n", "SET|k|it's;");
    check("SET k x\"y z\"\n", "SET|k|xy z;");
    check("SET k \"a\"b\n", "ERR:Protocol error: unbalanced quotes in request");
    check("SET k \"abc\n", "ERR:Protocol error: unbalanced quotes in request");
}
END_TEST

START_TEST(malformed)
{
    check("*x\r\n", "ERR:Protocol error: invalid multibulk length");
    check("*1\n$4\r\nPING\r\n", "ERR:Protocol error: invalid multibulk length");
    check("*1\r\n:4\r\nPING\r\n", "ERR:Protocol error: expected '$', got ':'");
    check("*1\r\n$-1\r\n", "ERR:Protocol error: invalid bulk length");
    check("*1\r\n$+1\r\nx\r\n", "ERR:Protocol error: invalid bulk length");
    check("*1\r\n$01\r\nx\r\n", "ERR:Protocol error: invalid bulk length");
    check("*1\r\n$1\r\nxy\r\n", "ERR:Protocol error: expected CRLF after bulk data");
    check("*1\r\n$4\r\nPING\r\r", "ERR:Protocol error: expected CRLF after bulk data");
    check("*2\r\n$1\r\nx\r\n\x01", "ERR:Protocol error: expected '$', got '?'");
}
END_TEST

START_TEST(limits)
{
    resp_limits lim = {.max_inline = 16, .max_bulk = 4, .max_args = 3};
    const char *cases[][2] = {
        {"*4\r\n", "ERR:Protocol error: invalid multibulk length"},
        {"*1\r\n$5\r\n", "ERR:Protocol error: invalid bulk length"},
        {"*1\r\n$4\r\nabcd\r\n", "abcd;"},
        {"0123456789abcdefg", "ERR:Protocol error: too big inline request"},
        {"0123456789abcdef\n", "0123456789abcdef;"},
        {"*00000000000000001", "ERR:Protocol error: too big mbulk count string"},
        {"*1\r\n$00000000000000001", "ERR:Protocol error: too big bulk count string"},
        {"a b c d\n", "ERR:Protocol error: invalid multibulk length"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *in = cases[i][0];
        ck_assert_str_eq(parse_all(in, strlen(in), false, &lim), cases[i][1]);
        ck_assert_str_eq(parse_all(in, strlen(in), true, &lim), cases[i][1]);
    }
    /* the default bulk limit is Redis's 512 MiB */
    check("*1\r\n$536870913\r\n", "ERR:Protocol error: invalid bulk length");
    check("*1\r\n$536870912\r\n", "");
    /* a huge declared count reserves only what arrives */
    check("*1048576\r\n$1\r\nx\r\n", "");
    check("*1048577\r\n", "ERR:Protocol error: invalid multibulk length");
}
END_TEST

/* Count lines at the edges of the one-pass path (up to 18 digits) and of
 * the general one: the same outcome on both sides, whole and split. */
START_TEST(count_lines)
{
    check("*1\r\n$000\r\n", "ERR:Protocol error: invalid bulk length");
    check("*01\r\n", "ERR:Protocol error: invalid multibulk length");
    check("*1\r\n$0\r\n\r\n", ";");
    check("*1\rx", "ERR:Protocol error: invalid multibulk length");
    check("*1\r", "");
    check("*1\r\n$1\r", "");
    check("*100000000000000000\r\n", "ERR:Protocol error: invalid multibulk length");
    check("*1000000000000000000\r\n", "ERR:Protocol error: invalid multibulk length");
    check("*1\r\n$999999999999999999\r\n", "ERR:Protocol error: invalid bulk length");
    check("*1\r\n$9999999999999999999\r\n", "ERR:Protocol error: invalid bulk length");
    check("*1\r\n$99999999999999999999\r\n", "ERR:Protocol error: invalid bulk length");
    check("*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n", "GET|0123456789;");
    /* the inline limit bounds a count line's digits on both paths */
    resp_limits lim = {.max_inline = 2};
    const char *in = "*12\r\n";
    ck_assert_str_eq(parse_all(in, strlen(in), false, &lim),
                     "ERR:Protocol error: too big mbulk count string");
    lim.max_inline = 3;
    ck_assert_str_eq(parse_all(in, strlen(in), false, &lim), "");
    in = "*1\r\n$1\r\nx\r\n";
    lim.max_inline = 1;
    ck_assert_str_eq(parse_all(in, strlen(in), false, &lim),
                     "ERR:Protocol error: too big mbulk count string");
    lim.max_inline = 2;
    ck_assert_str_eq(parse_all(in, strlen(in), true, &lim), "x;");
}
END_TEST

/* After an error the parser stays failed; reset by init. */
START_TEST(error_is_sticky)
{
    resp_parser p;
    resp_parser_init(&p, NULL);
    char bad[] = "*x\r\n", good[] = "PING\n";
    size_t used;
    ck_assert_int_eq(resp_parse(&p, bad, 4, &used), RESP_ERROR);
    ck_assert_int_eq(resp_parse(&p, good, 5, &used), RESP_ERROR);
    resp_parser_free(&p);
    resp_parser_init(&p, NULL);
    ck_assert_int_eq(resp_parse(&p, good, 5, &used), RESP_COMMAND);
    ck_assert_uint_eq(used, 5);
    resp_parser_free(&p);
}
END_TEST

START_TEST(integers)
{
    long long v;
    ck_assert(resp_str_to_ll("0", 1, &v) && v == 0);
    ck_assert(resp_str_to_ll("-12", 3, &v) && v == -12);
    ck_assert(resp_str_to_ll("9223372036854775807", 19, &v) && v == 9223372036854775807LL);
    ck_assert(resp_str_to_ll("-9223372036854775808", 20, &v) && v == -9223372036854775807LL - 1);
    const char *bad[] = {"",
                         "-",
                         "+1",
                         "01",
                         "-0",
                         " 1",
                         "1 ",
                         "9223372036854775808",
                         "-9223372036854775809",
                         "18446744073709551616",
                         "1a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!resp_str_to_ll(bad[i], strlen(bad[i]), &v), "accepted '%s'", bad[i]);
}
END_TEST

AL_TEST_SUITE(resp_parser_suite)
{
    Suite *s = suite_create("resp_parser");
    TCase *tc = al_tcase("resp_parser");
    tcase_add_test(tc, multibulk);
    tcase_add_test(tc, binary_bulk);
    tcase_add_test(tc, inline_commands);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, count_lines);
    tcase_add_test(tc, error_is_sticky);
    tcase_add_test(tc, integers);
    suite_add_tcase(s, tc);
    return s;
}

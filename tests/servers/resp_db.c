/* The command engine of asyncio-redis (tools/servers/resp_db.c): replies,
 * errors and expiry on a clock the test controls. */
#include "al_test.h"
#include "resp_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static resp_db *db;
static int64_t now = 1000000;

static void setup(void)
{
    db = resp_db_new();
    ck_assert_ptr_nonnull(db);
}

static void teardown(void)
{
    resp_db_free(db);
}

/* Runs one inline command and returns its reply, CR LF shown as "|". */
static const char *run(const char *cmd)
{
    static char reply[4096];
    char line[512];
    size_t n = (size_t)snprintf(line, sizeof line, "%s\n", cmd);
    resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used;
    ck_assert_int_eq(resp_parse(&p, line, n, &used), RESP_COMMAND);
    bytebuf out = BYTEBUF_INIT;
    int r = resp_db_exec(db, now, line, p.argv, p.argc, &out);
    ck_assert_int_ge(r, 0);
    size_t o = 0;
    for (size_t i = 0; i < out.len && o < sizeof reply - 1; i++) {
        char c = bytebuf_head(&out)[i];
        if (c == '\r' && i + 1 < out.len && bytebuf_head(&out)[i + 1] == '\n') {
            reply[o++] = '|';
            i++;
        } else {
            reply[o++] = c;
        }
    }
    reply[o] = 0;
    bytebuf_free(&out);
    resp_parser_free(&p);
    return reply;
}

#define EXPECT(cmd, want) ck_assert_str_eq(run(cmd), want)

START_TEST(strings)
{
    EXPECT("PING", "+PONG|");
    EXPECT("ping hello", "$5|hello|");
    EXPECT("PING a b", "-ERR wrong number of arguments for 'ping' command|");
    EXPECT("ECHO \"a b\"", "$3|a b|");
    EXPECT("GET k", "$-1|");
    EXPECT("SET k v1", "+OK|");
    EXPECT("GET k", "$2|v1|");
    EXPECT("set k ''", "+OK|");
    EXPECT("GET k", "$0||");
    EXPECT("SET k v NX", "$-1|");
    EXPECT("SET k2 v XX", "$-1|");
    EXPECT("EXISTS k2", ":0|");
    EXPECT("SET k2 v NX", "+OK|");
    EXPECT("SET k2 w XX GET", "$1|v|");
    EXPECT("GET k2", "$1|w|");
    EXPECT("EXISTS k k2 k nope", ":3|");
    EXPECT("DEL k nope k2", ":2|");
    EXPECT("DBSIZE", ":0|");
    EXPECT("MSET a 1 b 2 c 3", "+OK|");
    EXPECT("MGET a x c", "*3|$1|1|$-1|$1|3|");
    EXPECT("MSET a 1 b", "-ERR wrong number of arguments for 'mset' command|");
    EXPECT("DBSIZE", ":3|");
    EXPECT("FLUSHDB", "+OK|");
    EXPECT("DBSIZE", ":0|");
    EXPECT("GET", "-ERR wrong number of arguments for 'get' command|");
    EXPECT("SET k v NX XX", "-ERR syntax error|");
    EXPECT("SET k v EX", "-ERR syntax error|");
    EXPECT("SET k v EX x", "-ERR value is not an integer or out of range|");
    EXPECT("SET k v EX 0", "-ERR invalid expire time in 'set' command|");
    EXPECT("SET k v EX 9223372036854775807", "-ERR invalid expire time in 'set' command|");
    EXPECT("SET k v EX 5 PX 5", "-ERR syntax error|");
    EXPECT("FOO bar", "-ERR unknown command 'FOO', with args beginning with: 'bar' |");
    EXPECT("SELECT 0", "+OK|");
    EXPECT("SELECT 1", "-ERR DB index is out of range|");
    EXPECT("QUIT", "+OK|");
}
END_TEST

START_TEST(counters)
{
    EXPECT("INCR n", ":1|");
    EXPECT("INCR n", ":2|");
    EXPECT("DECR n", ":1|");
    EXPECT("DECRBY n 11", ":-10|");
    EXPECT("INCRBY n 5", ":-5|");
    EXPECT("GET n", "$2|-5|");
    EXPECT("SET n 9223372036854775806", "+OK|");
    EXPECT("INCR n", ":9223372036854775807|");
    EXPECT("INCR n", "-ERR increment or decrement would overflow|");
    EXPECT("SET s abc", "+OK|");
    EXPECT("INCR s", "-ERR value is not an integer or out of range|");
    EXPECT("SET s ' 1'", "+OK|");
    EXPECT("INCR s", "-ERR value is not an integer or out of range|");
    EXPECT("DECRBY n -9223372036854775808", "-ERR value is not an integer or out of range|");
}
END_TEST

START_TEST(expiry_lazy)
{
    EXPECT("SET k v EX 10", "+OK|");
    EXPECT("TTL k", ":10|");
    EXPECT("PTTL k", ":10000|");
    EXPECT("TTL nope", ":-2|");
    EXPECT("SET p v", "+OK|");
    EXPECT("TTL p", ":-1|");
    EXPECT("INCR c", ":1|");
    EXPECT("PEXPIRE c 1500", ":1|");
    EXPECT("INCR c", ":2|"); /* INCR keeps the deadline */
    EXPECT("PTTL c", ":1500|");
    EXPECT("SET p2 v PX 100", "+OK|");
    EXPECT("SET p2 w KEEPTTL", "+OK|");
    EXPECT("PTTL p2", ":100|");
    EXPECT("SET p2 w", "+OK|"); /* a plain SET clears it */
    EXPECT("TTL p2", ":-1|");
    now += 9999;
    EXPECT("GET k", "$1|v|");
    EXPECT("GET c", "$-1|");
    now += 1;
    EXPECT("GET k", "$-1|");
    EXPECT("EXISTS k", ":0|");
    EXPECT("EXPIRE nope 5", ":0|");
    EXPECT("EXPIRE p 5", ":1|");
    EXPECT("PERSIST p", ":1|");
    EXPECT("TTL p", ":-1|");
    EXPECT("EXPIRE p 0", ":1|"); /* a deadline not in the future deletes */
    EXPECT("EXISTS p", ":0|");
    EXPECT("EXPIRE p2 x", "-ERR value is not an integer or out of range|");
    EXPECT("DBSIZE", ":1|");
}
END_TEST

/* The active cycle deletes expired keys without a command touching them,
 * a bounded number per call, and leaves the others. */
START_TEST(expiry_active)
{
    char cmd[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(cmd, sizeof cmd, "SET k%d v %s", i, i % 2 ? "PX 50" : "");
        EXPECT(cmd, "+OK|");
    }
    ck_assert_uint_eq(resp_db_size(db), 1000);
    ck_assert_uint_eq(resp_db_volatile(db), 500);
    ck_assert_uint_eq(resp_db_expire_cycle(db, now + 49, 10000), 0);
    size_t first = resp_db_expire_cycle(db, now + 50, 20);
    ck_assert_uint_le(first, 20);
    size_t total = first;
    for (int i = 0; i < 1000 && resp_db_volatile(db) > 0; i++)
        total += resp_db_expire_cycle(db, now + 50, 20);
    ck_assert_uint_eq(total, 500);
    ck_assert_uint_eq(resp_db_size(db), 500);
    ck_assert_uint_eq(resp_db_volatile(db), 0);
    EXPECT("GET k0", "$1|v|");
    EXPECT("DBSIZE", ":500|");
}
END_TEST

START_TEST(command_table)
{
    EXPECT("COMMAND COUNT", ":24|");
    EXPECT("COMMAND DOCS", "*0|");
    EXPECT("COMMAND INFO get nope", "*2|*6|$3|get|:2|*2|+readonly|+fast|:1|:1|:1|*-1|");
    const char *all = run("COMMAND");
    ck_assert_int_eq(strncmp(all, "*24|*6|$3|get|", 14), 0);
    EXPECT("COMMAND FOO", "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.|");
    EXPECT("CONFIG GET save", "*2|$4|save|$0||");
    EXPECT("CONFIG GET appendonly", "*2|$10|appendonly|$2|no|");
    EXPECT("CONFIG GET *", "*4|$4|save|$0||$10|appendonly|$2|no|");
    EXPECT("CONFIG GET maxmemory", "*0|");
}
END_TEST

/* A big keyspace: the table grows and every key stays reachable. */
START_TEST(many_keys)
{
    char cmd[64], want[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(cmd, sizeof cmd, "SET key:%d %d", i, i);
        EXPECT(cmd, "+OK|");
    }
    for (int i = 0; i < 20000; i += 7) {
        snprintf(cmd, sizeof cmd, "GET key:%d", i);
        snprintf(want, sizeof want, "$%d|%d|", (int)strlen(cmd) - 8, i);
        EXPECT(cmd, want);
    }
    EXPECT("DBSIZE", ":20000|");
}
END_TEST

AL_TEST_SUITE(resp_db_suite)
{
    Suite *s = suite_create("resp_db");
    TCase *tc = al_tcase("resp_db");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, strings);
    tcase_add_test(tc, counters);
    tcase_add_test(tc, expiry_lazy);
    tcase_add_test(tc, expiry_active);
    tcase_add_test(tc, command_table);
    tcase_add_test(tc, many_keys);
    suite_add_tcase(s, tc);
    return s;
}

/* asyncio-redis: a RESP2 server (redis-cli, redis-benchmark) on the I/O
 * layer: conn_server's connections, resp_parser + resp_db's commands. */
#include "conn_server.h"
#include "resp_db.h"
#include "resp_parser.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct redis_conn {
    resp_parser parser;
    bytebuf in; /* the start of a command not complete yet */
} redis_conn;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_init(void *state, void *shared)
{
    (void)shared;
    redis_conn *c = state;
    resp_parser_init(&c->parser, NULL);
}

static void conn_fini(void *state)
{
    redis_conn *c = state;
    resp_parser_free(&c->parser);
    bytebuf_free(&c->in);
}

/* Runs every complete command of buf[0..len): the bytes used, or a
 * negative code / -(CONN_CLOSE + 1) ... kept simple: *status gets the
 * connection's fate. */
static size_t run_commands(redis_conn *c, resp_db *db, char *buf, size_t len, bytebuf *out,
                           int *status)
{
    size_t off = 0;
    int64_t now = now_ms();
    *status = CONN_OPEN;
    while (off < len) {
        size_t used;
        int r = resp_parse(&c->parser, buf + off, len - off, &used);
        if (r == RESP_MORE)
            break;
        if (r == RESP_ERROR) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s%s", strncmp(c->parser.error, "ERR", 3) ? "ERR " : "",
                     c->parser.error);
            *status = resp_reply_error(out, msg) < 0 ? -1 : CONN_CLOSE;
            return off;
        }
        if (c->parser.argc > 0) {
            int x = resp_db_exec(db, now, buf + off, c->parser.argv, c->parser.argc, out);
            if (x < 0 || x == RESP_EXEC_CLOSE) {
                *status = x < 0 ? x : CONN_CLOSE;
                return off + used;
            }
        }
        off += used;
    }
    return off;
}

static int feed(void *state, char *data, size_t len, bytebuf *out, void *shared)
{
    redis_conn *c = state;
    int status;
    if (c->in.len == 0) { /* parse straight from the read; keep only a partial command */
        size_t used = run_commands(c, shared, data, len, out, &status);
        if (status == CONN_OPEN && used < len && bytebuf_append(&c->in, data + used, len - used))
            return -1;
        return status;
    }
    if (bytebuf_append(&c->in, data, len) < 0)
        return -1;
    size_t used = run_commands(c, shared, bytebuf_head(&c->in), c->in.len, out, &status);
    bytebuf_consume(&c->in, used);
    return status;
}

static void tick(void *shared, double time)
{
    (void)time;
    resp_db_expire_cycle(shared, now_ms(), 200);
}

static const conn_handler handler = {sizeof(redis_conn), conn_init, feed, conn_fini, tick};
static const srv_desc desc; /* defined below: serve() needs it */

static int serve(const srv_options *o)
{
    resp_db *db = resp_db_new();
    if (!db) {
        fprintf(stderr, "asyncio-redis: out of memory\n");
        return 1;
    }
    int r = conn_server_run_api(&desc, o, &handler, db);
    resp_db_free(db);
    return r;
}

static const srv_desc desc = {
    .name = "asyncio-redis",
    .summary = "RESP2 (Redis protocol) server on the asynclib I/O layer, keys in memory",
    .apis = conn_server_apis,
    .default_port = 6380,
    .extra_help =
        "\nCommands: PING ECHO SET (EX PX NX XX KEEPTTL GET) GET DEL EXISTS INCR DECR\n"
        "INCRBY DECRBY MSET MGET EXPIRE PEXPIRE TTL PTTL PERSIST DBSIZE FLUSHDB FLUSHALL\n"
        "SELECT 0, CONFIG GET, COMMAND, QUIT; inline and multibulk requests, pipelining.\n"
        "Keys expire when touched and by a 100 ms timer. Malformed input: a protocol\n"
        "error reply, then the connection is closed. Every worker has its own keys.\n",
    .example = "asyncio-redis --port 6380 & redis-benchmark -p 6380 -t ping,set,get -q",
    .serve = serve,
};

int main(int argc, char **argv)
{
    return srv_main(&desc, argc, argv);
}

/* The keyspace and commands of asyncio-redis, separate from any I/O: a
 * command's arguments in, its RESP2 reply appended to an output buffer.
 *
 * Commands: PING, ECHO, SET (EX, PX, NX, XX, KEEPTTL, GET), GET, DEL,
 * EXISTS, INCR, DECR, INCRBY, DECRBY, MSET, MGET, EXPIRE, PEXPIRE, TTL,
 * PTTL, PERSIST, DBSIZE, FLUSHDB, FLUSHALL, SELECT (0 only), CONFIG GET
 * (save, appendonly: what redis-benchmark asks for), COMMAND (the table,
 * COUNT, DOCS, INFO), QUIT. Values are strings (binary-safe); errors are
 * RESP errors with Redis's texts.
 *
 * Expiry: each key may carry an absolute deadline in milliseconds of the
 * caller's clock (any monotonic clock, given with every call). An expired
 * key is deleted when a command touches it (lazily), and
 * resp_db_expire_cycle deletes expired keys a bounded number at a time
 * (to be called from a timer, as Redis's active expire cycle).
 *
 * Hashing is seeded per database (getrandom), so clients cannot choose
 * keys that collide.
 *
 * Threads: one database per thread (no locking).
 */
#ifndef SERVERS_RESP_DB_H
#define SERVERS_RESP_DB_H

#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "resp_parser.h"

typedef struct resp_db resp_db;

/* A new empty database, or NULL when out of memory. */
resp_db *resp_db_new(void);
void resp_db_free(resp_db *db);

/* Keys stored (expired ones not yet deleted included). */
size_t resp_db_size(const resp_db *db);

enum {
    RESP_EXEC_OK = 0,   /* reply appended */
    RESP_EXEC_CLOSE = 1 /* reply appended; close the connection after it (QUIT) */
};

/* Runs the command argv[0..argc) (offsets into buf, as resp_parse returns
 * them; argc >= 1) at time now_ms and appends the reply to out. Returns
 * RESP_EXEC_OK, RESP_EXEC_CLOSE, or -ENOMEM (the reply may be cut: close
 * the connection; the database stays consistent). */
int resp_db_exec(resp_db *db, int64_t now_ms, const char *buf, const resp_arg *argv, size_t argc,
                 bytebuf *out);

/* Examines up to max keys that have a deadline, from where the last cycle
 * stopped, and deletes those past now_ms. Returns how many it deleted. */
size_t resp_db_expire_cycle(resp_db *db, int64_t now_ms, size_t max);

/* Keys with a deadline (expired or not). */
size_t resp_db_volatile(const resp_db *db);

/* Appends a RESP error reply "-<msg>\r\n": 0 or -ENOMEM. */
int resp_reply_error(bytebuf *out, const char *msg);

#endif

/* Keyspace and commands of asyncio-redis: see resp_db.h. */
#include "resp_db.h"

#include <limits.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    int64_t expire_ms; /* 0: no deadline */
    size_t klen, vlen, vcap;
    char *val;
    char key[];
} entry;

struct resp_db {
    entry **buckets;
    size_t mask; /* buckets - 1 (a power of two minus one) */
    size_t count;
    size_t nvolatile; /* entries with expire_ms != 0 */
    size_t cursor;    /* bucket where the next expire cycle starts */
    uint64_t seed;
    bytebuf command_reply; /* COMMAND's whole-table reply, built once */
};

/* ---- hashing and the table ---------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    return x ^ (x >> 32);
}

static uint64_t hash_key(const resp_db *db, const char *k, size_t n)
{
    uint64_t h = db->seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, k, 8);
        h = mix(h ^ w);
        k += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, k, n);
    return mix(h ^ w ^ ((uint64_t)n << 56));
}

resp_db *resp_db_new(void)
{
    resp_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->mask = 15;
    db->buckets = calloc(db->mask + 1, sizeof *db->buckets);
    if (!db->buckets) {
        free(db);
        return NULL;
    }
    if (getrandom(&db->seed, sizeof db->seed, GRND_NONBLOCK) != sizeof db->seed)
        db->seed = (uint64_t)(uintptr_t)db ^ 0x2545f4914f6cdd1dULL;
    return db;
}

static void entry_free(entry *e)
{
    free(e->val);
    free(e);
}

static void clear(resp_db *db)
{
    for (size_t i = 0; i <= db->mask; i++) {
        entry *e = db->buckets[i];
        while (e) {
            entry *next = e->next;
            entry_free(e);
            e = next;
        }
        db->buckets[i] = NULL;
    }
    db->count = db->nvolatile = 0;
}

void resp_db_free(resp_db *db)
{
    if (!db)
        return;
    clear(db);
    free(db->buckets);
    bytebuf_free(&db->command_reply);
    free(db);
}

size_t resp_db_size(const resp_db *db)
{
    return db->count;
}

size_t resp_db_volatile(const resp_db *db)
{
    return db->nvolatile;
}

/* Doubles the table when it is full; failure keeps the old one (chains
 * just get longer). */
static void maybe_grow(resp_db *db)
{
    if (db->count <= db->mask)
        return;
    size_t n = (db->mask + 1) * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i <= db->mask; i++) {
        entry *e = db->buckets[i];
        while (e) {
            entry *next = e->next;
            entry **slot = &b[e->hash & (n - 1)];
            e->next = *slot;
            *slot = e;
            e = next;
        }
    }
    free(db->buckets);
    db->buckets = b;
    db->mask = n - 1;
    db->cursor = 0;
}

static void unlink_entry(resp_db *db, entry **link)
{
    entry *e = *link;
    *link = e->next;
    db->count--;
    if (e->expire_ms)
        db->nvolatile--;
    entry_free(e);
}

/* The link that points at key's entry (*link NULL if absent). An entry past
 * its deadline is deleted on the way (lazy expiry). */
static entry **find(resp_db *db, int64_t now, const char *k, size_t n, uint64_t *hash)
{
    uint64_t h = hash_key(db, k, n);
    if (hash)
        *hash = h;
    entry **link = &db->buckets[h & db->mask];
    while (*link) {
        entry *e = *link;
        if (e->hash == h && e->klen == n && memcmp(e->key, k, n) == 0) {
            if (e->expire_ms && e->expire_ms <= now) {
                unlink_entry(db, link);
                while (*link) /* absent now: a link that points at NULL */
                    link = &(*link)->next;
            }
            return link;
        }
        link = &e->next;
    }
    return link;
}

static entry *lookup(resp_db *db, int64_t now, const char *k, size_t n)
{
    return *find(db, now, k, n, NULL);
}

static void set_expire(resp_db *db, entry *e, int64_t at)
{
    db->nvolatile += (at != 0) - (e->expire_ms != 0);
    e->expire_ms = at;
}

static int set_value(entry *e, const char *v, size_t n)
{
    if (!e->val || e->vcap < n || (e->vcap > 64 && e->vcap > 4 * n)) {
        char *p = malloc(n ? n : 1);
        if (!p)
            return -ENOMEM;
        free(e->val);
        e->val = p;
        e->vcap = n ? n : 1;
    }
    memcpy(e->val, v, n);
    e->vlen = n;
    return 0;
}

/* Sets key to value; the deadline is kept when keep_ttl, else cleared. */
static int store(resp_db *db, int64_t now, const char *k, size_t kn, const char *v, size_t vn,
                 bool keep_ttl, entry **out)
{
    uint64_t h;
    entry **link = find(db, now, k, kn, &h);
    entry *e = *link;
    if (e) {
        if (set_value(e, v, vn) < 0)
            return -ENOMEM;
        if (!keep_ttl)
            set_expire(db, e, 0);
    } else {
        e = calloc(1, sizeof *e + kn);
        if (!e || set_value(e, v, vn) < 0) {
            free(e);
            return -ENOMEM;
        }
        memcpy(e->key, k, kn);
        e->klen = kn;
        e->hash = h;
        e->next = db->buckets[h & db->mask];
        db->buckets[h & db->mask] = e;
        db->count++;
        maybe_grow(db);
    }
    if (out)
        *out = e;
    return 0;
}

static bool delete_key(resp_db *db, int64_t now, const char *k, size_t n)
{
    entry **link = find(db, now, k, n, NULL);
    if (!*link)
        return false;
    unlink_entry(db, link);
    return true;
}

size_t resp_db_expire_cycle(resp_db *db, int64_t now_ms, size_t max)
{
    size_t deleted = 0, seen = 0, buckets = 0;
    while (db->nvolatile > 0 && seen < max && buckets <= db->mask) {
        entry **link = &db->buckets[db->cursor];
        while (*link && seen < max) {
            entry *e = *link;
            if (e->expire_ms) {
                seen++;
                if (e->expire_ms <= now_ms) {
                    unlink_entry(db, link);
                    deleted++;
                    continue;
                }
            }
            link = &e->next;
        }
        if (*link)
            break; /* budget spent inside this bucket: resume here next time */
        db->cursor = (db->cursor + 1) & db->mask;
        buckets++;
    }
    return deleted;
}

/* ---- replies -------------------------------------------------------------- */

typedef struct ctx {
    resp_db *db;
    int64_t now;
    const char *buf;
    const resp_arg *argv;
    size_t argc;
    bytebuf *out;
    int err; /* -ENOMEM once an append failed */
} ctx;

static void put(ctx *c, const void *p, size_t n)
{
    if (!c->err && bytebuf_append(c->out, p, n) < 0)
        c->err = -ENOMEM;
}

static void put_str(ctx *c, const char *s)
{
    put(c, s, strlen(s));
}

/* v in decimal, ending at end (no terminator); returns the first digit
 * (or the sign). Replies format every length and integer: no snprintf. */
static char *format_ll(char *end, long long v)
{
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    char *p = end;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return p;
}

static void put_line(ctx *c, char type, long long v)
{
    char tmp[32];
    tmp[30] = '\r';
    tmp[31] = '\n';
    char *p = format_ll(tmp + 30, v);
    *--p = type;
    put(c, p, (size_t)(tmp + 32 - p));
}

static void reply_int(ctx *c, long long v)
{
    put_line(c, ':', v);
}

static void reply_bulk(ctx *c, const char *p, size_t n)
{
    put_line(c, '$', (long long)n);
    put(c, p, n);
    put(c, "\r\n", 2);
}

static void reply_nil(ctx *c)
{
    put(c, "$-1\r\n", 5);
}

static void reply_ok(ctx *c)
{
    put(c, "+OK\r\n", 5);
}

static void reply_err(ctx *c, const char *msg)
{
    put(c, "-", 1);
    put_str(c, msg);
    put(c, "\r\n", 2);
}

int resp_reply_error(bytebuf *out, const char *msg)
{
    ctx c = {.out = out};
    reply_err(&c, msg);
    return c.err;
}

static const char *arg(const ctx *c, size_t i)
{
    return c->buf + c->argv[i].off;
}

static size_t alen(const ctx *c, size_t i)
{
    return c->argv[i].len;
}

static bool arg_is(const ctx *c, size_t i, const char *word)
{
    size_t n = strlen(word);
    return alen(c, i) == n && strncasecmp(arg(c, i), word, n) == 0;
}

static bool arg_ll(const ctx *c, size_t i, long long *v)
{
    return resp_str_to_ll(arg(c, i), alen(c, i), v);
}

static const char E_SYNTAX[] = "ERR syntax error";
static const char E_NOTINT[] = "ERR value is not an integer or out of range";

/* ---- commands ----------------------------------------------------------- */

static void cmd_ping(ctx *c)
{
    if (c->argc == 2)
        reply_bulk(c, arg(c, 1), alen(c, 1));
    else
        put_str(c, "+PONG\r\n");
}

static void cmd_echo(ctx *c)
{
    reply_bulk(c, arg(c, 1), alen(c, 1));
}

static void cmd_get(ctx *c)
{
    entry *e = lookup(c->db, c->now, arg(c, 1), alen(c, 1));
    if (e)
        reply_bulk(c, e->val, e->vlen);
    else
        reply_nil(c);
}

/* now + amount * unit ms as a deadline, or false (out of range / <= 0). */
static bool deadline(const ctx *c, long long amount, long long unit, int64_t *at)
{
    if (amount <= 0 || amount > (INT64_MAX - c->now) / unit)
        return false;
    *at = c->now + amount * unit;
    return true;
}

static void cmd_set(ctx *c)
{
    bool nx = false, xx = false, keep = false, get = false;
    long long unit = 0, amount = 0;
    for (size_t i = 3; i < c->argc; i++) {
        bool more = i + 1 < c->argc;
        if (arg_is(c, i, "NX") && !xx)
            nx = true;
        else if (arg_is(c, i, "XX") && !nx)
            xx = true;
        else if (arg_is(c, i, "GET"))
            get = true;
        else if (arg_is(c, i, "KEEPTTL") && !unit)
            keep = true;
        else if ((arg_is(c, i, "EX") || arg_is(c, i, "PX")) && !unit && !keep && more) {
            unit = arg_is(c, i, "EX") ? 1000 : 1;
            if (!arg_ll(c, ++i, &amount)) {
                reply_err(c, E_NOTINT);
                return;
            }
        } else {
            reply_err(c, E_SYNTAX);
            return;
        }
    }
    int64_t at = 0;
    if (unit && !deadline(c, amount, unit, &at)) {
        reply_err(c, "ERR invalid expire time in 'set' command");
        return;
    }
    entry *old = lookup(c->db, c->now, arg(c, 1), alen(c, 1));
    if (get) {
        if (old)
            reply_bulk(c, old->val, old->vlen);
        else
            reply_nil(c);
    }
    if ((nx && old) || (xx && !old)) {
        if (!get)
            reply_nil(c);
        return;
    }
    entry *e;
    if (store(c->db, c->now, arg(c, 1), alen(c, 1), arg(c, 2), alen(c, 2), keep, &e) < 0) {
        c->err = -ENOMEM;
        return;
    }
    if (at)
        set_expire(c->db, e, at);
    if (!get)
        reply_ok(c);
}

static void cmd_del(ctx *c)
{
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++)
        n += delete_key(c->db, c->now, arg(c, i), alen(c, i));
    reply_int(c, n);
}

static void cmd_exists(ctx *c)
{
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++)
        n += lookup(c->db, c->now, arg(c, i), alen(c, i)) != NULL;
    reply_int(c, n);
}

static void incr_by(ctx *c, long long by)
{
    entry *e = lookup(c->db, c->now, arg(c, 1), alen(c, 1));
    long long v = 0;
    if (e && !resp_str_to_ll(e->val, e->vlen, &v)) {
        reply_err(c, E_NOTINT);
        return;
    }
    if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
        reply_err(c, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char tmp[24];
    char *digits = format_ll(tmp + sizeof tmp, v);
    if (store(c->db, c->now, arg(c, 1), alen(c, 1), digits, (size_t)(tmp + sizeof tmp - digits),
              true, NULL) < 0) {
        c->err = -ENOMEM;
        return;
    }
    reply_int(c, v);
}

static void cmd_incr(ctx *c)
{
    incr_by(c, 1);
}

static void cmd_decr(ctx *c)
{
    incr_by(c, -1);
}

static void cmd_incrby(ctx *c, bool negate)
{
    long long by;
    if (!arg_ll(c, 2, &by) || (negate && by == LLONG_MIN)) {
        reply_err(c, E_NOTINT);
        return;
    }
    incr_by(c, negate ? -by : by);
}

static void cmd_incrby_pos(ctx *c)
{
    cmd_incrby(c, false);
}

static void cmd_decrby(ctx *c)
{
    cmd_incrby(c, true);
}

static void cmd_mset(ctx *c)
{
    if (c->argc % 2 == 0) {
        reply_err(c, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    for (size_t i = 1; i < c->argc; i += 2) {
        if (store(c->db, c->now, arg(c, i), alen(c, i), arg(c, i + 1), alen(c, i + 1), false,
                  NULL) < 0) {
            c->err = -ENOMEM;
            return;
        }
    }
    reply_ok(c);
}

static void cmd_mget(ctx *c)
{
    put_line(c, '*', (long long)(c->argc - 1));
    for (size_t i = 1; i < c->argc; i++) {
        entry *e = lookup(c->db, c->now, arg(c, i), alen(c, i));
        if (e)
            reply_bulk(c, e->val, e->vlen);
        else
            reply_nil(c);
    }
}

static void expire_generic(ctx *c, long long unit)
{
    long long amount;
    if (!arg_ll(c, 2, &amount)) {
        reply_err(c, E_NOTINT);
        return;
    }
    entry *e = lookup(c->db, c->now, arg(c, 1), alen(c, 1));
    if (!e) {
        reply_int(c, 0);
        return;
    }
    int64_t at;
    if (amount <= 0) { /* a deadline in the past deletes the key, as Redis */
        delete_key(c->db, c->now, arg(c, 1), alen(c, 1));
    } else if (!deadline(c, amount, unit, &at)) {
        reply_err(c, unit == 1000 ? "ERR invalid expire time in 'expire' command"
                                  : "ERR invalid expire time in 'pexpire' command");
        return;
    } else {
        set_expire(c->db, e, at);
    }
    reply_int(c, 1);
}

static void cmd_expire(ctx *c)
{
    expire_generic(c, 1000);
}

static void cmd_pexpire(ctx *c)
{
    expire_generic(c, 1);
}

static void ttl_generic(ctx *c, bool ms)
{
    entry *e = lookup(c->db, c->now, arg(c, 1), alen(c, 1));
    if (!e)
        reply_int(c, -2);
    else if (!e->expire_ms)
        reply_int(c, -1);
    else
        reply_int(c, ms ? e->expire_ms - c->now : (e->expire_ms - c->now + 500) / 1000);
}

static void cmd_ttl(ctx *c)
{
    ttl_generic(c, false);
}

static void cmd_pttl(ctx *c)
{
    ttl_generic(c, true);
}

static void cmd_persist(ctx *c)
{
    entry *e = lookup(c->db, c->now, arg(c, 1), alen(c, 1));
    if (!e || !e->expire_ms) {
        reply_int(c, 0);
        return;
    }
    set_expire(c->db, e, 0);
    reply_int(c, 1);
}

static void cmd_dbsize(ctx *c)
{
    reply_int(c, (long long)c->db->count);
}

static void cmd_flushdb(ctx *c)
{
    if (c->argc == 2 && !arg_is(c, 1, "ASYNC") && !arg_is(c, 1, "SYNC")) {
        reply_err(c, E_SYNTAX);
        return;
    }
    clear(c->db);
    reply_ok(c);
}

static void cmd_select(ctx *c)
{
    long long n;
    if (!arg_ll(c, 1, &n))
        reply_err(c, E_NOTINT);
    else if (n != 0)
        reply_err(c, "ERR DB index is out of range");
    else
        reply_ok(c);
}

static void cmd_quit(ctx *c)
{
    reply_ok(c);
}

static void cmd_config(ctx *c);
static void cmd_command(ctx *c);

/* The command table: name, arity (negative: at least -arity), the flags
 * and key positions COMMAND reports, and the function. */
typedef struct command {
    const char *name;
    size_t len; /* strlen(name) */
    int arity;
    const char *flags; /* space-separated */
    int first, last, step;
    void (*fn)(ctx *);
} command;

#define CMD(name, ...)                                                                             \
    {                                                                                              \
        name, sizeof name - 1, __VA_ARGS__                                                         \
    }
static const command commands[] = {
    CMD("get", 2, "readonly fast", 1, 1, 1, cmd_get),
    CMD("set", -3, "write denyoom", 1, 1, 1, cmd_set),
    CMD("ping", -1, "fast", 0, 0, 0, cmd_ping),
    CMD("incr", 2, "write denyoom fast", 1, 1, 1, cmd_incr),
    CMD("mset", -3, "write denyoom", 1, -1, 2, cmd_mset),
    CMD("mget", -2, "readonly fast", 1, -1, 1, cmd_mget),
    CMD("decr", 2, "write denyoom fast", 1, 1, 1, cmd_decr),
    CMD("incrby", 3, "write denyoom fast", 1, 1, 1, cmd_incrby_pos),
    CMD("decrby", 3, "write denyoom fast", 1, 1, 1, cmd_decrby),
    CMD("del", -2, "write", 1, -1, 1, cmd_del),
    CMD("exists", -2, "readonly fast", 1, -1, 1, cmd_exists),
    CMD("echo", 2, "fast", 0, 0, 0, cmd_echo),
    CMD("expire", 3, "write fast", 1, 1, 1, cmd_expire),
    CMD("pexpire", 3, "write fast", 1, 1, 1, cmd_pexpire),
    CMD("ttl", 2, "readonly fast", 1, 1, 1, cmd_ttl),
    CMD("pttl", 2, "readonly fast", 1, 1, 1, cmd_pttl),
    CMD("persist", 2, "write fast", 1, 1, 1, cmd_persist),
    CMD("dbsize", 1, "readonly fast", 0, 0, 0, cmd_dbsize),
    CMD("flushdb", -1, "write", 0, 0, 0, cmd_flushdb),
    CMD("flushall", -1, "write", 0, 0, 0, cmd_flushdb),
    CMD("select", 2, "loading stale fast", 0, 0, 0, cmd_select),
    CMD("config", -2, "admin noscript loading stale", 0, 0, 0, cmd_config),
    CMD("command", -1, "random loading stale", 0, 0, 0, cmd_command),
    CMD("quit", -1, "allow_busy fast", 0, 0, 0, cmd_quit),
};
#undef CMD
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void reply_command_entry(ctx *c, const command *cmd)
{
    put_str(c, "*6\r\n");
    reply_bulk(c, cmd->name, strlen(cmd->name));
    reply_int(c, cmd->arity);
    size_t nflags = 1;
    for (const char *f = cmd->flags; *f; f++)
        nflags += *f == ' ';
    put_line(c, '*', (long long)nflags);
    for (const char *f = cmd->flags; *f;) {
        size_t n = strcspn(f, " ");
        put(c, "+", 1);
        put(c, f, n);
        put(c, "\r\n", 2);
        f += n + (f[n] == ' ');
    }
    reply_int(c, cmd->first);
    reply_int(c, cmd->last);
    reply_int(c, cmd->step);
}

static const command *find_command(const char *name, size_t n)
{
    /* Length and first letter first: the table's names are lower case, so
     * `| 0x20` folds an ASCII letter (and a non-letter never matches). */
    unsigned char first = n ? (unsigned char)name[0] | 0x20 : 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].len == n && (unsigned char)commands[i].name[0] == first &&
            strncasecmp(commands[i].name, name, n) == 0)
            return &commands[i];
    return NULL;
}

static void cmd_command(ctx *c)
{
    if (c->argc == 1) {
        bytebuf *table = &c->db->command_reply; /* the same bytes every time */
        if (table->len == 0) {
            ctx t = {.db = c->db, .out = table};
            put_line(&t, '*', NCOMMANDS);
            for (size_t i = 0; i < NCOMMANDS; i++)
                reply_command_entry(&t, &commands[i]);
            if (t.err) {
                bytebuf_free(table);
                c->err = t.err;
                return;
            }
        }
        put(c, bytebuf_head(table), table->len);
    } else if (arg_is(c, 1, "COUNT") && c->argc == 2) {
        reply_int(c, NCOMMANDS);
    } else if (arg_is(c, 1, "DOCS")) {
        put_str(c, "*0\r\n"); /* no documentation: clients fall back to no hints */
    } else if (arg_is(c, 1, "INFO")) {
        put_line(c, '*', (long long)(c->argc - 2));
        for (size_t i = 2; i < c->argc; i++) {
            const command *cmd = find_command(arg(c, i), alen(c, i));
            if (cmd)
                reply_command_entry(c, cmd);
            else
                put_str(c, "*-1\r\n");
        }
    } else {
        char msg[96];
        snprintf(msg, sizeof msg, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                 (int)(alen(c, 1) > 32 ? 32 : alen(c, 1)), arg(c, 1));
        reply_err(c, msg);
    }
}

/* CONFIG GET with the two parameters clients ask for; the values are what
 * this server does (no persistence). */
static void cmd_config(ctx *c)
{
    if (!arg_is(c, 1, "GET") || c->argc < 3) {
        char msg[96];
        snprintf(msg, sizeof msg,
                 "ERR unknown subcommand or wrong number of arguments for "
                 "'%.*s'. Try CONFIG HELP.",
                 (int)(alen(c, 1) > 16 ? 16 : alen(c, 1)), arg(c, 1));
        reply_err(c, msg);
        return;
    }
    static const char *const params[][2] = {{"save", ""}, {"appendonly", "no"}};
    bool match[2] = {false, false};
    long long n = 0;
    for (size_t i = 2; i < c->argc; i++) {
        char pat[128];
        size_t len = alen(c, i) < sizeof pat - 1 ? alen(c, i) : sizeof pat - 1;
        memcpy(pat, arg(c, i), len);
        pat[len] = 0;
        for (int k = 0; k < 2; k++)
            if (!match[k] && fnmatch(pat, params[k][0], FNM_CASEFOLD) == 0) {
                match[k] = true;
                n++;
            }
    }
    put_line(c, '*', 2 * n);
    for (int k = 0; k < 2; k++)
        if (match[k]) {
            reply_bulk(c, params[k][0], strlen(params[k][0]));
            reply_bulk(c, params[k][1], strlen(params[k][1]));
        }
}

static void reply_unknown(ctx *c)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "ERR unknown command '%.*s', with args beginning with: ",
                     (int)(alen(c, 0) > 64 ? 64 : alen(c, 0)), arg(c, 0));
    for (size_t i = 1; i < c->argc && n < 200; i++)
        n += snprintf(msg + n, sizeof msg - (size_t)n, "'%.*s' ",
                      (int)(alen(c, i) > 16 ? 16 : alen(c, i)), arg(c, i));
    /* the text goes into a one-line error: no CR or LF from the client */
    for (char *p = msg; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    reply_err(c, msg);
}

int resp_db_exec(resp_db *db, int64_t now_ms, const char *buf, const resp_arg *argv, size_t argc,
                 bytebuf *out)
{
    ctx c = {db, now_ms, buf, argv, argc, out, 0};
    const command *cmd = find_command(arg(&c, 0), alen(&c, 0));
    if (!cmd) {
        reply_unknown(&c);
        return c.err;
    }
    if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
        (cmd->arity < 0 && argc < (size_t)-cmd->arity)) {
        char msg[96];
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command", cmd->name);
        reply_err(&c, msg);
        return c.err;
    }
    if (cmd->fn == cmd_ping && argc > 2) {
        reply_err(&c, "ERR wrong number of arguments for 'ping' command");
        return c.err;
    }
    cmd->fn(&c);
    if (c.err)
        return c.err;
    return cmd->fn == cmd_quit ? RESP_EXEC_CLOSE : RESP_EXEC_OK;
}

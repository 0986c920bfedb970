/* An incremental parser of RESP2 requests (what redis-cli, redis-benchmark
 * and Redis client libraries send), separate from any I/O.
 *
 * Two forms, as Redis accepts them:
 *   multibulk  "*<n>\r\n" then n times "$<len>\r\n<len bytes>\r\n"
 *   inline     one line of words up to "\n" (a "\r" before it is dropped),
 *              split at blanks; "double" quotes (with \n \r \t \b \a \\ \"
 *              and \xHH escapes) and 'single' quotes (with \') group a
 *              word, as redis-cli's and Redis's sdssplitargs do.
 *
 * Use: keep the unconsumed input in one buffer and call resp_parse(p, buf,
 * len, &used) whenever bytes arrive, always with buf at the first byte of
 * the command being parsed (more bytes may follow). RESP_MORE: the
 * command is not complete; the parser remembers how far it got, so call
 * again with the same start and more bytes (the buffer may have moved:
 * the parser keeps offsets, never pointers). RESP_COMMAND: argv[0..argc)
 * are the arguments, as offsets into buf, and the command is the first
 * *used bytes; run it, drop those bytes, and call again for the next one.
 * argc may be 0 (an empty line, "*0"): nothing to run. RESP_ERROR: the
 * input is not RESP or exceeds a limit; error holds the message Redis
 * sends ("Protocol error: ..."); the connection should reply with it and
 * close. The parser then stays in error until reset.
 *
 * Inline parsing unescapes quoted words in place, so buf is modified
 * (only bytes of the returned command).
 *
 * Limits (resp_limits, 0 = the default): an inline line or a count line
 * of at most max_inline bytes (64 KiB), bulks of at most max_bulk bytes
 * (512 MiB), at most max_args arguments (1 Mi), as Redis's defaults.
 * Memory: the argument array grows with the arguments actually read (a
 * declared count reserves at most 1024 up front).
 *
 * Thread: a parser belongs to one connection; no shared state.
 */
#ifndef SERVERS_RESP_PARSER_H
#define SERVERS_RESP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

enum { RESP_ERROR = -1, RESP_MORE = 0, RESP_COMMAND = 1 };

typedef struct resp_limits {
    size_t max_inline; /* 0: 64 KiB */
    size_t max_bulk;   /* 0: 512 MiB */
    size_t max_args;   /* 0: 1024 * 1024 */
} resp_limits;

typedef struct resp_arg {
    size_t off; /* from the first byte of the command */
    size_t len;
} resp_arg;

typedef struct resp_parser {
    resp_limits lim;
    /* the command in progress */
    size_t pos;     /* bytes of it parsed */
    long long left; /* multibulk: bulks still to read; -1: header not read */
    long long bulk; /* length of the bulk being read; -1: its "$" line not read */
    bool done;      /* a command was returned: the next call starts afresh */
    bool failed;
    /* its arguments */
    size_t argc, cap;
    resp_arg *argv;
    char error[80]; /* the message after RESP_ERROR */
} resp_parser;

/* Initialises p with lim (NULL: the defaults). No allocation yet. */
void resp_parser_init(resp_parser *p, const resp_limits *lim);
/* Frees p's memory (p may be initialised again). */
void resp_parser_free(resp_parser *p);

/* Parses the command at buf (len bytes available). See above. RESP_ERROR
 * also when memory runs out ("ERR out of memory"). */
int resp_parse(resp_parser *p, char *buf, size_t len, size_t *used);

/* Parses a whole string as a signed 64-bit decimal integer as Redis's
 * string2ll does: optional '-', digits, no leading zeros (except "0"), no
 * blanks, no '+', in range. true with *out on success. */
bool resp_str_to_ll(const char *s, size_t len, long long *out);

#endif

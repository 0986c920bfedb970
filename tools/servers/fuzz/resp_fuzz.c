/* libFuzzer target of the RESP2 parser and the command engine.
 *
 * The input's first byte picks the limits and how the rest is split into
 * reads; the rest is fed as a server does (append to the input buffer,
 * parse every complete command, run it, drop it). Checks: every argument
 * lies inside the command's bytes; the commands and the error are the same
 * whole and split (an oracle for the incremental state); every reply is
 * appended; the database's counts stay consistent under expiry. ASan and
 * UBSan watch the rest.
 *   build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DASYNCLIB_FUZZ=ON
 *          cmake --build build-fuzz --target resp_fuzz
 *   run:   build-fuzz/tools/servers/fuzz/resp_fuzz -max_len=512 -max_total_time=60 */
#include "bytebuf.h"
#include "resp_db.h"
#include "resp_parser.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the commands seen, so two runs can be compared (not
 * instrumented: its per-byte loop would be most of the fuzzer's time). */
__attribute__((no_sanitize("coverage"))) static uint64_t fold(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

struct outcome {
    uint64_t hash;
    size_t commands;
    int error;
};

/* One database for the whole run, emptied before each use (making one
 * per input costs a getrandom call and the table). */
static resp_db *fresh_db(void)
{
    static resp_db *db;
    if (!db && !(db = resp_db_new()))
        abort();
    char flush[] = "FLUSHDB";
    resp_arg arg = {0, 7};
    bytebuf out = BYTEBUF_INIT;
    if (resp_db_exec(db, 0, flush, &arg, 1, &out) != RESP_EXEC_OK || resp_db_size(db) != 0)
        abort();
    bytebuf_free(&out);
    return db;
}

/* Parses data in reads of chunk bytes; runs the commands when with_db. */
static struct outcome run(const uint8_t *data, size_t size, unsigned mode, size_t chunk,
                          bool with_db)
{
    resp_limits lim = {0};
    if (mode & 1)
        lim = (resp_limits){.max_inline = 32, .max_bulk = 16, .max_args = 4};
    resp_parser p;
    resp_parser_init(&p, &lim);
    resp_db *db = with_db ? fresh_db() : NULL;
    bytebuf in = BYTEBUF_INIT, out = BYTEBUF_INIT;
    struct outcome o = {0xcbf29ce484222325ULL, 0, 0};
    int64_t now = 1000;
    for (size_t off = 0; off < size && !o.error;) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (bytebuf_append(&in, data + off, n) < 0)
            abort();
        off += n;
        for (;;) {
            size_t used = 0;
            int r = resp_parse(&p, bytebuf_head(&in), in.len, &used);
            if (r == RESP_MORE)
                break;
            if (r == RESP_ERROR) {
                o.error = 1;
                o.hash = fold(o.hash, p.error, strlen(p.error));
                if (resp_reply_error(&out, p.error) < 0)
                    abort();
                break;
            }
            if (used == 0 || used > in.len)
                abort();
            for (size_t i = 0; i < p.argc; i++) {
                if (p.argv[i].off > used || p.argv[i].len > used - p.argv[i].off)
                    abort();
                o.hash = fold(o.hash, &p.argv[i].len, sizeof p.argv[i].len);
                o.hash = fold(o.hash, bytebuf_head(&in) + p.argv[i].off, p.argv[i].len);
            }
            o.commands++;
            if (p.argc > 0 && db) {
                size_t before = out.len;
                int x = resp_db_exec(db, now, bytebuf_head(&in), p.argv, p.argc, &out);
                if (x < 0 || out.len == before)
                    abort(); /* every command gets a reply */
                char t = bytebuf_head(&out)[before];
                if (!strchr("+-:$*", t))
                    abort();
                now += 7;
            }
            bytebuf_consume(&in, used);
            bytebuf_consume(&out, out.len); /* checked: keep it from growing */
        }
        if (db && (mode & 2))
            resp_db_expire_cycle(db, now, 8);
        if (db && resp_db_volatile(db) > resp_db_size(db))
            abort();
    }
    bytebuf_free(&in);
    bytebuf_free(&out);
    resp_parser_free(&p);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    size_t chunk = 1 + (mode >> 2) % 7;
    struct outcome whole = run(data, size, mode & 1, size ? size : 1, false);
    struct outcome split = run(data, size, mode, chunk, true);
    if (whole.commands != split.commands || whole.error != split.error ||
        whole.hash != split.hash) {
        fprintf(stderr, "whole and split differ: %zu/%zu commands, error %d/%d\n", whole.commands,
                split.commands, whole.error, split.error);
        abort();
    }
    return 0;
}

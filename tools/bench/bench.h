/* asynclib-bench: micro-benchmarks that register themselves.
 *
 * Each case prints lines "name value unit" (one space between fields) with
 * bench_report(). Run all: asynclib-bench; run some: asynclib-bench PREFIX...
 * (cases whose name starts with one of the prefixes).
 */
#ifndef AL_BENCH_H
#define AL_BENCH_H

#include <stdint.h>

typedef void (*bench_fn)(void);
void bench_register(const char *name, bench_fn fn);
void bench_report(const char *name, double value, const char *unit);
/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);
/* Resident set size of this process in bytes (from /proc/self/statm). */
long bench_rss_bytes(void);
/* Scale factor for iteration counts: BENCH_SCALE env (default 1.0). */
double bench_scale(void);

#define AL_BENCH(fn)                                                                               \
    static void fn(void);                                                                          \
    __attribute__((constructor)) static void bench_register_##fn(void)                             \
    {                                                                                              \
        bench_register(#fn, fn);                                                                   \
    }                                                                                              \
    static void fn(void)

#endif

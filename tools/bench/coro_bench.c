/* Coroutine benchmarks: raw switch, spawn+finish, 1 M parked coroutines. */
#include "bench.h"
#include "coro.h"
#include "stack.h"

#include <stdio.h>
#include <stdlib.h>

static void yield_loop(void *arg)
{
    (void)arg;
    for (;;)
        al__coro_yield();
}

/* One resume + one yield is two one-way switches, through the public API
 * (state checks and the thread-local current included). */
AL_BENCH(switch_ns)
{
    long n = (long)(20000000 * bench_scale());
    al_coro *co = NULL;
    if (al__coro_new(&co, 0, yield_loop, NULL) != 0)
        return;
    al__coro_resume(co);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        al__coro_resume(co);
    uint64_t t1 = bench_now_ns();
    al__coro_free(co);
    bench_report("switch_ns", (double)(t1 - t0) / (2.0 * (double)n), "ns");
}

static void noop(void *arg)
{
    (void)arg;
}

/* Stacks come from the per-thread pool after the first round. */
AL_BENCH(coro_spawn_finish_ns)
{
    long n = (long)(5000000 * bench_scale());
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        al_coro *co = NULL;
        if (al__coro_new(&co, 0, noop, NULL) != 0)
            return;
        al__coro_resume(co);
        al__coro_free(co);
    }
    uint64_t t1 = bench_now_ns();
    bench_report("coro_spawn_finish_ns", (double)(t1 - t0) / (double)n, "ns");
}

static void park_once(void *arg)
{
    (void)arg;
    al__coro_yield();
}

/* n coroutines each started and parked (yielded once), then all resumed
 * to completion and freed. RSS is measured while all are parked. */
static void park(const char *mode, size_t stack_size, unsigned flags)
{
    long n = (long)(1000000 * bench_scale());
    al_coro **cos = malloc(sizeof *cos * (size_t)n);
    if (!cos)
        return;
    for (long i = 0; i < n; i++) /* fault the array in before the baseline */
        cos[i] = NULL;
    long rss0 = bench_rss_bytes();
    uint64_t t0 = bench_now_ns();
    long made = 0;
    for (; made < n; made++) {
        if (al__coro_new_ex(&cos[made], stack_size, park_once, NULL, flags) != 0)
            break;
        al__coro_resume(cos[made]);
    }
    long rss1 = bench_rss_bytes();
    for (long i = 0; i < made; i++) {
        al__coro_resume(cos[i]);
        al__coro_free(cos[i]);
    }
    uint64_t t1 = bench_now_ns();
    al__stack_flush_cache();
    free(cos);
    if (made < n) {
        fprintf(stderr, "coro_park_1m (%s): only %ld coroutines created\n", mode, made);
        return;
    }
    char name[96];
    snprintf(name, sizeof name, "coro_park_1m_ns_per_task%s", mode);
    bench_report(name, (double)(t1 - t0) / (double)n, "ns");
    snprintf(name, sizeof name, "coro_park_1m_rss_bytes_per_task%s", mode);
    bench_report(name, (double)(rss1 - rss0) / (double)n, "B");
}

/* Default mode: 256 KiB stacks, guard pages on the first ~16 k. */
AL_BENCH(coro_park_1m)
{
    park("", 0, 0);
}

/* Smallest accepted stack (16 KiB): same RSS (one touched page each),
 * 16x less address space and page-table spread. */
AL_BENCH(coro_park_1m_min)
{
    park("_min_stack", AL_CORO_STACK_MIN, 0);
}

/* Shared-stack (copying) mode: a parked coroutine keeps only its frames,
 * copied to the heap (see AL_CORO_SHARED_STACK for the caveats). */
AL_BENCH(coro_park_1m_shared)
{
    park("_shared_stack", 0, AL_CORO_SHARED_STACK);
}

/* Resume + yield of shared-stack coroutines taking turns: each switch in
 * evicts the other's frames (two small memcpy). */
AL_BENCH(coro_shared_switch_ns)
{
    long n = (long)(5000000 * bench_scale());
    al_coro *a = NULL, *b = NULL;
    if (al__coro_new_ex(&a, 0, yield_loop, NULL, AL_CORO_SHARED_STACK) ||
        al__coro_new_ex(&b, 0, yield_loop, NULL, AL_CORO_SHARED_STACK))
        return;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        al__coro_resume(a);
        al__coro_resume(b);
    }
    uint64_t t1 = bench_now_ns();
    al__coro_free(a);
    al__coro_free(b);
    bench_report("coro_shared_switch_ns", (double)(t1 - t0) / (4.0 * (double)n), "ns");
}

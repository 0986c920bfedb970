/* Loop core micro-benchmarks: call_soon throughput, timer scheduling and
 * cancellation, timer firing in deadline order. */
#include "bench.h"

#include <asynclib/asynclib.h>

#include <stdlib.h>

static int count_cb(al_loop *loop, void *arg)
{
    (void)loop;
    (*(long *)arg)++;
    return 0;
}

static int stop_cb(al_loop *loop, void *arg)
{
    (void)arg;
    return al_loop_stop(loop);
}

/* N callbacks queued at once, then run in one iteration. */
AL_BENCH(call_soon)
{
    long n = (long)(1000000 * bench_scale()), count = 0;
    al_loop *loop = al_loop_new_virtual();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        al_call_soon(loop, count_cb, &count, NULL);
    al_call_soon(loop, stop_cb, NULL, NULL);
    al_loop_run_forever(loop);
    double s = (double)(bench_now_ns() - t0) * 1e-9;
    bench_report("call_soon_per_s", (double)count / s, "callbacks/s");
    al_loop_free(loop);
}

typedef struct chain {
    long left;
} chain;

static int chain_cb(al_loop *loop, void *arg)
{
    chain *c = arg;
    if (--c->left == 0)
        return al_loop_stop(loop);
    return al_call_soon(loop, chain_cb, c, NULL);
}

/* One callback per iteration: the cost of a whole loop iteration. */
AL_BENCH(call_soon_chain)
{
    long n = (long)(1000000 * bench_scale());
    chain c = {n};
    al_loop *loop = al_loop_new();
    uint64_t t0 = bench_now_ns();
    al_call_soon(loop, chain_cb, &c, NULL);
    al_loop_run_forever(loop);
    double s = (double)(bench_now_ns() - t0) * 1e-9;
    bench_report("call_soon_chain_per_s", (double)n / s, "callbacks/s");
    al_loop_free(loop);
}

/* 1 M timers scheduled with a handle, then all cancelled and purged. */
AL_BENCH(call_later_cancel)
{
    long n = (long)(1000000 * bench_scale()), count = 0;
    al_loop *loop = al_loop_new_virtual();
    al_handle **hs = malloc((size_t)n * sizeof *hs);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        al_call_later(loop, 1.0 + (double)(i % 1000) * 1e-3, count_cb, &count, &hs[i]);
    for (long i = 0; i < n; i++) {
        al_handle_cancel(hs[i]);
        al_handle_unref(hs[i]);
    }
    al_loop_stop(loop);
    al_loop_run_forever(loop); /* the purge */
    double ns = (double)(bench_now_ns() - t0) / (double)n;
    bench_report("call_later_cancel_ns", ns, "ns/pair");
    free(hs);
    al_loop_free(loop);
}

/* 1 M timers at pseudo-random deadlines, all fired in deadline order. */
AL_BENCH(timer_fire)
{
    long n = (long)(1000000 * bench_scale()), count = 0;
    al_loop *loop = al_loop_new_virtual();
    uint32_t x = 12345;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        al_call_later(loop, (double)(x >> 8) * 1e-6, count_cb, &count, NULL);
    }
    al_call_later(loop, 1e9, stop_cb, NULL, NULL);
    al_loop_run_forever(loop);
    double ns = (double)(bench_now_ns() - t0) / (double)n;
    bench_report("timer_fire_ns", ns, "ns/timer");
    al_loop_free(loop);
}

/* The ordering cost alone: 1 M timers already due (random deadlines in the
 * past) leave the heap in deadline order within one iteration. */
AL_BENCH(timer_fire_batch)
{
    long n = (long)(1000000 * bench_scale()), count = 0;
    al_loop *loop = al_loop_new_virtual();
    uint32_t x = 12345;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        al_call_later(loop, -1.0 - (double)(x >> 8) * 1e-6, count_cb, &count, NULL);
    }
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    double ns = (double)(bench_now_ns() - t0) / (double)n;
    bench_report("timer_fire_batch_ns", ns, "ns/timer");
    al_loop_free(loop);
}

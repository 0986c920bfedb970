/* Combinator benchmarks: gather over 1000 tasks, and gather's own cost. */
#include "bench.h"

#include <asynclib/asynclib.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 1000

static int child(void *arg, void **result)
{
    *result = arg;
    return al_sleep(0); /* suspend once, as a real child would */
}

typedef struct gather_round {
    int rounds;
    uint64_t ns;
} gather_round;

/* Each gather_round: spawn 1000 tasks, gather them, await the gather. */
static int gather_main(void *arg, void **result)
{
    (void)result;
    gather_round *r = arg;
    al_loop *loop = al_get_running_loop();
    al_task *tasks[N];
    al_future *fs[N];
    uint64_t t0 = bench_now_ns();
    for (int k = 0; k < r->rounds; k++) {
        for (int i = 0; i < N; i++) {
            if (al_task_new(loop, child, (void *)(intptr_t)i, NULL, &tasks[i]) < 0)
                return -1;
            fs[i] = al_task_future(tasks[i]);
        }
        al_future *g;
        if (al_gather(loop, fs, N, false, &g) < 0 || al_await(g) < 0)
            return -1;
        void *v;
        al_future_result(g, &v);
        if (((al_gather_result *)v)->n != N)
            return -1;
        al_future_unref(g);
        for (int i = 0; i < N; i++)
            al_task_unref(tasks[i]);
    }
    r->ns = bench_now_ns() - t0;
    return 0;
}

AL_BENCH(gather_1000)
{
    gather_round r = {(int)(200 * bench_scale()) + 1, 0};
    al_loop *loop = al_loop_new_virtual();
    al_task *t;
    if (!loop || al_task_new(loop, gather_main, &r, NULL, &t) < 0)
        return;
    int rc = al_loop_run_until_complete(loop, al_task_future(t));
    al_task_unref(t);
    al_loop_free(loop);
    if (rc < 0) {
        fprintf(stderr, "gather_1000: %s\n", al_strerror(rc));
        return;
    }
    bench_report("gather_1000_us", (double)r.ns / 1e3 / r.rounds, "us");
}

/* The gather machinery alone: 1000 plain futures completed in one go. */
AL_BENCH(gather_1000_futures)
{
    int rounds = (int)(500 * bench_scale()) + 1;
    al_loop *loop = al_loop_new_virtual();
    if (!loop)
        return;
    al_future **fs = malloc(N * sizeof *fs);
    uint64_t total = 0;
    for (int k = 0; k < rounds; k++) {
        for (int i = 0; i < N; i++)
            al_future_new(loop, &fs[i]);
        uint64_t t0 = bench_now_ns();
        al_future *g;
        al_gather(loop, fs, N, false, &g);
        for (int i = 0; i < N; i++)
            al_future_set_result(fs[i], (void *)(intptr_t)i, NULL);
        al_loop_run_until_complete(loop, g);
        total += bench_now_ns() - t0;
        al_future_unref(g);
        for (int i = 0; i < N; i++)
            al_future_unref(fs[i]);
    }
    free(fs);
    al_loop_free(loop);
    bench_report("gather_1000_futures_us", (double)total / 1e3 / rounds, "us");
}

/* Task and future benchmarks: await of a done future, the await round
 * trip through the loop, spawn + finish, 1 M tasks parked on one future.
 *
 * Peer: python3 /work/shared/bench/peers/asyncio_tasks.py prints the
 * park/wake keys for asyncio (1 M tasks on an Event). */
#include "bench.h"

#include <asynclib/asynclib.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define IV(x) ((void *)(intptr_t)(x))

/* Runs fn as the main task of a fresh loop (real clock unless virt). */
static void run_main(al_task_fn fn, void *arg, int virt)
{
    al_loop *loop = virt ? al_loop_new_virtual() : al_loop_new();
    if (!loop)
        return;
    al_task *t;
    if (al_task_new(loop, fn, arg, NULL, &t) == 0) {
        int rc = al_loop_run_until_complete(loop, al_task_future(t));
        if (rc < 0)
            fprintf(stderr, "task bench: main task failed: %s\n", al_strerror(rc));
        al_task_unref(t);
    }
    al_loop_free(loop);
}

/* ---- await of an already-done future -------------------------------------------- */

static int await_done_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    long n = (long)(20000000 * bench_scale());
    al_future *f;
    if (al_future_new(al_get_running_loop(), &f) < 0)
        return -1;
    al_future_set_result(f, IV(1), NULL);
    int acc = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        acc += al_await(f);
    uint64_t t1 = bench_now_ns();
    al_future_unref(f);
    if (acc != 0)
        return -1;
    bench_report("await_done_ns", (double)(t1 - t0) / (double)n, "ns");
    return 0;
}

AL_BENCH(await_done)
{
    run_main(await_done_main, NULL, 0);
}

/* ---- await round trip: A sets a future, B awakes ---------------------------------- */

typedef struct pingpong {
    al_future *wait[2]; /* the future each side is parked on */
    long rounds;
} pingpong;

typedef struct side {
    pingpong *pp;
    int me;
} side;

static int pp_side(void *arg, void **result)
{
    (void)result;
    side *s = arg;
    pingpong *pp = s->pp;
    al_loop *loop = al_get_running_loop();
    for (long i = 0; i < pp->rounds; i++) {
        al_future *mine;
        if (al_future_new(loop, &mine) < 0)
            return -1;
        pp->wait[s->me] = mine;
        al_future *other = pp->wait[!s->me];
        if (other && !al_future_done(other))
            al_future_set_result(other, NULL, NULL);
        int rc = al_await(mine);
        pp->wait[s->me] = NULL;
        al_future_unref(mine);
        if (rc < 0)
            return rc;
    }
    al_future *other = pp->wait[!s->me];
    if (other && !al_future_done(other))
        al_future_set_result(other, NULL, NULL); /* let the last wait end */
    return 0;
}

typedef struct rt_arg {
    int pairs;
    const char *key;
} rt_arg;

static int roundtrip_main(void *arg, void **result)
{
    (void)result;
    rt_arg *ra = arg;
    al_loop *loop = al_get_running_loop();
    long per_pair = (long)(2000000 * bench_scale()) / ra->pairs;
    pingpong *pps = calloc((size_t)ra->pairs, sizeof *pps);
    side *sides = calloc((size_t)ra->pairs * 2, sizeof *sides);
    al_task **ts = calloc((size_t)ra->pairs * 2, sizeof *ts);
    if (!pps || !sides || !ts)
        return -1;
    for (int p = 0; p < ra->pairs; p++) {
        pps[p].rounds = per_pair;
        for (int k = 0; k < 2; k++) {
            sides[2 * p + k] = (side){&pps[p], k};
        }
    }
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < 2 * ra->pairs; i++)
        if (al_task_new(loop, pp_side, &sides[i], NULL, &ts[i]) < 0)
            return -1;
    for (int i = 0; i < 2 * ra->pairs; i++) {
        al_await(al_task_future(ts[i]));
        al_task_unref(ts[i]);
    }
    uint64_t t1 = bench_now_ns();
    /* Each round of a side is one hand-off: it sets the other's future and
     * the other wakes up in the next iteration. */
    double handoffs = 2.0 * (double)per_pair * ra->pairs;
    bench_report(ra->key, (double)(t1 - t0) / handoffs, "ns");
    free(pps);
    free(sides);
    free(ts);
    return 0;
}

AL_BENCH(await_roundtrip)
{
    rt_arg a = {1, "await_roundtrip_ns"};
    run_main(roundtrip_main, &a, 0);
    rt_arg b = {1, "await_roundtrip_ns_virtual_loop"};
    run_main(roundtrip_main, &b, 1);
    rt_arg c = {100, "await_roundtrip_ns_100_pairs"};
    run_main(roundtrip_main, &c, 0);
}

/* ---- spawn + finish ------------------------------------------------------------------ */

static long spawned_done;

static int empty_body(void *arg, void **result)
{
    (void)arg;
    (void)result;
    spawned_done++;
    return 0;
}

typedef struct spawn_arg {
    int eager;
    size_t stack;
    unsigned flags;
    const char *key;
} spawn_arg;

/* Batches of 32 tasks (within the stack pool's per-thread cache), each
 * started in the next iteration and finished there; or eager: started and
 * finished inside al_task_new. */
static int spawn_main(void *arg, void **result)
{
    (void)result;
    spawn_arg *sa = arg;
    al_loop *loop = al_get_running_loop();
    long n = (long)(2000000 * bench_scale());
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.eager = sa->eager ? AL_EAGER_ON : AL_EAGER_OFF;
    o.stack_size = sa->stack;
    o.flags = sa->flags;
    spawned_done = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i += 32) {
        for (int k = 0; k < 32; k++)
            if (al_task_new(loop, empty_body, NULL, &o, NULL) < 0)
                return -1;
        if (!sa->eager)
            al_sleep(0);
    }
    uint64_t t1 = bench_now_ns();
    if (spawned_done < n)
        return -1;
    bench_report(sa->key, (double)(t1 - t0) / (double)spawned_done, "ns");
    return 0;
}

AL_BENCH(spawn_finish)
{
    spawn_arg a = {0, 0, 0, "spawn_finish_ns"};
    run_main(spawn_main, &a, 0);
    spawn_arg b = {1, 0, 0, "spawn_finish_eager_ns"};
    run_main(spawn_main, &b, 0);
    spawn_arg c = {0, 0, AL_TASK_SHARED_STACK, "spawn_finish_shared_stack_ns"};
    run_main(spawn_main, &c, 0);
}

/* ---- 1 M tasks parked on one future, then released --------------------------------- */

typedef struct park_arg {
    size_t stack;
    unsigned flags;
    const char *suffix;
} park_arg;

static al_future *gate, *all_done;
static long park_n, park_finished;

static int parked_body(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = al_await(gate);
    if (++park_finished == park_n)
        al_future_set_result(all_done, NULL, NULL);
    return rc;
}

static int park_main(void *arg, void **result)
{
    (void)result;
    park_arg *pa = arg;
    al_loop *loop = al_get_running_loop();
    park_n = (long)(1000000 * bench_scale());
    park_finished = 0;
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.stack_size = pa->stack;
    o.flags = pa->flags;
    o.eager = AL_EAGER_OFF;
    if (al_future_new(loop, &gate) < 0 || al_future_new(loop, &all_done) < 0)
        return -1;
    long rss0 = bench_rss_bytes();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < park_n; i++) {
        int rc = al_task_new(loop, parked_body, NULL, &o, NULL);
        if (rc < 0) {
            fprintf(stderr, "park%s: task %ld: %s\n", pa->suffix, i, al_strerror(rc));
            return rc;
        }
    }
    al_sleep(0); /* every task has run up to its await */
    uint64_t t1 = bench_now_ns();
    long rss1 = bench_rss_bytes();
    al_future_set_result(gate, NULL, NULL);
    al_await(all_done);
    uint64_t t2 = bench_now_ns();
    al_future_unref(gate);
    al_future_unref(all_done);
    char key[96];
    snprintf(key, sizeof key, "park_1m_ns_per_task%s", pa->suffix);
    bench_report(key, (double)(t1 - t0) / (double)park_n, "ns");
    snprintf(key, sizeof key, "wake_1m_ns_per_task%s", pa->suffix);
    bench_report(key, (double)(t2 - t1) / (double)park_n, "ns");
    snprintf(key, sizeof key, "park_1m_rss_bytes_per_task%s", pa->suffix);
    bench_report(key, (double)(rss1 - rss0) / (double)park_n, "B");
    return 0;
}

/* The headline keys: shared-stack tasks (a parked task keeps only its
 * frames); then the smallest private stack for comparison. */
AL_BENCH(park_1m)
{
    park_arg a = {0, AL_TASK_SHARED_STACK, ""};
    run_main(park_main, &a, 0);
    park_arg b = {16 * 1024, 0, "_16k_stack"};
    run_main(park_main, &b, 0);
}

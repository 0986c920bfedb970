/* Locks and queues: the cases of issue 4, on the real-clock loop. The same
 * keys are printed for CPython's asyncio by tools/sync_bench_asyncio.py.
 *
 *   sync_lock_uncontended_ns     acquire + release, nobody else around
 *   sync_lock_handoff_{2,100}_ns per hand-off: N tasks loop on
 *                                "acquire; sleep(0); release"
 *   sync_queue_pingpong_ns       per item, two tasks bouncing over 2 queues
 *   sync_queue_max{1,1024}_items_s  one producer, one consumer
 *   sync_sem10_tasks1000_ns      per acquire: 1000 tasks loop on
 *                                Semaphore(10) "acquire; sleep(0); release"
 */
#include "bench.h"

#include <asynclib/asynclib.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define IV(x) ((void *)(intptr_t)(x))

static long iters(long n)
{
    long v = (long)((double)n * bench_scale());
    return v > 0 ? v : 1;
}

/* Runs fn(arg) as the main task of a fresh real-clock loop; returns the
 * elapsed wall time in ns. */
static uint64_t run_main(al_task_fn fn, void *arg)
{
    al_loop *loop = al_loop_new();
    al_task *t;
    if (!loop || al_task_new(loop, fn, arg, NULL, &t) < 0) {
        fprintf(stderr, "sync_bench: setup failed\n");
        return 0;
    }
    uint64_t t0 = bench_now_ns();
    al_loop_run_until_complete(loop, al_task_future(t));
    uint64_t t1 = bench_now_ns();
    al_task_unref(t);
    al_loop_free(loop);
    return t1 - t0;
}

/* Spawns n tasks of fn(arg) and awaits them all. */
static void spawn_and_wait(int n, al_task_fn fn, void *arg)
{
    al_loop *loop = al_get_running_loop();
    al_task **ts = calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++)
        al_task_new(loop, fn, arg, NULL, &ts[i]);
    for (int i = 0; i < n; i++) {
        al_await(al_task_future(ts[i]));
        al_task_unref(ts[i]);
    }
    free(ts);
}

/* ---- Lock ----------------------------------------------------------------------------- */

static long n_ops;

static int uncontended(void *arg, void **result)
{
    (void)arg, (void)result;
    al_lock *lk;
    al_lock_new(al_get_running_loop(), &lk);
    for (long i = 0; i < n_ops; i++) {
        al_lock_acquire(lk);
        al_lock_release(lk);
    }
    al_lock_free(lk);
    return 0;
}

AL_BENCH(sync_lock_uncontended)
{
    n_ops = iters(10000000);
    uint64_t ns = run_main(uncontended, NULL);
    bench_report("sync_lock_uncontended_ns", (double)ns / (double)n_ops, "ns");
}

static al_lock *shared_lock;

static int handoff_worker(void *arg, void **result)
{
    (void)arg, (void)result;
    for (long i = 0; i < n_ops; i++) {
        al_lock_acquire(shared_lock);
        al_sleep(0);
        al_lock_release(shared_lock);
    }
    return 0;
}

static int handoff_main(void *arg, void **result)
{
    (void)result;
    al_lock_new(al_get_running_loop(), &shared_lock);
    spawn_and_wait((int)(intptr_t)arg, handoff_worker, NULL);
    al_lock_free(shared_lock);
    return 0;
}

static void handoff(int tasks, const char *key)
{
    n_ops = iters(400000) / tasks;
    uint64_t ns = run_main(handoff_main, IV(tasks));
    bench_report(key, (double)ns / (double)(n_ops * tasks), "ns");
}

AL_BENCH(sync_lock_handoff)
{
    handoff(2, "sync_lock_handoff_2_ns");
    handoff(100, "sync_lock_handoff_100_ns");
}

/* ---- Queue ---------------------------------------------------------------------------- */

static al_queue *qa, *qb;

static int pong(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    for (long i = 0; i < n_ops; i++) {
        al_queue_get(qa, &v);
        al_queue_put(qb, v);
    }
    return 0;
}

static int pingpong_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = al_get_running_loop();
    al_queue_new(loop, 0, &qa);
    al_queue_new(loop, 0, &qb);
    al_task *t;
    al_task_new(loop, pong, NULL, NULL, &t);
    void *v;
    for (long i = 0; i < n_ops; i++) {
        al_queue_put(qa, IV(i));
        al_queue_get(qb, &v);
    }
    al_await(al_task_future(t));
    al_task_unref(t);
    al_queue_free(qa);
    al_queue_free(qb);
    return 0;
}

AL_BENCH(sync_queue_pingpong)
{
    n_ops = iters(500000);
    uint64_t ns = run_main(pingpong_main, NULL);
    bench_report("sync_queue_pingpong_ns", (double)ns / (double)(2 * n_ops), "ns");
}

static int consumer(void *arg, void **result)
{
    (void)arg, (void)result;
    void *v;
    for (long i = 0; i < n_ops; i++)
        al_queue_get(qa, &v);
    return 0;
}

static int prodcons_main(void *arg, void **result)
{
    (void)result;
    al_loop *loop = al_get_running_loop();
    al_queue_new(loop, (long)(intptr_t)arg, &qa);
    al_task *t;
    al_task_new(loop, consumer, NULL, NULL, &t);
    for (long i = 0; i < n_ops; i++)
        al_queue_put(qa, IV(i));
    al_await(al_task_future(t));
    al_task_unref(t);
    al_queue_free(qa);
    return 0;
}

AL_BENCH(sync_queue_throughput)
{
    n_ops = iters(1000000);
    uint64_t ns = run_main(prodcons_main, IV(1));
    bench_report("sync_queue_max1_items_s", (double)n_ops * 1e9 / (double)ns, "items/s");
    ns = run_main(prodcons_main, IV(1024));
    bench_report("sync_queue_max1024_items_s", (double)n_ops * 1e9 / (double)ns, "items/s");
}

/* ---- Semaphore ---------------------------------------------------------------------------- */

static al_semaphore *sem;

static int sem_worker(void *arg, void **result)
{
    (void)arg, (void)result;
    for (long i = 0; i < n_ops; i++) {
        al_semaphore_acquire(sem);
        al_sleep(0);
        al_semaphore_release(sem);
    }
    return 0;
}

static int sem_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_semaphore_new(al_get_running_loop(), 10, &sem);
    spawn_and_wait(1000, sem_worker, NULL);
    al_semaphore_free(sem);
    return 0;
}

AL_BENCH(sync_semaphore)
{
    n_ops = iters(200);
    uint64_t ns = run_main(sem_main, NULL);
    bench_report("sync_sem10_tasks1000_ns", (double)ns / (double)(n_ops * 1000), "ns");
}

#!/usr/bin/env python3
"""CPython asyncio figures for the cases of tools/bench/sync_bench.c.

Prints the same "name value unit" lines as `asynclib-bench sync_`, so the
two can be compared line by line. Run both in the same session:

    asynclib-bench sync_ && python3 tools/sync_bench_asyncio.py

BENCH_SCALE scales the iteration counts as it does for asynclib-bench
(asyncio is ~50x slower, so the counts here are smaller: per-op figures
are what is compared).
"""
import argparse
import asyncio
import os
import time

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))


def iters(n):
    return max(1, int(n * SCALE))


def report(name, value, unit):
    print(f"{name} {value:g} {unit}", flush=True)


def run(coro):
    t0 = time.perf_counter_ns()
    asyncio.run(coro)
    return time.perf_counter_ns() - t0


async def uncontended(n):
    lock = asyncio.Lock()
    for _ in range(n):
        await lock.acquire()
        lock.release()


async def handoff(tasks, n):
    lock = asyncio.Lock()

    async def worker():
        for _ in range(n):
            async with lock:
                await asyncio.sleep(0)

    await asyncio.gather(*(worker() for _ in range(tasks)))


async def pingpong(n):
    qa, qb = asyncio.Queue(), asyncio.Queue()

    async def pong():
        for _ in range(n):
            await qb.put(await qa.get())

    t = asyncio.create_task(pong())
    for i in range(n):
        await qa.put(i)
        await qb.get()
    await t


async def prodcons(maxsize, n):
    q = asyncio.Queue(maxsize)

    async def consumer():
        for _ in range(n):
            await q.get()

    t = asyncio.create_task(consumer())
    for i in range(n):
        await q.put(i)
    await t


async def semaphore(n):
    sem = asyncio.Semaphore(10)

    async def worker():
        for _ in range(n):
            async with sem:
                await asyncio.sleep(0)

    await asyncio.gather(*(worker() for _ in range(1000)))


def main():
    argparse.ArgumentParser(
        prog="tools/sync_bench_asyncio.py",
        description="CPython asyncio figures for the cases of `asynclib-bench sync_`.\n\n"
        "Prints the same 'key value unit' lines. No options. Environment:\n"
        "  BENCH_SCALE  scales the iteration counts (default 1.0)",
        epilog="Example:\n  build/tools/asynclib-bench sync_ && python3 tools/sync_bench_asyncio.py",
        formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    n = iters(1000000)
    report("sync_lock_uncontended_ns", run(uncontended(n)) / n, "ns")
    for tasks in (2, 100):
        n = iters(100000) // tasks
        ns = run(handoff(tasks, n))
        report(f"sync_lock_handoff_{tasks}_ns", ns / (n * tasks), "ns")
    n = iters(100000)
    report("sync_queue_pingpong_ns", run(pingpong(n)) / (2 * n), "ns")
    n = iters(200000)
    for maxsize in (1, 1024):
        ns = run(prodcons(maxsize, n))
        report(f"sync_queue_max{maxsize}_items_s", n * 1e9 / ns, "items/s")
    n = iters(20)
    report("sync_sem10_tasks1000_ns", run(semaphore(n)) / (n * 1000), "ns")


if __name__ == "__main__":
    main()

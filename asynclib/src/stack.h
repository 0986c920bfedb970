/* Coroutine stacks (private to asynclib; used by coro.c).
 *
 * Scale is the constraint: vm.max_map_count (65530 by default) limits the
 * number of mappings, and one mmap per stack plus one per guard page would
 * cap live coroutines near 32 k. So stacks are carved from large regions
 * (one mmap of up to 64 MiB holds many same-sized slots, all MAP_NORESERVE:
 * untouched pages cost neither RAM nor commit charge). Unguarded neighbours
 * stay one mapping; each guard page splits its region, costing ~2 mappings.
 *
 * Guard policy: a slot is [guard page][stack]. The guard page is made
 * PROT_NONE only while the number of guard pages is below a limit
 * (default max_map_count / 4, i.e. ~16 k stacks; env ASYNCLIB_STACK_GUARDS
 * = 0 turns guards off, = N sets the limit; al__stack_set_guard_limit()).
 * Beyond it new stacks get no guard: a million coroutines still work, the
 * first 16 k (and every stack reused from them) keep overflow detection.
 * A guard, once set, stays with its slot until the region is unmapped.
 *
 * Pool: each thread caches up to AL_STACK_CACHE (1024) freed stacks per
 * size (lock-free hot path: no syscall, no lock, no page fault). A cached
 * stack keeps at most AL_STACK_WATERMARK of touched pages (see below), so
 * the cache pins at most 16 MiB per size class and thread; a server that
 * keeps spawning ~1000 short tasks then never faults in a stack again
 * (gather_1000: 7.5 ms with a 64-entry cache, 0.34 ms with 1024). Beyond
 * the cache a stack goes back to its region under a global lock, and its
 * pages are returned to the kernel (MADV_DONTNEED) in batches: one madvise
 * per run of adjacent freed slots once a region has 64 freed slots pending
 * (or is empty). An empty
 * region is unmapped unless it is the last of its size. A cached stack that was used below the
 * watermark (AL_STACK_WATERMARK from the top) has its deep pages returned when it is put back, so
 * one deep recursion does not pin RAM for ever. Depth is judged from the lowest sp seen at switches
 * and a probe word just below the watermark: a heuristic (a frame that skips that word and never
 * yields there is missed), which only costs RAM, never correctness.
 *
 * Modes and what a parked coroutine costs (x86-64, 4 KiB pages; measured by
 * asynclib-bench coro_park_1m*, 1 M coroutines started and yielded once):
 * - private stacks (default 256 KiB, or any size from 16 KiB): one touched
 *   page each, ~4.1 KB RSS per parked coroutine (plus page tables, which
 *   RSS does not show: ~0.5 KB each at 256 KiB, less for small stacks).
 *   1 M of them are ~4 GiB: fine for this allocator (~4 k regions + 16 k
 *   guards, far below max_map_count), not for a 1 GiB budget.
 * - shared stack (AL_CORO_SHARED_STACK in coro.h): the frames are copied
 *   out on eviction, ~250 B RSS per parked coroutine (the al_coro record
 *   and its saved frames, on the heap), at the price of pointers into a
 *   parked coroutine's stack being invalid; see coro.h.
 * Smaller private stacks do not help RSS: a page is the unit either way.
 */
#ifndef ASYNCLIB_STACK_H
#define ASYNCLIB_STACK_H

#include <stddef.h>
#include <stdint.h>

#define AL_STACK_WATERMARK (16u * 1024u)
#define AL_STACK_CACHE 1024
#define AL_STACK_REGION_BYTES (64u * 1024u * 1024u)

struct al_stack_region;

/* A stack is [lo, lo + size); when guarded, the page below lo is
 * PROT_NONE. Plain value: the owner keeps it (coro.c stores it at the top
 * of the stack itself). */
typedef struct al_stack {
    char *lo;
    size_t size;
    struct al_stack_region *region;
    uint32_t slot;
    uint32_t guarded;
} al_stack;

size_t al__stack_page_size(void);

/* size: bytes, a multiple of the page size. Returns 0, or -ENOMEM. */
int al__stack_get(al_stack *st, size_t size);

/* Returns st to this thread's pool. low_sp: the lowest stack pointer seen
 * while it ran (NULL if unknown), used to trim pages below the watermark. */
void al__stack_put(al_stack *st, const char *low_sp);

/* Maximum number of guard pages; 0 turns guards off for new stacks. */
void al__stack_set_guard_limit(size_t n);
size_t al__stack_guard_limit(void);

/* Counters for tests and benchmarks (approximate under concurrency). */
typedef struct al_stack_stats {
    size_t regions; /* mmap'd regions */
    size_t in_use;  /* slots handed out and not returned to a region */
    size_t guarded; /* slots with a guard page */
    size_t mapped;  /* bytes of address space reserved */
} al_stack_stats;
void al__stack_get_stats(al_stack_stats *out);

/* Returns this thread's cached stacks to their regions (done automatically
 * at thread exit). */
void al__stack_flush_cache(void);

#endif

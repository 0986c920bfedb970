/* The loop's timers: a binary min-heap on (deadline, sequence).
 *
 * Keys live in the heap's own array, beside the handle pointer, so sifting
 * compares without touching the handles: with a million timers that halves
 * the cache misses of every push and pop. The sequence number makes equal
 * deadlines fire in scheduling order. */
#ifndef ASYNCLIB_TIMER_HEAP_H
#define ASYNCLIB_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct al_handle;

typedef struct al_timer_slot {
    double when;
    uint64_t seq;
    struct al_handle *h;
} al_timer_slot;

typedef struct al_timer_heap {
    al_timer_slot *v;
    size_t len, cap;
} al_timer_heap;

/* -ENOMEM or 0. */
int al__theap_push(al_timer_heap *heap, double when, uint64_t seq, struct al_handle *h);
/* Removes and returns the earliest; the heap must not be empty. */
struct al_handle *al__theap_pop(al_timer_heap *heap);
/* Keeps the handles for which keep() is true, hands the others to drop(),
 * and restores the heap order in O(n). */
void al__theap_filter(al_timer_heap *heap, bool (*keep)(const struct al_handle *),
                      void (*drop)(struct al_handle *));
void al__theap_free(al_timer_heap *heap);

#endif

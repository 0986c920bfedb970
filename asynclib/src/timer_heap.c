#include "timer_heap.h"

#include <errno.h>
#include <stdlib.h>

static bool earlier(const al_timer_slot *a, const al_timer_slot *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void sift_up(al_timer_slot *v, size_t i)
{
    al_timer_slot s = v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&s, &v[parent]))
            break;
        v[i] = v[parent];
        i = parent;
    }
    v[i] = s;
}

static void sift_down(al_timer_slot *v, size_t len, size_t i)
{
    al_timer_slot s = v[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= len)
            break;
        if (child + 1 < len && earlier(&v[child + 1], &v[child]))
            child++;
        if (!earlier(&v[child], &s))
            break;
        v[i] = v[child];
        i = child;
    }
    v[i] = s;
}

int al__theap_push(al_timer_heap *heap, double when, uint64_t seq, struct al_handle *h)
{
    if (heap->len == heap->cap) {
        size_t cap = heap->cap ? heap->cap * 2 : 64;
        al_timer_slot *v = realloc(heap->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        heap->v = v;
        heap->cap = cap;
    }
    heap->v[heap->len] = (al_timer_slot){when, seq, h};
    sift_up(heap->v, heap->len++);
    return 0;
}

struct al_handle *al__theap_pop(al_timer_heap *heap)
{
    struct al_handle *top = heap->v[0].h;
    if (--heap->len) {
        heap->v[0] = heap->v[heap->len];
        sift_down(heap->v, heap->len, 0);
    }
    return top;
}

void al__theap_filter(al_timer_heap *heap, bool (*keep)(const struct al_handle *),
                      void (*drop)(struct al_handle *))
{
    size_t kept = 0;
    for (size_t i = 0; i < heap->len; i++) {
        if (keep(heap->v[i].h))
            heap->v[kept++] = heap->v[i];
        else
            drop(heap->v[i].h);
    }
    heap->len = kept;
    for (size_t i = kept / 2; i-- > 0;)
        sift_down(heap->v, kept, i);
}

void al__theap_free(al_timer_heap *heap)
{
    free(heap->v);
    heap->v = NULL;
    heap->len = heap->cap = 0;
}

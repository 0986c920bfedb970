/* Coroutine stacks: regions of slots, per-thread caches. See stack.h. */
#include "stack.h"

#include "list.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Initial-exec TLS: the library is built PIC, and the default
 * global-dynamic model would put a __tls_get_addr call on every switch. */
#define AL_TLS _Thread_local __attribute__((tls_model("initial-exec")))

#define MAX_SLOTS_PER_REGION 4096u
/* Freed slots are returned to the kernel in batches: one madvise per run of
 * adjacent slots instead of one per slot (~1.5 us each here). At most
 * DIRTY_BATCH - 1 freed slots per region keep their pages meanwhile. */
#define DIRTY_BATCH 64u
#define SLOT_GUARDED 1u
#define SLOT_DIRTY 2u
#define CACHE_CLASSES 4

/* All same-sized slots of one mmap. free_idx is a LIFO of free slot
 * indices, so recently freed (possibly still cached-hot) slots come first. */
typedef struct al_stack_region {
    char *base;
    size_t slot_size; /* guard page + stack */
    uint32_t nslots, nfree, nguarded, ndirty;
    uint32_t *free_idx;
    uint8_t *flags; /* SLOT_* */
    struct size_class *cls;
    al_link link; /* in cls->partial while nfree > 0 */
} region;

typedef struct size_class {
    size_t size;
    al_list partial; /* regions with a free slot, most recently pushed first */
    size_t nregions;
    struct size_class *next;
} size_class;

typedef struct thread_cache {
    struct {
        size_t size;
        unsigned n;
        al_stack st[AL_STACK_CACHE];
    } cls[CACHE_CLASSES];
} thread_cache;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static size_class *classes;
static size_t page_size;
static atomic_size_t guard_limit;
static size_t nguarded, nregions, nin_use, nmapped;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;
static AL_TLS thread_cache *tcache;

static size_t read_max_map_count(void)
{
    size_t n = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        unsigned long v;
        if (fscanf(f, "%lu", &v) == 1)
            n = v;
        fclose(f);
    }
    return n;
}

static void cache_destroy(void *p);

/* A fork while another thread holds the lock must not leave the child's
 * allocator locked for ever. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&lock);
}

static void fork_release(void)
{
    pthread_mutex_unlock(&lock);
}

static void init(void)
{
    pthread_atfork(fork_prepare, fork_release, fork_release);
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    size_t limit = read_max_map_count() / 4;
    const char *env = getenv("ASYNCLIB_STACK_GUARDS");
    if (env && *env)
        limit = strtoul(env, NULL, 10);
    atomic_store(&guard_limit, limit);
    pthread_key_create(&cache_key, cache_destroy);
}

size_t al__stack_page_size(void)
{
    pthread_once(&init_once, init);
    return page_size;
}

void al__stack_set_guard_limit(size_t n)
{
    pthread_once(&init_once, init);
    atomic_store(&guard_limit, n);
}

size_t al__stack_guard_limit(void)
{
    pthread_once(&init_once, init);
    return atomic_load(&guard_limit);
}

/* ---- regions (under lock) ---- */

static size_class *class_for(size_t size)
{
    for (size_class *c = classes; c; c = c->next)
        if (c->size == size)
            return c;
    size_class *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->size = size;
    c->next = classes;
    classes = c;
    return c;
}

static void partial_push(size_class *c, region *r)
{
    al__list_push_front(&c->partial, &r->link);
}

static void partial_remove(size_class *c, region *r)
{
    al__list_remove(&c->partial, &r->link);
}

static region *region_new(size_class *c)
{
    size_t slot = c->size + page_size;
    size_t n = AL_STACK_REGION_BYTES / slot;
    n = n < 1 ? 1 : n > MAX_SLOTS_PER_REGION ? MAX_SLOTS_PER_REGION : n;
    region *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->free_idx = malloc(n * sizeof *r->free_idx);
    r->flags = calloc(n, 1);
    r->base = mmap(NULL, n * slot, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (!r->free_idx || !r->flags || r->base == MAP_FAILED) {
        if (r->base != MAP_FAILED && r->base)
            munmap(r->base, n * slot);
        free(r->free_idx);
        free(r->flags);
        free(r);
        return NULL;
    }
    r->slot_size = slot;
    r->nslots = r->nfree = (uint32_t)n;
    r->cls = c;
    /* Low addresses first: keeps the touched part of the region compact. */
    for (uint32_t i = 0; i < n; i++)
        r->free_idx[i] = (uint32_t)(n - 1 - i);
    c->nregions++;
    nregions++;
    nmapped += n * slot;
    partial_push(c, r);
    return r;
}

static void region_free(region *r)
{
    size_class *c = r->cls;
    partial_remove(c, r);
    munmap(r->base, (size_t)r->nslots * r->slot_size);
    nguarded -= r->nguarded;
    nregions--;
    nmapped -= (size_t)r->nslots * r->slot_size;
    c->nregions--;
    free(r->free_idx);
    free(r->flags);
    free(r);
}

/* A guard costs mappings, so it is added only while under the limit, and
 * never removed: turning it back into stack would merge mappings again but
 * cost a syscall on a path that should have none. */
static void maybe_guard(region *r, uint32_t i, char *slot)
{
    if ((r->flags[i] & SLOT_GUARDED) || nguarded >= atomic_load(&guard_limit))
        return;
    if (mprotect(slot, page_size, PROT_NONE) == 0) {
        r->flags[i] |= SLOT_GUARDED;
        r->nguarded++;
        nguarded++;
    }
}

static int region_get(al_stack *st, size_t size)
{
    pthread_mutex_lock(&lock);
    size_class *c = class_for(size);
    region *r = c && c->partial.head ? AL_CONTAINER(c->partial.head, region, link) : NULL;
    if (c && !r)
        r = region_new(c);
    if (!r) {
        pthread_mutex_unlock(&lock);
        return -ENOMEM;
    }
    uint32_t i = r->free_idx[--r->nfree];
    if (r->nfree == 0)
        partial_remove(c, r);
    char *slot = r->base + (size_t)i * r->slot_size;
    if (r->flags[i] & SLOT_DIRTY) {
        r->flags[i] &= (uint8_t)~SLOT_DIRTY;
        r->ndirty--;
    }
    maybe_guard(r, i, slot);
    nin_use++;
    st->lo = slot + page_size;
    st->size = size;
    st->region = r;
    st->slot = i;
    st->guarded = r->flags[i] & SLOT_GUARDED;
    pthread_mutex_unlock(&lock);
    return 0;
}

/* One madvise per run of adjacent dirty slots; a run's range includes the
 * guard pages between its stacks, which is harmless (they hold no pages). */
static void region_clean(region *r)
{
    uint32_t i = 0;
    while (i < r->nslots) {
        if (!(r->flags[i] & SLOT_DIRTY)) {
            i++;
            continue;
        }
        uint32_t j = i;
        while (j < r->nslots && (r->flags[j] & SLOT_DIRTY))
            r->flags[j++] &= (uint8_t)~SLOT_DIRTY;
        char *lo = r->base + (size_t)i * r->slot_size + page_size;
        madvise(lo, (size_t)(j - i) * r->slot_size - page_size, MADV_DONTNEED);
        i = j;
    }
    r->ndirty = 0;
}

static void region_put(const al_stack *st)
{
    pthread_mutex_lock(&lock);
    region *r = st->region;
    if (r->nfree == 0)
        partial_push(r->cls, r);
    r->free_idx[r->nfree++] = st->slot;
    r->flags[st->slot] |= SLOT_DIRTY;
    r->ndirty++;
    nin_use--;
    if (r->nfree == r->nslots && r->cls->nregions > 1)
        region_free(r);
    else if (r->ndirty >= DIRTY_BATCH || r->nfree == r->nslots)
        region_clean(r);
    pthread_mutex_unlock(&lock);
}

/* ---- per-thread cache ---- */

static thread_cache *cache_get(void)
{
    if (tcache)
        return tcache;
    tcache = calloc(1, sizeof *tcache);
    if (tcache)
        pthread_setspecific(cache_key, tcache);
    return tcache;
}

static void cache_destroy(void *p)
{
    thread_cache *tc = p;
    for (int k = 0; k < CACHE_CLASSES; k++)
        for (unsigned i = 0; i < tc->cls[k].n; i++)
            region_put(&tc->cls[k].st[i]);
    free(tc);
    if (tc == tcache)
        tcache = NULL;
}

void al__stack_flush_cache(void)
{
    if (!tcache)
        return;
    pthread_setspecific(cache_key, NULL);
    cache_destroy(tcache);
}

int al__stack_get(al_stack *st, size_t size)
{
    pthread_once(&init_once, init);
    thread_cache *tc = cache_get();
    for (int k = 0; tc && k < CACHE_CLASSES; k++) {
        if (tc->cls[k].size == size && tc->cls[k].n > 0) {
            *st = tc->cls[k].st[--tc->cls[k].n];
            return 0;
        }
    }
    return region_get(st, size);
}

/* Deep pages are released when the stack went below the watermark: seen at
 * a switch, or the page right below the mark holds a nonzero word (pages
 * returned to the kernel read as zero, and reading an absent page maps the
 * shared zero page, which costs no RAM). One word per cache line is read:
 * a call chain crossing that page leaves return addresses, saved registers
 * and locals all over it, so missing it is unlikely and costs only RAM. */
static int page_touched(const char *page)
{
    uint64_t acc = 0;
    for (size_t off = 0; off < page_size; off += 64) {
        uint64_t w;
        memcpy(&w, page + off, sizeof w);
        acc |= w;
    }
    return acc != 0;
}

static void trim(al_stack *st, const char *low_sp)
{
    if (st->size <= AL_STACK_WATERMARK)
        return;
    char *mark = st->lo + st->size - AL_STACK_WATERMARK;
    if ((low_sp && low_sp < mark) || page_touched(mark - page_size))
        madvise(st->lo, (size_t)(mark - st->lo), MADV_DONTNEED);
}

static int cache_class(thread_cache *tc, size_t size)
{
    int empty = -1;
    for (int k = 0; k < CACHE_CLASSES; k++) {
        if (tc->cls[k].size == size)
            return k;
        if (tc->cls[k].n == 0 && empty < 0)
            empty = k;
    }
    if (empty >= 0)
        tc->cls[empty].size = size;
    return empty;
}

void al__stack_put(al_stack *st, const char *low_sp)
{
    thread_cache *tc = cache_get();
    int k = tc ? cache_class(tc, st->size) : -1;
    if (k < 0 || tc->cls[k].n == AL_STACK_CACHE) {
        region_put(st);
        return;
    }
    trim(st, low_sp);
    tc->cls[k].st[tc->cls[k].n++] = *st;
}

void al__stack_get_stats(al_stack_stats *out)
{
    pthread_mutex_lock(&lock);
    out->regions = nregions;
    out->in_use = nin_use;
    out->guarded = nguarded;
    out->mapped = nmapped;
    pthread_mutex_unlock(&lock);
}

/* failalloc: the --wrap wrappers and the sweep (failalloc.h). */
#include "failalloc.h"

#include "al_test.h"

#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_reallocarray(void *p, size_t n, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_posix_memalign(void **out, size_t align, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
void __real_free(void *p);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_reallocarray(void *p, size_t n, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_posix_memalign(void **out, size_t align, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);
void __wrap_free(void *p);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

/* Armed state: written by the arming thread only; the other threads read
 * `tracking` (a relaxed flag) to know whether frees must be looked up. */
static _Thread_local bool armed_here;
static unsigned long fail_at, counted;
static bool fired;
static _Atomic bool tracking;

/* The blocks allocated while armed: an open-addressing set of pointers
 * (linear probing, deletion by backward shift), under a lock since any
 * thread may free them. */
#define SET_SIZE (1u << 16)
static void *set[SET_SIZE];
static void *site[SET_SIZE]; /* the caller of each block's allocation */
static size_t set_len;
static bool set_overflow;
static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const void *p)
{
    uintptr_t h = (uintptr_t)p >> 4;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 7) & (SET_SIZE - 1);
}

static void set_add(void *p, void *caller)
{
    if (!p)
        return;
    pthread_mutex_lock(&set_lock);
    if (set_len >= SET_SIZE / 2) {
        set_overflow = true;
    } else {
        size_t i = slot_of(p);
        while (set[i])
            i = (i + 1) & (SET_SIZE - 1);
        set[i] = p;
        site[i] = caller;
        set_len++;
    }
    pthread_mutex_unlock(&set_lock);
}

static void set_del(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&set_lock);
    size_t i = slot_of(p);
    while (set[i] && set[i] != p)
        i = (i + 1) & (SET_SIZE - 1);
    if (set[i]) {
        set[i] = NULL;
        set_len--;
        /* Backward shift: move up every later entry of the run whose home
         * slot is not between the hole and it. */
        size_t j = i;
        for (;;) {
            j = (j + 1) & (SET_SIZE - 1);
            if (!set[j])
                break;
            size_t home = slot_of(set[j]);
            bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
            if (movable) {
                set[i] = set[j];
                site[i] = site[j];
                set[j] = NULL;
                i = j;
            }
        }
    }
    pthread_mutex_unlock(&set_lock);
}

/* True when this allocation must fail (counts it when armed). */
static bool fail_now(void)
{
    if (!armed_here)
        return false;
    counted++;
    if (fail_at != 0 && counted == fail_at) {
        fired = true;
        if (getenv("FAILALLOC_TRACE")) {
            void *frames[32];
            int n = backtrace(frames, 32);
            fprintf(stderr, "failalloc: allocation %lu fails here:\n", counted);
            backtrace_symbols_fd(frames, n, 2);
        }
        errno = ENOMEM;
        return true;
    }
    return false;
}

#define track(p) track_from((p), __builtin_return_address(0))

static void *track_from(void *p, void *caller)
{
    if (p && armed_here)
        set_add(p, caller);
    return p;
}

static void untrack(void *p)
{
    if (p && atomic_load_explicit(&tracking, memory_order_relaxed))
        set_del(p);
}

void *__wrap_malloc(size_t size)
{
    return fail_now() ? NULL : track(__real_malloc(size));
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : track(__real_calloc(n, size));
}

void *__wrap_realloc(void *p, size_t size)
{
    if (fail_now())
        return NULL;
    void *q = __real_realloc(p, size);
    if (q || size == 0)
        untrack(p);
    return track(q);
}

void *__wrap_reallocarray(void *p, size_t n, size_t size)
{
    if (fail_now())
        return NULL;
    void *q = __real_reallocarray(p, n, size);
    if (q)
        untrack(p);
    return track(q);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : track(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : track(__real_strndup(s, n));
}

int __wrap_posix_memalign(void **out, size_t align, size_t size)
{
    if (fail_now())
        return ENOMEM;
    int rc = __real_posix_memalign(out, align, size);
    if (rc == 0)
        (void)track(*out);
    return rc;
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    return fail_now() ? NULL : track(__real_aligned_alloc(align, size));
}

void __wrap_free(void *p)
{
    untrack(p);
    __real_free(p);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if ((flags & MAP_ANONYMOUS) && fail_now())
        return MAP_FAILED;
    return __real_mmap(addr, len, prot, flags, fd, off);
}

void failalloc_arm(unsigned long n)
{
    pthread_mutex_lock(&set_lock);
    memset(set, 0, sizeof set);
    set_len = 0;
    set_overflow = false;
    pthread_mutex_unlock(&set_lock);
    fail_at = n;
    counted = 0;
    fired = false;
    atomic_store(&tracking, true);
    armed_here = true;
}

void failalloc_disarm(void)
{
    armed_here = false;
    atomic_store(&tracking, false);
}

unsigned long failalloc_count(void)
{
    return counted;
}

bool failalloc_fired(void)
{
    return fired;
}

long failalloc_leaks(void)
{
    pthread_mutex_lock(&set_lock);
    long n = set_overflow ? -1 : (long)set_len;
    pthread_mutex_unlock(&set_lock);
    return n;
}

typedef struct run_job {
    failalloc_scenario fn;
    void *arg;
    unsigned long k;
    int rc;
} run_job;

/* The run's thread: armed, the scenario, then no longer failing but still
 * tracking while the thread's exit releases its caches (the pure layer's
 * object and stack caches live per thread: a fresh thread per run starts
 * them cold, so every run allocates alike and keeps nothing). */
static void *run_thread(void *p)
{
    run_job *j = p;
    failalloc_arm(j->k);
    j->rc = j->fn(j->arg);
    armed_here = false;
    return NULL;
}

/* One run with the k-th allocation failing (0: none); checks what holds
 * for every run and returns the scenario's code. */
static int sweep_run(const char *name, failalloc_scenario fn, void *arg, unsigned long k)
{
    int fds = al_test_open_fds();
    run_job job = {fn, arg, k, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, run_thread, &job), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    /* Blocks of the run that another thread frees (an executor's worker
     * finishing a job the closed loop let go of) may be freed a little
     * later: up to 5 s for them, then what is left is a leak. */
    long leaks = failalloc_leaks();
    for (int i = 0; i < 5000 && leaks > 0; i++) {
        usleep(1000);
        leaks = failalloc_leaks();
    }
    failalloc_disarm();
    int rc = job.rc;
    bool hit = failalloc_fired();
    int fds_after = al_test_open_fds();
    if (getenv("FAILALLOC_VERBOSE")) {
        fprintf(stderr, "failalloc %s: k=%lu of %lu: rc %d%s, %ld blocks left\n", name, k, counted,
                rc, hit ? "" : " (not reached)", leaks);
        for (size_t i = 0; i < SET_SIZE; i++)
            if (set[i]) /* where the block left was allocated */
                backtrace_symbols_fd(&site[i], 1, 2);
    }
    ck_assert_msg(rc <= 0, "%s: allocation %lu failing: %s", name, k,
                  rc == FA_SILENT ? "a wrong result and no error reported" : "unclean end");
    ck_assert_msg(hit || rc == 0, "%s: run %lu failed (%d) with no allocation failing", name, k,
                  rc);
    ck_assert_msg(rc == 0 || rc == -ENOMEM, "%s: allocation %lu failing: error %d, not -ENOMEM",
                  name, k, rc);
    ck_assert_msg(leaks == 0, "%s: allocation %lu failing: %ld heap blocks left (rc %d)", name, k,
                  leaks, rc);
    ck_assert_msg(fds_after == fds, "%s: allocation %lu failing: %d fds open after, %d before",
                  name, k, fds_after, fds);
    return rc;
}

failalloc_result failalloc_sweep(const char *name, failalloc_scenario fn, void *arg,
                                 unsigned long stride)
{
    failalloc_result res = {0};
    /* Once untracked: what the library keeps for the whole process (the
     * stack allocator's size classes and a region) is made here. */
    ck_assert_msg(fn(arg) == 0, "%s: the scenario fails without an allocation failing", name);
    ck_assert_int_eq(sweep_run(name, fn, arg, 0), 0);
    res.allocs = failalloc_count();
    ck_assert_msg(res.allocs > 0, "%s: no allocation counted (not linked with --wrap?)", name);
    const char *only = getenv("FAILALLOC_ONLY");
    for (unsigned long k = only ? strtoul(only, NULL, 10) : 1; k <= res.allocs;
         k += only     ? res.allocs
              : stride ? stride
                       : 1) {
        int rc = sweep_run(name, fn, arg, k);
        res.runs++;
        if (rc < 0) {
            res.errors++;
            res.enomem += rc == -ENOMEM;
            size_t i = 0;
            while (i < FA_CODES && res.codes[i] && res.codes[i] != rc)
                i++;
            if (i < FA_CODES) {
                res.codes[i] = rc;
                res.ncodes[i]++;
            }
        } else if (failalloc_fired()) {
            res.absorbed++;
        }
    }
    printf("failalloc %s: K=%lu, %lu runs (stride %lu): %lu errors (%lu -ENOMEM), %lu absorbed;"
           " codes:",
           name, res.allocs, res.runs, stride ? stride : 1, res.errors, res.enomem, res.absorbed);
    for (size_t i = 0; i < FA_CODES && res.codes[i]; i++)
        printf(" %d x%lu", res.codes[i], res.ncodes[i]);
    printf("\n");
    fflush(stdout);
    return res;
}

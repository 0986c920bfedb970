/* failalloc: allocation-failure injection for tests.
 *
 * A test executable that links the CMake target al_failalloc (and the
 * layers' STATIC libraries) is linked with -Wl,--wrap=malloc,calloc,
 * realloc,reallocarray,strdup,strndup,posix_memalign,aligned_alloc,free,
 * mmap: every call to those from the objects of that link (the library's
 * own code, the test's, Check's) goes through the wrappers here, which
 * pass through to the real functions unless armed. Calls made inside
 * glibc (getaddrinfo, posix_spawn, pthread_create) and inside shared
 * libraries (libev, liburing) are not wrapped and never fail.
 *
 * Armed (failalloc_arm), the wrappers count the allocations made by the
 * arming thread (other threads pass through: executor workers would make
 * the count depend on scheduling), and the n-th one fails as the real
 * call does when memory is out: NULL (MAP_FAILED, or ENOMEM returned by
 * posix_memalign) with errno ENOMEM. Only that one fails; the next ones
 * succeed (the error paths' own allocations included). mmap is counted
 * for anonymous mappings only (task stacks).
 *
 * While armed the wrappers also track the heap blocks the arming thread
 * allocates (freeing from any thread untracks them): failalloc_leaks()
 * says how many are still allocated, so a sweep finds the leaking run
 * itself, in any build (LeakSanitizer and Valgrind also see the leak, but
 * only at the process's exit).
 *
 * Inside the armed window, test code must not call Check (its passing
 * asserts allocate, and a failure there would be Check's): record, then
 * assert after failalloc_disarm(). failalloc_sweep does that for a
 * scenario. Threads: arm and disarm from one thread; the sweep arms a
 * thread of its own per run.
 */
#ifndef FAILALLOC_H
#define FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Starts counting (and tracking) from zero; n >= 1: the n-th allocation
 * from now fails, n == 0: none does (a counting run). */
void failalloc_arm(unsigned long n);
/* Stops failing, counting and tracking. */
void failalloc_disarm(void);
/* Allocations counted since the last arm (the failed one included). */
unsigned long failalloc_count(void);
/* True once the armed allocation has failed. */
bool failalloc_fired(void);
/* Heap blocks allocated since the last arm and not freed yet (valid after
 * disarm until the next arm); -1 when there were too many to track. */
long failalloc_leaks(void);

/* A scenario for failalloc_sweep: runs once, start to end (its own loop,
 * freed before it returns), without calling Check. Returns 0 when every
 * step succeeded and its result was checked, a negative code when an
 * error surfaced (a public call's return value, a callback's error
 * argument, the loop's exception handler: the first one seen), or one of
 * the FA_* codes below for what must never happen. */
typedef int (*failalloc_scenario)(void *arg);

/* A call returned success but its result was wrong, and no error was
 * reported anywhere: the failure was swallowed. */
#define FA_SILENT 1
/* The end of the run was not clean: the loop did not free (al_loop_free
 * != 0), a callback ran twice or not at all, state left behind. */
#define FA_UNCLEAN 2

typedef struct failalloc_result {
    unsigned long allocs;   /* K: allocations of a clean run */
    unsigned long runs;     /* runs with a failure armed */
    unsigned long errors;   /* runs that returned an error */
    unsigned long enomem;   /* ... of which -ENOMEM */
    unsigned long absorbed; /* runs whose failed allocation changed nothing
                               visible (the scenario's checks all passed) */
#define FA_CODES 8
    int codes[FA_CODES];            /* the distinct error codes returned... */
    unsigned long ncodes[FA_CODES]; /* ... and how many times each */
} failalloc_result;

/* "Fail the k-th allocation, for every k": runs the scenario once
 * disarmed (what lives for the whole process, such as the stack
 * allocator's regions, is made then), once counting (K allocations; it
 * must succeed), then for k = 1, 1 + stride,
 * ... <= K with the k-th allocation failing. Each run is made in a thread
 * of its own (armed there), so that the per-thread caches of the pure
 * layer start cold and are released at the thread's exit: every run
 * allocates alike and none keeps a block. Asserts (Check) for every run: no
 * FA_* code; a clean run's success; an error is -ENOMEM (the failure
 * itself surfaced first, not a consequence such as a reset); no heap
 * block of the run left; as many fds open after as before. name labels the messages; prints one
 * summary line. Returns the counts. Environment: FAILALLOC_VERBOSE=1
 * prints every run (k, code, blocks left) to stderr; FAILALLOC_ONLY=k
 * runs only that k (debugging one failure); FAILALLOC_TRACE=1 prints
 * the stack of the allocation made to fail. */
failalloc_result failalloc_sweep(const char *name, failalloc_scenario fn, void *arg,
                                 unsigned long stride);

#endif

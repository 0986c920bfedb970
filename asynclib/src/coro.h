/* Stackful coroutines: the machinery under al_task (private to asynclib).
 *
 * A coroutine runs fn(arg) on its own stack. al__coro_resume() runs it until
 * it calls al__coro_yield() or fn returns; resumes may nest (a coroutine may
 * resume another, which yields back to it). One thread's coroutines never
 * run on another thread.
 *
 * Stacks come from a pool (stack.c): mmap'd with MAP_NORESERVE, a guard
 * page below each when guards are on, reused, with pages above a watermark
 * returned to the kernel on reuse. A guard-page hit ends the process with a
 * message naming the coroutine.
 */
#ifndef ASYNCLIB_CORO_H
#define ASYNCLIB_CORO_H

#include <stddef.h>

typedef struct al_coro al_coro;
typedef void (*al_coro_fn)(void *arg);

/* Default stack size (bytes), and the accepted range of sizes. */
#define AL_CORO_STACK_DEFAULT (256u * 1024u)
#define AL_CORO_STACK_MIN (16u * 1024u)
#define AL_CORO_STACK_MAX (1024u * 1024u * 1024u)

/* Creates a coroutine that runs fn(arg) when first resumed. stack_size 0
 * means AL_CORO_STACK_DEFAULT; other sizes are rounded up to pages. The
 * coroutine's own record (~200 B; ~2 KiB with ucontext) sits at the top of
 * its stack, so creating one from a pooled stack does not call malloc.
 * -EINVAL for NULL out/fn or a size outside [MIN, MAX]; -ENOMEM. */
int al__coro_new(al_coro **out, size_t stack_size, al_coro_fn fn, void *arg);

/* Flags of al__coro_new_ex. */
enum {
    /* Run on this thread's shared stack (AL_CORO_SHARED_STACK_SIZE bytes)
     * and copy the live frames out to the heap when another shared-stack
     * coroutine needs the stack (as libaco does): a parked coroutine costs
     * the bytes its frames use (a few hundred) instead of a page or more.
     * Caveats: while parked, its locals are elsewhere, so a pointer to one
     * of its locals held by anyone else (another coroutine, the loop, a
     * future) dangles until it runs again, and resuming costs a memcpy of
     * its frames. A coroutine running on the shared stack cannot resume
     * another shared-stack coroutine of its thread (-EBUSY). Ignored
     * (a private stack is used) with the ucontext backend and under ASan or
     * TSan. stack_size must be 0 or at most AL_CORO_SHARED_STACK_SIZE. */
    AL_CORO_SHARED_STACK = 1u
};
#define AL_CORO_SHARED_STACK_SIZE AL_CORO_STACK_DEFAULT

/* al__coro_new with flags (0 or AL_CORO_SHARED_STACK); -EINVAL for unknown
 * flags. */
int al__coro_new_ex(al_coro **out, size_t stack_size, al_coro_fn fn, void *arg, unsigned flags);

/* The flags this build honours (the others are accepted and ignored). */
unsigned al__coro_flags_supported(void);

/* Runs co until it yields (returns 0) or its function returns (returns 1).
 * -EINVAL if co is NULL, running, already finished, or the caller's own
 * resumer chain (resuming yourself); shared-stack mode adds -EBUSY and
 * -ENOMEM (see AL_CORO_SHARED_STACK). */
int al__coro_resume(al_coro *co);

/* From inside a coroutine: switches back to its resumer; returns when the
 * coroutine is resumed again. Outside a coroutine it does nothing. */
void al__coro_yield(void);

/* The coroutine running on this thread, or NULL on the thread's own stack. */
al_coro *al__coro_current(void);

/* Name used in the stack-overflow message; borrowed, must outlive co. */
void al__coro_set_name(al_coro *co, const char *name);

/* Frees co and returns its stack to the pool. co must not be running
 * (finished, never started, or suspended: a suspended one is dropped
 * without unwinding). NULL is ignored. */
void al__coro_free(al_coro *co);

#endif

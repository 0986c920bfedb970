/* Stackful coroutines. See coro.h; stacks come from stack.c.
 *
 * The al_coro itself lives at the top of its own stack: creating one from
 * a pooled stack needs no malloc, and its memory is resident anyway (the
 * first frame sits right below it). A context switch goes through
 * al__ctx_swap (switch_<arch>.S) or, with AL_CORO_UCONTEXT, swapcontext.
 */
#include "coro.h"
#include "stack.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ucontext.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#ifndef __has_include
#define __has_include(x) 0
#endif

#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define AL_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define AL_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif
#if __has_include(<valgrind/valgrind.h>)
#define AL_VALGRIND 1
#include <valgrind/valgrind.h>
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(a, n) ((void)0)
#define VALGRIND_MAKE_MEM_UNDEFINED(a, n) ((void)0)
#endif

/* Initial-exec TLS: the library is built PIC, and the default
 * global-dynamic model would put a __tls_get_addr call on every switch. */
#define AL_TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* Shared-stack mode needs the asm switch (the saved context must live on
 * the stack that is copied) and copies stack memory that the sanitizers
 * track per fiber: elsewhere the flag is ignored (the coroutine gets a
 * stack of its own, which is always correct). */
#if !defined(AL_CORO_UCONTEXT) && !defined(AL_ASAN) && !defined(AL_TSAN)
#define AL_SHARED_OK 1
#else
#define AL_SHARED_OK 0
#endif

/* A thread's shared stack: owner is the coroutine whose frames are on it;
 * refs counts the thread plus every shared coroutine made on it, so the
 * struct outlives the thread while such coroutines can still be freed. */
typedef struct shared_stack {
    al_stack st;
    char *top;
    al_coro *owner;
    size_t refs;
} shared_stack;

enum { CO_CREATED, CO_SUSPENDED, CO_RUNNING, CO_FINISHED };

struct al_coro {
#ifdef AL_CORO_UCONTEXT
    ucontext_t ctx, caller_ctx;
#else
    void *sp;        /* saved sp while suspended */
    void *caller_sp; /* the resumer's saved sp while this one runs */
#endif
    al_coro *resumer;
    al_coro_fn fn;
    void *arg;
    const char *name;
    int state;
    char *low_sp; /* lowest sp seen at a switch, for stack trimming */
    al_stack stack;
    shared_stack *ss; /* shared-stack mode: frames live in buf while evicted */
    char *buf;
    size_t len, cap;
#ifdef AL_ASAN
    void *asan_fake;
    const void *caller_bottom;
    size_t caller_size;
#endif
#ifdef AL_TSAN
    void *tsan_fiber, *tsan_caller;
#endif
#ifdef AL_VALGRIND
    unsigned vg_id;
#endif
};

#ifndef AL_CORO_UCONTEXT
void al__ctx_swap(void **save_sp, void *load_sp);
void *al__ctx_make(void *stack_top, void (*entry)(void *), void *arg);
#endif

static AL_TLS al_coro *current;

al_coro *al__coro_current(void)
{
    return current;
}

void al__coro_set_name(al_coro *co, const char *name)
{
    if (co)
        co->name = name;
}

/* ---- stack overflow: SIGSEGV on the guard page ---- */

static struct sigaction old_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static pthread_key_t altstack_key;
static AL_TLS int altstack_done;
static size_t guard_size; /* set before the handler is installed */

#define ALTSTACK_SIZE (64u * 1024u)

static size_t fmt_u(char *buf, size_t v)
{
    char tmp[24];
    size_t n = 0, k = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        buf[k++] = tmp[--n];
    return k;
}

/* Only async-signal-safe calls: the stack we came from is exhausted. */
static void report_overflow(const al_coro *co)
{
    char msg[512];
    size_t n = 0;
    const char *parts[] = {"asynclib: stack overflow in task '", co->name ? co->name : "(unnamed)",
                           "' (stack size "};
    for (size_t p = 0; p < 3; p++)
        for (const char *s = parts[p]; *s && n < sizeof msg - 40; s++)
            msg[n++] = *s;
    n += fmt_u(msg + n, co->stack.size);
    msg[n++] = ')';
    msg[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, msg, n);
    (void)w;
}

static const char *fault_sp(const void *uc)
{
#if defined(__x86_64__)
    return (const char *)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (const char *)((const ucontext_t *)uc)->uc_mcontext.sp;
#else
    (void)uc;
    return NULL;
#endif
}

/* A hit on the guard page, or any fault while sp is below the stack: a
 * frame larger than the guard can jump over it and fault further down. */
static int is_overflow(const al_coro *co, const char *addr, const void *uc)
{
    if (!co)
        return 0;
    const char *lo = co->stack.lo, *sp = fault_sp(uc);
    if (co->stack.guarded && addr < lo && addr >= lo - guard_size)
        return 1;
    return sp && sp < lo && sp >= lo - (1u << 20);
}

/* A guard hit is reported, then SIGSEGV's default action is restored and
 * the faulting instruction re-runs, so the process dies of SIGSEGV (core
 * dump included) as it would have without us. Other faults go to whatever
 * handler was there before. */
static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    if (is_overflow(current, si->si_addr, uc)) {
        report_overflow(current);
        signal(sig, SIG_DFL);
        return;
    }
    if ((old_segv.sa_flags & SA_SIGINFO) && old_segv.sa_sigaction) {
        old_segv.sa_sigaction(sig, si, uc);
        return;
    }
    if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) {
        old_segv.sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    if (si->si_code <= 0) /* sent by kill(): returning would not re-fault */
        raise(sig);
}

static void altstack_free(void *p)
{
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(p, ALTSTACK_SIZE);
}

static void install_segv(void)
{
    guard_size = al__stack_page_size();
    pthread_key_create(&altstack_key, altstack_free);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
}

/* The handler must run on an alternate stack (the faulting one is full);
 * a thread that already has one keeps it. */
static void thread_setup(void)
{
    altstack_done = 1;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return;
    void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(p, ALTSTACK_SIZE);
        return;
    }
    pthread_setspecific(altstack_key, p);
}

/* ASan has its own SEGV handler and stack-overflow report; ours would
 * fight it. */
#ifdef AL_ASAN
#define AL_SEGV_HANDLER 0
#else
#define AL_SEGV_HANDLER 1
#endif

static void overflow_setup(void)
{
    if (!AL_SEGV_HANDLER)
        return;
    pthread_once(&segv_once, install_segv);
    if (!altstack_done)
        thread_setup();
}

/* ---- sanitizer and Valgrind announcements ---- */

/* Called on the coroutine's stack right after it is switched in. */
static inline void arrived_in(al_coro *co)
{
#ifdef AL_ASAN
    __sanitizer_finish_switch_fiber(co->asan_fake, &co->caller_bottom, &co->caller_size);
#else
    (void)co;
#endif
}

/* Called on the coroutine's stack before it switches back to its resumer;
 * a finished one passes no fake-stack slot so ASan frees its fake frames. */
static inline void leaving(al_coro *co, int final)
{
#ifdef AL_ASAN
    __sanitizer_start_switch_fiber(final ? NULL : &co->asan_fake, co->caller_bottom,
                                   co->caller_size);
#endif
#ifdef AL_TSAN
    __tsan_switch_to_fiber(co->tsan_caller, 0);
#endif
    (void)co;
    (void) final;
}

/* Under Memcheck, whose leak check scans every mapping as roots (stale
 * frames on a pooled stack would hide a leak of what they point to).
 * LeakSanitizer scans no anonymous mapping: nothing to do under ASan. */
static int scrub_stacks(void)
{
#ifdef AL_VALGRIND
    return RUNNING_ON_VALGRIND != 0;
#else
    return 0;
#endif
}

/* ---- switching ---- */

static inline void switch_to_coro(al_coro *co)
{
#ifdef AL_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, co->stack.lo, (size_t)((char *)co - co->stack.lo));
#endif
#ifdef AL_TSAN
    co->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
#ifdef AL_CORO_UCONTEXT
    swapcontext(&co->caller_ctx, &co->ctx);
#else
    al__ctx_swap(&co->caller_sp, co->sp);
#endif
#ifdef AL_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

static inline void switch_to_caller(al_coro *co)
{
#ifdef AL_CORO_UCONTEXT
    swapcontext(&co->ctx, &co->caller_ctx);
#else
    al__ctx_swap(&co->sp, co->caller_sp);
#endif
}

static void die(const char *what, const al_coro *co)
{
    fprintf(stderr, "asynclib: %s in task '%s' (stack size %zu)\n", what,
            co->name ? co->name : "(unnamed)", co->stack.size);
    abort();
}

static void coro_main(void *p)
{
    al_coro *co = p;
    arrived_in(co);
    co->fn(co->arg);
    co->state = CO_FINISHED;
    leaving(co, 1);
    switch_to_caller(co);
    die("finished coroutine resumed", co);
}

#ifdef AL_CORO_UCONTEXT
/* makecontext passes only ints: the pointer travels in two halves. */
static void coro_main_uc(unsigned hi, unsigned lo)
{
    coro_main((void *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo));
}
#endif

static int init_context(al_coro *co)
{
#ifdef AL_CORO_UCONTEXT
    if (getcontext(&co->ctx) != 0)
        return -ENOMEM;
    co->ctx.uc_stack.ss_sp = co->stack.lo;
    co->ctx.uc_stack.ss_size = (size_t)((char *)co - co->stack.lo);
    co->ctx.uc_link = NULL;
    uintptr_t p = (uintptr_t)co;
    makecontext(&co->ctx, (void (*)(void))coro_main_uc, 2, (unsigned)(p >> 16 >> 16),
                (unsigned)(p & 0xffffffffu));
#else
    co->sp = al__ctx_make(co, coro_main, co);
#endif
    return 0;
}

/* ---- shared-stack mode (copying stacks, as in libaco) ---- */

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static pthread_key_t shared_key;
static AL_TLS shared_stack *tls_shared;

static void shared_unref(shared_stack *ss)
{
    if (--ss->refs > 0)
        return;
    al__stack_put(&ss->st, NULL);
    free(ss);
}

/* Thread exit: coroutines of this thread may still be freed later (from
 * any thread, as they are never resumed again), so only drop our ref. */
static void shared_thread_exit(void *p)
{
    shared_unref(p);
}

static void shared_key_init(void)
{
    pthread_key_create(&shared_key, shared_thread_exit);
}

static shared_stack *shared_get(void)
{
    if (tls_shared)
        return tls_shared;
    pthread_once(&shared_once, shared_key_init);
    shared_stack *ss = calloc(1, sizeof *ss);
    if (!ss)
        return NULL;
    if (al__stack_get(&ss->st, AL_CORO_SHARED_STACK_SIZE) != 0) {
        free(ss);
        return NULL;
    }
    ss->top = ss->st.lo + ss->st.size;
    ss->refs = 1;
    pthread_setspecific(shared_key, ss);
#ifdef AL_VALGRIND
    VALGRIND_STACK_REGISTER(ss->st.lo, ss->top);
#endif
    return tls_shared = ss;
}

#if AL_SHARED_OK
/* Copies the owner's live frames, [sp, top), out to its buffer. */
static int shared_evict(al_coro *co)
{
    size_t len = (size_t)(co->ss->top - (char *)co->sp);
    if (len > co->cap) {
        char *buf = realloc(co->buf, len);
        if (!buf)
            return -ENOMEM;
        co->buf = buf;
        co->cap = len;
    }
    memcpy(co->buf, co->sp, len);
    co->len = len;
    return 0;
}

/* Puts co's frames back on the shared stack, evicting the current owner.
 * An owner that is running (co's resumer chain runs on this stack) cannot
 * be moved: -EBUSY. */
static int shared_acquire(al_coro *co)
{
    shared_stack *ss = co->ss;
    al_coro *old = ss->owner;
    if (old && old->state == CO_RUNNING)
        return -EBUSY;
    if (old && shared_evict(old) != 0)
        return -ENOMEM;
    ss->owner = NULL;
    /* Memcheck holds the memory below the shared stack's last sp to be
     * inaccessible; we write there on purpose. */
    if (co->state == CO_CREATED) {
        VALGRIND_MAKE_MEM_UNDEFINED(ss->top - 256, 256);
        co->sp = al__ctx_make(ss->top, coro_main, co);
    } else {
        VALGRIND_MAKE_MEM_UNDEFINED(co->sp, co->len);
        memcpy(co->sp, co->buf, co->len);
    }
    ss->owner = co;
    return 0;
}
#else
static int shared_acquire(al_coro *co)
{
    (void)co;
    return -EINVAL; /* unreachable: no shared coroutine exists */
}
#endif

static int shared_new(al_coro **out, size_t stack_size, al_coro_fn fn, void *arg)
{
    if (stack_size > AL_CORO_SHARED_STACK_SIZE)
        return -EINVAL;
    shared_stack *ss = shared_get();
    al_coro *co = ss ? calloc(1, sizeof *co) : NULL;
    if (!co)
        return -ENOMEM;
    ss->refs++;
    co->ss = ss;
    co->stack = ss->st;
    co->fn = fn;
    co->arg = arg;
    co->state = CO_CREATED;
    *out = co;
    return 0;
}

static void shared_free(al_coro *co)
{
    if (co->ss->owner == co) {
        co->ss->owner = NULL;
        if (scrub_stacks()) /* see al__coro_free */
            madvise(co->ss->st.lo, co->ss->st.size, MADV_DONTNEED);
    }
    shared_unref(co->ss);
    free(co->buf);
    free(co);
}

/* ---- public API ---- */

static size_t round_stack(size_t size)
{
    size_t page = al__stack_page_size();
    return (size + page - 1) & ~(page - 1);
}

int al__coro_new_ex(al_coro **out, size_t stack_size, al_coro_fn fn, void *arg, unsigned flags)
{
    if (!out || !fn || (flags & ~AL_CORO_SHARED_STACK))
        return -EINVAL;
    if (stack_size != 0 && (stack_size < AL_CORO_STACK_MIN || stack_size > AL_CORO_STACK_MAX))
        return -EINVAL;
    overflow_setup();
    if ((flags & AL_CORO_SHARED_STACK) && AL_SHARED_OK)
        return shared_new(out, stack_size, fn, arg);
    if (stack_size == 0)
        stack_size = AL_CORO_STACK_DEFAULT;
    al_stack st;
    int r = al__stack_get(&st, round_stack(stack_size));
    if (r)
        return r;
    uintptr_t top = (uintptr_t)(st.lo + st.size);
    al_coro *co = (al_coro *)((top - sizeof(al_coro)) & ~(uintptr_t)63);
    memset(co, 0, sizeof *co);
    co->fn = fn;
    co->arg = arg;
    co->stack = st;
    co->low_sp = (char *)co;
    co->state = CO_CREATED;
    if ((r = init_context(co)) != 0) {
        al__stack_put(&st, NULL);
        return r;
    }
#ifdef AL_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef AL_VALGRIND
    co->vg_id = VALGRIND_STACK_REGISTER(st.lo, st.lo + st.size);
#endif
    *out = co;
    return 0;
}

unsigned al__coro_flags_supported(void)
{
    return AL_SHARED_OK ? AL_CORO_SHARED_STACK : 0;
}

int al__coro_new(al_coro **out, size_t stack_size, al_coro_fn fn, void *arg)
{
    return al__coro_new_ex(out, stack_size, fn, arg, 0);
}

int al__coro_resume(al_coro *co)
{
    if (!co || (co->state != CO_CREATED && co->state != CO_SUSPENDED))
        return -EINVAL;
    if (AL_SEGV_HANDLER && !altstack_done)
        thread_setup();
    if (co->ss && co->ss->owner != co) {
        int r = shared_acquire(co);
        if (r)
            return r;
    }
    co->resumer = current;
    co->state = CO_RUNNING;
    current = co;
    switch_to_coro(co);
    current = co->resumer;
    if (co->state != CO_FINISHED)
        return 0;
    if (co->ss)
        co->ss->owner = NULL;
    return 1;
}

/* Without a guard page an overflow is caught only after the fact, if the
 * coroutine yields with its sp below the stack (then memory below has
 * already been trampled: die rather than go on). */
static void note_sp(al_coro *co)
{
    char *sp = (char *)&sp;
    if (sp < co->low_sp)
        co->low_sp = sp;
    if (sp < co->stack.lo)
        die("stack overflow", co);
}

void al__coro_yield(void)
{
    al_coro *co = current;
    if (!co)
        return;
    note_sp(co);
    co->state = CO_SUSPENDED;
    leaving(co, 0);
    switch_to_caller(co);
    arrived_in(co);
}

void al__coro_free(al_coro *co)
{
    if (!co)
        return;
    if (co->state == CO_RUNNING)
        die("al__coro_free of a running coroutine", co);
    if (co->ss) {
        shared_free(co);
        return;
    }
#ifdef AL_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
#endif
#ifdef AL_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->vg_id);
#endif
    /* Memcheck marked the dead frames inaccessible; the pool reads them to
     * judge stack depth (stack.c, trim). */
    VALGRIND_MAKE_MEM_DEFINED(co->stack.lo, co->stack.size);
    al_stack st = co->stack;
    char *low_sp = co->low_sp;
#ifdef AL_ASAN
    /* Frames of a dropped coroutine leave poisoned redzones behind; the
     * next user of this stack must not trip on them. */
    __asan_unpoison_memory_region(st.lo, st.size);
#endif
    if (scrub_stacks()) {
        /* The pooled stack's stale frames go (zero pages on next touch). */
        madvise(st.lo, st.size, MADV_DONTNEED);
    }
    al__stack_put(&st, low_sp);
}

/* White-box tests of coroutines and their stacks (coro.c, stack.c, the
 * switch_<arch>.S context switch or the ucontext fallback). */
#include "al_test.h"
#include "coro.h"
#include "stack.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

static al_coro *new_coro(size_t size, al_coro_fn fn, void *arg)
{
    al_coro *co = NULL;
    ck_assert_int_eq(al__coro_new(&co, size, fn, arg), 0);
    ck_assert_ptr_nonnull(co);
    return co;
}

/* For loops of 100 k: Check logs every assertion to a file, far slower
 * than what is being tested. A failure shows as a NULL (resume: -EINVAL). */
static al_coro *quick_new(size_t size, al_coro_fn fn, void *arg)
{
    al_coro *co = NULL;
    return al__coro_new(&co, size, fn, arg) == 0 ? co : NULL;
}

/* ---- basic life cycle ---- */

static void count_body(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 3; i++) {
        (*n)++;
        al__coro_yield();
    }
}

START_TEST(test_resume_yield_finish)
{
    int n = 0;
    al_coro *co = new_coro(0, count_body, &n);
    ck_assert_int_eq(n, 0);
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(al__coro_resume(co), 0);
        ck_assert_int_eq(n, i);
    }
    ck_assert_int_eq(al__coro_resume(co), 1);
    ck_assert_int_eq(al__coro_resume(co), -EINVAL);
    al__coro_free(co);
}
END_TEST

static void current_body(void *arg)
{
    *(al_coro **)arg = al__coro_current();
}

START_TEST(test_current)
{
    ck_assert_ptr_null(al__coro_current());
    al_coro *seen = NULL;
    al_coro *co = new_coro(0, current_body, &seen);
    ck_assert_int_eq(al__coro_resume(co), 1);
    ck_assert_ptr_eq(seen, co);
    ck_assert_ptr_null(al__coro_current());
    al__coro_yield(); /* outside a coroutine: no-op */
    al__coro_free(co);
}
END_TEST

static void noop_body(void *arg)
{
    (void)arg;
}

START_TEST(test_bad_args)
{
    al_coro *co = NULL;
    ck_assert_int_eq(al__coro_new(NULL, 0, noop_body, NULL), -EINVAL);
    ck_assert_int_eq(al__coro_new(&co, 0, NULL, NULL), -EINVAL);
    ck_assert_int_eq(al__coro_new(&co, 1, noop_body, NULL), -EINVAL);
    ck_assert_int_eq(al__coro_new(&co, AL_CORO_STACK_MIN - 1, noop_body, NULL), -EINVAL);
    ck_assert_int_eq(al__coro_new(&co, (size_t)AL_CORO_STACK_MAX + 1, noop_body, NULL), -EINVAL);
    ck_assert_int_eq(al__coro_new(&co, SIZE_MAX, noop_body, NULL), -EINVAL);
    ck_assert_ptr_null(co);
    ck_assert_int_eq(al__coro_resume(NULL), -EINVAL);
    al__coro_free(NULL);
    /* Odd sizes are rounded up to pages. */
    co = new_coro(AL_CORO_STACK_MIN + 1, noop_body, NULL);
    ck_assert_int_eq(al__coro_resume(co), 1);
    al__coro_free(co);
}
END_TEST

/* ---- nesting and resume errors ---- */

struct nest {
    al_coro *outer, *inner;
    int log[16], n;
    int self_rc, parent_rc;
};

static void inner_body(void *arg)
{
    struct nest *t = arg;
    ck_assert_ptr_eq(al__coro_current(), t->inner);
    t->parent_rc = al__coro_resume(t->outer); /* resuming its resumer */
    t->log[t->n++] = 2;
    al__coro_yield();
    t->log[t->n++] = 4;
}

static void outer_body(void *arg)
{
    struct nest *t = arg;
    t->self_rc = al__coro_resume(t->outer);
    t->log[t->n++] = 1;
    ck_assert_int_eq(al__coro_resume(t->inner), 0);
    ck_assert_ptr_eq(al__coro_current(), t->outer);
    t->log[t->n++] = 3;
    al__coro_yield();
    ck_assert_int_eq(al__coro_resume(t->inner), 1);
    t->log[t->n++] = 5;
}

START_TEST(test_nested_resume)
{
    struct nest t = {0};
    t.outer = new_coro(0, outer_body, &t);
    t.inner = new_coro(0, inner_body, &t);
    ck_assert_int_eq(al__coro_resume(t.outer), 0);
    ck_assert_ptr_null(al__coro_current());
    ck_assert_int_eq(al__coro_resume(t.outer), 1);
    ck_assert_int_eq(t.self_rc, -EINVAL);
    ck_assert_int_eq(t.parent_rc, -EINVAL);
    ck_assert_int_eq(t.n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(t.log[i], i + 1);
    al__coro_free(t.inner);
    al__coro_free(t.outer);
}
END_TEST

/* ---- registers ---- */

#if defined(__x86_64__)
/* call_with_regs(arg, fn, seed): loads every callee-saved register with
 * seed + k, calls fn(arg), and returns how many registers came back
 * changed. Written in asm because a compiler keeps no promise about which
 * registers hold what. */
int call_with_regs(void *arg, void (*fn)(void *), uint64_t seed);
__asm__(".text\n"
        ".globl call_with_regs\n"
        ".type call_with_regs, @function\n"
        "call_with_regs:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  movq %rdx, (%rsp)\n"
        "  movq %rdx, %rbx\n"
        "  leaq 1(%rdx), %rbp\n  leaq 2(%rdx), %r12\n  leaq 3(%rdx), %r13\n"
        "  leaq 4(%rdx), %r14\n  leaq 5(%rdx), %r15\n"
        "  call *%rsi\n"
        "  movq (%rsp), %rdx\n"
        "  xorl %eax, %eax\n"
        "  cmpq %rdx, %rbx\n  je 1f\n  incl %eax\n1:\n"
        "  leaq 1(%rdx), %rcx\n  cmpq %rcx, %rbp\n  je 2f\n  incl %eax\n2:\n"
        "  leaq 2(%rdx), %rcx\n  cmpq %rcx, %r12\n  je 3f\n  incl %eax\n3:\n"
        "  leaq 3(%rdx), %rcx\n  cmpq %rcx, %r13\n  je 4f\n  incl %eax\n4:\n"
        "  leaq 4(%rdx), %rcx\n  cmpq %rcx, %r14\n  je 5f\n  incl %eax\n5:\n"
        "  leaq 5(%rdx), %rcx\n  cmpq %rcx, %r15\n  je 6f\n  incl %eax\n6:\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size call_with_regs, .-call_with_regs\n");

static void yield_fn(void *arg)
{
    (void)arg;
    al__coro_yield();
}

static void resume_fn(void *arg)
{
    al__coro_resume(arg);
}

static void regs_body(void *arg)
{
    int *bad = arg;
    for (uint64_t i = 0; i < 4; i++)
        *bad += call_with_regs(NULL, yield_fn, 0x5a5a000000000000u + i * 16);
}

START_TEST(test_callee_saved_asm)
{
    int bad_in = 0, bad_out = 0;
    al_coro *co = new_coro(0, regs_body, &bad_in);
    for (uint64_t i = 0; i < 5; i++)
        bad_out += call_with_regs(co, resume_fn, 0x1234000000000000u + i * 16);
    ck_assert_int_eq(bad_in, 0);
    ck_assert_int_eq(bad_out, 0);
    al__coro_free(co);
}
END_TEST
#endif

/* Portable variant: many live values across a switch, so the compiler
 * must keep some in callee-saved registers. */
static void volatile_body(void *arg)
{
    volatile uint64_t *sink = arg;
    uint64_t a = sink[0] * 3, b = a ^ 0x55, c = b + 7, d = c * 11, e = d - 5, f = e ^ a;
    uint64_t g = f + b, h = g * c;
    double x = (double)a * 0.5, y = x + 1.25, z = y * 3.0;
    al__coro_yield();
    sink[1] = a + b + c + d + e + f + g + h + (uint64_t)(x + y + z);
}

START_TEST(test_callee_saved_c)
{
    volatile uint64_t io[2] = {12345, 0};
    uint64_t a = io[0] * 3, b = a ^ 0x55, c = b + 7, d = c * 11, e = d - 5, f = e ^ a;
    uint64_t g = f + b, h = g * c;
    double x = (double)a * 0.5, y = x + 1.25, z = y * 3.0;
    uint64_t expect = a + b + c + d + e + f + g + h + (uint64_t)(x + y + z);
    al_coro *co = new_coro(0, volatile_body, (void *)io);
    ck_assert_int_eq(al__coro_resume(co), 0);
    uint64_t mid = a + b + c + d + e + f + g + h + (uint64_t)(x + y + z);
    ck_assert_int_eq(al__coro_resume(co), 1);
    ck_assert_uint_eq(io[1], expect);
    ck_assert_uint_eq(mid, expect);
    al__coro_free(co);
}
END_TEST

/* ---- floating-point control state ---- */

#if defined(__x86_64__)
static unsigned x87_cw(void)
{
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw & 0x0c00; /* rounding control */
}

static unsigned mxcsr_rc(void)
{
    unsigned m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return m & 0x6000;
}
#define FP_STATE() ((x87_cw() << 16) | mxcsr_rc())
#else
#define FP_STATE() ((unsigned)fegetround())
#endif

struct fpt {
    unsigned inside_start, inside_after, outside_up;
};

static void fp_body(void *arg)
{
    struct fpt *t = arg;
    t->inside_start = FP_STATE();
    fesetround(FE_UPWARD);
    t->outside_up = FP_STATE();
    al__coro_yield();
    t->inside_after = FP_STATE();
}

START_TEST(test_fp_control_per_coroutine)
{
    struct fpt t = {0};
    fesetround(FE_TONEAREST);
    unsigned nearest = FP_STATE();
    al_coro *co = new_coro(0, fp_body, &t);
    ck_assert_int_eq(al__coro_resume(co), 0);
    ck_assert_uint_eq(t.inside_start, nearest); /* inherited at creation */
    ck_assert_uint_eq(FP_STATE(), nearest);     /* the coroutine's change stays inside */
    fesetround(FE_DOWNWARD);
    unsigned down = FP_STATE();
    ck_assert_int_eq(al__coro_resume(co), 1);
    ck_assert_uint_eq(t.inside_after, t.outside_up); /* ours does not leak in */
    ck_assert_uint_eq(FP_STATE(), down);
    fesetround(FE_TONEAREST);
    al__coro_free(co);
}
END_TEST

/* ---- stacks ---- */

static volatile int depth_sink;

/* buf escapes into the callee, so no compiler can turn this into a loop. */
static int recurse(int n, volatile char *parent)
{
    volatile char buf[512];
    buf[0] = (char)n;
    buf[511] = (char)n;
    parent[1] = (char)n;
    if (n == 0)
        return buf[0];
    return recurse(n - 1, buf) + buf[511];
}

static void deep_body(void *arg)
{
    volatile char top[2];
    depth_sink = recurse(*(int *)arg, top);
}

START_TEST(test_deep_recursion)
{
    /* ~600 B per frame (more under sanitizers): ~300 KiB of a 1 MiB stack. */
    int depth = 500;
    al_coro *co = new_coro(1024 * 1024, deep_body, &depth);
    ck_assert_int_eq(al__coro_resume(co), 1);
    al__coro_free(co);
}
END_TEST

static char *stack_top_of(al_coro *co)
{
    size_t page = al__stack_page_size();
    return (char *)(((uintptr_t)co + page) & ~(uintptr_t)(page - 1));
}

START_TEST(test_stack_reuse)
{
    al_coro *a = new_coro(0, noop_body, NULL);
    char *top = stack_top_of(a);
    ck_assert_int_eq(al__coro_resume(a), 1);
    al__coro_free(a);
    al_coro *b = new_coro(0, noop_body, NULL);
    ck_assert_ptr_eq(stack_top_of(b), top); /* LIFO per-thread pool */
    ck_assert_int_eq(al__coro_resume(b), 1);
    al__coro_free(b);
    /* A dropped (suspended) coroutine's stack is reusable too. */
    int n = 0;
    al_coro *c = new_coro(0, count_body, &n);
    ck_assert_int_eq(al__coro_resume(c), 0);
    al__coro_free(c);
    al_coro *d = new_coro(0, count_body, &n);
    ck_assert_ptr_eq(stack_top_of(d), top);
    while (al__coro_resume(d) == 0)
        ;
    ck_assert_int_eq(n, 4);
    al__coro_free(d);
}
END_TEST

static size_t resident_pages(char *lo, size_t len)
{
    size_t page = al__stack_page_size(), n = len / page, k = 0;
    unsigned char *vec = malloc(n);
    ck_assert_int_eq(mincore(lo, len, vec), 0);
    for (size_t i = 0; i < n; i++)
        k += vec[i] & 1;
    free(vec);
    return k;
}

START_TEST(test_stack_trim_on_reuse)
{
    /* The deep pages of a pooled stack go back to the kernel; its top
     * (above the watermark) stays. */
#if defined(UNDER_ASAN) || defined(UNDER_TSAN)
    return; /* frame sizes differ and shadow memory muddles residency */
#endif
    if (RUNNING_ON_VALGRIND)
        return;      /* residency is Valgrind's: a trimmed page was seen resident once */
    int depth = 300; /* >= 150 KiB */
    al_coro *co = new_coro(0, deep_body, &depth);
    char *top = stack_top_of(co);
    ck_assert_int_eq(al__coro_resume(co), 1);
    char *lo = top - AL_CORO_STACK_DEFAULT;
    size_t below = AL_CORO_STACK_DEFAULT - AL_STACK_WATERMARK;
    ck_assert_uint_gt(resident_pages(lo, below), 16);
    al__coro_free(co);
    ck_assert_uint_eq(resident_pages(lo, below), 0);
    ck_assert_uint_gt(resident_pages(lo + below, AL_STACK_WATERMARK), 0);
}
END_TEST

START_TEST(test_many_sequential)
{
    int n = RUNNING_ON_VALGRIND ? 10000 : 100000;
#ifdef UNDER_TSAN
    n = 10000; /* a TSan fiber is created and destroyed with each one */
#endif
    int bad = 0;
    for (int i = 0; i < n; i++) {
        al_coro *co = quick_new(0, noop_body, NULL);
        bad += al__coro_resume(co) != 1;
        al__coro_free(co);
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

static void park_body(void *arg)
{
    int *n = arg;
    al__coro_yield();
    (*n)++;
}

START_TEST(test_many_live)
{
    /* 100 k at once: beyond the default guard limit (~16 k), so this also
     * covers unguarded slots and many regions. */
    int n = RUNNING_ON_VALGRIND ? 5000 : 100000, done = 0;
#ifdef UNDER_TSAN
    n = 2000; /* each TSan fiber costs an mmap'd thread state */
#endif
    al_stack_stats st;
    al__stack_get_stats(&st);
    size_t regions_before = st.regions;
    al_coro **cos = malloc(sizeof *cos * (size_t)n);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        cos[i] = quick_new(AL_CORO_STACK_MIN, park_body, &done);
        bad += al__coro_resume(cos[i]) != 0;
    }
    ck_assert_int_eq(bad, 0);
    al__stack_get_stats(&st);
    /* Stacks handed out from an earlier test's thread cache are not "in
     * use" for the region accounting: at most a full cache of them. */
    size_t cached_max = (size_t)AL_STACK_CACHE * 4;
    ck_assert_uint_ge(st.in_use, (size_t)n > cached_max ? (size_t)n - cached_max : 0);
    ck_assert_uint_le(st.guarded, al__stack_guard_limit());
    for (int i = 0; i < n; i++) {
        bad += al__coro_resume(cos[i]) != 1;
        al__coro_free(cos[i]);
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(done, n);
    al__stack_flush_cache();
    al__stack_get_stats(&st);
    free(cos);
    ck_assert_uint_eq(st.in_use, 0);
    ck_assert_uint_le(st.regions, regions_before + 1); /* empty regions unmapped */
}
END_TEST

START_TEST(test_guards_off)
{
    size_t old = al__stack_guard_limit();
    al__stack_set_guard_limit(0);
    al__stack_flush_cache();
    al_coro *cos[64];
    int done = 0;
    for (int i = 0; i < 64; i++) {
        cos[i] = new_coro(64 * 1024, park_body, &done);
        ck_assert_int_eq(al__coro_resume(cos[i]), 0);
    }
    for (int i = 0; i < 64; i++) {
        ck_assert_int_eq(al__coro_resume(cos[i]), 1);
        al__coro_free(cos[i]);
    }
    ck_assert_int_eq(done, 64);
    al__stack_set_guard_limit(old);
}
END_TEST

/* ---- unwinding ---- */

static void bt_body(void *arg)
{
    void *frames[128];
    *(int *)arg = backtrace(frames, 128);
}

START_TEST(test_backtrace_terminates)
{
    /* The first frame stops unwinders: a backtrace from inside a coroutine
     * is short and does not wander into the resumer's stack or garbage. */
    int n = -1;
    al_coro *co = new_coro(0, bt_body, &n);
    ck_assert_int_eq(al__coro_resume(co), 1);
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, 8);
    al__coro_free(co);
}
END_TEST

/* ---- stack overflow ---- */

static volatile int overflow_limit = 1 << 30;

static int overflow(int n, volatile char *parent)
{
    volatile char buf[256];
    buf[0] = (char)n;
    parent[1] = (char)n;
    if (n >= overflow_limit)
        return 0;
    return overflow(n + 1, buf) + buf[0];
}

static void overflow_body(void *arg)
{
    volatile char top[2];
    (void)arg;
    depth_sink = overflow(0, top);
}

/* Forks (so it works with CK_FORK=no too): the child overflows a stack
 * named Task-3, the parent checks it died of SIGSEGV with the message. The
 * size is one no other test uses, so no unguarded stack (test_guards_off)
 * can come from the pool. */
START_TEST(test_overflow_dies_with_name)
{
    if (RUNNING_ON_VALGRIND)
        return;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        al_coro *co = NULL;
        if (al__coro_new(&co, 48 * 1024, overflow_body, NULL) != 0)
            _exit(3);
        al__coro_set_name(co, "Task-3");
        al__coro_resume(co);
        _exit(4);
    }
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = 0;
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
#ifdef UNDER_ASAN
    ck_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 4);
#else
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %d, stderr: %s",
                  status, buf);
    ck_assert_msg(strstr(buf, "asynclib: stack overflow in task 'Task-3' (stack size 49152)"),
                  "stderr: %s", buf);
#endif
}
END_TEST

/* Faults that are not guard hits keep their default action. */
START_TEST(test_other_segv_default)
{
    if (RUNNING_ON_VALGRIND)
        return;
    al_coro *co = new_coro(0, noop_body, NULL); /* installs the handler */
    al__coro_free(co);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, STDERR_FILENO);
        volatile uintptr_t addr = 16;
        *(volatile int *)addr = 1;
        _exit(4);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
#if defined(UNDER_ASAN) || defined(UNDER_TSAN)
    ck_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 4); /* the sanitizer reported it */
#else
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGSEGV);
#endif
}
END_TEST

AL_TEST_SUITE(coro)
{
    Suite *s = suite_create("coro");
    TCase *tc = al_tcase("switch");
    tcase_add_test(tc, test_resume_yield_finish);
    tcase_add_test(tc, test_current);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_nested_resume);
#if defined(__x86_64__)
    tcase_add_test(tc, test_callee_saved_asm);
#endif
    tcase_add_test(tc, test_callee_saved_c);
    tcase_add_test(tc, test_fp_control_per_coroutine);
    tcase_add_test(tc, test_backtrace_terminates);
    suite_add_tcase(s, tc);

    tc = al_tcase("stacks");
    tcase_add_test(tc, test_deep_recursion);
    tcase_add_test(tc, test_stack_reuse);
    tcase_add_test(tc, test_stack_trim_on_reuse);
    tcase_add_test(tc, test_many_sequential);
    tcase_add_test(tc, test_many_live);
    tcase_add_test(tc, test_guards_off);
    suite_add_tcase(s, tc);

    tc = al_tcase("overflow");
    tcase_add_test(tc, test_overflow_dies_with_name);
    tcase_add_test(tc, test_other_segv_default);
    suite_add_tcase(s, tc);
    return s;
}

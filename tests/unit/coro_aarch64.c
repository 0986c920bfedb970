/* The AArch64 context switch, checked without Check (there is no arm64
 * libcheck to cross-link): built with aarch64-linux-gnu-gcc and run under
 * qemu-aarch64 when both are installed (tests/unit/CMakeLists.txt; Debian
 * packages gcc-aarch64-linux-gnu and qemu-user). Covers what coro.c's tests
 * cover on x86-64: callee-saved x19-x28 and d8-d15, FPCR per coroutine,
 * deep recursion, backtrace termination, 20 k live coroutines, the
 * shared-stack mode, and the overflow message. */
#include "coro.h"
#include "stack.h"
#include <fenv.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <execinfo.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c);                                     \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)
static int fails;

/* call_with_regs(arg, fn, seed): x19-x28 = seed+k, d8-d15 = seed+k; call; count changed */
int call_with_regs(void *arg, void (*fn)(void *), uint64_t seed);
__asm__(
    ".text\n.globl call_with_regs\n.type call_with_regs,%function\ncall_with_regs:\n"
    " stp x29, x30, [sp, #-176]!\n mov x29, sp\n"
    " stp x19, x20, [sp, #16]\n stp x21, x22, [sp, #32]\n stp x23, x24, [sp, #48]\n stp x25, x26, "
    "[sp, #64]\n stp x27, x28, [sp, #80]\n"
    " stp d8, d9, [sp, #96]\n stp d10, d11, [sp, #112]\n stp d12, d13, [sp, #128]\n stp d14, d15, "
    "[sp, #144]\n"
    " str x2, [sp, #160]\n"
    " add x19, x2, #0\n add x20, x2, #1\n add x21, x2, #2\n add x22, x2, #3\n add x23, x2, #4\n "
    "add x24, x2, #5\n add x25, x2, #6\n add x26, x2, #7\n add x27, x2, #8\n add x28, x2, #9\n"
    " add x9, x2, #10\n fmov d8, x9\n add x9, x2, #11\n fmov d9, x9\n add x9, x2, #12\n fmov d10, "
    "x9\n add x9, x2, #13\n fmov d11, x9\n"
    " add x9, x2, #14\n fmov d12, x9\n add x9, x2, #15\n fmov d13, x9\n add x9, x2, #16\n fmov "
    "d14, x9\n add x9, x2, #17\n fmov d15, x9\n"
    " blr x1\n"
    " ldr x2, [sp, #160]\n mov x0, #0\n"
    " add x9, x2, #0\n cmp x19, x9\n cinc x0, x0, ne\n add x9, x2, #1\n cmp x20, x9\n cinc x0, x0, "
    "ne\n"
    " add x9, x2, #2\n cmp x21, x9\n cinc x0, x0, ne\n add x9, x2, #3\n cmp x22, x9\n cinc x0, x0, "
    "ne\n"
    " add x9, x2, #4\n cmp x23, x9\n cinc x0, x0, ne\n add x9, x2, #5\n cmp x24, x9\n cinc x0, x0, "
    "ne\n"
    " add x9, x2, #6\n cmp x25, x9\n cinc x0, x0, ne\n add x9, x2, #7\n cmp x26, x9\n cinc x0, x0, "
    "ne\n"
    " add x9, x2, #8\n cmp x27, x9\n cinc x0, x0, ne\n add x9, x2, #9\n cmp x28, x9\n cinc x0, x0, "
    "ne\n"
    " add x9, x2, #10\n fmov x10, d8\n cmp x10, x9\n cinc x0, x0, ne\n add x9, x2, #11\n fmov x10, "
    "d9\n cmp x10, x9\n cinc x0, x0, ne\n"
    " add x9, x2, #12\n fmov x10, d10\n cmp x10, x9\n cinc x0, x0, ne\n add x9, x2, #13\n fmov "
    "x10, d11\n cmp x10, x9\n cinc x0, x0, ne\n"
    " add x9, x2, #14\n fmov x10, d12\n cmp x10, x9\n cinc x0, x0, ne\n add x9, x2, #15\n fmov "
    "x10, d13\n cmp x10, x9\n cinc x0, x0, ne\n"
    " add x9, x2, #16\n fmov x10, d14\n cmp x10, x9\n cinc x0, x0, ne\n add x9, x2, #17\n fmov "
    "x10, d15\n cmp x10, x9\n cinc x0, x0, ne\n"
    " ldp x19, x20, [sp, #16]\n ldp x21, x22, [sp, #32]\n ldp x23, x24, [sp, #48]\n ldp x25, x26, "
    "[sp, #64]\n ldp x27, x28, [sp, #80]\n"
    " ldp d8, d9, [sp, #96]\n ldp d10, d11, [sp, #112]\n ldp d12, d13, [sp, #128]\n ldp d14, d15, "
    "[sp, #144]\n"
    " ldp x29, x30, [sp], #176\n ret\n.size call_with_regs, .-call_with_regs\n");

static void yield_fn(void *a)
{
    (void)a;
    al__coro_yield();
}
static void resume_fn(void *a)
{
    al__coro_resume(a);
}
static void regs_body(void *arg)
{
    int *bad = arg;
    for (uint64_t i = 0; i < 4; i++)
        *bad += call_with_regs(NULL, yield_fn, 0x5a5a0000 + i * 32);
}

struct fpt {
    int in0, up, after;
};
static void fp_body(void *arg)
{
    struct fpt *t = arg;
    t->in0 = fegetround();
    fesetround(FE_UPWARD);
    t->up = fegetround();
    al__coro_yield();
    t->after = fegetround();
}

static int depth_sink;
static int recurse(int n, volatile char *p)
{
    volatile char b[512];
    b[0] = n;
    p[1] = n;
    if (!n)
        return 0;
    return recurse(n - 1, b) + b[0];
}
static void deep(void *a)
{
    volatile char t[2];
    depth_sink = recurse(*(int *)a, t);
}
static void bt_body(void *a)
{
    void *f[64];
    *(int *)a = backtrace(f, 64);
}
static void park(void *a)
{
    al__coro_yield();
    (*(int *)a)++;
}
static volatile int lim = 1 << 30;
static int ovf(int n, volatile char *p)
{
    volatile char b[256];
    b[0] = n;
    p[1] = n;
    if (n >= lim)
        return 0;
    return ovf(n + 1, b) + b[0];
}
static void ovf_body(void *a)
{
    volatile char t[2];
    (void)a;
    depth_sink = ovf(0, t);
}
static int chk(int n, int seed)
{
    volatile uint32_t l[64];
    for (int i = 0; i < 64; i++)
        l[i] = seed * 31 + i + n;
    int bad = 0;
    if (n)
        bad += chk(n - 1, seed);
    else
        al__coro_yield();
    for (int i = 0; i < 64; i++)
        bad += l[i] != (uint32_t)(seed * 31 + i + n);
    return bad;
}
struct job {
    int seed, bad;
};
static void job(void *a)
{
    struct job *j = a;
    for (int k = 0; k < 3; k++) {
        j->bad += chk(j->seed % 30, j->seed + k);
        al__coro_yield();
    }
}

int main(void)
{
    int bi = 0, bo = 0;
    al_coro *co;
    CHECK(al__coro_new(&co, 0, regs_body, &bi) == 0);
    for (uint64_t i = 0; i < 5; i++)
        bo += call_with_regs(co, resume_fn, 0x12340000 + i * 32);
    CHECK(bi == 0);
    CHECK(bo == 0);
    al__coro_free(co);

    struct fpt t = {0};
    fesetround(FE_TONEAREST);
    al__coro_new(&co, 0, fp_body, &t);
    al__coro_resume(co);
    CHECK(t.in0 == FE_TONEAREST);
    CHECK(t.up == FE_UPWARD);
    CHECK(fegetround() == FE_TONEAREST);
    fesetround(FE_DOWNWARD);
    CHECK(al__coro_resume(co) == 1);
    CHECK(t.after == FE_UPWARD);
    CHECK(fegetround() == FE_DOWNWARD);
    fesetround(FE_TONEAREST);
    al__coro_free(co);

    int d = 400; /* ~200 KiB */
    al__coro_new(&co, 1 << 20, deep, &d);
    CHECK(al__coro_resume(co) == 1);
    al__coro_free(co);
    int n = -1;
    al__coro_new(&co, 0, bt_body, &n);
    al__coro_resume(co);
    printf("backtrace frames in coroutine: %d\n", n);
    CHECK(n > 0 && n < 8);
    al__coro_free(co);

    enum { N = 20000 };
    static al_coro *cs[N];
    int done = 0;
    for (int i = 0; i < N; i++) {
        al__coro_new(&cs[i], AL_CORO_STACK_MIN, park, &done);
        al__coro_resume(cs[i]);
    }
    for (int i = 0; i < N; i++) {
        CHECK(al__coro_resume(cs[i]) == 1);
        al__coro_free(cs[i]);
    }
    CHECK(done == N);

    struct job jobs[8];
    al_coro *js[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (struct job){i * 7, 0};
        CHECK(al__coro_new_ex(&js[i], 0, job, &jobs[i], AL_CORO_SHARED_STACK) == 0);
    }
    for (int live = 1; live;) {
        live = 0;
        for (int i = 7; i >= 0; i--)
            if (al__coro_resume(js[i]) == 0)
                live++;
    }
    for (int i = 0; i < 8; i++) {
        CHECK(jobs[i].bad == 0);
        al__coro_free(js[i]);
    }
    CHECK(al__coro_flags_supported() == AL_CORO_SHARED_STACK);

    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        al__coro_new(&co, 48 * 1024, ovf_body, NULL);
        al__coro_set_name(co, "Task-3");
        al__coro_resume(co);
        _exit(4);
    }
    close(fds[1]);
    char buf[4096] = {0};
    CHECK(read(fds[0], buf, sizeof buf - 1) > 0);
    int st;
    waitpid(pid, &st, 0);
    printf("child: signaled=%d sig=%d stderr=%s", WIFSIGNALED(st),
           WIFSIGNALED(st) ? WTERMSIG(st) : 0, buf);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(strstr(buf, "stack overflow in task 'Task-3' (stack size 49152)"));

    printf("%s (%d failures)\n", fails ? "FAILED" : "OK", fails);
    return fails != 0;
}

/* Shared-stack (copying) coroutines: AL_CORO_SHARED_STACK. Where the mode
 * is unavailable (ucontext, ASan, TSan) the flag is ignored and the same
 * tests must pass on private stacks, except the -EBUSY case. */
#include "al_test.h"
#include "coro.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#ifndef __has_feature
#define __has_feature(x) 0
#endif

static al_coro *new_shared(al_coro_fn fn, void *arg)
{
    al_coro *co = NULL;
    ck_assert_int_eq(al__coro_new_ex(&co, 0, fn, arg, AL_CORO_SHARED_STACK), 0);
    return co;
}

/* Locals (including a deep chain of frames) must survive being copied out
 * and back while other coroutines use the same stack. */
static int nest_and_check(int depth, int seed)
{
    volatile uint32_t local[64];
    for (int i = 0; i < 64; i++)
        local[i] = (uint32_t)(seed * 7919 + i * 31 + depth);
    int bad = 0;
    if (depth > 0)
        bad += nest_and_check(depth - 1, seed);
    else
        al__coro_yield();
    for (int i = 0; i < 64; i++)
        bad += local[i] != (uint32_t)(seed * 7919 + i * 31 + depth);
    return bad;
}

struct job {
    int seed, bad, depth;
};

static void job_body(void *arg)
{
    struct job *j = arg;
    for (int k = 0; k < 3; k++) {
        j->bad += nest_and_check(j->depth, j->seed + k);
        al__coro_yield();
    }
}

START_TEST(test_shared_interleaved)
{
    enum { N = 8 };
    struct job jobs[N];
    al_coro *cos[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct job){.seed = i * 13, .depth = i * 20};
        cos[i] = new_shared(job_body, &jobs[i]);
    }
    int live = N;
    while (live > 0) {
        live = 0;
        for (int i = N - 1; i >= 0; i--) /* reverse order: evict every time */
            if (cos[i] && al__coro_resume(cos[i]) == 0)
                live++;
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(jobs[i].bad, 0);
        al__coro_free(cos[i]);
    }
}
END_TEST

static void park_body(void *arg)
{
    al__coro_yield();
    (*(int *)arg)++;
}

START_TEST(test_shared_many_parked)
{
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
    enum { N = 2000 }; /* each TSan fiber costs an mmap'd thread state */
#else
    enum { N = 20000 };
#endif
    int n = RUNNING_ON_VALGRIND ? N / 10 : N; /* Valgrind tracks few mappings */
    al_coro **cos = malloc(sizeof *cos * N);
    int done = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        cos[i] = NULL;
        al__coro_new_ex(&cos[i], 0, park_body, &done, AL_CORO_SHARED_STACK);
        bad += al__coro_resume(cos[i]) != 0; /* ck_assert per item is slow */
    }
    for (int i = 0; i < n; i += 2) /* drop half while parked */
        al__coro_free(cos[i]);
    for (int i = 1; i < n; i += 2) {
        bad += al__coro_resume(cos[i]) != 1;
        al__coro_free(cos[i]);
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(done, n / 2);
    free(cos);
}
END_TEST

struct pair {
    al_coro *other, *priv;
    int rc_shared, rc_priv;
};

static void yield_once(void *arg)
{
    (void)arg;
    al__coro_yield();
}

static void resumer_body(void *arg)
{
    struct pair *p = arg;
    p->rc_shared = al__coro_resume(p->other);
    p->rc_priv = al__coro_resume(p->priv);
}

START_TEST(test_shared_nested_resume)
{
    struct pair p = {0};
    p.other = new_shared(yield_once, NULL);
    ck_assert_int_eq(al__coro_new(&p.priv, 0, yield_once, NULL), 0);
    al_coro *a = new_shared(resumer_body, &p);
    ck_assert_int_eq(al__coro_resume(a), 1);
    if (al__coro_flags_supported() & AL_CORO_SHARED_STACK)
        ck_assert_int_eq(p.rc_shared, -EBUSY); /* a's frames are on the shared stack */
    else
        ck_assert_int_eq(p.rc_shared, 0);
    ck_assert_int_eq(p.rc_priv, 0);
    al__coro_free(a);
    al__coro_free(p.other);
    al__coro_free(p.priv);
}
END_TEST

START_TEST(test_shared_bad_args)
{
    al_coro *co = NULL;
    ck_assert_int_eq(al__coro_new_ex(&co, 0, yield_once, NULL, 0x80), -EINVAL);
    if (al__coro_flags_supported() & AL_CORO_SHARED_STACK)
        ck_assert_int_eq(al__coro_new_ex(&co, (size_t)AL_CORO_SHARED_STACK_SIZE * 2, yield_once,
                                         NULL, AL_CORO_SHARED_STACK),
                         -EINVAL);
    ck_assert_ptr_null(co);
}
END_TEST

AL_TEST_SUITE(coro_shared)
{
    Suite *s = suite_create("coro_shared");
    TCase *tc = al_tcase("shared");
    tcase_add_test(tc, test_shared_interleaved);
    tcase_add_test(tc, test_shared_many_parked);
    tcase_add_test(tc, test_shared_nested_resume);
    tcase_add_test(tc, test_shared_bad_args);
    suite_add_tcase(s, tc);
    return s;
}

/* Coroutines on several threads at once (label "threads": the TSan job
 * runs it). Each thread has its own current coroutine, pool and
 * sigaltstack; stacks freed on one thread may be reused by another. */
#include "al_test.h"
#include "coro.h"
#include "stack.h"

#include <pthread.h>
#include <stdint.h>

#define NTHREADS 4
#define ROUNDS 2000

struct ping {
    al_coro *self, *peer;
    long count;
};

static void peer_body(void *arg)
{
    struct ping *p = arg;
    for (;;) {
        p->count++;
        al__coro_yield();
    }
}

static void driver_body(void *arg)
{
    struct ping *p = arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (al__coro_current() != p->self)
            return;
        al__coro_resume(p->peer); /* nested resume */
        al__coro_yield();
    }
}

static void *thread_main(void *arg)
{
    long *ok = arg;
    struct ping p = {0};
    al_coro *peer = NULL, *driver = NULL;
    if (al__coro_new(&peer, 0, peer_body, &p) || al__coro_new(&driver, 0, driver_body, &p))
        return NULL;
    p.self = driver;
    p.peer = peer;
    int steps = 0;
    while (al__coro_resume(driver) == 0)
        steps++;
    al__coro_free(driver);
    al__coro_free(peer); /* suspended: dropped */
    /* Churn the pool so stacks move between thread caches and regions. */
    for (int i = 0; i < 300; i++) {
        al_coro *c = NULL;
        if (al__coro_new(&c, 0, peer_body, &p))
            return NULL;
        al__coro_resume(c);
        al__coro_free(c);
    }
    *ok = steps == ROUNDS && p.count == ROUNDS + 300 && al__coro_current() == NULL;
    return NULL;
}

START_TEST(test_threads_concurrent)
{
    pthread_t th[NTHREADS];
    long ok[NTHREADS] = {0};
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &ok[i]), 0);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(ok[i], 1);
    }
    al_stack_stats st;
    al__stack_get_stats(&st);
    ck_assert_uint_eq(st.in_use, 0); /* exiting threads flushed their caches */
}
END_TEST

AL_TEST_SUITE(coro_threads)
{
    Suite *s = suite_create("coro_threads");
    TCase *tc = al_tcase("threads");
    tcase_add_test(tc, test_threads_concurrent);
    suite_add_tcase(s, tc);
    return s;
}

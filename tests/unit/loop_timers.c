/* White-box tests of the loop's timer heap and lazy cancellation (R5, R6). */
#include "al_test.h"
#include "loop_internal.h"

#include <stdlib.h>

static int count_cb(al_loop *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
    return 0;
}

/* R6: more than 100 timers with more than half cancelled: one iteration
 * purges every cancelled one and resets the counter. */
START_TEST(r6_bulk_purge)
{
    al_loop *loop = al_loop_new_virtual();
    al_handle *hs[200];
    int n = 0;
    for (int i = 0; i < 200; i++)
        al_call_later(loop, 10 + i, count_cb, &n, &hs[i]);
    for (int i = 0; i < 200; i++)
        if (i % 4 != 0)
            al_handle_cancel(hs[i]);
    ck_assert_uint_eq(loop->timers_cancelled, 150);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_uint_eq(loop->timers.len, 50);
    ck_assert_uint_eq(loop->timers_cancelled, 0);
    for (int i = 0; i < 200; i++)
        al_handle_unref(hs[i]);
    al_loop_free(loop);
}
END_TEST

/* Below the threshold only cancelled timers at the head are dropped. */
START_TEST(r5_head_only_below_threshold)
{
    al_loop *loop = al_loop_new_virtual();
    al_handle *hs[50];
    int n = 0;
    for (int i = 0; i < 50; i++)
        al_call_later(loop, 10 + i, count_cb, &n, &hs[i]);
    al_handle_cancel(hs[0]);
    al_handle_cancel(hs[1]);
    al_handle_cancel(hs[10]);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert_uint_eq(loop->timers.len, 47 + 1); /* hs[10] waits for its turn */
    ck_assert_uint_eq(loop->timers_cancelled, 1);
    for (int i = 0; i < 50; i++)
        al_handle_unref(hs[i]);
    al_loop_free(loop);
}
END_TEST

typedef struct order {
    double last;
    int bad, fired;
} order;

static int check_order(al_loop *loop, void *arg)
{
    order *o = arg;
    double now = al_loop_time(loop);
    if (now < o->last)
        o->bad++;
    o->last = now;
    o->fired++;
    return 0;
}

/* Random deadlines and random cancellations: the survivors fire in order. */
START_TEST(heap_order_random)
{
    al_loop *loop = al_loop_new_virtual();
    order o = {0};
    srand(42);
    al_handle *hs[5000];
    int live = 0;
    for (int i = 0; i < 5000; i++)
        al_call_later(loop, (double)(rand() % 100000) / 1000.0, check_order, &o, &hs[i]);
    for (int i = 0; i < 5000; i++) {
        if (rand() % 3 == 0)
            al_handle_cancel(hs[i]);
        else
            live++;
        al_handle_unref(hs[i]);
    }
    while (loop->timers.len)
        al_loop_run_once(loop); /* jumps to the next deadline */
    ck_assert_int_eq(o.bad, 0);
    ck_assert_int_eq(o.fired, live);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_loop_timers)
{
    Suite *s = suite_create("loop_timers");
    TCase *tc = al_tcase("heap");
    tcase_add_test(tc, r6_bulk_purge);
    tcase_add_test(tc, r5_head_only_below_threshold);
    tcase_add_test(tc, heap_order_random);
    suite_add_tcase(s, tc);
    return s;
}

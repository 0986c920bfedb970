/* Scenario 4, the pure layer: tasks, a queue between a producer and a
 * consumer, gather, a timer, a sleep, a timeout scope and an event; every
 * allocation failing in turn. On the I/O loop of each backend, and on the
 * pure real and virtual loops (the row "pure"). */
#include "fa_util.h"

#include <stdio.h>

typedef struct pure_st {
    fa_run run;
    al_queue *q;
    long sum;
    bool timer_ran;
} pure_st;

#define ITEMS 5

static int producer(void *arg, void **result)
{
    (void)result;
    pure_st *st = arg;
    for (long i = 1; i <= ITEMS; i++) {
        int rc = al_queue_put(st->q, (void *)i);
        if (rc < 0)
            return fa_err(&st->run, rc);
    }
    return 0;
}

static int consumer(void *arg, void **result)
{
    (void)result;
    pure_st *st = arg;
    for (int i = 0; i < ITEMS; i++) {
        void *item;
        int rc = al_queue_get(st->q, &item);
        if (rc < 0)
            return fa_err(&st->run, rc);
        st->sum += (long)item;
    }
    return 0;
}

static int on_timer(al_loop *loop, void *arg)
{
    (void)loop;
    ((pure_st *)arg)->timer_ran = true;
    return 0;
}

static int pure_main(void *arg, void **result)
{
    (void)result;
    pure_st *st = arg;
    fa_run *r = &st->run;
    al_loop *loop = al_get_running_loop();
    al_task *t[2] = {NULL, NULL};
    al_handle *h = NULL;
    if (fa_err(r, al_queue_new(loop, 2, &st->q)))
        return 0;
    if (fa_err(r, al_task_new(loop, producer, st, NULL, &t[0])) == 0 &&
        fa_err(r, al_task_new(loop, consumer, st, NULL, &t[1])) == 0) {
        al_future *fs[2] = {al_task_future(t[0]), al_task_future(t[1])};
        al_future *g = NULL;
        fa_err(r, al_gather_wait(fs, 2, false, &g));
        if (g)
            al_future_unref(g);
    }
    for (int i = 0; i < 2; i++) {
        if (t[i]) {
            if (!al_future_done(al_task_future(t[i]))) {
                al_task_cancel(t[i], NULL);
                al_await(al_task_future(t[i]));
            }
            al_task_unref(t[i]);
        }
    }
    if (fa_err(r, al_call_later(loop, 0.001, on_timer, st, &h)) == 0) {
        al_timeout to = AL_TIMEOUT_INIT;
        if (fa_err(r, al_timeout_enter(&to, 60.0)) == 0)
            fa_err(r, al_timeout_exit(&to, al_sleep(0.002)));
        al_handle_unref(h);
    }
    al_event *ev = NULL;
    if (fa_err(r, al_event_new(loop, &ev)) == 0) {
        al_event_set(ev);
        fa_err(r, al_event_wait(ev));
        al_event_free(ev);
    }
    al_queue_free(st->q);
    return 0;
}

static int pure_scenario(void *arg)
{
    pure_st st = {0};
    int rc = fa_run_main(*(fa_loop_kind *)arg, pure_main, &st.run);
    if (rc == 0 && (st.sum != ITEMS * (ITEMS + 1) / 2 || !st.timer_ran))
        return FA_SILENT;
    return rc;
}

START_TEST(pure_sweep)
{
    char name[64];
    fa_loop_kind kinds[3] = {FA_IO_LOOP, FA_PURE_REAL, FA_PURE_VIRTUAL};
    static const char *const kind_names[3] = {"io", "real", "virtual"};
    for (int i = fa_pure_row() ? 1 : 0; i < (fa_pure_row() ? 3 : 1); i++) {
        snprintf(name, sizeof name, "pure/%s/%s", al_test_impl, kind_names[i]);
        failalloc_sweep(name, pure_scenario, &kinds[i], 1);
    }
}
END_TEST

AL_TEST_SUITE(failalloc_pure)
{
    Suite *s = suite_create("failalloc_pure");
    TCase *tc = al_tcase("pure");
    tcase_add_test(tc, pure_sweep);
    suite_add_tcase(s, tc);
    return s;
}

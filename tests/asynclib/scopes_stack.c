/* Nothing the loop holds points into a parked task's stack.
 *
 * In AL_TASK_SHARED_STACK mode a parked task's frames are copied away and
 * another task's frames occupy the same addresses, so a timer or callback
 * holding the address of a scope on the stack would act on the wrong task.
 * Each case runs many tasks that park with a deadline of their own (timeout
 * scopes on the stack, wait_for, with_timeout, wait, as_completed, sleep)
 * and checks that every one of them ends at its own deadline with its own
 * outcome. Loop test index _i: 0 private stacks, 1 shared stack. */
#include "al_conf.h"

#include <math.h>

#define N_TASKS 12
#define STEP 0.05 /* seconds between consecutive deadlines */

enum { K_WAIT_FOR, K_WITH_TIMEOUT, K_SCOPE, K_NESTED, K_WAIT, K_AS_COMPLETED, K_SLEEP, N_KINDS };

typedef struct sample {
    int kind;
    double deadline;  /* from the start */
    al_future *never; /* completed by nobody */
    int rc;
    double end; /* loop time at the end, from the start */
    int inner_rc;
    double inner_end;
} sample;

static double t_start;

static int stop_cb(al_loop *loop, void *arg)
{
    (void)arg;
    return al_loop_stop(loop);
}

static int body_await(void *arg, void **r)
{
    (void)r;
    return al_await(arg);
}

static int sample_main(void *arg, void **r)
{
    (void)r;
    sample *s = arg;
    al_timeout to = AL_TIMEOUT_INIT, inner = AL_TIMEOUT_INIT;
    double when = t_start + s->deadline;
    switch (s->kind) {
    case K_WAIT_FOR:
        s->rc = al_wait_for(s->never, when - conf_now());
        break;
    case K_WITH_TIMEOUT:
        s->rc = al_with_timeout(when - conf_now(), body_await, s->never, NULL);
        break;
    case K_SCOPE:
        /* Entered with no deadline, then moved to it. */
        ck_assert_int_eq(al_timeout_enter(&to, AL_FOREVER), 0);
        ck_assert_int_eq(al_timeout_reschedule(&to, when), 0);
        s->rc = al_timeout_exit(&to, al_await(s->never));
        ck_assert(al_timeout_expired(&to));
        break;
    case K_NESTED:
        /* The inner scope expires halfway, the outer one at the deadline. */
        ck_assert_int_eq(al_timeout_enter_at(&to, when), 0);
        ck_assert_int_eq(al_timeout_enter_at(&inner, t_start + s->deadline / 2), 0);
        s->inner_rc = al_timeout_exit(&inner, al_sleep(1000.0)); /* never is for the outer */
        s->inner_end = conf_now() - t_start;
        /* A task that starts late (a loaded machine) finds both deadlines
         * passed: the inner scope then passes the cancellation on, as
         * asyncio's does, and correct code hands it to the outer scope. */
        s->rc = al_timeout_exit(&to, s->inner_rc == AL_ETIMEOUT ? al_await(s->never) : s->inner_rc);
        break;
    case K_WAIT: {
        size_t ndone = 9, npending = 9;
        s->rc = al_wait(&s->never, 1, when - conf_now(), AL_ALL_COMPLETED, NULL, &ndone, NULL,
                        &npending);
        ck_assert(ndone == 0 && npending == 1);
        s->rc = s->rc == 0 ? AL_ETIMEOUT : s->rc; /* wait reports a timeout as 0 */
        break;
    }
    case K_AS_COMPLETED: {
        al_as_completed *it;
        ck_assert_int_eq(al_as_completed_new(conf_cur_loop(), &s->never, 1, when - conf_now(), &it),
                         0);
        al_future *f = NULL;
        s->rc = al_as_completed_next(it, &f);
        ck_assert_int_eq(al_as_completed_free(it), 0);
        break;
    }
    default:
        s->rc = al_sleep(when - conf_now());
        s->rc = s->rc == 0 ? AL_ETIMEOUT : s->rc;
        break;
    }
    s->end = conf_now() - t_start;
    return 0;
}

/* Ended at its own deadline: exactly on the virtual clock, not before it
 * and within the suite's generous bound on the real one. */
static void check_end(const sample *s, double got, double deadline, const char *what)
{
    double lo = conf_is_virtual() ? deadline - 1e-9 : deadline - 0.01;
    double hi = conf_is_virtual() ? deadline + 1e-9 : deadline + 0.5;
    ck_assert_msg(got >= lo && got <= hi, "task of kind %d: %s ended at %.3f, deadline %.3f",
                  s->kind, what, got, deadline);
}

/* Tasks are created latest deadline first, so that the earliest timer fires
 * while the other tasks' frames sit where the first task's were. */
static void run_samples(int shared, const int *kinds, int n)
{
    al_loop *loop = conf_loop_new();
    sample s[N_TASKS];
    al_task *t[N_TASKS];
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.flags = shared ? AL_TASK_SHARED_STACK : 0;
    al_handle *guard; /* a task that never times out fails the case, not the harness */
    ck_assert_int_eq(al_call_later(loop, 30.0, stop_cb, NULL, &guard), 0);
    for (int i = n - 1; i >= 0; i--) {
        s[i] = (sample){.kind = kinds[i], .deadline = STEP * (i + 1), .rc = 1, .inner_rc = 1};
        ck_assert_int_eq(al_future_new(loop, &s[i].never), 0);
        ck_assert_int_eq(al_task_new(loop, sample_main, &s[i], &o, &t[i]), 0);
    }
    t_start = al_loop_time(loop); /* after the set-up: deadlines count from the first run */
    for (int i = 0; i < n; i++) {
        int rc = al_loop_run_until_complete(loop, CONF_F(t[i]));
        ck_assert_msg(rc == 0, "task %d of kind %d never ended (%s)", i, s[i].kind,
                      al_strerror(rc));
        ck_assert_msg(s[i].rc == AL_ETIMEOUT, "task %d of kind %d: %s", i, s[i].kind,
                      al_strerror(s[i].rc));
        check_end(&s[i], s[i].end, s[i].deadline, "the wait");
        /* A nested case that started after both deadlines (real clock on a
         * loaded machine) sees AL_ECANCELLED in the inner scope: see sample_main. */
        bool late =
            s[i].inner_rc == AL_ECANCELLED && !conf_is_virtual() && s[i].inner_end >= s[i].deadline;
        if (s[i].kind == K_NESTED && !late) {
            ck_assert_int_eq(s[i].inner_rc, AL_ETIMEOUT);
            check_end(&s[i], s[i].inner_end, s[i].deadline / 2, "the inner scope");
        }
        ck_assert_int_eq(al_task_cancelling(t[i]), 0);
        al_task_unref(t[i]);
        al_future_unref(s[i].never);
    }
    al_handle_cancel(guard);
    al_handle_unref(guard);
    ck_assert_int_eq(al_loop_free(loop), 0);
}

static void run_kind(int shared, int kind)
{
    int kinds[N_TASKS];
    for (int i = 0; i < N_TASKS; i++)
        kinds[i] = kind;
    run_samples(shared, kinds, N_TASKS);
}

START_TEST(wait_for_times_out_its_own_task)
{
    run_kind(_i, K_WAIT_FOR);
}
END_TEST

START_TEST(with_timeout_times_out_its_own_task)
{
    run_kind(_i, K_WITH_TIMEOUT);
}
END_TEST

START_TEST(stack_scope_times_out_its_own_task)
{
    run_kind(_i, K_SCOPE);
}
END_TEST

START_TEST(nested_stack_scopes_time_out_their_own_task)
{
    run_kind(_i, K_NESTED);
}
END_TEST

/* Every kind of deadline at once, interleaved. */
START_TEST(mixed_deadlines_each_their_own)
{
    int kinds[N_TASKS];
    for (int i = 0; i < N_TASKS; i++)
        kinds[i] = (i * 5) % N_KINDS;
    run_samples(_i, kinds, N_TASKS);
}
END_TEST

AL_TEST_SUITE(suite_scopes_stack)
{
    Suite *s = suite_create("scopes_stack");
    TCase *tc = al_tcase("scopes_stack");
    tcase_add_loop_test(tc, wait_for_times_out_its_own_task, 0, 2);
    tcase_add_loop_test(tc, with_timeout_times_out_its_own_task, 0, 2);
    tcase_add_loop_test(tc, stack_scope_times_out_its_own_task, 0, 2);
    tcase_add_loop_test(tc, nested_stack_scopes_time_out_their_own_task, 0, 2);
    tcase_add_loop_test(tc, mixed_deadlines_each_their_own, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

/* Lock / Event / Condition / Semaphore / Barrier conformance: asyncio's
 * test_locks.py (rules R94-R116) and issue 4's bad-input list. "s0" in the
 * comments is asyncio's `await asyncio.sleep(0)`: one loop iteration. */
#include "al_conf.h"

#include <asynclib/locks.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static conf_log tlog;
static al_lock *lk;
static al_event *ev;
static al_condition *cv;
static al_semaphore *sem;
static al_barrier *bar;
static int state;

static int status(al_task *t)
{
    return al_future_error(al_task_future(t));
}

static void run_main(al_task_fn fn)
{
    memset(&tlog, 0, sizeof tlog);
    state = 0;
    conf_run_main(fn, NULL);
}

/* ---- R94: Lock FIFO acquisition ---------------------------------------------------- */

static int lock_logger(void *arg, void **result)
{
    (void)result;
    int rc = al_lock_acquire(lk);
    if (rc == 0)
        conf_log_add(&tlog, CONF_PV(arg));
    return rc;
}

static int lock_acquire_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_lock_new(conf_cur_loop(), &lk), 0);
    ck_assert_int_eq(al_lock_acquire(lk), 0);
    ck_assert(al_lock_locked(lk));
    al_task *t1 = conf_spawn(lock_logger, CONF_VP(1)), *t2 = conf_spawn(lock_logger, CONF_VP(2));
    conf_s0();
    ck_assert_int_eq(tlog.n, 0);
    ck_assert_int_eq(al_lock_release(lk), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1);
    al_task *t3 = conf_spawn(lock_logger, CONF_VP(3));
    ck_assert_int_eq(al_lock_release(lk), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1, 2);
    ck_assert_int_eq(al_lock_release(lk), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1, 2, 3);
    ck_assert(conf_done(t1) && conf_done(t2) && conf_done(t3));
    ck_assert_int_eq(conf_join(t1) | conf_join(t2) | conf_join(t3), 0);
    ck_assert_int_eq(al_lock_release(lk), 0);
    ck_assert_int_eq(al_lock_free(lk), 0);
    return 0;
}

START_TEST(lock_acquire_fifo)
{
    run_main(lock_acquire_main);
}
END_TEST

/* ---- R95: cancelled waiter, bad release, scoped helper ------------------------------------ */

static int lock_cancel_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_lock_new(conf_cur_loop(), &lk), 0);
    ck_assert_int_eq(al_lock_release(lk), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_lock_acquire(lk), 0);
    al_task *t = conf_spawn(lock_logger, CONF_VP(1));
    conf_s0();
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    conf_s0();
    ck_assert(conf_done(t));
    ck_assert_int_eq(status(t), AL_ECANCELLED);
    al_task_unref(t);
    /* The cancelled waiter is gone: releasing leaves the lock free. */
    ck_assert_int_eq(al_lock_release(lk), 0);
    conf_s0();
    ck_assert(!al_lock_locked(lk));
    ck_assert_int_eq(al_lock_release(lk), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_lock_free(lk), 0);
    return 0;
}

START_TEST(lock_acquire_cancel_and_bad_release)
{
    run_main(lock_cancel_main);
}
END_TEST

static int with_body(void *arg)
{
    ck_assert(al_lock_locked(lk));
    conf_s0(); /* may suspend while holding it */
    return CONF_PV(arg);
}

static int with_long_body(void *arg)
{
    (void)arg;
    return al_sleep(10.0); /* cancelled below */
}

static int with_task(void *arg, void **result)
{
    (void)arg, (void)result;
    return al_lock_with(lk, with_long_body, NULL);
}

static int lock_with_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_lock_new(conf_cur_loop(), &lk), 0);
    ck_assert_int_eq(al_lock_with(lk, with_body, CONF_VP(0)), 0);
    ck_assert(!al_lock_locked(lk));
    /* Released whatever the body returns. */
    ck_assert_int_eq(al_lock_with(lk, with_body, CONF_VP(-EIO)), -EIO);
    ck_assert(!al_lock_locked(lk));
    ck_assert_int_eq(al_lock_with(lk, NULL, NULL), -EINVAL);
    /* Cancelled inside the body: released on the way out. */
    al_task *t = conf_spawn(with_task, NULL);
    conf_s0();
    ck_assert(al_lock_locked(lk));
    al_task_cancel(t, NULL);
    ck_assert_int_eq(conf_join(t), AL_ECANCELLED);
    ck_assert(!al_lock_locked(lk));
    ck_assert_int_eq(al_lock_free(lk), 0);
    return 0;
}

START_TEST(lock_with_scoped)
{
    run_main(lock_with_main);
}
END_TEST

/* ---- R96: cancel race --------------------------------------------------------------- */

static int lockit(void *arg, void **result)
{
    (void)result;
    int rc = al_lock_acquire(lk);
    if (rc < 0)
        return rc;
    if (arg)
        rc = al_await(arg);
    ck_assert_int_eq(al_lock_release(lk), 0);
    return rc;
}

static int lock_cancel_race_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_lock_new(conf_cur_loop(), &lk), 0);
    al_future *fa;
    ck_assert_int_eq(al_future_new(conf_cur_loop(), &fa), 0);
    al_task *ta = conf_spawn(lockit, fa);
    conf_s0();
    ck_assert(al_lock_locked(lk));
    al_task *tb = conf_spawn(lockit, NULL);
    conf_s0();
    al_task *tc = conf_spawn(lockit, NULL);
    conf_s0();
    ck_assert_int_eq(al_future_set_result(fa, NULL, NULL), 0);
    al_task_cancel(tb, NULL);
    conf_s0();
    ck_assert(!al_lock_locked(lk));
    ck_assert(conf_done(ta));
    ck_assert(conf_done(tb) && status(tb) == AL_ECANCELLED);
    ck_assert_int_eq(conf_join(tc), 0); /* B passed the wake-up on */
    ck_assert_int_eq(conf_join(ta), 0);
    ck_assert_int_eq(conf_join(tb), AL_ECANCELLED);
    al_future_unref(fa);
    ck_assert_int_eq(al_lock_free(lk), 0);
    return 0;
}

START_TEST(lock_cancel_race)
{
    run_main(lock_cancel_race_main);
}
END_TEST

/* ---- R97: cancel/release race (bpo-32734) ------------------------------------------------ */

static int lock_count, call_count;
static al_task *race_t1;

static int lock_counter(void *arg, void **result)
{
    (void)arg, (void)result;
    call_count++;
    int rc = al_lock_acquire(lk);
    if (rc == 0)
        lock_count++;
    return rc;
}

static int trigger(al_loop *loop, void *arg)
{
    (void)loop, (void)arg;
    al_task_cancel(race_t1, NULL);
    return al_lock_release(lk);
}

static int lock_cancel_release_race_main(void *arg, void **result)
{
    (void)arg, (void)result;
    lock_count = call_count = 0;
    ck_assert_int_eq(al_lock_new(conf_cur_loop(), &lk), 0);
    ck_assert_int_eq(al_lock_acquire(lk), 0);
    race_t1 = conf_spawn(lock_counter, NULL);
    al_task *t2 = conf_spawn(lock_counter, NULL), *t3 = conf_spawn(lock_counter, NULL);
    conf_s0();
    ck_assert_int_eq(al_call_soon(conf_cur_loop(), trigger, NULL, NULL), 0);
    ck_assert_int_eq(al_await(al_task_future(race_t1)), AL_ECANCELLED);
    ck_assert_int_eq(lock_count, 1);
    ck_assert_int_eq(call_count, 3);
    al_task_cancel(t3, NULL);
    conf_s0();
    ck_assert(conf_done(t3) && status(t3) == AL_ECANCELLED);
    ck_assert_int_eq(conf_join(t2), 0);
    al_task_unref(race_t1);
    al_task_unref(t3);
    ck_assert_int_eq(al_lock_free(lk), 0);
    return 0;
}

START_TEST(lock_cancel_release_race)
{
    run_main(lock_cancel_release_race_main);
}
END_TEST

/* ---- R98: all queued waiters cancelled -> a newcomer takes the lock ---------------------- */

static int lock_finished_waiter_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_lock_new(conf_cur_loop(), &lk), 0);
    ck_assert_int_eq(al_lock_acquire(lk), 0);
    al_task *tb = conf_spawn(lock_logger, CONF_VP(1));
    conf_s0();
    al_task *tc = conf_spawn(lock_logger, CONF_VP(2));
    al_task_cancel(tb, NULL);
    ck_assert_int_eq(al_lock_release(lk), 0);
    conf_s0();
    ck_assert(al_lock_locked(lk));
    conf_s0();
    ck_assert(al_lock_locked(lk));
    ck_assert(conf_done(tb) && status(tb) == AL_ECANCELLED);
    ck_assert_int_eq(conf_join(tc), 0);
    CONF_LOG_EXPECT(&tlog, 2);
    al_task_unref(tb);
    ck_assert_int_eq(al_lock_free(lk), 0);
    return 0;
}

START_TEST(lock_finished_waiter_cancelled)
{
    run_main(lock_finished_waiter_main);
}
END_TEST

/* ---- R99: woken, then cancelled before running -> the next waiter gets it ---------------- */

static int lock_woken_cancelled_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_lock_new(conf_cur_loop(), &lk), 0);
    ck_assert_int_eq(al_lock_acquire(lk), 0);
    al_task *t1 = conf_spawn(lock_logger, CONF_VP(1)), *t2 = conf_spawn(lock_logger, CONF_VP(2));
    conf_s0();
    ck_assert_int_eq(al_lock_release(lk), 0); /* wakes t1 */
    al_task_cancel(t1, NULL);                 /* before t1 runs */
    conf_s0();
    conf_s0();
    ck_assert(conf_done(t1) && status(t1) == AL_ECANCELLED);
    ck_assert(conf_done(t2) && status(t2) == 0);
    ck_assert(al_lock_locked(lk));
    CONF_LOG_EXPECT(&tlog, 2);
    al_task_unref(t1);
    al_task_unref(t2);
    ck_assert_int_eq(al_lock_free(lk), 0);
    return 0;
}

START_TEST(lock_woken_then_cancelled_hands_off)
{
    run_main(lock_woken_cancelled_main);
}
END_TEST

/* ---- R100-R101: Event ---------------------------------------------------------------------- */

static int event_logger(void *arg, void **result)
{
    (void)result;
    int rc = al_event_wait(ev);
    if (rc == 0)
        conf_log_add(&tlog, CONF_PV(arg));
    return rc;
}

static int event_wait_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_event_new(conf_cur_loop(), &ev), 0);
    ck_assert(!al_event_is_set(ev));
    al_task *t1 = conf_spawn(event_logger, CONF_VP(1)), *t2 = conf_spawn(event_logger, CONF_VP(2));
    conf_s0();
    al_task *t3 = conf_spawn(event_logger, CONF_VP(3));
    ck_assert_int_eq(al_event_set(ev), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 3, 1, 2); /* wake-ups are deferred callbacks */
    ck_assert_int_eq(conf_join(t1) | conf_join(t2) | conf_join(t3), 0);
    ck_assert_int_eq(al_event_free(ev), 0);
    return 0;
}

START_TEST(event_wait)
{
    run_main(event_wait_main);
}
END_TEST

static int event_clear_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_event_new(conf_cur_loop(), &ev), 0);
    al_task *t = conf_spawn(event_logger, CONF_VP(1));
    conf_s0();
    ck_assert_int_eq(tlog.n, 0);
    al_event_set(ev);
    al_event_clear(ev);
    ck_assert(!al_event_is_set(ev));
    al_event_set(ev);
    al_event_set(ev);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1);
    ck_assert(conf_done(t));
    ck_assert_int_eq(conf_join(t), 0);
    /* A pulse (set then clear) still wakes the waiters present. */
    al_event_clear(ev);
    t = conf_spawn(event_logger, CONF_VP(2));
    conf_s0();
    al_event_set(ev);
    al_event_clear(ev);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1, 2);
    ck_assert_int_eq(conf_join(t), 0);
    /* Waiting on a set event returns at once; a cancelled waiter leaves. */
    al_event_set(ev);
    ck_assert_int_eq(al_event_wait(ev), 0);
    al_event_clear(ev);
    t = conf_spawn(event_logger, CONF_VP(3));
    conf_s0();
    al_task_cancel(t, NULL);
    ck_assert_int_eq(conf_join(t), AL_ECANCELLED);
    ck_assert_int_eq(al_event_free(ev), 0);
    return 0;
}

START_TEST(event_clear_with_waiters_and_cancel)
{
    run_main(event_clear_main);
}
END_TEST

/* ---- R102-R103: Condition wait / notify -------------------------------------------------- */

static int cond_logger(void *arg, void **result)
{
    (void)result;
    int rc = al_condition_acquire(cv);
    if (rc == 0)
        rc = al_condition_wait(cv);
    if (rc == 0)
        conf_log_add(&tlog, CONF_PV(arg));
    return rc; /* keeps the lock: the main task releases it */
}

static int cond_wait_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_condition_new(conf_cur_loop(), NULL, &cv), 0);
    al_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = conf_spawn(cond_logger, CONF_VP(i + 1));
    conf_s0();
    ck_assert_int_eq(tlog.n, 0);
    ck_assert(!al_condition_locked(cv));
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    ck_assert_int_eq(al_condition_notify(cv, 1), 0);
    conf_s0();
    ck_assert_int_eq(tlog.n, 0);
    ck_assert(al_condition_locked(cv));
    ck_assert_int_eq(al_condition_release(cv), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1);
    ck_assert(al_condition_locked(cv));
    ck_assert_int_eq(al_condition_notify(cv, 2), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1);
    ck_assert(al_condition_locked(cv));
    ck_assert_int_eq(al_condition_release(cv), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1, 2);
    ck_assert(al_condition_locked(cv));
    ck_assert_int_eq(al_condition_release(cv), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1, 2, 3);
    ck_assert(al_condition_locked(cv));
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(t[i]), 0);
    ck_assert_int_eq(al_condition_release(cv), 0);
    ck_assert_int_eq(al_condition_free(cv), 0);
    return 0;
}

START_TEST(condition_wait)
{
    run_main(cond_wait_main);
}
END_TEST

/* Waits, logs, releases (async with cond: await cond.wait()). */
static int cond_waiter_release(void *arg, void **result)
{
    (void)result;
    int rc = al_condition_acquire(cv);
    if (rc < 0)
        return rc;
    rc = al_condition_wait(cv);
    ck_assert(al_condition_locked(cv)); /* however wait ended */
    if (rc == 0)
        conf_log_add(&tlog, CONF_PV(arg));
    ck_assert_int_eq(al_condition_release(cv), 0);
    return rc;
}

static int cond_notify_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_condition_new(conf_cur_loop(), NULL, &cv), 0);
    ck_assert_int_eq(al_condition_notify(cv, 1), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_condition_notify_all(cv), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_condition_wait(cv), AL_EINVALIDSTATE);
    al_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = conf_spawn(cond_waiter_release, CONF_VP(i + 1));
    conf_s0();
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    ck_assert_int_eq(al_condition_notify(cv, -1), -EINVAL);
    ck_assert_int_eq(al_condition_notify(cv, 1), 0);
    ck_assert_int_eq(al_condition_release(cv), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1);
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    ck_assert_int_eq(al_condition_notify(cv, 1), 0);
    ck_assert_int_eq(al_condition_notify(cv, 2048), 0); /* more than there are */
    ck_assert_int_eq(al_condition_release(cv), 0);
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1, 2, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(t[i]), 0);
    /* notify_all */
    for (int i = 0; i < 3; i++)
        t[i] = conf_spawn(cond_waiter_release, CONF_VP(i + 4));
    conf_s0();
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    ck_assert_int_eq(al_condition_notify_all(cv), 0);
    ck_assert_int_eq(al_condition_release(cv), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(t[i]), 0);
    CONF_LOG_EXPECT(&tlog, 1, 2, 3, 4, 5, 6);
    ck_assert_int_eq(al_condition_free(cv), 0);
    return 0;
}

START_TEST(condition_notify_fifo_and_all)
{
    run_main(cond_notify_main);
}
END_TEST

/* ---- R104: wait_for ------------------------------------------------------------------------ */

static int pred_calls;

static bool state_is_3(void *arg)
{
    (void)arg;
    pred_calls++;
    return state == 3;
}

static int cond_wait_for_task(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    int rc = al_condition_wait_for(cv, state_is_3, NULL);
    if (rc == 0)
        conf_log_add(&tlog, 1);
    al_condition_release(cv);
    return rc;
}

static int cond_wait_for_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_condition_new(conf_cur_loop(), NULL, &cv), 0);
    pred_calls = 0;
    al_task *t = conf_spawn(cond_wait_for_task, NULL);
    conf_s0();
    ck_assert_int_eq(pred_calls, 1);
    for (state = 1; state <= 3; state++) {
        ck_assert_int_eq(al_condition_acquire(cv), 0);
        ck_assert_int_eq(al_condition_notify(cv, 1), 0);
        ck_assert_int_eq(al_condition_release(cv), 0);
        conf_s0();
        conf_s0();
        ck_assert_int_eq(tlog.n, 0); /* false predicate: keeps waiting */
        if (state == 2)
            state = 3 - 1; /* next round makes it true */
        if (state == 2)
            break;
    }
    ck_assert_int_eq(state, 2);
    state = 3;
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    ck_assert_int_eq(al_condition_notify(cv, 1), 0);
    ck_assert_int_eq(al_condition_release(cv), 0);
    ck_assert_int_eq(conf_join(t), 0);
    CONF_LOG_EXPECT(&tlog, 1);
    ck_assert_int_eq(pred_calls, 4);
    /* Without the lock: a true predicate returns, a false one is an error. */
    ck_assert_int_eq(al_condition_wait_for(cv, state_is_3, NULL), 0);
    state = 0;
    ck_assert_int_eq(al_condition_wait_for(cv, state_is_3, NULL), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_condition_free(cv), 0);
    return 0;
}

START_TEST(condition_wait_for)
{
    run_main(cond_wait_for_main);
}
END_TEST

/* ---- R105-R106: every exit of wait() holds the lock --------------------------------------- */

static int cond_wait_only(void *arg, void **result)
{
    (void)arg, (void)result;
    int rc = al_condition_wait(cv); /* the main task's lock is held */
    ck_assert(al_condition_locked(cv));
    return rc;
}

static int cond_wait_cancel_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_condition_new(conf_cur_loop(), NULL, &cv), 0);
    /* Cancelled while waiting: returns with the lock held. */
    al_task *t = conf_spawn(cond_waiter_release, CONF_VP(1));
    conf_s0();
    ck_assert(!al_condition_locked(cv));
    al_task_cancel(t, "foo");
    ck_assert_int_eq(conf_join(t), AL_ECANCELLED);
    ck_assert(!al_condition_locked(cv));
    /* Contested: notified and cancelled while the lock is held by us. */
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    t = conf_spawn(cond_wait_only, NULL);
    conf_s0();
    ck_assert(!al_condition_locked(cv));
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    ck_assert_int_eq(al_condition_notify(cv, 1), 0);
    conf_s0(); /* t now waits for the lock */
    al_task_cancel(t, "bar");
    conf_s0();
    ck_assert_int_eq(al_condition_release(cv), 0);
    al_future *tf = al_task_future(t);
    al_await(tf);
    ck_assert_int_eq(status(t), AL_ECANCELLED);
    ck_assert_str_eq(al_future_cancel_message(tf), "bar");
    al_task_unref(t);
    ck_assert(al_condition_locked(cv));
    ck_assert_int_eq(al_condition_release(cv), 0);
    ck_assert_int_eq(al_condition_free(cv), 0);
    return 0;
}

START_TEST(condition_wait_cancel_holds_lock)
{
    run_main(cond_wait_cancel_main);
}
END_TEST

static int cond_cancel_after_notify_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_condition_new(conf_cur_loop(), NULL, &cv), 0);
    al_task *t = conf_spawn(cond_waiter_release, CONF_VP(1));
    conf_s0();
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    ck_assert_int_eq(al_condition_notify(cv, 1), 0);
    conf_s0(); /* the waiter reaches acquire() */
    al_task_cancel(t, "foo");
    conf_s0();
    ck_assert_int_eq(al_condition_release(cv), 0);
    conf_s0();
    ck_assert(conf_done(t));
    ck_assert_int_eq(status(t), AL_ECANCELLED);
    ck_assert_str_eq(al_future_cancel_message(al_task_future(t)), "foo");
    al_task_unref(t);
    ck_assert(!al_condition_locked(cv));
    ck_assert_int_eq(al_condition_free(cv), 0);
    return 0;
}

START_TEST(condition_wait_cancel_after_notify)
{
    run_main(cond_cancel_after_notify_main);
}
END_TEST

/* ---- R107: gh-112202, a cancelled notified waiter forwards the notification ------------- */

static bool state_nonzero(void *arg)
{
    (void)arg;
    return state != 0;
}

static int consumer(void *arg, void **result)
{
    (void)arg, (void)result;
    int rc = al_condition_acquire(cv);
    if (rc < 0)
        return rc;
    for (;;) {
        rc = al_condition_wait_for(cv, state_nonzero, NULL);
        if (rc < 0 || state < 0)
            break;
        state--;
    }
    ck_assert(al_condition_locked(cv));
    al_condition_release(cv);
    return rc;
}

static void cancelled_wakeup(bool relock)
{
    ck_assert_int_eq(al_condition_new(conf_cur_loop(), NULL, &cv), 0);
    al_task *c0 = conf_spawn(consumer, NULL), *c1 = conf_spawn(consumer, NULL);
    conf_s0();
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    state = 1;
    ck_assert_int_eq(al_condition_notify(cv, 1), 0);
    if (relock)
        conf_s0(); /* c0 wakes and waits for the lock */
    al_task_cancel(c0, NULL);
    ck_assert_int_eq(al_condition_release(cv), 0);
    for (int i = 0; i < 6; i++)
        conf_s0();
    ck_assert_int_eq(state, 0); /* c1 got the forwarded notification */
    ck_assert_int_eq(conf_join(c0), AL_ECANCELLED);
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    state = -1;
    ck_assert_int_eq(al_condition_notify_all(cv), 0);
    ck_assert_int_eq(al_condition_release(cv), 0);
    ck_assert_int_eq(conf_join(c1), 0);
    ck_assert_int_eq(al_condition_free(cv), 0);
}

static int cancelled_wakeup_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cancelled_wakeup(false);
    return 0;
}

static int cancelled_wakeup_relock_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cancelled_wakeup(true);
    return 0;
}

START_TEST(condition_cancelled_wakeup)
{
    run_main(cancelled_wakeup_main);
}
END_TEST

START_TEST(condition_cancelled_wakeup_relock)
{
    run_main(cancelled_wakeup_relock_main);
}
END_TEST

/* ---- R108: explicit (shared) lock, timeout in the block ------------------------------------ */

static int cond_explicit_lock_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = conf_cur_loop();
    ck_assert_int_eq(al_lock_new(loop, &lk), 0);
    al_condition *c2;
    ck_assert_int_eq(al_condition_new(loop, lk, &cv), 0);
    ck_assert_int_eq(al_condition_new(loop, lk, &c2), 0);
    ck_assert_ptr_eq(al_condition_lock(cv), lk);
    ck_assert_int_eq(al_lock_acquire(lk), 0);
    ck_assert(al_condition_locked(cv) && al_condition_locked(c2));
    ck_assert_int_eq(al_condition_release(c2), 0);
    ck_assert(!al_lock_locked(lk) && !al_condition_locked(cv));
    /* wait_for(cond.wait(), short) -> timed out, lock held again. */
    ck_assert_int_eq(al_condition_acquire(cv), 0);
    al_handle *h;
    ck_assert_int_eq(al_call_later(loop, 0.02, conf_cancel_cb, conf_self(), &h), 0);
    ck_assert_int_eq(al_condition_wait(cv), AL_ECANCELLED);
    al_task_uncancel(conf_self());
    al_handle_unref(h);
    ck_assert(al_lock_locked(lk));
    ck_assert_int_eq(al_lock_release(lk), 0);
    ck_assert_int_eq(al_condition_free(cv), 0);
    ck_assert_int_eq(al_condition_free(c2), 0);
    ck_assert_int_eq(al_lock_free(lk), 0);
    return 0;
}

START_TEST(condition_explicit_lock_and_timeout)
{
    run_main(cond_explicit_lock_main);
}
END_TEST

/* ---- R109-R113: Semaphore ------------------------------------------------------------------ */

static int sem_logger(void *arg, void **result)
{
    (void)result;
    int rc = al_semaphore_acquire(sem);
    if (rc == 0)
        conf_log_add(&tlog, CONF_PV(arg));
    return rc;
}

static int sem_acquire_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_semaphore_new(conf_cur_loop(), 3, &sem), 0);
    ck_assert_int_eq(al_semaphore_acquire(sem), 0);
    ck_assert_int_eq(al_semaphore_acquire(sem), 0);
    ck_assert(!al_semaphore_locked(sem));
    al_task *t[4];
    for (int i = 0; i < 3; i++)
        t[i] = conf_spawn(sem_logger, CONF_VP(i + 1));
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1);
    ck_assert(al_semaphore_locked(sem));
    ck_assert_int_eq(al_semaphore_value(sem), 0);
    t[3] = conf_spawn(sem_logger, CONF_VP(4));
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    ck_assert_int_eq(al_semaphore_value(sem), 0); /* reserved for the woken */
    conf_s0();
    ck_assert_int_eq(al_semaphore_value(sem), 0);
    ck_assert_int_eq(tlog.n, 3);
    ck_assert(al_semaphore_locked(sem));
    ck_assert(conf_done(t[0]) && conf_done(t[1]) && conf_done(t[2]) && !conf_done(t[3]));
    CONF_LOG_EXPECT(&tlog, 1, 2, 3); /* FIFO: t4 came later */
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(conf_join(t[i]), 0);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    return 0;
}

START_TEST(semaphore_acquire)
{
    run_main(sem_acquire_main);
}
END_TEST

static int sem_cancel_before_awoken_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_semaphore_new(conf_cur_loop(), 0, &sem), 0);
    al_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = conf_spawn(sem_logger, CONF_VP(i + 1));
    conf_s0();
    al_task_cancel(t[0], NULL);
    al_task_cancel(t[1], NULL);
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    conf_s0();
    conf_s0();
    ck_assert(conf_done(t[2]) && !conf_done(t[3]));
    ck_assert(al_semaphore_locked(sem));
    al_task_cancel(t[3], NULL);
    ck_assert_int_eq(conf_join(t[0]), AL_ECANCELLED);
    ck_assert_int_eq(conf_join(t[1]), AL_ECANCELLED);
    ck_assert_int_eq(conf_join(t[2]), 0);
    ck_assert_int_eq(conf_join(t[3]), AL_ECANCELLED);
    /* acquire_hang: one cancelled, one released -> the other got it. */
    t[0] = conf_spawn(sem_logger, CONF_VP(5));
    t[1] = conf_spawn(sem_logger, CONF_VP(6));
    conf_s0();
    al_task_cancel(t[0], NULL);
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    conf_s0();
    conf_s0();
    ck_assert(al_semaphore_locked(sem));
    ck_assert(conf_done(t[1]));
    ck_assert_int_eq(conf_join(t[0]), AL_ECANCELLED);
    ck_assert_int_eq(conf_join(t[1]), 0);
    CONF_LOG_EXPECT(&tlog, 3, 6);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    return 0;
}

START_TEST(semaphore_cancel_before_awoken)
{
    run_main(sem_cancel_before_awoken_main);
}
END_TEST

static al_task *no_hang_t2;

static int no_hang_c1(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_semaphore_acquire(sem), 0);
    conf_s0();
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    al_task_cancel(no_hang_t2, NULL); /* the task just woken */
    return 0;
}

static int no_hang_c2(void *arg, void **result)
{
    (void)arg, (void)result;
    int rc = al_semaphore_acquire(sem);
    ck_assert_int_ne(rc, 0);
    return rc;
}

static int sem_no_hang_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_semaphore_new(conf_cur_loop(), 1, &sem), 0);
    al_task *t1 = conf_spawn(no_hang_c1, NULL);
    no_hang_t2 = conf_spawn(no_hang_c2, NULL);
    ck_assert_int_eq(conf_join(t1), 0);
    ck_assert_int_eq(conf_join(no_hang_t2), AL_ECANCELLED);
    ck_assert_int_eq(al_semaphore_value(sem), 1); /* the unit came back */
    ck_assert_int_eq(al_semaphore_acquire(sem), 0);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    return 0;
}

START_TEST(semaphore_acquire_no_hang)
{
    run_main(sem_no_hang_main);
}
END_TEST

static int fifo_coro(void *arg, void **result)
{
    (void)result;
    int tag = CONF_PV(arg);
    for (int round = 1; round <= 2; round++) {
        ck_assert_int_eq(al_semaphore_acquire(sem), 0);
        conf_log_add(&tlog, tag * 10 + round);
        ck_assert_int_eq(al_sleep(0.001), 0);
        ck_assert_int_eq(al_semaphore_release(sem), 0);
    }
    return 0;
}

static int fifo2_c2(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_semaphore_acquire(sem), 0);
    conf_log_add(&tlog, 2);
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    ck_assert_int_eq(al_semaphore_acquire(sem), 0);
    conf_log_add(&tlog, 4);
    return 0;
}

static int sem_fifo_main(void *arg, void **result)
{
    (void)arg, (void)result;
    /* fifo_order: the releaser queues behind the others. */
    ck_assert_int_eq(al_semaphore_new(conf_cur_loop(), 1, &sem), 0);
    al_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = conf_spawn(fifo_coro, CONF_VP(i + 1));
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(t[i]), 0);
    CONF_LOG_EXPECT(&tlog, 11, 21, 31, 12, 22, 32);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    /* fifo_order_2 */
    memset(&tlog, 0, sizeof tlog);
    ck_assert_int_eq(al_semaphore_new(conf_cur_loop(), 1, &sem), 0);
    t[0] = conf_spawn(sem_logger, CONF_VP(1));
    t[1] = conf_spawn(fifo2_c2, NULL);
    t[2] = conf_spawn(sem_logger, CONF_VP(3));
    conf_s0();
    al_semaphore_release(sem);
    al_semaphore_release(sem);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(t[i]), 0);
    CONF_LOG_EXPECT(&tlog, 1, 2, 3, 4);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    /* fifo_order_3: a cancelled first waiter is skipped. */
    memset(&tlog, 0, sizeof tlog);
    ck_assert_int_eq(al_semaphore_new(conf_cur_loop(), 0, &sem), 0);
    for (int i = 0; i < 3; i++)
        t[i] = conf_spawn(sem_logger, CONF_VP(i + 1));
    conf_s0();
    al_task_cancel(t[0], NULL);
    conf_s0();
    al_semaphore_release(sem);
    al_semaphore_release(sem);
    ck_assert_int_eq(conf_join(t[0]), AL_ECANCELLED);
    ck_assert_int_eq(conf_join(t[1]) | conf_join(t[2]), 0);
    CONF_LOG_EXPECT(&tlog, 2, 3);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    /* fifo_order_4: units free but a woken waiter pending -> locked(). */
    memset(&tlog, 0, sizeof tlog);
    ck_assert_int_eq(al_semaphore_new(conf_cur_loop(), 0, &sem), 0);
    t[0] = conf_spawn(sem_logger, CONF_VP(1));
    conf_s0();
    for (int i = 0; i < 3; i++)
        al_semaphore_release(sem);
    ck_assert_int_eq(al_semaphore_value(sem), 2);
    ck_assert(al_semaphore_locked(sem));
    t[1] = conf_spawn(sem_logger, CONF_VP(2)); /* must not overtake t1 */
    conf_s0();
    CONF_LOG_EXPECT(&tlog, 1, 2);
    ck_assert(!al_semaphore_locked(sem));
    ck_assert_int_eq(al_semaphore_value(sem), 1);
    ck_assert_int_eq(conf_join(t[0]) | conf_join(t[1]), 0);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    return 0;
}

START_TEST(semaphore_fifo_order)
{
    run_main(sem_fifo_main);
}
END_TEST

/* Woken waiters that were cancelled give their units back and the first
 * woken wakes the waiters queued behind it (the acquire's finally). */
static int sem_wake_others_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_semaphore_new(conf_cur_loop(), 0, &sem), 0);
    al_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = conf_spawn(sem_logger, CONF_VP(i + 1));
    conf_s0();
    al_semaphore_release(sem);
    al_semaphore_release(sem); /* t1, t2 woken */
    al_task_cancel(t[0], NULL);
    al_task_cancel(t[1], NULL);
    conf_s0();
    conf_s0();
    ck_assert_int_eq(conf_join(t[0]), AL_ECANCELLED);
    ck_assert_int_eq(conf_join(t[1]), AL_ECANCELLED);
    ck_assert_int_eq(conf_join(t[2]) | conf_join(t[3]), 0);
    CONF_LOG_EXPECT(&tlog, 3, 4);
    ck_assert_int_eq(al_semaphore_value(sem), 0);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    return 0;
}

START_TEST(semaphore_woken_cancelled_pass_units)
{
    run_main(sem_wake_others_main);
}
END_TEST

static int sem_value_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = conf_cur_loop();
    ck_assert_int_eq(al_semaphore_new(loop, 0, &sem), 0);
    ck_assert(al_semaphore_locked(sem));
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    ck_assert_int_eq(al_semaphore_new(loop, -1, &sem), -EINVAL);
    ck_assert_int_eq(al_bounded_semaphore_new(loop, -1, &sem), -EINVAL);
    ck_assert_int_eq(al_bounded_semaphore_new(loop, 2, &sem), 0);
    ck_assert_int_eq(al_semaphore_release(sem), -EINVAL);
    ck_assert_int_eq(al_semaphore_acquire(sem), 0);
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    ck_assert_int_eq(al_semaphore_release(sem), -EINVAL);
    ck_assert_int_eq(al_semaphore_value(sem), 2);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    /* An unbounded one may go above its initial value. */
    ck_assert_int_eq(al_semaphore_new(loop, 1, &sem), 0);
    ck_assert_int_eq(al_semaphore_release(sem), 0);
    ck_assert_int_eq(al_semaphore_value(sem), 2);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    return 0;
}

START_TEST(semaphore_value_and_bounded)
{
    run_main(sem_value_main);
}
END_TEST

/* ---- R114-R116: Barrier -----------------------------------------------------------------------
 */

static int barrier_waiter(void *arg, void **result)
{
    (void)arg;
    int index = -1;
    int rc = al_barrier_wait(bar, &index);
    if (rc == 0)
        conf_log_add(&tlog, index);
    *result = CONF_VP(index);
    return rc;
}

static int barrier_filling_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_barrier_new(conf_cur_loop(), 0, &bar), -EINVAL);
    ck_assert_int_eq(al_barrier_new(conf_cur_loop(), 3, &bar), 0);
    ck_assert_int_eq(al_barrier_parties(bar), 3);
    al_task *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = conf_spawn(barrier_waiter, NULL);
        conf_s0();
        if (i < 2)
            ck_assert_int_eq(al_barrier_n_waiting(bar), i + 1);
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(conf_join(t[i]), 0);
    ck_assert_int_eq(al_barrier_n_waiting(bar), 0);
    ck_assert_int_eq(tlog.n, 3);
    int seen = 0;
    for (int i = 0; i < 3; i++)
        seen |= 1 << tlog.v[i];
    ck_assert_int_eq(seen, 7);      /* a permutation of 0..2 */
    ck_assert_int_eq(tlog.v[0], 2); /* the last arrival passes first */
    ck_assert(!al_barrier_broken(bar));
    ck_assert_int_eq(al_barrier_free(bar), 0);
    return 0;
}

START_TEST(barrier_filling_task_by_task)
{
    run_main(barrier_filling_main);
}
END_TEST

static int barrier_draining_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_barrier_new(conf_cur_loop(), 2, &bar), 0);
    al_task *t1 = conf_spawn(barrier_waiter, NULL), *t2 = conf_spawn(barrier_waiter, NULL);
    /* t3 arrives while the barrier drains: it must wait for the next round. */
    al_task *t3 = conf_spawn(barrier_waiter, NULL);
    ck_assert_int_eq(conf_join(t1), 0);
    ck_assert_int_eq(conf_join(t2), 0);
    for (int i = 0; i < 4; i++)
        conf_s0();
    ck_assert(!conf_done(t3));
    ck_assert_int_eq(al_barrier_n_waiting(bar), 1);
    al_task *t4 = conf_spawn(barrier_waiter, NULL);
    ck_assert_int_eq(conf_join(t3) | conf_join(t4), 0);
    ck_assert_int_eq(tlog.n, 4);
    /* filling_tasks_cancel_one: a cancelled waiter stops counting. */
    t1 = conf_spawn(barrier_waiter, NULL);
    conf_s0();
    ck_assert_int_eq(al_barrier_n_waiting(bar), 1);
    al_task_cancel(t1, NULL);
    ck_assert_int_eq(conf_join(t1), AL_ECANCELLED);
    ck_assert_int_eq(al_barrier_n_waiting(bar), 0);
    ck_assert_int_eq(al_barrier_free(bar), 0);
    return 0;
}

START_TEST(barrier_draining_and_cancel)
{
    run_main(barrier_draining_main);
}
END_TEST

static int barrier_reset_abort_main(void *arg, void **result)
{
    (void)arg, (void)result;
    enum { N = 4 };
    ck_assert_int_eq(al_barrier_new(conf_cur_loop(), N, &bar), 0);
    al_task *t[N];
    for (int i = 0; i < N - 1; i++)
        t[i] = conf_spawn(barrier_waiter, NULL);
    conf_s0();
    ck_assert_int_eq(al_barrier_n_waiting(bar), N - 1);
    ck_assert_int_eq(al_barrier_reset(bar), 0);
    for (int i = 0; i < N - 1; i++)
        ck_assert_int_eq(conf_join(t[i]), AL_EBROKENBARRIER);
    ck_assert(!al_barrier_broken(bar));
    ck_assert_int_eq(al_barrier_n_waiting(bar), 0);
    /* Usable again after the reset. */
    for (int i = 0; i < N; i++)
        t[i] = conf_spawn(barrier_waiter, NULL);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(conf_join(t[i]), 0);
    /* abort: current and later waits fail. */
    for (int i = 0; i < N - 1; i++)
        t[i] = conf_spawn(barrier_waiter, NULL);
    conf_s0();
    ck_assert_int_eq(al_barrier_abort(bar), 0);
    for (int i = 0; i < N - 1; i++)
        ck_assert_int_eq(conf_join(t[i]), AL_EBROKENBARRIER);
    ck_assert(al_barrier_broken(bar));
    ck_assert_int_eq(al_barrier_wait(bar, NULL), AL_EBROKENBARRIER);
    ck_assert_int_eq(al_barrier_n_waiting(bar), 0);
    ck_assert_int_eq(al_barrier_reset(bar), 0);
    ck_assert(!al_barrier_broken(bar));
    ck_assert_int_eq(al_barrier_free(bar), 0);
    return 0;
}

START_TEST(barrier_reset_and_abort)
{
    run_main(barrier_reset_abort_main);
}
END_TEST

/* ---- bad input ---------------------------------------------------------------------------------
 */

static al_lock *other_lock;

static int wrong_loop_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_lock_acquire(other_lock), AL_EWRONGLOOP);
    al_condition *c;
    ck_assert_int_eq(al_condition_new(conf_cur_loop(), other_lock, &c), AL_EWRONGLOOP);
    return 0;
}

START_TEST(locks_bad_input)
{
    al_loop *loop = conf_loop_new(), *other = conf_loop_new();
    ck_assert_int_eq(al_lock_new(NULL, &lk), -EINVAL);
    ck_assert_int_eq(al_lock_new(loop, NULL), -EINVAL);
    ck_assert_int_eq(al_lock_acquire(NULL), -EINVAL);
    ck_assert_int_eq(al_lock_release(NULL), -EINVAL);
    ck_assert_int_eq(al_event_wait(NULL), -EINVAL);
    ck_assert_int_eq(al_semaphore_acquire(NULL), -EINVAL);
    ck_assert_int_eq(al_barrier_wait(NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_lock_free(NULL), 0);
    /* Outside a task. */
    ck_assert_int_eq(al_lock_new(loop, &lk), 0);
    ck_assert_int_eq(al_lock_acquire(lk), AL_ENOTINTASK);
    ck_assert_int_eq(al_event_new(loop, &ev), 0);
    ck_assert_int_eq(al_event_wait(ev), AL_ENOTINTASK);
    ck_assert_int_eq(al_event_set(ev), 0); /* never suspends: fine */
    ck_assert_int_eq(al_semaphore_new(loop, 1, &sem), 0);
    ck_assert_int_eq(al_semaphore_acquire(sem), AL_ENOTINTASK);
    ck_assert_int_eq(al_condition_new(loop, NULL, &cv), 0);
    ck_assert_int_eq(al_condition_wait(cv), AL_ENOTINTASK);
    ck_assert_int_eq(al_barrier_new(loop, 2, &bar), 0);
    ck_assert_int_eq(al_barrier_wait(bar, NULL), AL_ENOTINTASK);
    /* Another loop's lock. */
    ck_assert_int_eq(al_lock_new(other, &other_lock), 0);
    ck_assert_int_eq(conf_run_task(loop, wrong_loop_main, NULL, NULL), 0);
    ck_assert_int_eq(al_lock_free(other_lock), 0);
    ck_assert_int_eq(al_lock_free(lk), 0);
    ck_assert_int_eq(al_event_free(ev), 0);
    ck_assert_int_eq(al_semaphore_free(sem), 0);
    ck_assert_int_eq(al_condition_free(cv), 0);
    ck_assert_int_eq(al_barrier_free(bar), 0);
    al_loop_free(other);
    al_loop_free(loop);
}
END_TEST

/* Freeing with waiters is refused until they are gone; after the loop
 * closed (parked tasks dropped) it succeeds and leaks nothing. */
static int free_waiters_main(void *arg, void **result)
{
    (void)arg, (void)result;
    ck_assert_int_eq(al_lock_new(conf_cur_loop(), &lk), 0);
    ck_assert_int_eq(al_lock_acquire(lk), 0);
    al_task *t = conf_spawn(lock_logger, CONF_VP(1));
    conf_s0();
    ck_assert_int_eq(al_lock_free(lk), AL_EINVALIDSTATE);
    al_task_cancel(t, NULL);
    /* Cancelled but not yet run: it still points at the lock. */
    ck_assert_int_eq(al_lock_free(lk), AL_EINVALIDSTATE);
    ck_assert_int_eq(conf_join(t), AL_ECANCELLED);
    ck_assert_int_eq(al_lock_free(lk), 0);
    /* Parked for good: the loop closes under it (see below). */
    ck_assert_int_eq(al_event_new(conf_cur_loop(), &ev), 0);
    ck_assert_int_eq(al_task_new(conf_cur_loop(), event_logger, CONF_VP(2), NULL, NULL), 0);
    conf_s0();
    ck_assert_int_eq(al_event_free(ev), AL_EINVALIDSTATE);
    return 0;
}

START_TEST(locks_free_with_waiters)
{
    al_loop *loop = conf_loop_new();
    al_loop_set_exception_handler(loop, conf_quiet_handler, NULL);
    ck_assert_int_eq(conf_run_task(loop, free_waiters_main, NULL, NULL), 0);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(al_event_free(ev), 0);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_locks)
{
    Suite *s = suite_create("locks");
    TCase *tc = al_tcase("lock");
    tcase_add_test(tc, lock_acquire_fifo);
    tcase_add_test(tc, lock_acquire_cancel_and_bad_release);
    tcase_add_test(tc, lock_with_scoped);
    tcase_add_test(tc, lock_cancel_race);
    tcase_add_test(tc, lock_cancel_release_race);
    tcase_add_test(tc, lock_finished_waiter_cancelled);
    tcase_add_test(tc, lock_woken_then_cancelled_hands_off);
    suite_add_tcase(s, tc);
    tc = al_tcase("event");
    tcase_add_test(tc, event_wait);
    tcase_add_test(tc, event_clear_with_waiters_and_cancel);
    suite_add_tcase(s, tc);
    tc = al_tcase("condition");
    tcase_add_test(tc, condition_wait);
    tcase_add_test(tc, condition_notify_fifo_and_all);
    tcase_add_test(tc, condition_wait_for);
    tcase_add_test(tc, condition_wait_cancel_holds_lock);
    tcase_add_test(tc, condition_wait_cancel_after_notify);
    tcase_add_test(tc, condition_cancelled_wakeup);
    tcase_add_test(tc, condition_cancelled_wakeup_relock);
    tcase_add_test(tc, condition_explicit_lock_and_timeout);
    suite_add_tcase(s, tc);
    tc = al_tcase("semaphore");
    tcase_add_test(tc, semaphore_acquire);
    tcase_add_test(tc, semaphore_cancel_before_awoken);
    tcase_add_test(tc, semaphore_acquire_no_hang);
    tcase_add_test(tc, semaphore_fifo_order);
    tcase_add_test(tc, semaphore_woken_cancelled_pass_units);
    tcase_add_test(tc, semaphore_value_and_bounded);
    suite_add_tcase(s, tc);
    tc = al_tcase("barrier");
    tcase_add_test(tc, barrier_filling_task_by_task);
    tcase_add_test(tc, barrier_draining_and_cancel);
    tcase_add_test(tc, barrier_reset_and_abort);
    suite_add_tcase(s, tc);
    tc = al_tcase("bad_input");
    tcase_add_test(tc, locks_bad_input);
    tcase_add_test(tc, locks_free_with_waiters);
    suite_add_tcase(s, tc);
    return s;
}

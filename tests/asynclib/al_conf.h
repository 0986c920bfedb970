/* Shared helpers of the asynclib conformance suite.
 *
 * Every case creates its loop with conf_loop_new(), which builds the
 * implementation named on the command line (al_test_impl: "real",
 * "virtual", later one per I/O backend), so each case runs unchanged on
 * every loop. Timing cases should be written so they hold on the real
 * clock too (generous bounds), or skip with conf_is_virtual() false.
 */
#ifndef AL_CONF_H
#define AL_CONF_H

#include "al_test.h"

#include <asynclib/asynclib.h>

#include <stdbool.h>
#include <stdint.h>

/* A new loop of the implementation under test; never NULL (fails the test). */
al_loop *conf_loop_new(void);
/* True when the implementation under test runs on the virtual clock. */
int conf_is_virtual(void);

/* Runs fn(arg) as a task on loop until it is done; returns its status and
 * stores its result in *result (may be NULL). */
int conf_run_task(al_loop *loop, al_task_fn fn, void *arg, void **result);

/* Runs fn(arg) as the main task of a new loop; asserts it returns 0 and the loop frees with 0. */
void conf_run_main(al_task_fn fn, void *arg);

/* An int as a pointer (task arguments and results). */
#define CONF_VP(i) ((void *)(intptr_t)(i))
/* A pointer made with CONF_VP back to its int. */
#define CONF_PV(p) ((int)(intptr_t)(p))
/* A task's future. */
#define CONF_F(t) al_task_future(t)

/* The running loop; never NULL (fails the test). */
al_loop *conf_cur_loop(void);
/* The current task; never NULL (fails the test). */
al_task *conf_self(void);
/* The running loop's time. */
double conf_now(void);
/* ck_assert conf_now() - t0 == expected: exact when virtual, within [-0.01, +0.5) s when real. */
void conf_check_elapsed(double t0, double expected);
/* A new task running fn(arg) on the running loop (the caller's reference); never NULL. */
al_task *conf_spawn(al_task_fn fn, void *arg);
/* asyncio's `await asyncio.sleep(0)`: one loop iteration; asserts al_sleep(0) returns 0. */
void conf_s0(void);
/* True once t is done. */
bool conf_done(al_task *t);
/* Awaits t, returns its status (its result in *value, may be NULL) and drops the reference. */
int conf_join_value(al_task *t, void **value);
/* conf_join_value(t, NULL). */
int conf_join(al_task *t);
/* A loop callback (al_call_soon/later) that cancels the task arg. */
int conf_cancel_cb(al_loop *loop, void *arg);
/* A loop callback (al_call_soon/later) that increments the int *arg. */
int conf_count_cb(al_loop *loop, void *arg);
/* A task (or executor work) that does nothing and returns 0. */
int conf_noop(void *arg, void **result);
/* A task that awaits the future arg and returns al_await's status. */
int conf_await_arg(void *arg, void **result);
/* An exception handler that ignores every report. */
void conf_quiet_handler(al_loop *loop, const al_error_context *ctx, void *user);

/* An exception handler that records the reports: install it with
 * al_loop_set_exception_handler(loop, conf_record_handler, &rec). */
typedef struct conf_reports {
    int count;
    int last_error;
    char last_message[256];
} conf_reports;
void conf_record_handler(al_loop *loop, const al_error_context *ctx, void *user);

/* A log of small integers, for ordering checks. */
typedef struct conf_log {
    int n;
    int v[256];
} conf_log;
void conf_log_add(conf_log *log, int v);
/* ck_assert that log holds exactly the n values given. */
void conf_log_expect(const conf_log *log, int n, const int *values);
#define CONF_LOG_EXPECT(log, ...)                                                                  \
    do {                                                                                           \
        const int conf_expected_[] = {__VA_ARGS__};                                                \
        conf_log_expect((log), (int)(sizeof conf_expected_ / sizeof conf_expected_[0]),            \
                        conf_expected_);                                                           \
    } while (0)

/* How many of something a test may create in this build: n itself
 * normally, fewer under sanitizers (ASan: n/3; TSan: at most 2000, since it
 * counts every coroutine as a thread and stops at 8128) and under Valgrind
 * (n/20, it also overflows its segment table with many guarded stacks). */
int conf_many(int n);
/* True in a ThreadSanitizer build. */
bool conf_under_tsan(void);

/* How many loops a test may create one after the other: n, or n / 10 on
 * io_uring, whose ring costs about 0.3 ms to set up and tear down (the
 * selector's, measured: epoll 8 us, poll 6 us, libev 3 us). */
int conf_loops(int n);

#endif

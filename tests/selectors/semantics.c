/* Timeouts, zero timeout, signals, callback-safe iteration, closed and
 * reused fds. */
#include "sel_test.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int tag_a, tag_b, tag_c;

START_TEST(timeout_accuracy)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, NULL), 0);
    static const double waits[] = {0.2, 0.05, 0.0005, 0.0001};
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        double t0 = st_now();
        sel_event out[4];
        ck_assert_int_eq(sel_select(sel, waits[i], out, 4), 0);
        double dt = st_now() - t0;
        /* Never early (allow clock granularity), generous upper bound. */
        ck_assert_msg(dt >= waits[i] * 0.9, "%g s timeout returned after %g s", waits[i], dt);
        ck_assert_msg(dt < waits[i] + 0.5, "%g s timeout returned after %g s", waits[i], dt);
    }
    sel_free(sel);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(timeout_empty_selector)
{
    sel_selector *sel = st_open();
    double t0 = st_now();
    sel_event out[4];
    ck_assert_int_eq(sel_select(sel, 0.1, out, 4), 0);
    double dt = st_now() - t0;
    ck_assert_msg(dt >= 0.09 && dt < 1.0, "0.1 s timeout with nothing registered: %g s", dt);
    sel_free(sel);
}
END_TEST

START_TEST(zero_timeout)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, NULL), 0);
    double t0 = st_now();
    sel_event out[4];
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(sel_select(sel, 0, out, 4), 0);
    ck_assert_double_lt(st_now() - t0, 0.5);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(sel_select(sel, 0, out, 4), 1);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
}
END_TEST

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

START_TEST(signal_interrupts)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, NULL), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 100000}};
    ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
    double t0 = st_now();
    sel_event out[4];
    int n = sel_select(sel, -1, out, 4); /* forever: only the signal ends it */
    double dt = st_now() - t0;
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(alarms, 1);
    ck_assert_msg(dt < 5, "select(-1) returned after %g s", dt);
    /* A finite wait interrupted also returns 0, not an error. */
    ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
    n = sel_select(sel, 3, out, 4);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(alarms, 2);
    ck_assert_double_lt(st_now() - t0, 5);
    /* And the selector still works. */
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_uint_eq(st_events(sel, 1, p[0]), SEL_READ);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* Every timeout value has a meaning (fault kind: time arithmetic): NaN is
 * refused and changes nothing; +inf, huge values and -inf wait forever (a
 * signal ends the wait); tiny and negative-zero values poll; max 0 returns
 * at once; a huge max is fine. */
START_TEST(timeout_special_values)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, &tag_a), 0);
    sel_event out[4];
    ck_assert_int_eq(sel_select(sel, NAN, out, 4), -EINVAL);
    ck_assert_int_eq(sel_select(sel, -NAN, out, 4), -EINVAL);
    ck_assert_int_eq(sel_count(sel), 1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    static const double forever[] = {INFINITY, -INFINITY, 1e300, DBL_MAX, 2e9, 1e9, -DBL_MAX};
    for (size_t i = 0; i < sizeof forever / sizeof forever[0]; i++) {
        struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 50000}};
        int before = alarms;
        ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
        double t0 = st_now();
        int n = sel_select(sel, forever[i], out, 4);
        double dt = st_now() - t0;
        ck_assert_msg(n == 0, "timeout %g: %d", forever[i], n);
        ck_assert_msg(alarms == before + 1, "timeout %g ended before the signal", forever[i]);
        ck_assert_msg(dt >= 0.03 && dt < 5, "timeout %g returned after %g s", forever[i], dt);
    }
    /* Ready: a forever wait returns at once with the fd. */
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(sel_select(sel, INFINITY, out, 4), 1);
    ck_assert_ptr_eq(out[0].data, &tag_a);
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 1);

    static const double polls[] = {0.0, -0.0, 5e-324, 1e-300, 1e-12};
    double t0 = st_now();
    for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++)
        ck_assert_int_eq(sel_select(sel, polls[i], out, 4), 0);
    ck_assert_double_lt(st_now() - t0, 1.0);

    /* max 0: nothing can be reported, so nothing is waited for. */
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    t0 = st_now();
    ck_assert_int_eq(sel_select(sel, -1, NULL, 0), 0);
    ck_assert_int_eq(sel_select(sel, INFINITY, out, 0), 0);
    ck_assert_double_lt(st_now() - t0, 1.0);
    ck_assert_int_eq(sel_select(sel, 1, out, INT_MAX), 1);
    ck_assert_int_eq(sel_select(sel, 1, out, -1), -EINVAL);
    ck_assert_int_eq(sel_select(sel, 1, out, INT_MIN), -EINVAL);

    const char *names[2];
    int nb = sel_backends(NULL, 0);
    ck_assert_int_ge(nb, 4);
    names[0] = names[1] = NULL;
    ck_assert_int_eq(sel_backends(names, -5), nb);
    ck_assert_int_eq(sel_backends(names, INT_MIN), nb);
    ck_assert_ptr_null(names[0]);
    ck_assert_int_eq(sel_backends(names, 1), nb);
    ck_assert_ptr_nonnull(names[0]);
    ck_assert_ptr_null(names[1]);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* Three ready fds; the "callback" of whichever comes first unregisters one
 * of the others, re-registers another with new data, and its own
 * registration stays. sel_event_check tells the loop what is still valid. */
START_TEST(unregister_in_result_loop)
{
    sel_selector *sel = st_open();
    int p[3][2];
    int *tags[3] = {&tag_a, &tag_b, &tag_c};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pipe(p[i]), 0);
        ck_assert_int_eq(write(p[i][1], "x", 1), 1);
        ck_assert_int_eq(sel_register(sel, p[i][0], SEL_READ, tags[i]), 0);
    }
    sel_event out[8];
    int n = sel_select(sel, 1, out, 8);
    ck_assert_int_eq(n, 3);
    int first = -1, again = -1, handled = 0, skipped = 0;
    for (int i = 0; i < n; i++) {
        if (!sel_event_check(sel, &out[i])) {
            ck_assert_ptr_null(out[i].data);
            skipped++;
            continue;
        }
        handled++;
        if (first < 0) {
            first = out[i].fd;
            /* Unregister every other fd of this batch; re-register one of
             * them at once with new data (a new registration: its old
             * result must still be skipped). */
            for (int j = 0; j < n; j++)
                if (j != i)
                    ck_assert_int_eq(sel_unregister(sel, out[j].fd), 0);
            again = out[(i + 1) % n].fd;
            ck_assert_int_eq(sel_register(sel, again, SEL_READ, &tag_a), 0);
        }
    }
    ck_assert_int_eq(handled, 1);
    ck_assert_int_eq(skipped, 2);
    /* The next select reports the survivor and the re-registered fd. */
    n = sel_select(sel, 1, out, 8);
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_nonnull(st_find(out, n, first));
    const sel_event *e = st_find(out, n, again);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_eq(e->data, &tag_a);
    sel_free(sel);
    for (int i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}
END_TEST

START_TEST(modify_in_result_loop)
{
    sel_selector *sel = st_open();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    ck_assert_int_eq(sel_register(sel, sv[0], SEL_READ | SEL_WRITE, &tag_a), 0);
    sel_event out[4];
    ck_assert_int_eq(sel_select(sel, 1, out, 4), 1);
    ck_assert_uint_eq(out[0].events, SEL_READ | SEL_WRITE);
    ck_assert_int_eq(sel_modify(sel, sv[0], SEL_WRITE, &tag_b), 0);
    ck_assert_uint_eq(sel_event_check(sel, &out[0]), SEL_WRITE);
    ck_assert_ptr_eq(out[0].data, &tag_b);
    ck_assert_int_eq(sel_select(sel, 1, out, 4), 1);
    ck_assert_int_eq(sel_modify(sel, sv[0], SEL_READ, &tag_b), 0);
    out[0].events = SEL_WRITE;
    ck_assert_uint_eq(sel_event_check(sel, &out[0]), 0);
    sel_free(sel);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* fd number N is registered with data A, its file stays open elsewhere (a
 * dup: an epoll or io_uring instance keeps watching it), N is closed,
 * unregistered, then reused by another file registered with data B. Events
 * of the old file must never reach the new registration. */
START_TEST(closed_and_reused_fd)
{
    sel_selector *sel = st_open();
    int p1[2], p2[2];
    ck_assert_int_eq(pipe(p1), 0);
    int n_fd = p1[0];
    ck_assert_int_eq(sel_register(sel, n_fd, SEL_READ, &tag_a), 0);
    sel_event out[8];
    ck_assert_int_eq(sel_select(sel, 0, out, 8), 0); /* armed in the kernel */
    int keep = dup(n_fd);
    ck_assert_int_ge(keep, 0);
    close(n_fd);
    ck_assert_int_eq(sel_unregister(sel, n_fd), 0); /* after close: still fine */
    ck_assert_int_eq(pipe(p2), 0);
    if (p2[0] != n_fd) {
        ck_assert_int_eq(dup2(p2[0], n_fd), n_fd);
        close(p2[0]);
        p2[0] = n_fd;
    }
    ck_assert_int_eq(sel_register(sel, n_fd, SEL_READ, &tag_b), 0);
    ck_assert_int_eq(write(p1[1], "old", 3), 3); /* the old file is readable */
    for (int round = 0; round < 3; round++) {
        int n = sel_select(sel, 0.05, out, 8);
        ck_assert_int_ge(n, 0);
        ck_assert_msg(st_find(out, n, n_fd) == NULL, "old file's event delivered to new owner");
    }
    ck_assert_int_eq(write(p2[1], "new", 3), 3);
    int n = sel_select(sel, 1, out, 8);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(out[0].fd, n_fd);
    ck_assert_ptr_eq(out[0].data, &tag_b);
    sel_free(sel);
    close(keep);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
}
END_TEST

/* Closed without unregister and reused: the stale registration blocks the
 * number (-EEXIST) until unregistered. */
START_TEST(closed_without_unregister)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    int n_fd = p[0];
    ck_assert_int_eq(sel_register(sel, n_fd, SEL_READ, &tag_a), 0);
    close(n_fd);
    int q[2];
    ck_assert_int_eq(pipe(q), 0);
    if (q[0] != n_fd) {
        ck_assert_int_eq(dup2(q[0], n_fd), n_fd);
        close(q[0]);
        q[0] = n_fd;
    }
    ck_assert_int_eq(sel_register(sel, n_fd, SEL_READ, &tag_b), -EEXIST);
    ck_assert_int_eq(sel_unregister(sel, n_fd), 0);
    ck_assert_int_eq(sel_register(sel, n_fd, SEL_READ, &tag_b), 0);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    sel_event out[4];
    ck_assert_int_eq(sel_select(sel, 1, out, 4), 1);
    ck_assert_ptr_eq(out[0].data, &tag_b);
    sel_free(sel);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}
END_TEST

AL_TEST_SUITE(sel_semantics)
{
    st_require_impl();
    Suite *s = suite_create("sel_semantics");
    TCase *tc = al_tcase("timeouts");
    tcase_add_test(tc, timeout_accuracy);
    tcase_add_test(tc, timeout_empty_selector);
    tcase_add_test(tc, zero_timeout);
    tcase_add_test(tc, signal_interrupts);
    tcase_add_test(tc, timeout_special_values);
    suite_add_tcase(s, tc);
    tc = al_tcase("iteration");
    tcase_add_test(tc, unregister_in_result_loop);
    tcase_add_test(tc, modify_in_result_loop);
    tcase_add_test(tc, closed_and_reused_fd);
    tcase_add_test(tc, closed_without_unregister);
    suite_add_tcase(s, tc);
    return s;
}

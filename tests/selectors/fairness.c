/* Fault kind: more fds ready than `max`. Level-triggered, the others are
 * reported by later calls, fairly: with a stable ready set every ready fd
 * is reported within a couple of rounds of ceil(ready / max) calls and
 * none is starved (select and poll used to scan from fd 0 and stop at max,
 * epoll to serve its always-ready list first, libev to take the first
 * callbacks). */
#include "sel_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NFDS 12

/* Calls sel_select(max) `calls` times; stores in first[i] the call at which
 * fds[i] was first reported and in count[i] how often. Checks each result:
 * registered, once per call, events within mask and not empty. */
static void run_calls(sel_selector *sel, const int *fds, int n, unsigned want, int max, int calls,
                      int *first, int *count)
{
    sel_event out[NFDS];
    for (int i = 0; i < n; i++) {
        first[i] = -1;
        count[i] = 0;
    }
    for (int c = 0; c < calls; c++) {
        int k = sel_select(sel, 1, out, max);
        ck_assert_msg(k >= 1 && k <= max, "call %d: %d results for max %d", c, k, max);
        for (int j = 0; j < k; j++) {
            int i = 0;
            while (i < n && fds[i] != out[j].fd)
                i++;
            ck_assert_msg(i < n, "unregistered fd %d reported", out[j].fd);
            ck_assert_uint_eq(out[j].events, want);
            ck_assert_ptr_eq(out[j].data, &fds[i]);
            for (int m = 0; m < j; m++)
                ck_assert_int_ne(out[m].fd, out[j].fd);
            if (first[i] < 0)
                first[i] = c;
            count[i]++;
        }
    }
}

static void check_fair(const int *fds, int n, int max, int calls, const int *first,
                       const int *count)
{
    int rounds = (n + max - 1) / max;
    double avg = (double)calls * max / n;
    for (int i = 0; i < n; i++) {
        ck_assert_msg(first[i] >= 0 && first[i] < 2 * rounds,
                      "%s max %d: fd %d first reported at call %d (ready: %d)", al_test_impl, max,
                      fds[i], first[i], n);
        ck_assert_msg(count[i] >= avg / 2, "%s max %d: fd %d reported %d times in %d calls",
                      al_test_impl, max, fds[i], count[i], calls);
    }
}

START_TEST(ready_beyond_max_rotates)
{
    static const int maxes[] = {1, 3, 5, 11};
    sel_selector *sel = st_open();
    int p[NFDS][2], fds[NFDS];
    for (int i = 0; i < NFDS; i++) {
        ck_assert_int_eq(pipe(p[i]), 0);
        ck_assert_int_eq(write(p[i][1], "x", 1), 1);
        fds[i] = p[i][0];
        ck_assert_int_eq(sel_register(sel, fds[i], SEL_READ, &fds[i]), 0);
    }
    for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
        int max = maxes[m], calls = 4 * ((NFDS + max - 1) / max);
        int first[NFDS], count[NFDS];
        run_calls(sel, fds, NFDS, SEL_READ, max, calls, first, count);
        check_fair(fds, NFDS, max, calls, first, count);
    }
    sel_free(sel);
    for (int i = 0; i < NFDS; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}
END_TEST

/* Write readiness: sockets with room are always writable. */
START_TEST(writable_beyond_max_rotates)
{
    sel_selector *sel = st_open();
    int sv[NFDS][2], fds[NFDS];
    for (int i = 0; i < NFDS; i++) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
        fds[i] = sv[i][0];
        ck_assert_int_eq(sel_register(sel, fds[i], SEL_WRITE, &fds[i]), 0);
    }
    int max = 5, calls = 4 * ((NFDS + max - 1) / max);
    int first[NFDS], count[NFDS];
    run_calls(sel, fds, NFDS, SEL_WRITE, max, calls, first, count);
    check_fair(fds, NFDS, max, calls, first, count);
    sel_free(sel);
    for (int i = 0; i < NFDS; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
}
END_TEST

/* Regular files (always ready; epoll keeps them aside) mixed with ready
 * pipes: neither kind starves the other. */
START_TEST(always_ready_files_do_not_starve)
{
    static const int maxes[] = {1, 3};
    sel_selector *sel = st_open();
    int fds[8], p[4][2];
    for (int i = 0; i < 4; i++) {
        FILE *f = tmpfile();
        ck_assert_ptr_nonnull(f);
        fds[i] = dup(fileno(f));
        fclose(f);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(pipe(p[i]), 0);
        ck_assert_int_eq(write(p[i][1], "x", 1), 1);
        fds[4 + i] = p[i][0];
    }
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(sel_register(sel, fds[i], SEL_READ, &fds[i]), 0);
    for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
        int max = maxes[m], calls = 4 * ((8 + max - 1) / max);
        int first[8], count[8];
        run_calls(sel, fds, 8, SEL_READ, max, calls, first, count);
        check_fair(fds, 8, max, calls, first, count);
    }
    sel_free(sel);
    for (int i = 0; i < 4; i++) {
        close(fds[i]);
        close(p[i][0]);
        close(p[i][1]);
    }
}
END_TEST

AL_TEST_SUITE(sel_fairness)
{
    st_require_impl();
    Suite *s = suite_create("sel_fairness");
    TCase *tc = al_tcase("fairness");
    tcase_add_test(tc, ready_beyond_max_rotates);
    tcase_add_test(tc, writable_beyond_max_rotates);
    tcase_add_test(tc, always_ready_files_do_not_starve);
    suite_add_tcase(s, tc);
    return s;
}

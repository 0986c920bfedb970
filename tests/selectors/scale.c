/* Many fds: 10 000 registered on poll, epoll, libev and io_uring; on select,
 * every fd below FD_SETSIZE works and the first one above is refused. */
#include "sel_test.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define SEL_MANY 10000

START_TEST(many_fds)
{
    int want = st_is("select") ? FD_SETSIZE + 64 : SEL_MANY;
    long lim = al_test_nofile(want + 64);
    ck_assert_msg(lim >= want + 64, "RLIMIT_NOFILE hard limit too low: %ld", lim);
    sel_selector *sel = st_open();
    int npairs = want / 2;
    int(*sv)[2] = calloc((size_t)npairs, sizeof *sv);
    ck_assert_ptr_nonnull(sv);
    int registered = 0, refused = 0, lowest_refused = -1;
    for (int i = 0; i < npairs; i++) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[i]), 0);
        for (int k = 0; k < 2; k++) {
            int rc = sel_register(sel, sv[i][k], SEL_READ, &sv[i][k]);
            if (rc == 0) {
                registered++;
            } else {
                ck_assert_int_eq(rc, SEL_EFDLIMIT);
                ck_assert_int_ge(sv[i][k], FD_SETSIZE);
                if (lowest_refused < 0 || sv[i][k] < lowest_refused)
                    lowest_refused = sv[i][k];
                refused++;
            }
        }
    }
    ck_assert_int_eq(sel_count(sel), registered);
    if (st_is("select")) {
        ck_assert_int_gt(refused, 0);
        ck_assert_int_eq(lowest_refused, FD_SETSIZE);
    } else {
        ck_assert_int_eq(refused, 0);
        ck_assert_int_ge(registered, SEL_MANY);
    }
    sel_event out[16];
    ck_assert_int_eq(sel_select(sel, 0, out, 16), 0);
    /* One active fd at a time, including the highest registered one. */
    int picks[] = {0, npairs / 3, npairs / 2, npairs - 1};
    for (size_t j = 0; j < sizeof picks / sizeof picks[0]; j++) {
        int i = picks[j];
        int fd = sv[i][0];
        if (fd >= FD_SETSIZE && st_is("select"))
            i = (FD_SETSIZE - 8) / 2 - 4, fd = sv[i][0];
        ck_assert_int_eq(write(sv[i][1], "x", 1), 1);
        int n = sel_select(sel, 5, out, 16);
        ck_assert_int_eq(n, 1);
        ck_assert_int_eq(out[0].fd, fd);
        ck_assert_ptr_eq(out[0].data, &sv[i][0]);
        char c;
        ck_assert_int_eq(read(fd, &c, 1), 1);
        ck_assert_int_eq(sel_select(sel, 0, out, 16), 0);
    }
    /* Everything ready at once: reported in batches, each fd once a call. */
    for (int i = 0; i < npairs; i++)
        ck_assert_int_eq(write(sv[i][1], "x", 1), 1);
    int total = 0;
    sel_event *big = calloc(SEL_MANY, sizeof *big);
    int n = sel_select(sel, 5, big, SEL_MANY);
    ck_assert_int_gt(n, 0);
    total = n;
    int expect = 0;
    for (int i = 0; i < npairs; i++)
        expect += sel_get(sel, sv[i][0], NULL, NULL) == 0;
    ck_assert_int_le(total, expect);
    for (int i = 0; i < n; i++)
        ck_assert_uint_eq(big[i].events, SEL_READ);
    free(big);
    for (int i = 0; i < npairs; i++) {
        for (int k = 0; k < 2; k++) {
            int rc = sel_unregister(sel, sv[i][k]);
            ck_assert(rc == 0 || rc == -ENOENT);
            close(sv[i][k]);
        }
    }
    ck_assert_int_eq(sel_count(sel), 0);
    sel_free(sel);
    free(sv);
}
END_TEST

START_TEST(register_churn)
{
    sel_selector *sel = st_open();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    sel_event out[4];
    for (int i = 0; i < 20000; i++) {
        ck_assert_int_eq(sel_register(sel, sv[0], SEL_READ, &sv[0]), 0);
        if (i % 100 == 0)
            ck_assert_int_eq(sel_select(sel, 1, out, 4), 1);
        ck_assert_int_eq(sel_unregister(sel, sv[0]), 0);
    }
    ck_assert_int_eq(sel_select(sel, 0, out, 4), 0);
    sel_free(sel);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

AL_TEST_SUITE(sel_scale)
{
    st_require_impl();
    return al_suite("sel_scale", 60, AL_TESTS(many_fds, register_churn));
}

/* Bad use gets a clear error and changes nothing; backend choice. */
#include "sel_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

static int tag_a, tag_b;

START_TEST(bad_fds_and_masks)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, -1, SEL_READ, NULL), -EBADF);
    ck_assert_int_eq(sel_modify(sel, -1, SEL_READ, NULL), -EBADF);
    ck_assert_int_eq(sel_unregister(sel, -1), -EBADF);
    ck_assert_int_eq(sel_get(sel, -1, NULL, NULL), -EBADF);
    ck_assert_int_eq(sel_register(sel, p[0], 0, NULL), -EINVAL);
    ck_assert_int_eq(sel_register(sel, p[0], 0x4, NULL), -EINVAL);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ | 0x100, NULL), -EINVAL);
    ck_assert_int_eq(sel_modify(sel, p[0], SEL_READ, NULL), -ENOENT);
    ck_assert_int_eq(sel_unregister(sel, p[0]), -ENOENT);
    ck_assert_int_eq(sel_get(sel, p[0], NULL, NULL), -ENOENT);
    ck_assert_int_eq(sel_unregister(sel, 100000), -ENOENT);
    ck_assert_int_eq(sel_count(sel), 0);

    /* A closed fd. */
    int q[2];
    ck_assert_int_eq(pipe(q), 0);
    close(q[0]);
    close(q[1]);
    ck_assert_int_eq(sel_register(sel, q[0], SEL_READ, NULL), -EBADF);
    ck_assert_int_eq(sel_get(sel, q[0], NULL, NULL), -ENOENT);

    /* Twice: -EEXIST, first registration intact. */
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, &tag_a), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_WRITE, &tag_b), -EEXIST);
    ck_assert_int_eq(sel_modify(sel, p[0], 0, &tag_b), -EINVAL);
    unsigned ev;
    void *data;
    ck_assert_int_eq(sel_get(sel, p[0], &ev, &data), 0);
    ck_assert_uint_eq(ev, SEL_READ);
    ck_assert_ptr_eq(data, &tag_a);
    ck_assert_int_eq(sel_count(sel), 1);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    sel_event out[4];
    ck_assert_int_eq(sel_select(sel, 1, out, 4), 1);
    ck_assert_ptr_eq(out[0].data, &tag_a);

    ck_assert_int_eq(sel_select(sel, 0, out, -1), -EINVAL);
    ck_assert_int_eq(sel_select(sel, 0, NULL, 4), -EINVAL);
    ck_assert_int_eq(sel_select(sel, 0, NULL, 0), 0);

    ck_assert_int_eq(sel_unregister(sel, p[0]), 0);
    ck_assert_int_eq(sel_unregister(sel, p[0]), -ENOENT);
    ck_assert_int_eq(sel_count(sel), 0);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A closed fd whose number the table already covers (the check is then
 * the backend's own call on epoll, an fcntl on the others): -EBADF on
 * every backend, nothing registered, the selector as it was. */
START_TEST(closed_fd_within_the_table)
{
    sel_selector *sel = st_open();
    int p[2], q[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, &tag_a), 0);
    ck_assert_int_eq(pipe(q), 0);
    int num = q[0] > q[1] ? q[0] : q[1];
    ck_assert_int_lt(num, 64); /* within the first table */
    close(q[0]);
    close(q[1]);
    for (unsigned mask = SEL_READ; mask <= (SEL_READ | SEL_WRITE); mask++) {
        ck_assert_int_eq(sel_register(sel, num, mask, &tag_b), -EBADF);
        ck_assert_int_eq(sel_get(sel, num, NULL, NULL), -ENOENT);
        ck_assert_int_eq(sel_count(sel), 1);
    }
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    sel_event out[4];
    int n = sel_select(sel, 1, out, 4);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(out[0].fd, p[0]);
    ck_assert_ptr_eq(out[0].data, &tag_a);
    /* The number, open again, registers. */
    ck_assert_int_eq(pipe(q), 0);
    int again = q[0] == num ? q[0] : q[1];
    ck_assert_int_eq(again, num);
    ck_assert_int_eq(sel_register(sel, num, SEL_WRITE, &tag_b), 0);
    ck_assert_int_eq(sel_count(sel), 2);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}
END_TEST

START_TEST(fd_setsize)
{
    al_test_nofile(FD_SETSIZE + 16);
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    int big = dup2(p[0], FD_SETSIZE + 3);
    ck_assert_int_eq(big, FD_SETSIZE + 3);
    int rc = sel_register(sel, big, SEL_READ, &tag_a);
    if (st_is("select")) {
        ck_assert_int_eq(rc, SEL_EFDLIMIT);
        ck_assert_int_eq(sel_count(sel), 0);
        ck_assert_int_eq(sel_get(sel, big, NULL, NULL), -ENOENT);
        ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, &tag_b), 0);
        ck_assert_int_eq(write(p[1], "x", 1), 1);
        ck_assert_uint_eq(st_events(sel, 1, p[0]), SEL_READ);
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(write(p[1], "x", 1), 1);
        ck_assert_uint_eq(st_events(sel, 1, big), SEL_READ);
    }
    sel_free(sel);
    close(big);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(use_after_close)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, NULL), 0);
    ck_assert_int_eq(sel_close(sel), 0);
    ck_assert_int_eq(sel_close(sel), 0);
    sel_event out[4];
    ck_assert_int_eq(sel_select(sel, 0, out, 4), SEL_ECLOSED);
    ck_assert_int_eq(sel_select(sel, -1, out, 4), SEL_ECLOSED);
    ck_assert_int_eq(sel_register(sel, p[1], SEL_WRITE, NULL), SEL_ECLOSED);
    ck_assert_int_eq(sel_modify(sel, p[0], SEL_WRITE, NULL), SEL_ECLOSED);
    ck_assert_int_eq(sel_unregister(sel, p[0]), SEL_ECLOSED);
    ck_assert_int_eq(sel_get(sel, p[0], NULL, NULL), SEL_ECLOSED);
    ck_assert_int_eq(sel_reinit(sel), SEL_ECLOSED);
    ck_assert_int_eq(sel_count(sel), 0);
    ck_assert_str_eq(sel_name(sel), st_name());
    /* The registered fds are the caller's: still open. */
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    sel_free(sel);
    sel_free(NULL);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(backend_choice)
{
    sel_selector *sel = (sel_selector *)&tag_a;
    ck_assert_int_eq(sel_open(&sel, "nonesuch"), SEL_EBACKEND);
    ck_assert_ptr_eq(sel, (sel_selector *)&tag_a); /* untouched on failure */
    ck_assert_int_eq(sel_open(&sel, "libev:nonesuch"), SEL_EBACKEND);
    ck_assert_int_eq(sel_open(&sel, "libev:"), SEL_EBACKEND);
    ck_assert_int_eq(sel_open(&sel, "a-name-longer-than-any-backend-name-at-all"), SEL_EBACKEND);
    ck_assert_int_eq(sel_open(NULL, "poll"), -EINVAL);
    ck_assert_ptr_eq(sel, (sel_selector *)&tag_a);
#ifndef SEL_TEST_HAVE_URING
    ck_assert_int_eq(sel_open(&sel, "io_uring"), SEL_ENOBACKEND);
#endif
    /* Known, not offered: libev aborts on closed fds there (libev.c). */
    ck_assert_int_eq(sel_open(&sel, "libev:poll"), SEL_ENOBACKEND);
    ck_assert_int_eq(sel_open(&sel, "libev:io_uring"), SEL_ENOBACKEND);
    ck_assert_ptr_eq(sel, (sel_selector *)&tag_a);

    ck_assert_int_eq(setenv(SEL_ENV_BACKEND, al_test_impl, 1), 0);
    ck_assert_int_eq(sel_open(&sel, NULL), 0);
    ck_assert_str_eq(sel_name(sel), st_name());
    sel_free(sel);
    ck_assert_int_eq(sel_open(&sel, ""), 0);
    ck_assert_str_eq(sel_name(sel), st_name());
    sel_free(sel);
    ck_assert_int_eq(setenv(SEL_ENV_BACKEND, "poll", 1), 0);
    ck_assert_int_eq(sel_open(&sel, al_test_impl), 0); /* explicit name wins */
    ck_assert_str_eq(sel_name(sel), st_name());
    sel_free(sel);
    ck_assert_int_eq(setenv(SEL_ENV_BACKEND, "nonesuch", 1), 0);
    ck_assert_int_eq(sel_open(&sel, NULL), SEL_EBACKEND);
    ck_assert_int_eq(unsetenv(SEL_ENV_BACKEND), 0);
    ck_assert_int_eq(sel_open(&sel, NULL), 0);
    /* The default is libev; its name says which libev backend runs, and
     * opening that name runs the same one. */
    ck_assert_str_eq(SEL_DEFAULT_BACKEND, "libev");
    ck_assert_msg(strncmp(sel_name(sel), "libev:", 6) == 0, "default: %s", sel_name(sel));
    sel_selector *again;
    ck_assert_int_eq(sel_open(&again, sel_name(sel)), 0);
    ck_assert_str_eq(sel_name(again), sel_name(sel));
    sel_free(again);
    sel_free(sel);

    const char *names[16];
    int n = sel_backends(names, 16);
    ck_assert_int_ge(n, 4);
    ck_assert_int_le(n, 16);
    ck_assert_int_eq(sel_backends(NULL, 0), n);
    int found = 0;
    for (int i = 0; i < n; i++) {
        found |= strcmp(names[i], al_test_impl) == 0;
        ck_assert_str_ne(names[i], "libev:poll");
        ck_assert_str_ne(names[i], "libev:io_uring");
        ck_assert_int_eq(sel_open(&sel, names[i]), 0);
        sel_free(sel);
    }
    ck_assert_msg(found, "sel_backends does not list %s", al_test_impl);
}
END_TEST

/* On the libev instance: every libev:X variant passes a readiness check. */
START_TEST(libev_variants)
{
    if (!st_is("libev"))
        return;
    const char *names[16];
    int n = sel_backends(names, 16);
    int variants = 0;
    for (int i = 0; i < n && i < 16; i++) {
        if (strncmp(names[i], "libev:", 6) != 0)
            continue;
        variants++;
        sel_selector *sel;
        ck_assert_int_eq(sel_open(&sel, names[i]), 0);
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, &tag_a), 0);
        ck_assert_msg(st_events(sel, 0.01, p[0]) == 0, "%s: spurious", names[i]);
        ck_assert_int_eq(write(p[1], "x", 1), 1);
        ck_assert_msg(st_events(sel, 2, p[0]) == SEL_READ, "%s: not ready", names[i]);
        double t0 = st_now();
        char c;
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        ck_assert_msg(st_events(sel, 0.05, p[0]) == 0, "%s: still ready", names[i]);
        ck_assert_msg(st_now() - t0 >= 0.045, "%s: short timeout", names[i]);
        sel_free(sel);
        close(p[0]);
        close(p[1]);
    }
    ck_assert_int_ge(variants, 1);
}
END_TEST

/* Selector codes: one X-macro list; disjoint from errno and asynclib. */
START_TEST(error_codes)
{
    static const int codes[] = {
#define CODE(name, value, message) name,
        SEL_ERROR_LIST(CODE)
#undef CODE
    };
    static const char *const names[] = {
#define NAME(name, value, message) #name,
        SEL_ERROR_LIST(NAME)
#undef NAME
    };
    size_t n = sizeof codes / sizeof codes[0];
    ck_assert_uint_ge(n, 5);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_le(codes[i], SEL_ERROR_FIRST);
        ck_assert_int_ge(codes[i], SEL_ERROR_LAST);
        ck_assert_int_lt(codes[i], -1999); /* below asynclib's AL_E* range */
        ck_assert_str_eq(sel_err_name(codes[i]), names[i]);
        ck_assert_str_ne(sel_strerror(codes[i]), "unknown error");
        for (size_t j = 0; j < i; j++) {
            ck_assert_int_ne(codes[i], codes[j]);
            ck_assert_str_ne(sel_strerror(codes[i]), sel_strerror(codes[j]));
        }
    }
    ck_assert_str_eq(sel_err_name(SEL_EFORKED), "SEL_EFORKED");
    ck_assert_str_eq(sel_err_name(-EBADF), "EBADF");
    ck_assert_str_eq(sel_strerror(-EBADF), strerror(EBADF));
    ck_assert_str_eq(sel_strerror(0), "success");
    ck_assert_str_eq(sel_err_name(0), "0");
    ck_assert_str_eq(sel_strerror(SEL_ERROR_LAST), "unknown error");
    ck_assert_str_eq(sel_err_name(SEL_ERROR_LAST), "UNKNOWN");
    ck_assert_str_eq(sel_strerror(12345), "unknown error");
    ck_assert_str_eq(sel_err_name(-1001), "UNKNOWN");
}
END_TEST

/* NULL arguments: -EINVAL (not a "closed selector"). */
START_TEST(null_selector)
{
    sel_event out[2];
    ck_assert_int_eq(sel_register(NULL, 0, SEL_READ, NULL), -EINVAL);
    ck_assert_int_eq(sel_modify(NULL, 0, SEL_READ, NULL), -EINVAL);
    ck_assert_int_eq(sel_unregister(NULL, 0), -EINVAL);
    ck_assert_int_eq(sel_get(NULL, 0, NULL, NULL), -EINVAL);
    ck_assert_int_eq(sel_select(NULL, 0, out, 2), -EINVAL);
    ck_assert_int_eq(sel_reinit(NULL), -EINVAL);
    ck_assert_int_eq(sel_count(NULL), 0);
    ck_assert_int_eq(sel_close(NULL), 0);
    ck_assert_str_eq(sel_name(NULL), "(null)");
    ck_assert_uint_eq(sel_event_check(NULL, &out[0]), 0);
    sel_selector *sel = st_open();
    ck_assert_uint_eq(sel_event_check(sel, NULL), 0);
    sel_free(sel);
}
END_TEST

AL_TEST_SUITE(sel_bad_use)
{
    st_require_impl();
    Suite *s = suite_create("sel_bad_use");
    TCase *tc = al_tcase("bad_use");
    tcase_add_test(tc, bad_fds_and_masks);
    tcase_add_test(tc, closed_fd_within_the_table);
    tcase_add_test(tc, fd_setsize);
    tcase_add_test(tc, use_after_close);
    tcase_add_test(tc, backend_choice);
    tcase_add_test(tc, libev_variants);
    tcase_add_test(tc, error_codes);
    tcase_add_test(tc, null_selector);
    suite_add_tcase(s, tc);
    return s;
}

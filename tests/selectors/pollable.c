/* sel_fd: the backend's own pollable fd (epoll, io_uring), watched from
 * outside with poll(2) as a host event loop would: readable when a
 * registered fd is ready, after changes made once the fd was handed out,
 * for files the kernel cannot poll; quiet again after. The others have
 * none (SEL_ENOFD). */
#include "sel_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int tag;

static int has_fd(void)
{
    return st_is("epoll") || st_is("io_uring");
}

/* Polls the selector's fd (after sel_fd, as the contract asks): 1 if
 * readable within ms. */
static int outer_ready(sel_selector *sel, int ms)
{
    int fd = sel_fd(sel);
    ck_assert_int_ge(fd, 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n, tries = 0;
    /* io_uring: a completion runs as task work and may interrupt it. */
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR && ++tries < 100)
        ;
    ck_assert_int_ge(n, 0);
    return n;
}

/* Quiet within a few rounds (a spurious wakeup is legal, a busy one is
 * not): each round that finds it readable selects once. */
static void becomes_quiet(sel_selector *sel)
{
    sel_event out[8];
    for (int round = 0; round < 4; round++) {
        if (outer_ready(sel, 0) == 0)
            return;
        ck_assert_int_ge(sel_select(sel, 0, out, 8), 0);
    }
    ck_abort_msg("%s: sel_fd stays readable with nothing ready", al_test_impl);
}

START_TEST(sel_fd_none_or_own)
{
    ck_assert_int_eq(sel_fd(NULL), -EINVAL);
    sel_selector *sel = st_open();
    int fd = sel_fd(sel);
    if (!has_fd()) {
        ck_assert_int_eq(fd, SEL_ENOFD);
        ck_assert_str_ne(sel_strerror(SEL_ENOFD), "unknown error");
    } else {
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(sel_fd(sel), fd); /* the same for the selector's life */
        ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
        ck_assert_int_eq(outer_ready(sel, 0), 0); /* empty: quiet */
    }
    ck_assert_int_eq(sel_close(sel), 0);
    ck_assert_int_eq(sel_fd(sel), SEL_ECLOSED);
    if (fd >= 0)
        ck_assert_int_lt(fcntl(fd, F_GETFD), 0); /* closed with the selector */
    sel_free(sel);
}
END_TEST

START_TEST(sel_fd_follows_readiness)
{
    if (!has_fd())
        return;
    sel_selector *sel = st_open();
    int fd = sel_fd(sel); /* handed out before any registration */
    ck_assert_int_ge(fd, 0);
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    ck_assert_int_eq(sel_register(sel, s[0], SEL_READ, &tag), 0);
    ck_assert_int_eq(outer_ready(sel, 0), 0);

    /* Readable: the outer poll wakes, the select reports it. */
    ck_assert_int_eq(write(s[1], "x", 1), 1);
    ck_assert_int_eq(outer_ready(sel, 2000), 1);
    ck_assert_uint_eq(st_events(sel, 0, s[0]), SEL_READ);
    /* Not consumed: still ready (level-triggered), through the fd too. */
    ck_assert_int_eq(outer_ready(sel, 2000), 1);
    char c;
    ck_assert_int_eq(read(s[0], &c, 1), 1);
    /* io_uring: the poll that sel_fd armed completed before the read, so
     * one select may still report it (spurious: the read says EAGAIN). */
    unsigned late = st_events(sel, 0, s[0]);
    ck_assert_uint_eq(late & ~(st_is("io_uring") ? SEL_READ : 0u), 0);
    ck_assert_uint_eq(st_events(sel, 0, s[0]), 0);
    becomes_quiet(sel);

    /* A modify after the fd was handed out: writable at once. */
    ck_assert_int_eq(sel_modify(sel, s[0], SEL_READ | SEL_WRITE, &tag), 0);
    ck_assert_int_eq(outer_ready(sel, 2000), 1);
    ck_assert_uint_eq(st_events(sel, 0, s[0]), SEL_WRITE);
    ck_assert_int_eq(sel_modify(sel, s[0], SEL_READ, &tag), 0);
    becomes_quiet(sel);

    /* A file the kernel cannot poll is always ready: so is the fd, until
     * its unregister. */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    int file = fileno(f);
    ck_assert_int_eq(sel_register(sel, file, SEL_READ, &tag), 0);
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(outer_ready(sel, 2000), 1);
        ck_assert_uint_eq(st_events(sel, 0, file), SEL_READ);
    }
    ck_assert_int_eq(sel_unregister(sel, file), 0);
    becomes_quiet(sel);

    /* Unregistered while ready: no wakeup for it. */
    ck_assert_int_eq(write(s[1], "y", 1), 1);
    ck_assert_int_eq(outer_ready(sel, 2000), 1);
    ck_assert_int_eq(sel_unregister(sel, s[0]), 0);
    becomes_quiet(sel);

    ck_assert_int_eq(sel_fd(sel), fd);
    sel_free(sel);
    fclose(f);
    close(s[0]);
    close(s[1]);
}
END_TEST

AL_TEST_SUITE(sel_pollable)
{
    st_require_impl();
    Suite *s = suite_create("sel_pollable");
    TCase *tc = al_tcase("sel_fd");
    tcase_add_test(tc, sel_fd_none_or_own);
    tcase_add_test(tc, sel_fd_follows_readiness);
    suite_add_tcase(s, tc);
    return s;
}

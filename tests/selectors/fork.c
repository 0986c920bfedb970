/* Fork: a child must sel_reinit (or close and reopen) a selector opened
 * before fork; the parent's selector is unaffected by what the child does. */
#include "sel_test.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int tag_a;

/* Exit status of the child: 0 or the line number of the failed check (Check's
 * assertions cannot be used in our own child). */
#define CHILD_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            _exit(__LINE__ % 250 + 1);                                                             \
    } while (0)

static int wait_child(pid_t pid)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(fork_reinit)
{
    sel_selector *sel = st_open();
    int p[2], q[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(pipe(q), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, &tag_a), 0);
    ck_assert_int_eq(sel_register(sel, q[0], SEL_READ, &tag_a), 0);
    sel_event out[4];
    ck_assert_int_eq(sel_select(sel, 0, out, 4), 0);
    ck_assert_int_eq(sel_reinit(sel), 0); /* no-op in the opener */

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        CHILD_CHECK(sel_select(sel, 0, out, 4) == SEL_EFORKED);
        CHILD_CHECK(sel_register(sel, p[1], SEL_WRITE, NULL) == SEL_EFORKED);
        CHILD_CHECK(sel_unregister(sel, p[0]) == SEL_EFORKED);
        CHILD_CHECK(sel_reinit(sel) == 0);
        CHILD_CHECK(sel_count(sel) == 2);
        CHILD_CHECK(sel_select(sel, 0, out, 4) == 0);
        CHILD_CHECK(write(p[1], "x", 1) == 1);
        int n = sel_select(sel, 2, out, 4);
        CHILD_CHECK(n == 1 && out[0].fd == p[0] && out[0].data == &tag_a);
        /* Changes in the child stay in the child. */
        CHILD_CHECK(sel_unregister(sel, p[0]) == 0);
        CHILD_CHECK(sel_unregister(sel, q[0]) == 0);
        CHILD_CHECK(sel_select(sel, 0.01, out, 4) == 0);
        sel_free(sel);
        _exit(0);
    }
    ck_assert_int_eq(wait_child(pid), 0);
    /* The parent still has both registrations; p has the child's byte. */
    ck_assert_int_eq(sel_count(sel), 2);
    ck_assert_uint_eq(st_events(sel, 2, p[0]), SEL_READ);
    ck_assert_int_eq(write(q[1], "y", 1), 1);
    ck_assert_uint_eq(st_events(sel, 2, q[0]), SEL_READ);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}
END_TEST

START_TEST(fork_close_reopen)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, &tag_a), 0);
    sel_event out[4];
    ck_assert_int_eq(sel_select(sel, 0, out, 4), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        CHILD_CHECK(sel_close(sel) == 0);
        sel_free(sel);
        sel_selector *mine = NULL;
        CHILD_CHECK(sel_open(&mine, al_test_impl) == 0);
        CHILD_CHECK(sel_register(mine, p[0], SEL_READ, NULL) == 0);
        CHILD_CHECK(write(p[1], "x", 1) == 1);
        int n = sel_select(mine, 2, out, 4);
        CHILD_CHECK(n == 1 && out[0].fd == p[0]);
        sel_free(mine);
        _exit(0);
    }
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert_int_eq(sel_count(sel), 1);
    ck_assert_uint_eq(st_events(sel, 2, p[0]), SEL_READ);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
}
END_TEST

AL_TEST_SUITE(sel_fork)
{
    st_require_impl();
    Suite *s = suite_create("sel_fork");
    TCase *tc = al_tcase("fork");
    tcase_add_test(tc, fork_reinit);
    tcase_add_test(tc, fork_close_reopen);
    suite_add_tcase(s, tc);
    return s;
}

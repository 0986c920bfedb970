/* Fault kind: an fd closed before its unregister. Whatever the backend
 * (libev's included), a selector never aborts, spins or wedges on it: the
 * selects in between succeed and report it, if at all, within its mask;
 * the unregister succeeds; the number can be registered again and waits
 * block again. Every case runs in a child process, so that an abort inside
 * a backend library fails the test instead of killing the suite. */
#include "sel_test.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int tag_a, tag_b;

/* In the child: 0 or the line of the failed check. */
#define CHILD_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            _exit(__LINE__ % 250 + 1);                                                             \
    } while (0)

typedef void (*child_fn)(int variant);

/* Runs fn(variant) in a child; fails with its exit line or its signal. */
static void in_child(child_fn fn, int variant)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(20); /* a wedged child is killed, not waited for forever */
        fn(variant);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFSIGNALED(status), "%s, variant %d: killed by signal %d", al_test_impl,
                  variant, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ck_assert_msg(WEXITSTATUS(status) == 0, "%s, variant %d: check at line ~%d failed",
                  al_test_impl, variant, WEXITSTATUS(status));
}

/* Selects a few times: never an error; a result for fd is within mask. */
static void child_select_tolerates(sel_selector *sel, int fd, unsigned mask)
{
    sel_event out[8];
    for (int i = 0; i < 3; i++) {
        int n = sel_select(sel, 0, out, 8);
        CHILD_CHECK(n >= 0);
        for (int j = 0; j < n; j++) {
            CHILD_CHECK(out[j].events != 0);
            if (out[j].fd == fd)
                CHILD_CHECK((out[j].events & ~mask) == 0);
        }
    }
}

/* After the unregister: the number registered again for a new pipe blocks
 * until that pipe is readable, then reports it with the new data. */
static void child_reuse_works(sel_selector *sel, int num)
{
    int q[2];
    CHILD_CHECK(pipe(q) == 0);
    if (q[0] != num) {
        CHILD_CHECK(dup2(q[0], num) == num);
        close(q[0]);
        q[0] = num;
    }
    CHILD_CHECK(sel_register(sel, num, SEL_READ, &tag_b) == 0);
    sel_event out[8];
    double t0 = st_now();
    CHILD_CHECK(sel_select(sel, 0.05, out, 8) == 0);
    CHILD_CHECK(st_now() - t0 >= 0.04); /* blocked: no spin */
    CHILD_CHECK(write(q[1], "x", 1) == 1);
    int n = sel_select(sel, 2, out, 8);
    CHILD_CHECK(n == 1 && out[0].fd == num && out[0].data == &tag_b);
    CHILD_CHECK(sel_unregister(sel, num) == 0);
    close(q[0]);
    close(q[1]);
}

/* variant bit 0: selected once before the close (armed in the kernel);
 * bit 1: modified after the close; bit 2: registered for writing too. */
static void closed_then_unregister_child(int variant)
{
    sel_selector *sel = NULL;
    CHILD_CHECK(sel_open(&sel, al_test_impl) == 0);
    int p[2];
    CHILD_CHECK(pipe(p) == 0);
    unsigned mask = variant & 4 ? SEL_READ | SEL_WRITE : SEL_READ;
    CHILD_CHECK(sel_register(sel, p[0], mask, &tag_a) == 0);
    sel_event out[8];
    if (variant & 1)
        CHILD_CHECK(sel_select(sel, 0, out, 8) >= 0);
    int num = p[0];
    close(p[0]);
    if (variant & 2) {
        mask = SEL_READ | SEL_WRITE;
        CHILD_CHECK(sel_modify(sel, num, mask, &tag_a) == 0);
    }
    child_select_tolerates(sel, num, mask);
    CHILD_CHECK(sel_unregister(sel, num) == 0);
    CHILD_CHECK(sel_count(sel) == 0);
    child_reuse_works(sel, num);
    sel_free(sel);
    close(p[1]);
}

START_TEST(closed_then_unregister)
{
    in_child(closed_then_unregister_child, _i);
}
END_TEST

/* Closed, never unregistered, and the selector freed (or closed) with it:
 * nothing aborts or leaks. variant 1: selected in between. */
static void closed_then_free_child(int variant)
{
    sel_selector *sel = NULL;
    CHILD_CHECK(sel_open(&sel, al_test_impl) == 0);
    int p[2], q[2];
    CHILD_CHECK(pipe(p) == 0 && pipe(q) == 0);
    CHILD_CHECK(sel_register(sel, p[0], SEL_READ, &tag_a) == 0);
    CHILD_CHECK(sel_register(sel, q[1], SEL_WRITE, &tag_b) == 0);
    sel_event out[8];
    CHILD_CHECK(sel_select(sel, 0, out, 8) >= 0);
    close(p[0]);
    close(q[1]);
    if (variant)
        child_select_tolerates(sel, p[0], SEL_READ);
    CHILD_CHECK(sel_close(sel) == 0);
    sel_free(sel);
    close(p[1]);
    close(q[0]);
}

START_TEST(closed_then_free)
{
    in_child(closed_then_free_child, _i);
}
END_TEST

/* A selector with a pipe's read end registered and selected once, then
 * that number closed while a dup keeps its file open: a[0] is the closed
 * number, *keep the dup, a[1] the write end. */
static sel_selector *closed_with_dup(int a[2], int *keep)
{
    sel_selector *sel = NULL;
    CHILD_CHECK(sel_open(&sel, al_test_impl) == 0);
    CHILD_CHECK(pipe(a) == 0);
    CHILD_CHECK(sel_register(sel, a[0], SEL_READ, &tag_a) == 0);
    sel_event out[8];
    CHILD_CHECK(sel_select(sel, 0, out, 8) == 0);
    *keep = dup(a[0]);
    CHILD_CHECK(*keep >= 0);
    close(a[0]);
    return sel;
}

/* libuv#1148: the closed fd's file stays open (and readable) through a
 * dup; the number is unregistered and reused. Waits must block again. */
static void closed_dup_child(int variant)
{
    int a[2], keep;
    sel_selector *sel = closed_with_dup(a, &keep);
    int num = a[0];
    sel_event out[8];
    CHILD_CHECK(write(a[1], "old", 3) == 3); /* the old file is readable for good */
    if (variant)                             /* selected while closed and registered */
        child_select_tolerates(sel, num, SEL_READ);
    CHILD_CHECK(sel_unregister(sel, num) == 0);
    int calls = 0;
    double t0 = st_now();
    while (st_now() - t0 < 0.3) {
        int n = sel_select(sel, 0.05, out, 8);
        CHILD_CHECK(n == 0);
        calls++;
    }
    CHILD_CHECK(calls <= 12); /* 6 when every wait blocks its 0.05 s */
    child_reuse_works(sel, num);
    sel_free(sel);
    close(keep);
    close(a[1]);
}

START_TEST(closed_dup_no_busy_loop)
{
    in_child(closed_dup_child, _i);
}
END_TEST

/* The same file comes back under the same number (dup2 of a dup): the
 * kernel may still hold the old registration of that very file (epoll
 * keys them by file and number); registering it again must work. */
static void same_file_back_child(int variant)
{
    int a[2], keep;
    sel_selector *sel = closed_with_dup(a, &keep);
    int num = a[0];
    sel_event out[8];
    CHILD_CHECK(sel_unregister(sel, num) == 0);
    if (variant) /* a select in between: the stale registration is seen */
        CHILD_CHECK(sel_select(sel, 0, out, 8) >= 0);
    CHILD_CHECK(dup2(keep, num) == num);
    CHILD_CHECK(sel_register(sel, num, SEL_READ, &tag_b) == 0);
    double t0 = st_now();
    CHILD_CHECK(sel_select(sel, 0.05, out, 8) == 0);
    CHILD_CHECK(st_now() - t0 >= 0.04);
    CHILD_CHECK(write(a[1], "x", 1) == 1);
    int n = sel_select(sel, 2, out, 8);
    CHILD_CHECK(n == 1 && out[0].fd == num && out[0].data == &tag_b);
    sel_free(sel);
    close(num);
    close(keep);
    close(a[1]);
}

START_TEST(same_file_back_under_same_number)
{
    in_child(same_file_back_child, _i);
}
END_TEST

/* A stale event makes some backends rebuild their kernel state (epoll,
 * libev) while another registered fd is closed: the rebuild must cope. */
static void stale_rebuild_child(int variant)
{
    (void)variant;
    sel_selector *sel = NULL;
    CHILD_CHECK(sel_open(&sel, al_test_impl) == 0);
    int a[2], c[2], live[2];
    CHILD_CHECK(pipe(a) == 0 && pipe(c) == 0 && pipe(live) == 0);
    CHILD_CHECK(sel_register(sel, a[0], SEL_READ, &tag_a) == 0);
    CHILD_CHECK(sel_register(sel, c[0], SEL_READ, &tag_a) == 0);
    CHILD_CHECK(sel_register(sel, live[0], SEL_READ, &tag_b) == 0);
    sel_event out[8];
    CHILD_CHECK(sel_select(sel, 0, out, 8) == 0);
    int keep = dup(a[0]);
    close(a[0]);
    CHILD_CHECK(sel_unregister(sel, a[0]) == 0);
    close(c[0]); /* closed, still registered */
    CHILD_CHECK(write(a[1], "old", 3) == 3);
    for (int i = 0; i < 4; i++)
        child_select_tolerates(sel, c[0], SEL_READ);
    CHILD_CHECK(write(live[1], "x", 1) == 1);
    int n = sel_select(sel, 1, out, 8), seen = 0;
    CHILD_CHECK(n >= 1);
    for (int i = 0; i < n; i++)
        seen |= out[i].fd == live[0] && out[i].data == &tag_b;
    CHILD_CHECK(seen);
    CHILD_CHECK(sel_unregister(sel, c[0]) == 0);
    sel_free(sel);
    close(keep);
    close(a[1]);
    close(c[1]);
    close(live[0]);
    close(live[1]);
}

START_TEST(stale_rebuild_with_closed_fd)
{
    in_child(stale_rebuild_child, 0);
}
END_TEST

/* sel_reinit in a forked child while a registered fd is closed (libev
 * rebuilds its whole kernel state then). */
static void reinit_child(int variant)
{
    (void)variant;
    sel_selector *sel = NULL;
    CHILD_CHECK(sel_open(&sel, al_test_impl) == 0);
    int p[2], live[2];
    CHILD_CHECK(pipe(p) == 0 && pipe(live) == 0);
    CHILD_CHECK(sel_register(sel, p[0], SEL_READ, &tag_a) == 0);
    CHILD_CHECK(sel_register(sel, live[0], SEL_READ, &tag_b) == 0);
    sel_event out[8];
    CHILD_CHECK(sel_select(sel, 0, out, 8) == 0);
    pid_t pid = fork();
    CHILD_CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (sel_reinit(sel) != 0)
            _exit(3);
        for (int i = 0; i < 3; i++)
            if (sel_select(sel, 0, out, 8) < 0)
                _exit(4);
        if (sel_unregister(sel, p[0]) != 0 || write(live[1], "x", 1) != 1)
            _exit(5);
        int n = sel_select(sel, 1, out, 8);
        _exit(n == 1 && out[0].fd == live[0] ? 0 : 6);
    }
    int status;
    CHILD_CHECK(waitpid(pid, &status, 0) == pid);
    CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sel_free(sel);
}

START_TEST(reinit_with_closed_fd)
{
    in_child(reinit_child, 0);
}
END_TEST

AL_TEST_SUITE(sel_closed)
{
    st_require_impl();
    Suite *s = suite_create("sel_closed");
    TCase *tc = al_tcase("closed_fd");
    tcase_add_loop_test(tc, closed_then_unregister, 0, 8);
    tcase_add_loop_test(tc, closed_then_free, 0, 2);
    tcase_add_loop_test(tc, closed_dup_no_busy_loop, 0, 2);
    tcase_add_loop_test(tc, same_file_back_under_same_number, 0, 2);
    tcase_add_test(tc, stale_rebuild_with_closed_fd);
    tcase_add_test(tc, reinit_with_closed_fd);
    suite_add_tcase(s, tc);
    return s;
}

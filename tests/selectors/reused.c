/* A number closed without its unregister and reused by another file:
 * sel_modify with a new mask and sel_rewatch make the registration watch
 * the new file, on every backend, and the old file (alive in a dup, so an
 * epoll or io_uring instance may still watch it) never reports under it. */
#include "sel_test.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static int tag_a, tag_b;

/* A socketpair whose first end is number num (dup2 if needed). */
static void pair_at(int num, int s[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    if (s[0] != num) {
        ck_assert_int_eq(dup2(s[0], num), num);
        close(s[0]);
        s[0] = num;
    }
}

/* fd of old[0] registered for `mask`, armed; its file kept in a dup made
 * readable; the number closed and taken by new[0]. Returns the dup. */
static int reuse(sel_selector *sel, int old[2], int new_[2], unsigned mask)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, old), 0);
    ck_assert_int_eq(sel_register(sel, old[0], mask, &tag_a), 0);
    sel_event out[4];
    ck_assert_int_ge(sel_select(sel, 0, out, 4), 0); /* armed in the kernel */
    int keep = dup(old[0]);
    ck_assert_int_ge(keep, 0);
    ck_assert_int_eq(write(old[1], "old", 3), 3); /* the old file is readable */
    int num = old[0];
    close(old[0]);
    pair_at(num, new_);
    return keep;
}

/* num is reported only for the new file: not before it is readable
 * (a few selects, stale events dropped), then readable with data. */
static void reports_new_file(sel_selector *sel, int num, int peer, void *data)
{
    for (int round = 0; round < 3; round++) {
        unsigned ev = st_events(sel, 0.02, num);
        ck_assert_msg((ev & SEL_READ) == 0, "%s: the old file's readiness under the number",
                      al_test_impl);
    }
    ck_assert_int_eq(write(peer, "new", 3), 3);
    sel_event out[4];
    int n = sel_select(sel, 2, out, 4);
    const sel_event *e = st_find(out, n, num);
    ck_assert_ptr_nonnull(e);
    ck_assert(e->events & SEL_READ);
    ck_assert_ptr_eq(e->data, data);
}

/* Frees sel and closes what reuse() made. */
static void end_reuse(sel_selector *sel, int keep, const int old[2], const int new_[2])
{
    sel_free(sel);
    close(keep);
    close(old[1]);
    close(new_[0]);
    close(new_[1]);
}

START_TEST(modify_follows_reused_number)
{
    sel_selector *sel = st_open();
    int old[2], s[2];
    int keep = reuse(sel, old, s, SEL_WRITE);
    /* New mask: the new file, not yet readable. */
    ck_assert_int_eq(sel_modify(sel, s[0], SEL_READ, &tag_b), 0);
    reports_new_file(sel, s[0], s[1], &tag_b);
    /* And writable once asked. */
    ck_assert_int_eq(sel_modify(sel, s[0], SEL_READ | SEL_WRITE, &tag_b), 0);
    ck_assert_uint_eq(st_events(sel, 1, s[0]), SEL_READ | SEL_WRITE);
    ck_assert_int_eq(sel_unregister(sel, s[0]), 0);
    end_reuse(sel, keep, old, s);
}
END_TEST

START_TEST(rewatch_follows_reused_number)
{
    sel_selector *sel = st_open();
    int old[2], s[2];
    int keep = reuse(sel, old, s, SEL_READ);
    ck_assert_int_eq(sel_rewatch(sel, s[0]), 0);
    unsigned ev;
    void *data;
    ck_assert_int_eq(sel_get(sel, s[0], &ev, &data), 0);
    ck_assert_uint_eq(ev, SEL_READ);
    ck_assert_ptr_eq(data, &tag_a);
    reports_new_file(sel, s[0], s[1], &tag_a);
    /* The same file: nothing changes, still reported while ready. */
    ck_assert_int_eq(sel_rewatch(sel, s[0]), 0);
    ck_assert_uint_eq(st_events(sel, 1, s[0]), SEL_READ);
    end_reuse(sel, keep, old, s);
}
END_TEST

START_TEST(rewatch_refusals)
{
    sel_selector *sel = st_open();
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    ck_assert_int_eq(sel_rewatch(NULL, s[0]), -EINVAL);
    ck_assert_int_eq(sel_rewatch(sel, -1), -EBADF);
    ck_assert_int_eq(sel_rewatch(sel, s[0]), -ENOENT);
    /* Closed, not reused: epoll says so at once; the others report the
     * number ready for its mask (or nothing) at the next select. */
    ck_assert_int_eq(sel_register(sel, s[0], SEL_READ, &tag_a), 0);
    int num = s[0];
    close(s[0]);
    ck_assert_int_eq(sel_rewatch(sel, num), st_is("epoll") ? -EBADF : 0);
    for (int round = 0; round < 3; round++) {
        unsigned ev = st_events(sel, 0, num);
        ck_assert_uint_eq(ev & ~SEL_READ, 0);
    }
    ck_assert_int_eq(sel_count(sel), 1); /* still registered */
    ck_assert_int_eq(sel_unregister(sel, num), 0);
    ck_assert_int_eq(sel_close(sel), 0);
    ck_assert_int_eq(sel_rewatch(sel, 0), SEL_ECLOSED);
    sel_free(sel);
    close(s[1]);
}
END_TEST

AL_TEST_SUITE(sel_reused)
{
    st_require_impl();
    Suite *s = suite_create("sel_reused");
    TCase *tc = al_tcase("reused");
    tcase_add_test(tc, modify_follows_reused_number);
    tcase_add_test(tc, rewatch_follows_reused_number);
    tcase_add_test(tc, rewatch_refusals);
    suite_add_tcase(s, tc);
    return s;
}

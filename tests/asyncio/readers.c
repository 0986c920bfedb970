/* Readers and writers (IO1-IO3), the pure-loop refusal, closed and reused
 * fds, and what a loop's close releases. */
#include "aio_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int stop_cb(al_loop *loop, void *arg)
{
    (void)arg;
    al_loop_stop(loop);
    return 0;
}

/* Runs the loop for about `seconds` (a timer stops it). */
static void run_for(al_loop *loop, double seconds)
{
    ck_assert_int_eq(al_call_later(loop, seconds, stop_cb, NULL, NULL), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
}

typedef struct reader_state {
    int fd;
    char data[64];
    size_t len;
    int eof;
    int calls;
} reader_state;

/* IO1's reader: appends what it reads; at EOF removes itself and stops. */
static int reader_cb(al_loop *loop, void *arg)
{
    reader_state *r = arg;
    r->calls++;
    ssize_t n = read(r->fd, r->data + r->len, sizeof r->data - r->len);
    if (n > 0) {
        r->len += (size_t)n;
        return 0;
    }
    r->eof = 1;
    ck_assert_int_eq(aio_loop_remove_reader(loop, r->fd), 1);
    al_loop_stop(loop);
    return 0;
}

/* Runs the loop until r's reader stops it, and checks that it saw the
 * bytes of s, then EOF. */
static void run_until_read(al_loop *loop, const reader_state *r, const char *s)
{
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert(r->eof);
    ck_assert_uint_eq(r->len, strlen(s));
    ck_assert(memcmp(r->data, s, r->len) == 0);
}

static int write_def_cb(al_loop *loop, void *arg)
{
    (void)loop;
    int *fd = arg;
    ck_assert_int_eq(write(*fd, "def", 3), 3);
    close(*fd);
    *fd = -1;
    return 0;
}

START_TEST(test_reader_callback)
{
    al_loop *loop = ac_loop_new();
    int a, b;
    ac_socketpair(&a, &b);
    reader_state r = {.fd = a};
    ck_assert_int_eq(aio_loop_add_reader(loop, a, reader_cb, &r), 0);
    ck_assert_int_eq(write(b, "abc", 3), 3);
    ck_assert_int_eq(al_call_later(loop, 0.05, write_def_cb, &b, NULL), 0);
    run_until_read(loop, &r, "abcdef");
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 0);
    close(a);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

static int writer_cb(al_loop *loop, void *arg)
{
    int *calls = arg;
    (*calls)++;
    al_loop_stop(loop);
    return 0;
}

START_TEST(test_writer_callback)
{
    al_loop *loop = ac_loop_new();
    int a, b, calls = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(aio_loop_add_writer(loop, a, writer_cb, &calls), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(aio_loop_remove_writer(loop, a), 1);
    ck_assert_int_eq(aio_loop_remove_writer(loop, a), 0);
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 0);
    close(a);
    close(b);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

static int count_cb(al_loop *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
    return 0;
}

/* A pair whose first end had reader count_cb(n), removed (the removal
 * deferred to the next select), then both ends closed: the number freed. */
static int watched_then_closed(al_loop *loop, int *n)
{
    int a, b;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, n), 0);
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 1);
    close(a);
    close(b);
    return a;
}

/* A new pair whose first end takes the number old (the lowest free one)
 * and gets reader cb on r (reset): the other end. */
static int reuse_number(al_loop *loop, int old, al_callback_fn cb, reader_state *r)
{
    int c, d;
    ac_socketpair(&c, &d);
    ck_assert_int_eq(c, old);
    *r = (reader_state){.fd = c};
    ck_assert_int_eq(aio_loop_add_reader(loop, c, cb, r), 0);
    return d;
}

/* IO2: re-adding replaces the callback and keeps the other direction;
 * removing the reader keeps the writer. */
START_TEST(test_readd_replaces_keeps_other_direction)
{
    al_loop *loop = ac_loop_new();
    int a, b, r1 = 0, r2 = 0, w = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(write(b, "x", 1), 1); /* a is readable and writable */
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, &r1), 0);
    ck_assert_int_eq(aio_loop_add_writer(loop, a, count_cb, &w), 0);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, &r2), 0);
    run_for(loop, 0.02);
    ck_assert_int_eq(r1, 0);
    ck_assert_int_gt(r2, 0);
    ck_assert_int_gt(w, 0);
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 1);
    int r2_then = r2, w_then = w;
    run_for(loop, 0.02);
    ck_assert_int_eq(r2, r2_then);
    ck_assert_int_gt(w, w_then);
    ck_assert_int_eq(aio_loop_remove_writer(loop, a), 1);
    close(a);
    close(b);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

typedef struct pair_state {
    int fd[2];
    int calls[2];
} pair_state;

static int remove_other_cb(al_loop *loop, void *arg, int me)
{
    pair_state *p = arg;
    p->calls[me]++;
    aio_loop_remove_reader(loop, p->fd[1 - me]);
    aio_loop_remove_reader(loop, p->fd[me]);
    al_loop_stop(loop);
    return 0;
}

static int remove_other_0(al_loop *loop, void *arg)
{
    return remove_other_cb(loop, arg, 0);
}

static int remove_other_1(al_loop *loop, void *arg)
{
    return remove_other_cb(loop, arg, 1);
}

/* A reader removed by an earlier callback of the same iteration does not
 * run, although its fd was reported ready in that iteration. */
START_TEST(test_removed_reader_due_this_iteration_does_not_run)
{
    al_loop *loop = ac_loop_new();
    int a0, b0, a1, b1;
    ac_socketpair(&a0, &b0);
    ac_socketpair(&a1, &b1);
    pair_state p = {.fd = {a0, a1}};
    ck_assert_int_eq(write(b0, "x", 1), 1);
    ck_assert_int_eq(write(b1, "x", 1), 1);
    ck_assert_int_eq(aio_loop_add_reader(loop, a0, remove_other_0, &p), 0);
    ck_assert_int_eq(aio_loop_add_reader(loop, a1, remove_other_1, &p), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert_int_eq(p.calls[0] + p.calls[1], 1);
    close(a0), close(b0), close(a1), close(b1);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* IO3: after close, remove says no and add fails. */
START_TEST(test_fds_after_closing)
{
    al_loop *loop = ac_loop_new();
    int a, b, n = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, &n), 0);
    ck_assert_int_eq(aio_loop_add_writer(loop, a, count_cb, &n), 0);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 0);
    ck_assert_int_eq(aio_loop_remove_writer(loop, a), 0);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, &n), AL_ELOOPCLOSED);
    ck_assert_int_eq(aio_loop_add_writer(loop, a, count_cb, &n), AL_ELOOPCLOSED);
    ck_assert_int_eq(n, 0);
    close(a);
    close(b);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

static int recv_task(void *arg, void **result)
{
    char c;
    *result = AC_VP(aio_sock_recv_into(ac_loop(), AC_PV(arg), &c, 1));
    return 0;
}

/* I/O calls on a pure loop: AL_ENOTIOLOOP, nothing done. */
START_TEST(test_pure_loop_refuses_io)
{
    al_loop *pure = al_loop_new();
    int a, b, n = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(aio_loop_add_reader(pure, a, count_cb, &n), AL_ENOTIOLOOP);
    ck_assert_int_eq(aio_loop_add_writer(pure, a, count_cb, &n), AL_ENOTIOLOOP);
    ck_assert_int_eq(aio_loop_remove_reader(pure, a), AL_ENOTIOLOOP);
    ck_assert_int_eq(aio_loop_remove_writer(pure, a), AL_ENOTIOLOOP);
    ck_assert(!aio_loop_is_io(pure));
    ck_assert_ptr_null(aio_loop_backend(pure));
    ck_assert_int_eq(aio_loop_fd(pure), AL_ENOTIOLOOP);
    al_task *t;
    ck_assert_int_eq(al_task_new(pure, recv_task, AC_VP(a), NULL, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(pure, al_task_future(t)), 0);
    void *v;
    ck_assert_int_eq(al_future_result(al_task_future(t), &v), 0);
    ck_assert_int_eq(AC_PV(v), AL_ENOTIOLOOP);
    ck_assert_str_eq(aio_strerror(AL_ENOTIOLOOP), "not an I/O event loop");
    al_task_unref(t);
    close(a);
    close(b);
    ck_assert_int_eq(al_loop_free(pure), 0);
}
END_TEST

START_TEST(test_bad_arguments)
{
    al_loop *loop = ac_loop_new();
    int n = 0;
    ck_assert_int_eq(aio_loop_add_reader(NULL, 0, count_cb, &n), -EINVAL);
    ck_assert_int_eq(aio_loop_add_reader(loop, 0, NULL, &n), -EINVAL);
    ck_assert_int_eq(aio_loop_add_reader(loop, -1, count_cb, &n), -EBADF);
    ck_assert_int_eq(aio_loop_remove_reader(loop, -1), 0);
    /* Not an open fd. */
    int dead = dup(2);
    ck_assert_int_ge(dead, 0);
    close(dead);
    ck_assert_int_eq(aio_loop_add_reader(loop, dead, count_cb, &n), -EBADF);
    ck_assert_int_eq(aio_loop_remove_reader(loop, dead), 0);
    al_loop *none = NULL;
    ck_assert_int_eq(aio_loop_new("no-such-backend", &none), SEL_EBACKEND);
    ck_assert_ptr_null(none);
    ck_assert_str_eq(aio_strerror(SEL_EBACKEND), "unknown selector backend name");
    ck_assert_int_eq(aio_loop_new(NULL, NULL), -EINVAL);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* An fd closed while registered: no crash, no spin that never ends; once
 * removed, a new file with the same number gets only its own callback. */
START_TEST(test_closed_fd_then_reused_number)
{
    al_loop *loop = ac_loop_new();
    int a, b, old_calls = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, &old_calls), 0);
    close(a);
    close(b);
    run_for(loop, 0.02); /* whatever the backend reports, the loop goes on */
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 1);
    int old_after_remove = old_calls;

    reader_state r;
    int d = reuse_number(loop, a, reader_cb, &r);
    ck_assert_int_eq(write(d, "new", 3), 3);
    close(d);
    run_until_read(loop, &r, "new");
    ck_assert_int_eq(old_calls, old_after_remove);
    close(r.fd);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* A removal reaches the selector only before the next select (so that a
 * sock_* call after another costs no system call). If the fd is closed and
 * its number reused before that, the new file is registered afresh: its
 * reader fires (an epoll set would not know the new file otherwise). */
START_TEST(test_reused_number_within_one_iteration)
{
    al_loop *loop = ac_loop_new();
    int n = 0;
    reader_state r;
    int d = reuse_number(loop, watched_then_closed(loop, &n), reader_cb, &r);
    ck_assert_int_eq(write(d, "new", 3), 3);
    close(d);
    run_until_read(loop, &r, "new");
    ck_assert_int_eq(n, 0);
    close(r.fd);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* A reader that counts its calls and never stops the loop. */
static int busy_cb(al_loop *loop, void *arg)
{
    (void)loop;
    ++*(int *)arg;
    return 0;
}

/* A reader that tolerates calls without data (EAGAIN) and stops at EOF. */
static int patient_reader_cb(al_loop *loop, void *arg)
{
    reader_state *r = arg;
    r->calls++;
    ssize_t n = read(r->fd, r->data + r->len, sizeof r->data - r->len);
    if (n > 0)
        r->len += (size_t)n;
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        r->eof = 1;
        ck_assert_int_eq(aio_loop_remove_reader(loop, r->fd), 1);
        al_loop_stop(loop);
    }
    return 0;
}

/* The same reuse while the loop never blocks (another fd is always
 * readable): the new file is still watched, within a bounded number of
 * iterations (a taken-back removal is checked again after a few dozen
 * waits when no wait blocks). */
START_TEST(test_reused_number_in_a_busy_loop)
{
    al_loop *loop = ac_loop_new();
    int x, y, busy = 0;
    ac_socketpair(&x, &y);
    ck_assert_int_eq(write(y, "x", 1), 1); /* never read: x stays readable */
    ck_assert_int_eq(aio_loop_add_reader(loop, x, busy_cb, &busy), 0);
    int n = 0;
    reader_state r;
    int d = reuse_number(loop, watched_then_closed(loop, &n), patient_reader_cb, &r);
    ck_assert_int_eq(write(d, "new", 3), 3);
    close(d);
    ck_assert_int_eq(al_call_later(loop, 30, stop_cb, NULL, NULL), 0); /* a bound, not a timing */
    run_until_read(loop, &r, "new");
    ck_assert_int_eq(n, 0);
    ck_assert_int_lt(busy, 1000);
    ck_assert_int_eq(aio_loop_remove_reader(loop, x), 1);
    close(r.fd);
    close(x);
    close(y);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* The same reuse while the old file lives on in a duplicate that stays
 * readable: the old file's readiness may wake the new reader for a bounded
 * while (a spurious call: its read says EAGAIN), never its data, never for
 * ever, and the new file's own data arrives. */
START_TEST(test_reused_number_old_file_duplicated)
{
    al_loop *loop = ac_loop_new();
    int a, b, n = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, &n), 0);
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 1);
    int keep = fcntl(a, F_DUPFD_CLOEXEC, 100);
    ck_assert_int_ge(keep, 0);
    ck_assert_int_eq(write(b, "old", 3), 3); /* never read: the old file stays readable */
    close(a);
    reader_state r;
    int d = reuse_number(loop, a, patient_reader_cb, &r);
    ck_assert_int_eq(al_call_later(loop, 0.05, write_def_cb, &d, NULL), 0);
    ck_assert_int_eq(al_call_later(loop, 30, stop_cb, NULL, NULL), 0); /* a bound, not a timing */
    run_until_read(loop, &r, "def");
    ck_assert_int_eq(n, 0);
    ck_assert_int_lt(r.calls, 1000);
    close(r.fd);
    close(keep);
    close(b);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

typedef struct delayed_write {
    int fd;
    const char *s;
} delayed_write;

static int delayed_write_cb(al_loop *loop, void *arg)
{
    (void)loop;
    delayed_write *w = arg;
    ck_assert_int_eq(write(w->fd, w->s, strlen(w->s)), (ssize_t)strlen(w->s));
    return 0;
}

static int reuse_after_sock_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    int a, b;
    char buf[8];
    ac_socketpair(&a, &b);
    delayed_write w1 = {b, "1"};
    ck_assert_int_eq(al_call_later(loop, 0.01, delayed_write_cb, &w1, NULL), 0);
    ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), 1); /* waited */
    close(a);
    close(b);
    int c, d;
    ac_socketpair(&c, &d);
    ck_assert_int_eq(c, a);
    delayed_write w2 = {d, "2"};
    ck_assert_int_eq(al_call_later(loop, 0.01, delayed_write_cb, &w2, NULL), 0);
    ck_assert_int_eq(aio_sock_recv_into(loop, c, buf, sizeof buf), 1);
    ck_assert_int_eq(buf[0], '2');
    close(c);
    close(d);
    return 0;
}

START_TEST(test_reused_number_after_sock_wait)
{
    ac_run_main(reuse_after_sock_main, NULL);
}
END_TEST

/* The same in a quiet loop (each wait blocks: after the first, suspects
 * are checked without a poll first): every round a new file under the
 * number, every other round the old file alive in a readable dup. */
static int reuse_quiet_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    int a, b, num = -1, kept = -1;
    char buf[8];
    for (int round = 0; round < 6; round++) {
        ac_socketpair(&a, &b);
        if (num >= 0)
            ck_assert_int_eq(a, num);
        num = a;
        for (int k = 0; k < 2; k++) { /* the second wait takes the first's back */
            delayed_write w = {b, "q"};
            ck_assert_int_eq(al_call_later(loop, 0.005, delayed_write_cb, &w, NULL), 0);
            ck_assert_int_eq(aio_sock_recv_into(loop, a, buf, sizeof buf), 1);
            ck_assert_int_eq(buf[0], 'q');
        }
        if (kept >= 0)
            close(kept); /* the file kept through this round */
        kept = -1;
        if (round % 2 == 0) { /* kept alive through the next round */
            kept = fcntl(a, F_DUPFD_CLOEXEC, 100);
            ck_assert_int_ge(kept, 0);
            ck_assert_int_eq(write(b, "old", 3), 3); /* never read */
        }
        close(a);
        close(b);
    }
    if (kept >= 0)
        close(kept);
    return 0;
}

START_TEST(test_reused_number_in_a_quiet_loop)
{
    ac_run_main(reuse_quiet_main, NULL);
}
END_TEST

/* Closing the loop releases its selector, its eventfd and its
 * registrations; the caller's fds stay open. */
START_TEST(test_close_releases_everything)
{
    int before = ac_open_fds();
    int a, b, n = 0;
    ac_socketpair(&a, &b);
    al_loop *loop = ac_loop_new();
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, &n), 0);
    ck_assert_int_eq(aio_loop_add_writer(loop, b, count_cb, &n), 0);
    ck_assert_int_eq(al_loop_free(loop), 0);
    ck_assert_int_eq(ac_open_fds(), before + 2);
    ck_assert_int_ge(fcntl(a, F_GETFD), 0);
    close(a);
    close(b);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

static int wake_thread_cb(al_loop *loop, void *arg)
{
    *(int *)arg = 1;
    al_loop_stop(loop);
    return 0;
}

static void *wake_from_thread(void *arg)
{
    al_loop *loop = arg;
    ac_sleep_ms(20);
    static int flag;
    al_call_soon_threadsafe(loop, wake_thread_cb, &flag);
    return &flag;
}

/* A thread-safe call wakes the loop out of a select with no timeout. */
START_TEST(test_threadsafe_call_wakes_select)
{
    al_loop *loop = ac_loop_new();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, wake_from_thread, loop), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    void *flag;
    pthread_join(th, &flag);
    ck_assert_int_eq(*(int *)flag, 1);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

AL_TEST_SUITE(suite_readers)
{
    ac_require_backend();
    Suite *s = suite_create("readers");
    TCase *tc = al_tcase("readers");
    tcase_add_test(tc, test_reader_callback);
    tcase_add_test(tc, test_writer_callback);
    tcase_add_test(tc, test_readd_replaces_keeps_other_direction);
    tcase_add_test(tc, test_removed_reader_due_this_iteration_does_not_run);
    tcase_add_test(tc, test_fds_after_closing);
    tcase_add_test(tc, test_pure_loop_refuses_io);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_closed_fd_then_reused_number);
    tcase_add_test(tc, test_reused_number_within_one_iteration);
    tcase_add_test(tc, test_reused_number_after_sock_wait);
    tcase_add_test(tc, test_reused_number_in_a_quiet_loop);
    tcase_add_test(tc, test_reused_number_in_a_busy_loop);
    tcase_add_test(tc, test_reused_number_old_file_duplicated);
    tcase_add_test(tc, test_close_releases_everything);
    tcase_add_test(tc, test_threadsafe_call_wakes_select);
    suite_add_tcase(s, tc);
    return s;
}

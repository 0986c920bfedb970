/* Living inside another loop: a plain epoll loop drives the I/O loop with
 * aio_loop_fd (watched for reading), aio_loop_timeout (how long it may
 * sleep) and aio_loop_run_nowait (one iteration that does not block), as
 * a GUI or libuv program would (uv_backend_fd / uv_backend_timeout). */
#include "aio_conf.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct exchange {
    int a, b;
    char got[16];
    ssize_t n;
} exchange;

static int recv_task(void *arg, void **result)
{
    (void)result;
    exchange *x = arg;
    x->n = aio_sock_recv_into(al_get_running_loop(), x->a, x->got, sizeof x->got);
    return x->n < 0 ? (int)x->n : 0;
}

static int write_later(al_loop *loop, void *arg)
{
    (void)loop;
    exchange *x = arg;
    ck_assert_int_eq(write(x->b, "hosted", 6), 6);
    return 0;
}

static int set_flag(al_loop *loop, void *arg)
{
    (void)loop;
    *(int *)arg = 1;
    return 0;
}

static void *threadsafe_later(void *arg)
{
    ac_sleep_ms(30);
    static int flag;
    al_call_soon_threadsafe(arg, set_flag, &flag);
    return &flag;
}

/* The host's wait on its epoll set: the number of ready entries (0 or 1).
 * EINTR is retried, as every event loop does: with io_uring a completion
 * runs as task work of the thread and interrupts its wait. */
static int host_wait(int host, int ms)
{
    struct epoll_event ev;
    for (int tries = 0; tries < 100; tries++) {
        int n = epoll_wait(host, &ev, 1, ms);
        if (n >= 0 || errno != EINTR)
            return n;
    }
    return -1;
}

/* The host: epoll_wait on the loop's fd with the loop's timeout, then one
 * non-blocking iteration; returns the number of host iterations. */
static int host_until(al_loop *loop, int host, bool (*done)(void *), void *arg)
{
    int iterations = 0;
    while (!done(arg)) {
        ck_assert_int_lt(++iterations, 200); /* bounded: no spinning */
        double t = aio_loop_timeout(loop);
        ck_assert(!isnan(t));
        int ms = t < 0 ? 2000 : (int)ceil(t * 1000);
        int n = host_wait(host, ms);
        ck_assert_int_ge(n, 0);
        ck_assert_int_eq(aio_loop_run_nowait(loop), 0);
    }
    return iterations;
}

static bool task_done(void *arg)
{
    return al_future_done(al_task_future(arg));
}

static bool flag_set(void *arg)
{
    return **(int **)arg != 0;
}

/* The host: an epoll set watching the loop's fd for reading. */
static int host_watching(int fd)
{
    int host = epoll_create1(EPOLL_CLOEXEC);
    ck_assert_int_ge(host, 0);
    struct epoll_event ev = {.events = EPOLLIN};
    ck_assert_int_eq(epoll_ctl(host, EPOLL_CTL_ADD, fd, &ev), 0);
    return host;
}

START_TEST(test_driven_by_a_plain_epoll_loop)
{
    al_loop *loop = ac_loop_new();
    int fd = aio_loop_fd(loop);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(aio_loop_fd(loop), fd); /* one fd for the loop's life */
    int host = host_watching(fd);

    /* Nothing to do: the host may sleep without limit. */
    ck_assert(aio_loop_timeout(loop) < 0);

    /* A task waiting in sock_recv, woken by a timer's write 50 ms later. */
    exchange x;
    ac_socketpair(&x.a, &x.b);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, recv_task, &x, NULL, &t), 0);
    ck_assert(aio_loop_timeout(loop) == 0); /* its first step is ready */
    ck_assert_int_eq(al_call_later(loop, 0.05, write_later, &x, NULL), 0);
    int iterations = host_until(loop, host, task_done, t);
    ck_assert_int_le(iterations, 20);
    ck_assert_int_eq(al_future_error(al_task_future(t)), 0);
    ck_assert_int_eq(x.n, 6);
    ck_assert(memcmp(x.got, "hosted", 6) == 0);
    al_task_unref(t);

    /* A timer alone: the timeout says when. */
    int fired = 0;
    ck_assert_int_eq(al_call_later(loop, 0.2, set_flag, &fired, NULL), 0);
    double t0 = aio_loop_timeout(loop);
    ck_assert_msg(t0 > 0.1 && t0 <= 0.2, "timeout %.3f", t0);
    int *pf = &fired;
    ck_assert_int_le(host_until(loop, host, flag_set, &pf), 10);

    /* Another thread's call wakes the host through the loop's fd. */
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, threadsafe_later, loop), 0);
    void *flag;
    pthread_join(th, &flag);
    ck_assert_int_eq(host_wait(host, 2000), 1);
    ck_assert_int_eq(aio_loop_run_nowait(loop), 0);
    ck_assert_int_eq(*(int *)flag, 1);

    close(x.a);
    close(x.b);
    close(host);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

typedef struct hosted_reader {
    int fd;
    char got[16];
    size_t len;
    int eof;
} hosted_reader;

static int hosted_read(al_loop *loop, void *arg)
{
    hosted_reader *r = arg;
    ssize_t n = read(r->fd, r->got + r->len, sizeof r->got - r->len);
    if (n > 0) {
        r->len += (size_t)n;
        return 0;
    }
    if (n < 0 && errno == EAGAIN)
        return 0;
    r->eof = 1;
    ck_assert_int_eq(aio_loop_remove_reader(loop, r->fd), 1);
    return 0;
}

static bool reader_eof(void *arg)
{
    return ((hosted_reader *)arg)->eof;
}

/* A removal taken back while hosted (the number closed and reused in
 * between): the host's fd watches the new file too, and a sock_* call's
 * wait after another on the same file still works. */
START_TEST(test_hosted_reused_number)
{
    al_loop *loop = ac_loop_new();
    int fd = aio_loop_fd(loop);
    ck_assert_int_ge(fd, 0);
    int host = host_watching(fd);

    int a, b, n = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, set_flag, &n), 0);
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 1);
    close(a);
    close(b);
    hosted_reader r = {0};
    int d;
    ac_socketpair(&r.fd, &d);
    ck_assert_int_eq(r.fd, a);
    ck_assert_int_eq(aio_loop_add_reader(loop, r.fd, hosted_read, &r), 0);
    ck_assert_int_eq(write(d, "again", 5), 5);
    close(d);
    ck_assert_int_le(host_until(loop, host, reader_eof, &r), 20);
    ck_assert_uint_eq(r.len, 5);
    ck_assert(memcmp(r.got, "again", 5) == 0);
    ck_assert_int_eq(n, 0);
    close(r.fd);

    /* Two waits in a row on one file: the second takes the first's
     * registration back. */
    for (int round = 0; round < 2; round++) {
        exchange x;
        ac_socketpair(&x.a, &x.b);
        for (int k = 0; k < 2; k++) {
            al_task *t;
            ck_assert_int_eq(al_task_new(loop, recv_task, &x, NULL, &t), 0);
            ck_assert_int_eq(al_call_later(loop, 0.01, write_later, &x, NULL), 0);
            ck_assert_int_le(host_until(loop, host, task_done, t), 20);
            ck_assert_int_eq(al_future_error(al_task_future(t)), 0);
            ck_assert_int_eq(x.n, 6);
            al_task_unref(t);
        }
        close(x.a);
        close(x.b);
    }
    close(host);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* The host may sleep: within a few rounds (a spurious wakeup is legal, a
 * busy one is not) the timeout says "no limit" and the fd is quiet. */
static void hosted_quiet(al_loop *loop, int host)
{
    for (int round = 0; round < 5; round++) {
        double t = aio_loop_timeout(loop);
        if (t < 0 && host_wait(host, 0) == 0)
            return;
        ck_assert_int_eq(aio_loop_run_nowait(loop), 0);
    }
    ck_abort_msg("%s: the host is kept awake with nothing to do", aio_loop_backend(loop));
}

static void *write_soon(void *arg)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(write(*(int *)arg, "t", 1), 1);
    return NULL;
}

/* Registrations made after the host took the fd (the selector's own fd or
 * the mirror): a reader woken by another thread's write while the host
 * sleeps with no time limit, a writer added and removed on the same fd, a
 * regular file (always ready), and quiet again once all are removed. */
START_TEST(test_hosted_changes_after_the_fd)
{
    al_loop *loop = ac_loop_new();
    int fd = aio_loop_fd(loop);
    ck_assert_int_ge(fd, 0);
    int host = host_watching(fd);
    hosted_quiet(loop, host);

    hosted_reader r = {0};
    int d;
    ac_socketpair(&r.fd, &d);
    ck_assert_int_eq(aio_loop_add_reader(loop, r.fd, hosted_read, &r), 0);
    ck_assert(aio_loop_timeout(loop) < 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, write_soon, &d), 0);
    ck_assert_int_eq(host_wait(host, 5000), 1); /* readiness, not a timer */
    pthread_join(th, NULL);
    for (int round = 0; round < 5 && r.len == 0; round++) {
        ck_assert_int_eq(aio_loop_run_nowait(loop), 0);
        if (r.len == 0) /* spurious: wait again */
            ck_assert_int_le(host_wait(host, aio_loop_timeout(loop) < 0 ? 2000 : 0), 1);
    }
    ck_assert_uint_eq(r.len, 1);

    int wrote = 0, *pw = &wrote;
    ck_assert_int_eq(aio_loop_add_writer(loop, r.fd, set_flag, &wrote), 0);
    ck_assert_int_le(host_until(loop, host, flag_set, &pw), 5);
    ck_assert_int_eq(aio_loop_remove_writer(loop, r.fd), 1);
    hosted_quiet(loop, host);

    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    for (int round = 0; round < 3; round++) {
        int seen = 0, *ps = &seen;
        ck_assert_int_eq(aio_loop_add_reader(loop, fileno(f), set_flag, &seen), 0);
        ck_assert_int_le(host_until(loop, host, flag_set, &ps), 5);
        ck_assert_int_eq(aio_loop_remove_reader(loop, fileno(f)), 1);
    }
    ck_assert_int_eq(aio_loop_remove_reader(loop, r.fd), 1);
    hosted_quiet(loop, host);

    fclose(f);
    close(r.fd);
    close(d);
    close(host);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

START_TEST(test_embedding_refusals)
{
    al_loop *pure = al_loop_new();
    ck_assert_int_eq(aio_loop_fd(pure), AL_ENOTIOLOOP);
    ck_assert(isnan(aio_loop_timeout(pure)));
    ck_assert_int_eq(aio_loop_run_nowait(pure), AL_ENOTIOLOOP);
    ck_assert_int_eq(al_loop_free(pure), 0);
    al_loop *loop = ac_loop_new();
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_eq(aio_loop_fd(loop), AL_ELOOPCLOSED);
    ck_assert_int_eq(aio_loop_run_nowait(loop), AL_ELOOPCLOSED);
    ck_assert(isnan(aio_loop_timeout(loop)));
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

AL_TEST_SUITE(suite_embed)
{
    ac_require_backend();
    Suite *s = suite_create("embed");
    TCase *tc = al_tcase("embed");
    tcase_add_test(tc, test_driven_by_a_plain_epoll_loop);
    tcase_add_test(tc, test_hosted_reused_number);
    tcase_add_test(tc, test_hosted_changes_after_the_fd);
    tcase_add_test(tc, test_embedding_refusals);
    suite_add_tcase(s, tc);
    return s;
}

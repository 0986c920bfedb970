/* Signal handlers as loop callbacks: they run on the loop, the previous
 * disposition comes back, bad numbers are refused, a storm of signals
 * during a blocked sock_recv loses nothing, executor threads may take
 * them. */
#include "aio_conf.h"

#include <asyncio/signals.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sig_count {
    al_loop *loop;
    int calls;
    int on_loop; /* every call ran on the loop's thread, inside the loop */
    int stop_after;
} sig_count;

static int on_sig(al_loop *loop, void *arg)
{
    sig_count *c = arg;
    c->calls++;
    if (al_get_running_loop() != loop || loop != c->loop)
        c->on_loop = 0;
    if (c->stop_after && c->calls >= c->stop_after)
        al_loop_stop(loop);
    return 0;
}

/* The task's loop handles SIGUSR1 with on_sig counting in c. */
static al_loop *count_sigusr1(sig_count *c)
{
    al_loop *loop = ac_loop();
    c->loop = loop;
    c->on_loop = 1;
    ck_assert_int_eq(aio_loop_add_signal_handler(loop, SIGUSR1, on_sig, c), 0);
    return loop;
}

/* Task: waits (a bound, not a timing) until c counted a call. */
static void wait_first_call(sig_count *c)
{
    for (int i = 0; i < 100 && c->calls == 0; i++)
        ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_gt(c->calls, 0);
}

START_TEST(test_handler_runs_as_callback)
{
    al_loop *loop = ac_loop_new();
    sig_count c = {.loop = loop, .on_loop = 1, .stop_after = 1};
    ck_assert_int_eq(aio_loop_add_signal_handler(loop, SIGUSR1, on_sig, &c), 0);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert_int_eq(c.calls, 1);
    ck_assert(c.on_loop);
    ck_assert_int_eq(aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    ck_assert_int_eq(aio_loop_remove_signal_handler(loop, SIGUSR1), 0);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

static void (*disposition(int sig))(int)
{
    struct sigaction cur;
    ck_assert_int_eq(sigaction(sig, NULL, &cur), 0);
    return cur.sa_handler;
}

START_TEST(test_previous_disposition_restored)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    ck_assert_int_eq(sigaction(SIGUSR2, &ign, &old), 0);
    al_loop *loop = ac_loop_new(), *other = ac_loop_new();
    sig_count c = {.loop = loop}, d = {.loop = loop};
    ck_assert_int_eq(aio_loop_add_signal_handler(loop, SIGUSR2, on_sig, &c), 0);
    ck_assert(disposition(SIGUSR2) != SIG_IGN);
    /* Replacing the callback keeps the original previous disposition. */
    ck_assert_int_eq(aio_loop_add_signal_handler(loop, SIGUSR2, on_sig, &d), 0);
    /* One loop per signal. */
    ck_assert_int_eq(aio_loop_add_signal_handler(other, SIGUSR2, on_sig, &c), AIO_ESIGNALOWNER);
    ck_assert_int_eq(aio_loop_remove_signal_handler(other, SIGUSR2), 0);
    ck_assert_int_eq(aio_loop_remove_signal_handler(loop, SIGUSR2), 1);
    ck_assert(disposition(SIGUSR2) == SIG_IGN);
    /* Closing the loop restores too. */
    ck_assert_int_eq(aio_loop_add_signal_handler(other, SIGUSR2, on_sig, &c), 0);
    ck_assert(disposition(SIGUSR2) != SIG_IGN);
    ck_assert_int_eq(al_loop_close(other), 0);
    ck_assert(disposition(SIGUSR2) == SIG_IGN);
    ck_assert_int_eq(aio_loop_remove_signal_handler(other, SIGUSR2), 0);
    ck_assert_int_eq(aio_loop_add_signal_handler(other, SIGUSR2, on_sig, &c), AL_ELOOPCLOSED);
    ck_assert_int_eq(al_loop_free(other), 0);
    ck_assert_int_eq(al_loop_free(loop), 0);
    sigaction(SIGUSR2, &old, NULL);
}
END_TEST

START_TEST(test_bad_signals_refused)
{
    al_loop *loop = ac_loop_new();
    sig_count c = {.loop = loop};
    const int bad[] = {SIGKILL, SIGSTOP, 0, -1, NSIG, NSIG + 100};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(aio_loop_add_signal_handler(loop, bad[i], on_sig, &c), AIO_ESIGNAL);
        ck_assert_int_eq(aio_loop_remove_signal_handler(loop, bad[i]), AIO_ESIGNAL);
    }
    ck_assert(disposition(SIGKILL) == SIG_DFL);
    ck_assert_int_eq(aio_loop_add_signal_handler(loop, SIGUSR1, NULL, &c), -EINVAL);
    ck_assert(disposition(SIGUSR1) == SIG_DFL);
    al_loop *pure = al_loop_new();
    ck_assert_int_eq(aio_loop_add_signal_handler(pure, SIGUSR1, on_sig, &c), AL_ENOTIOLOOP);
    ck_assert_int_eq(al_loop_free(pure), 0);
    ck_assert_str_eq(aio_err_name(AIO_ESIGNAL), "AIO_ESIGNAL");
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* ---- a storm during a blocked sock_recv ------------------------------------ */

#define STORM_BYTES (64 * 1024)

typedef struct storm {
    int peer;
    int signals_sent;
} storm;

static void *storm_thread(void *arg)
{
    storm *s = arg;
    char chunk[1024];
    memset(chunk, 's', sizeof chunk);
    for (int i = 0; i < STORM_BYTES / (int)sizeof chunk; i++) {
        for (int k = 0; k < 30; k++) {
            kill(getpid(), SIGUSR1);
            s->signals_sent++;
        }
        if (i % 8 == 0)
            ac_sleep_ms(1);
        size_t off = 0;
        while (off < sizeof chunk) {
            ssize_t n = write(s->peer, chunk + off, sizeof chunk - off);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EINTR && errno != EAGAIN)
                return NULL;
            else
                ac_sleep_ms(1);
        }
    }
    return NULL;
}

static int storm_main(void *arg, void **result)
{
    (void)result;
    sig_count *c = arg;
    al_loop *loop = count_sigusr1(c);
    int a, b;
    ac_socketpair(&a, &b);
    storm s = {.peer = b};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, storm_thread, &s), 0);
    char *got = malloc(STORM_BYTES);
    size_t n = 0;
    while (n < STORM_BYTES) {
        ssize_t k = aio_sock_recv_into(loop, a, got + n, STORM_BYTES - n);
        ck_assert_msg(k > 0, "recv during the storm: %zd (%s)", k, aio_strerror((int)k));
        n += (size_t)k;
    }
    pthread_join(th, NULL);
    for (size_t i = 0; i < STORM_BYTES; i++)
        ck_assert_int_eq(got[i], 's');
    ck_assert_int_eq(recv(a, got, 1, MSG_DONTWAIT), -1); /* nothing more, nothing lost */
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_gt(c->calls, 0);
    ck_assert_int_le(c->calls, s.signals_sent);
    ck_assert(c->on_loop);
    ck_assert_int_eq(aio_loop_remove_signal_handler(loop, SIGUSR1), 1);
    free(got);
    close(a);
    close(b);
    return 0;
}

START_TEST(test_signal_storm_during_recv)
{
    sig_count c = {0};
    ac_run_main(storm_main, &c);
}
END_TEST

/* ---- with executor threads running ---------------------------------------- */

static int slow_work(void *arg, void **result)
{
    (void)arg;
    /* A blocking call in a pool thread that may take the signal. */
    struct timespec ts = {0, 200 * 1000 * 1000};
    int interrupted = 0;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        interrupted++;
    *result = AC_VP(interrupted + 1);
    return 0;
}

static int executor_main(void *arg, void **result)
{
    (void)result;
    sig_count *c = arg;
    al_loop *loop = count_sigusr1(c);
    al_future *jobs[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(al_loop_run_in_executor(loop, slow_work, NULL, NULL, &jobs[i]), 0);
    ck_assert_int_eq(al_sleep(0.02), 0);
    for (int i = 0; i < 50; i++)
        kill(getpid(), SIGUSR1);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(al_await(jobs[i]), 0);
        void *v;
        ck_assert_int_eq(al_future_result(jobs[i], &v), 0);
        ck_assert_int_ge(AC_PV(v), 1);
        al_future_unref(jobs[i]);
    }
    wait_first_call(c);
    ck_assert(c->on_loop);
    return 0;
}

START_TEST(test_signals_with_executor_threads)
{
    sig_count c = {0};
    ac_run_main(executor_main, &c);
}
END_TEST

/* SA_RESTART: a blocking read in a pool thread that takes the signals is
 * restarted, not broken with EINTR. */
typedef struct blocking_read {
    int fd;
    int eintr;
} blocking_read;

static int read_work(void *arg, void **result)
{
    blocking_read *b = arg;
    char c;
    ssize_t n = read(b->fd, &c, 1); /* blocks until the loop writes */
    if (n < 0 && errno == EINTR)
        b->eintr = 1;
    *result = AC_VP(n == 1 ? c : -1);
    return 0;
}

static int restart_main(void *arg, void **result)
{
    (void)result;
    sig_count *c = arg;
    al_loop *loop = count_sigusr1(c);
    int p[2];
    ck_assert_int_eq(pipe(p), 0); /* blocking */
    blocking_read b = {.fd = p[0]};
    al_future *job;
    ck_assert_int_eq(al_loop_run_in_executor(loop, read_work, &b, NULL, &job), 0);
    ck_assert_int_eq(al_sleep(0.02), 0);
    /* Only the pool thread may take SIGUSR1 now: the loop's thread blocks it. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    for (int i = 0; i < 20; i++) {
        kill(getpid(), SIGUSR1);
        ac_sleep_ms(1);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    ck_assert_int_eq(write(p[1], "r", 1), 1);
    ck_assert_int_eq(al_await(job), 0);
    void *v;
    ck_assert_int_eq(al_future_result(job, &v), 0);
    ck_assert_int_eq(AC_PV(v), 'r');
    ck_assert_int_eq(b.eintr, 0);
    al_future_unref(job);
    wait_first_call(c);
    close(p[0]);
    close(p[1]);
    return 0;
}

START_TEST(test_sa_restart_in_pool_threads)
{
    sig_count c = {0};
    ac_run_main(restart_main, &c);
}
END_TEST

AL_TEST_SUITE(suite_signals)
{
    ac_require_backend();
    Suite *s = suite_create("signals");
    TCase *tc = al_tcase("signals");
    tcase_add_test(tc, test_handler_runs_as_callback);
    tcase_add_test(tc, test_previous_disposition_restored);
    tcase_add_test(tc, test_bad_signals_refused);
    tcase_add_test(tc, test_signal_storm_during_recv);
    tcase_add_test(tc, test_signals_with_executor_threads);
    tcase_add_test(tc, test_sa_restart_in_pool_threads);
    suite_add_tcase(s, tc);
    return s;
}

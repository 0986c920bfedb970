/* asyncio-bench: what the I/O loop and its tasks cost over raw selector
 * calls, on every backend.
 *
 * The exchange: 64-byte ping-pong over an AF_UNIX socketpair.
 *   loop:    two tasks on an I/O loop, aio_sock_sendall + aio_sock_recv_into
 *            (each side tries the call, waits for readiness on EAGAIN);
 *   raw:     the same exchange with sel_select / read / write on a selector
 *            holding both ends (no loop, no tasks, no futures): the least
 *            system calls, 6 per round trip;
 *   raw_try: raw, but each side tries its read before selecting, as the
 *            socket coroutines do (asyncio's sock_recv): 8 per round trip.
 * Rounds alternate the three so that they see the same machine; the
 * medians are reported as `name value unit` lines:
 *   pingpong.BACKEND.raw | .raw_try | .loop   round trips per CPU second
 *   pingpong.BACKEND.overhead      %  (raw / loop - 1: the extra time per trip)
 *   pingpong.BACKEND.overhead_try  %  (raw_try / loop - 1)
 */
#include <asyncio/asyncio.h>
#include <selectors/selectors.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

static double round_seconds = 0.3;
static int rounds = 7;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: the rates are round trips per CPU second, so
 * that other processes on a loaded machine do not blur the comparison
 * (every variant runs on this one thread). */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

_Noreturn static void die(const char *what, int rc)
{
    fprintf(stderr, "asyncio-bench: %s: %s\n", what, aio_strerror(rc));
    exit(1);
}

static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair", -errno);
}

/* ---- raw selector calls ----------------------------------------------------- */

static void read_msg(int fd, char *buf)
{
    size_t n = 0;
    while (n < MSG) {
        ssize_t k = read(fd, buf + n, MSG - n);
        if (k <= 0)
            die("read", k < 0 ? -errno : -EPIPE);
        n += (size_t)k;
    }
}

/* raw: both ends always registered; a ready end reads, counts, answers.
 * try_first: after answering it also tries to read at once, as the
 * socket coroutines do, which finds nothing (the peer has not run). */
static double raw_pingpong(const char *backend, bool try_first)
{
    sel_selector *sel;
    int rc = sel_open(&sel, backend);
    if (rc < 0)
        die(backend, rc);
    int sv[2];
    pair(sv);
    sel_register(sel, sv[0], SEL_READ, NULL);
    sel_register(sel, sv[1], SEL_READ, NULL);
    char buf[MSG] = {0};
    if (write(sv[0], buf, MSG) != MSG)
        die("write", -errno);
    long trips = 0;
    sel_event out[4];
    double t0 = now(), c0 = cpu();
    do {
        for (int i = 0; i < 256; i++) {
            int k = sel_select(sel, 1, out, 4);
            for (int j = 0; j < k; j++) {
                int fd = out[j].fd;
                read_msg(fd, buf);
                if (fd == sv[0])
                    trips++;
                if (write(fd, buf, MSG) != MSG)
                    die("write", -errno);
                if (try_first && (recv(fd, buf, MSG, MSG_DONTWAIT) >= 0 || errno != EAGAIN))
                    die("recv", -EPROTO); /* the peer cannot have answered yet */
            }
        }
    } while (now() - t0 < round_seconds);
    double c = cpu() - c0;
    sel_free(sel);
    close(sv[0]);
    close(sv[1]);
    return (double)trips / c;
}

/* ---- the I/O loop and two tasks ------------------------------------------------ */

typedef struct side {
    int fd;
    int pinger;
    long trips;
    double deadline;
    volatile int *stop;
} side;

static int recv_msg(al_loop *loop, int fd, char *buf)
{
    size_t n = 0;
    while (n < MSG) {
        ssize_t k = aio_sock_recv_into(loop, fd, buf + n, MSG - n);
        if (k <= 0)
            return k < 0 ? (int)k : -EPIPE;
        n += (size_t)k;
    }
    return 0;
}

static int side_task(void *arg, void **result)
{
    (void)result;
    side *s = arg;
    al_loop *loop = al_get_running_loop();
    char buf[MSG] = {0};
    int rc = 0;
    if (s->pinger)
        rc = aio_sock_sendall(loop, s->fd, buf, MSG, NULL);
    while (rc == 0) {
        if ((rc = recv_msg(loop, s->fd, buf)) < 0)
            break;
        if (s->pinger && (++s->trips & 255) == 0 && now() >= s->deadline) {
            *s->stop = 1;
            shutdown(s->fd, SHUT_WR); /* the other side sees EOF */
            break;
        }
        rc = aio_sock_sendall(loop, s->fd, buf, MSG, NULL);
    }
    return *s->stop ? 0 : rc;
}

static double loop_pingpong(const char *backend)
{
    al_loop *loop;
    int rc = aio_loop_new(backend, &loop);
    if (rc < 0)
        die(backend, rc);
    int sv[2];
    pair(sv);
    volatile int stop = 0;
    double t0 = now(), c0 = cpu();
    side a = {.fd = sv[0], .pinger = 1, .deadline = t0 + round_seconds, .stop = &stop};
    side b = {.fd = sv[1], .stop = &stop};
    al_task *ta, *tb;
    if ((rc = al_task_new(loop, side_task, &a, NULL, &ta)) < 0 ||
        (rc = al_task_new(loop, side_task, &b, NULL, &tb)) < 0)
        die("al_task_new", rc);
    al_loop_run_until_complete(loop, al_task_future(ta));
    double c = cpu() - c0;
    al_loop_run_until_complete(loop, al_task_future(tb));
    if ((rc = al_future_error(al_task_future(ta))) < 0)
        die("pinger", rc);
    al_task_unref(ta);
    al_task_unref(tb);
    al_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
    return (double)a.trips / c;
}

static int by_value(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
    printf("asyncio-bench: the I/O loop and its tasks against raw selector calls.\n\n"
           "Usage: asyncio-bench [BACKEND...]\n\n"
           "Per backend: 64-byte ping-pong over a socketpair, between two tasks with\n"
           "aio_sock_sendall/aio_sock_recv_into on an I/O loop (loop), with sel_select +\n"
           "read/write on a bare selector (raw), and the same trying each read before\n"
           "selecting as the coroutines do (raw_try); rounds interleaved, medians\n"
           "printed as `name value unit` lines (pingpong.BACKEND.raw, .raw_try, .loop\n"
           "in round trips per CPU second; .overhead, .overhead_try in %%). Default: select poll\n"
           "epoll libev io_uring (those that open here).\n\n"
           "Options:\n"
           "  -h, --help   print this help and exit\n\n"
           "Environment:\n"
           "  AIO_BENCH_SECONDS  seconds per round (default 0.3)\n"
           "  AIO_BENCH_ROUNDS   rounds of each kind (default 7)\n"
           "  AIO_BENCH_ONLY     raw, raw_try or loop: run only that kind (to profile it;\n"
           "                     the others then print 1)\n\n"
           "Example:\n"
           "  AIO_BENCH_ROUNDS=9 asyncio-bench epoll libev\n");
}

int main(int argc, char **argv)
{
    const char *env = getenv("AIO_BENCH_SECONDS");
    if (env && atof(env) > 0)
        round_seconds = atof(env);
    const char *only = getenv("AIO_BENCH_ONLY");
    if (only && strcmp(only, "raw") != 0 && strcmp(only, "raw_try") != 0 &&
        strcmp(only, "loop") != 0) {
        fprintf(stderr, "asyncio-bench: AIO_BENCH_ONLY must be raw, raw_try or loop\n");
        return 2;
    }
    env = getenv("AIO_BENCH_ROUNDS");
    if (env && atoi(env) > 0)
        rounds = atoi(env) > 99 ? 99 : atoi(env);
    static const char *defaults[] = {"select", "poll", "epoll", "libev", "io_uring"};
    const char *names[32];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "asyncio-bench: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (n == 32) {
            fprintf(stderr, "asyncio-bench: at most 32 backends\n");
            return 2;
        }
        names[n++] = argv[i];
    }
    bool named = n > 0;
    if (!named)
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            names[n++] = defaults[i];
    for (int i = 0; i < n; i++) {
        sel_selector *probe;
        int rc = sel_open(&probe, names[i]);
        if (rc < 0) {
            if (named) {
                fprintf(stderr, "asyncio-bench: backend '%s': %s\n", names[i], sel_strerror(rc));
                return 2;
            }
            printf("# %s: unavailable here: %s\n", names[i], sel_strerror(rc));
            continue;
        }
        sel_free(probe);
        double raw[99], raw_try[99], io[99];
        for (int r = 0; r < rounds; r++) {
            raw[r] = !only || strcmp(only, "raw") == 0 ? raw_pingpong(names[i], false) : 1;
            raw_try[r] = !only || strcmp(only, "raw_try") == 0 ? raw_pingpong(names[i], true) : 1;
            io[r] = !only || strcmp(only, "loop") == 0 ? loop_pingpong(names[i]) : 1;
        }
        double mr = median(raw, rounds), mt = median(raw_try, rounds), ml = median(io, rounds);
        printf("pingpong.%s.raw %.0f round_trips/cpu_s\n", names[i], mr);
        printf("pingpong.%s.raw_try %.0f round_trips/cpu_s\n", names[i], mt);
        printf("pingpong.%s.loop %.0f round_trips/cpu_s\n", names[i], ml);
        printf("pingpong.%s.overhead %.1f %%\n", names[i], (mr / ml - 1) * 100);
        printf("pingpong.%s.overhead_try %.1f %%\n", names[i], (mt / ml - 1) * 100);
        fflush(stdout);
    }
    return 0;
}

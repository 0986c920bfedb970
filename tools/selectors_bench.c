/* selectors-bench: one table comparing the selector backends.
 *
 * Per backend: register+unregister cost of one fd (ns); sel_select with N
 * registered fds of which one is ready, N = 10, 1000, 10000 (µs per call,
 * timeout 1 s but never waited: level-triggered, the ready fd stays ready);
 * a ping-pong over a socketpair, both ends in the same selector (round trips
 * per second). select cannot hold 10 000 fds (FD_SETSIZE): "n/a".
 *
 *   selectors-bench [BACKEND...]     default: every backend of sel_backends()
 *   SEL_BENCH_SECONDS=0.3            time spent per measurement
 * A name that is not a backend, or one that cannot open here, is an error
 * (exit 2) before anything is measured; --help prints the usage.
 */
#include <selectors/selectors.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double bench_seconds = 0.3;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "selectors-bench: %s: %s\n", what, rc < 0 ? sel_strerror(rc) : strerror(rc));
    exit(1);
}

static sel_selector *open_or_die(const char *name)
{
    sel_selector *sel;
    int rc = sel_open(&sel, name);
    if (rc < 0)
        die(name, rc);
    return sel;
}

/* ns per register+unregister pair. */
static double bench_register(const char *name)
{
    sel_selector *sel = open_or_die(name);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        die("socketpair", errno);
    long iters = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 1000; i++) {
            sel_register(sel, sv[0], SEL_READ, NULL);
            sel_unregister(sel, sv[0]);
        }
        iters += 1000;
    } while ((t = now() - t0) < bench_seconds);
    sel_free(sel);
    close(sv[0]);
    close(sv[1]);
    return t / (double)iters * 1e9;
}

/* µs per sel_select with n registered fds, one of them ready; < 0: n/a. */
static double bench_select(const char *name, int n)
{
    if (strcmp(name, "select") == 0 && n + 16 > FD_SETSIZE)
        return -1;
    sel_selector *sel = open_or_die(name);
    int npairs = (n + 1) / 2;
    int(*sv)[2] = calloc((size_t)npairs, sizeof *sv);
    int registered = 0;
    for (int i = 0; i < npairs; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[i]) < 0)
            die("socketpair", errno);
        for (int k = 0; k < 2 && registered < n; k++, registered++) {
            int rc = sel_register(sel, sv[i][k], SEL_READ, NULL);
            if (rc < 0)
                die("sel_register", rc);
        }
    }
    /* The ready fd is in the middle of the fd range. */
    if (write(sv[npairs / 2][1], "x", 1) != 1)
        die("write", errno);
    sel_event out[16];
    for (int i = 0; i < 10; i++) /* warm up (arms io_uring polls, ...) */
        sel_select(sel, 1, out, 16);
    long iters = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 100; i++) {
            int k = sel_select(sel, 1, out, 16);
            if (k != 1) {
                fprintf(stderr, "selectors-bench: %s: %d results, expected 1\n", name, k);
                exit(1);
            }
        }
        iters += 100;
    } while ((t = now() - t0) < bench_seconds);
    sel_free(sel);
    for (int i = 0; i < npairs; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
    free(sv);
    return t / (double)iters * 1e6;
}

/* Round trips per second: a writes, b wakes and answers, a wakes. */
static double bench_pingpong(const char *name)
{
    sel_selector *sel = open_or_die(name);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        die("socketpair", errno);
    sel_register(sel, sv[0], SEL_READ, NULL);
    sel_register(sel, sv[1], SEL_READ, NULL);
    char c = 'x';
    if (write(sv[0], &c, 1) != 1)
        die("write", errno);
    long trips = 0;
    double t0 = now(), t;
    sel_event out[4];
    do {
        for (int i = 0; i < 200; i++) {
            int k = sel_select(sel, 1, out, 4);
            for (int j = 0; j < k; j++) {
                if (read(out[j].fd, &c, 1) != 1)
                    die("read", errno);
                if (out[j].fd == sv[0])
                    trips++;
                if (write(out[j].fd, &c, 1) != 1)
                    die("write", errno);
            }
        }
    } while ((t = now() - t0) < bench_seconds);
    sel_free(sel);
    close(sv[0]);
    close(sv[1]);
    return (double)trips / t;
}

static void raise_nofile(long n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (long)rl.rlim_cur < n) {
        rl.rlim_cur =
            rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max >= n ? (rlim_t)n : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void usage(void)
{
    printf("selectors-bench: compares the selector backends in one Markdown table.\n\n"
           "Usage: selectors-bench [BACKEND...]\n\n"
           "Per backend: register+unregister of one fd (ns); sel_select with 10,\n"
           "1000 and 10000 registered fds, one ready (us per call); a socketpair\n"
           "ping-pong (round trips/s). Default: every backend of sel_backends().\n\n"
           "Options:\n"
           "  -h, --help   print this help and exit\n\n"
           "Environment:\n"
           "  SEL_BENCH_SECONDS  seconds per measurement (default 0.3)\n\n"
           "Example:\n"
           "  SEL_BENCH_SECONDS=0.5 selectors-bench epoll libev\n");
}

int main(int argc, char **argv)
{
    const char *env = getenv("SEL_BENCH_SECONDS");
    if (env && atof(env) > 0)
        bench_seconds = atof(env);

    const char *names[32];
    int n;
    if (argc > 1) {
        if (argc - 1 > 32) {
            fprintf(stderr, "selectors-bench: at most 32 backends\n");
            return 2;
        }
        n = argc - 1;
        for (int i = 0; i < n; i++) {
            const char *name = argv[i + 1];
            if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
                usage();
                return 0;
            }
            if (name[0] == '-') {
                fprintf(stderr, "selectors-bench: unknown option '%s' (see --help)\n", name);
                return 2;
            }
            names[i] = name;
        }
        /* Every backend named must open here, before anything is measured. */
        for (int i = 0; i < n; i++) {
            sel_selector *probe;
            int rc = sel_open(&probe, names[i]);
            if (rc < 0) {
                const char *all[32];
                int k = sel_backends(all, 32);
                fprintf(stderr, "selectors-bench: backend '%s': %s; available here:", names[i],
                        sel_strerror(rc));
                for (int j = 0; j < k && j < 32; j++)
                    fprintf(stderr, " %s", all[j]);
                fprintf(stderr, "\n");
                return 2;
            }
            sel_free(probe);
        }
    } else {
        n = sel_backends(names, 32);
        if (n > 32)
            n = 32;
    }
    raise_nofile(10000 + 256);
    static const int sizes[] = {10, 1000, 10000};
    printf("| backend | register+unregister (ns) | select N=10 (µs) | N=1000 (µs) | N=10000 (µs) "
           "| ping-pong (round trips/s) |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < n; i++) {
        sel_selector *probe;
        int rc = sel_open(&probe, names[i]);
        if (rc < 0) {
            printf("| %s | unavailable: %s | | | | |\n", names[i], sel_strerror(rc));
            continue;
        }
        sel_free(probe);
        printf("| %s | %.0f", names[i], bench_register(names[i]));
        fflush(stdout);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            double us = bench_select(names[i], sizes[s]);
            if (us < 0)
                printf(" | n/a");
            else
                printf(" | %.2f", us);
            fflush(stdout);
        }
        printf(" | %.0f |\n", bench_pingpong(names[i]));
        fflush(stdout);
    }
    return 0;
}

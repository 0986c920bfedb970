#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX 64

static struct {
    const char *name;
    bench_fn fn;
} cases[BENCH_MAX];
static int ncases;

void bench_register(const char *name, bench_fn fn)
{
    if (ncases < BENCH_MAX) {
        cases[ncases].name = name;
        cases[ncases].fn = fn;
    }
    ncases++; /* main refuses to run if there are more than BENCH_MAX */
}

void bench_report(const char *name, double value, const char *unit)
{
    printf("%s %.6g %s\n", name, value, unit);
    fflush(stdout);
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

double bench_scale(void)
{
    const char *s = getenv("BENCH_SCALE");
    double v = s ? atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void usage(void)
{
    printf("asynclib-bench: micro-benchmarks of asynclib (tasks, loop, locks, queues).\n\n"
           "Usage: asynclib-bench [--list] [CASE...]\n\n"
           "Runs every case, or those named: a CASE selects the cases whose name\n"
           "starts with it, and also a key that a case prints (keys begin with the\n"
           "case's name). Each case prints lines \"key value unit\".\n\n"
           "Options:\n"
           "  --list       print the case names and exit\n"
           "  -h, --help   print this help and exit\n\n"
           "Environment:\n"
           "  BENCH_SCALE  scales the iteration counts (default 1.0)\n\n"
           "Example:\n"
           "  asynclib-bench sync_ await_roundtrip\n");
}

/* Case i is selected by arg: the case's name starts with arg, or arg starts
 * with the case's name (a printed key). */
static int selects(int i, const char *arg)
{
    size_t n = strlen(cases[i].name);
    return strncmp(cases[i].name, arg, strlen(arg)) == 0 ||
           (strncmp(arg, cases[i].name, n) == 0 && arg[n] == '_');
}

int main(int argc, char **argv)
{
    if (ncases > BENCH_MAX) {
        fprintf(stderr, "asynclib-bench: %d cases, room for %d: raise BENCH_MAX\n", ncases,
                BENCH_MAX);
        return 1;
    }
    qsort(cases, ncases, sizeof cases[0], by_name);
    /* Validate every argument before running anything. */
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            usage();
            return 0;
        }
        if (strcmp(argv[k], "--list") == 0) {
            for (int i = 0; i < ncases; i++)
                printf("%s\n", cases[i].name);
            return 0;
        }
        if (argv[k][0] == '-') {
            fprintf(stderr, "asynclib-bench: unknown option '%s' (see --help)\n", argv[k]);
            return 2;
        }
        int found = 0;
        for (int i = 0; i < ncases && !found; i++)
            found = selects(i, argv[k]);
        if (!found || argv[k][0] == '\0') {
            fprintf(stderr, "asynclib-bench: no case '%s' (--list names them)\n", argv[k]);
            return 2;
        }
    }
    for (int i = 0; i < ncases; i++) {
        int run = argc < 2;
        for (int k = 1; k < argc && !run; k++)
            run = selects(i, argv[k]);
        if (run)
            cases[i].fn();
    }
    return 0;
}

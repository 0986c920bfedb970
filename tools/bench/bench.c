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
        ncases++;
    }
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

int main(int argc, char **argv)
{
    qsort(cases, ncases, sizeof cases[0], by_name);
    for (int i = 0; i < ncases; i++) {
        int run = argc < 2;
        for (int k = 1; k < argc && !run; k++)
            run = strncmp(cases[i].name, argv[k], strlen(argv[k])) == 0;
        if (run)
            cases[i].fn();
    }
    return 0;
}

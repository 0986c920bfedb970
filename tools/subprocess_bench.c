/* asyncio-subprocess-bench: spawn + wait of /bin/true (processes per
 * second) and communicate of a large input through cat (MiB/s), with
 * CPython asyncio's create_subprocess_exec doing the same in the same run.
 * A benchmark, not a test: numbers vary with the machine and its load. */
#include <asynclib/task.h>

#include <asyncio/error.h>
#include <asyncio/loop.h>
#include <asyncio/subprocess.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: asyncio-subprocess-bench [-n SPAWNS] [-m MIB] [-b BACKEND] [--python CMD]\n"
               "\n"
               "Measures, on one selector backend, spawn + wait of /bin/true one after the\n"
               "other (processes per second) and aio_process_communicate of MIB MiB through\n"
               "cat (MiB/s, the output read back and checked), then runs the same with\n"
               "CPython asyncio (create_subprocess_exec, wait, communicate) for comparison.\n"
               "\n"
               "options:\n"
               "  -n SPAWNS       processes to spawn and wait for (default 1000)\n"
               "  -m MIB          MiB to send through cat (default 100)\n"
               "  -b BACKEND      selector backend (default: $SELECTORS_BACKEND or the default)\n"
               "  --python CMD    the CPython to compare with (default python3; 'none': skip)\n"
               "  -h, --help      this text\n"
               "\n"
               "example:\n"
               "  asyncio-subprocess-bench -n 2000 -m 100 -b epoll\n");
}

typedef struct bench {
    long spawns;
    long mib;
    double spawn_rate, mib_rate;
} bench;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int spawn_wait(bench *b)
{
    const char *const argv[] = {"/bin/true", NULL};
    double t0 = now();
    for (long i = 0; i < b->spawns; i++) {
        aio_process *p;
        int st, rc = aio_create_subprocess_exec(al_get_running_loop(), argv, NULL, &p);
        if (rc < 0)
            return rc;
        rc = aio_process_wait(p, &st);
        aio_process_free(p);
        if (rc < 0)
            return rc;
        if (st != 0)
            return -ECHILD;
    }
    b->spawn_rate = (double)b->spawns / (now() - t0);
    return 0;
}

static int communicate(bench *b)
{
    size_t n = (size_t)b->mib << 20;
    char *in = malloc(n);
    if (!in)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        in[i] = (char)(i * 131 + (i >> 12));
    const char *const argv[] = {"cat", NULL};
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1}};
    double t0 = now();
    aio_process *p;
    int rc = aio_create_subprocess_exec(al_get_running_loop(), argv, &o, &p);
    char *out = NULL;
    size_t len = 0;
    if (rc == 0) {
        rc = aio_process_communicate(p, in, n, &out, &len, NULL, NULL);
        aio_process_free(p);
    }
    double dt = now() - t0;
    if (rc == 0 && (len != n || memcmp(in, out, n) != 0))
        rc = -EIO;
    free(in);
    free(out);
    if (rc == 0)
        b->mib_rate = (double)b->mib / dt;
    return rc;
}

static int main_task(void *arg, void **result)
{
    (void)result;
    int rc = spawn_wait(arg);
    return rc < 0 ? rc : communicate(arg);
}

static const char python_script[] =
    "import asyncio, sys, time\n"
    "n, mib = int(sys.argv[1]), int(sys.argv[2])\n"
    "async def main():\n"
    "    t0 = time.perf_counter()\n"
    "    for _ in range(n):\n"
    "        p = await asyncio.create_subprocess_exec('/bin/true')\n"
    "        assert await p.wait() == 0\n"
    "    rate = n / (time.perf_counter() - t0)\n"
    "    data = bytes((i * 131 + (i >> 12)) & 255 for i in range(1 << 20)) * mib\n"
    "    t0 = time.perf_counter()\n"
    "    p = await asyncio.create_subprocess_exec('cat', stdin=asyncio.subprocess.PIPE,\n"
    "                                             stdout=asyncio.subprocess.PIPE)\n"
    "    out, _ = await p.communicate(data)\n"
    "    dt = time.perf_counter() - t0\n"
    "    assert out == data\n"
    "    print(f'{rate:.0f} {mib / dt:.1f}')\n"
    "asyncio.run(main())\n";

static int run_python(const char *python, const bench *b, double *rate, double *mibs)
{
    char path[] = "/tmp/asyncio-subprocess-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    fputs(python_script, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s %ld %ld", python, path, b->spawns, b->mib);
    FILE *p = popen(cmd, "r");
    int ok = p && fscanf(p, "%lf %lf", rate, mibs) == 2;
    int st = p ? pclose(p) : -1;
    unlink(path);
    return ok && st == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    bench b = {.spawns = 1000, .mib = 100};
    const char *backend = NULL, *python = "python3";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        bool has_value =
            !strcmp(a, "-n") || !strcmp(a, "-m") || !strcmp(a, "-b") || !strcmp(a, "--python");
        if (!has_value) {
            fprintf(stderr, "asyncio-subprocess-bench: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "asyncio-subprocess-bench: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "-b")) {
            backend = v;
        } else if (!strcmp(a, "--python")) {
            python = v;
        } else {
            char *end;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 1 || n > 100000) {
                fprintf(stderr, "asyncio-subprocess-bench: %s needs a number from 1 to 100000\n",
                        a);
                return 2;
            }
            *(a[1] == 'n' ? &b.spawns : &b.mib) = n;
        }
    }
    al_loop *loop;
    int rc = aio_loop_new(backend, &loop);
    if (rc < 0) {
        fprintf(stderr, "asyncio-subprocess-bench: %s\n", aio_strerror(rc));
        return 2;
    }
    const char *name = aio_loop_backend(loop);
    char bname[32];
    snprintf(bname, sizeof bname, "%s", name);
    al_loop_free(loop);
    rc = aio_run(main_task, &b, NULL, bname);
    if (rc < 0) {
        fprintf(stderr, "asyncio-subprocess-bench: %s\n", aio_strerror(rc));
        return 1;
    }
    printf("%-28s %16s %20s\n", "", "spawn+wait /s", "communicate MiB/s");
    printf("%-28s %16.0f %20.1f\n", "asynclib asyncio/", b.spawn_rate, b.mib_rate);
    printf("  (backend %s, %ld spawns of /bin/true, %ld MiB through cat)\n", bname, b.spawns,
           b.mib);
    if (strcmp(python, "none") != 0) {
        double rate, mibs;
        if (run_python(python, &b, &rate, &mibs) == 0)
            printf("%-28s %16.0f %20.1f\n", "CPython asyncio", rate, mibs);
        else
            printf("%-28s %16s %20s\n", "CPython asyncio", "(failed)", "(failed)");
    }
    return 0;
}

/* asyncio-run: runs shell commands concurrently, at most N at a time,
 * streaming each one's output line by line with a prefix; --fail-fast
 * stops the others at the first failure; the exit status is the worst
 * one. A small program over the subprocess streams of asyncio/. */
#include <asynclib/task.h>

#include <asyncio/error.h>
#include <asyncio/loop.h>
#include <asyncio/subprocess.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    fprintf(f,
            "usage: asyncio-run [-j N] [--fail-fast] [--prefix=index|name|none] [-b BACKEND]\n"
            "                   COMMAND...\n"
            "\n"
            "Runs every COMMAND with /bin/sh -c, at most N at a time, in the order given.\n"
            "Each output line (stdout and stderr together) is printed as it comes, with a\n"
            "prefix naming its command; lines of different commands never mix. The exit\n"
            "status is the worst of the commands' (a command killed by signal S counts as\n"
            "128+S), 0 when all succeed.\n"
            "\n"
            "options:\n"
            "  -j N, --jobs=N     run at most N commands at once (default: the number of\n"
            "                     online CPUs, %ld here)\n"
            "  --fail-fast        at the first command that fails, start no more and stop\n"
            "                     (SIGTERM) the running ones; the status is the first\n"
            "                     failure's (the stopped commands do not count)\n"
            "  --prefix=KIND      index: \"[1] \" (default); name: the command's first word,\n"
            "                     \"[make] \"; none: no prefix\n"
            "  -b BACKEND         the selector backend (epoll, poll, select, libev...;\n"
            "                     default: $SELECTORS_BACKEND or the library's default)\n"
            "  -h, --help         this text\n"
            "\n"
            "example:\n"
            "  asyncio-run -j 2 --fail-fast 'make -C lib' 'make -C app' 'pytest -q'\n",
            cpus > 0 ? cpus : 1);
}

typedef enum { PREFIX_INDEX, PREFIX_NAME, PREFIX_NONE } prefix_kind;

typedef struct job {
    const char *cmd;
    char prefix[64];
    aio_process *p; /* while it runs */
    bool stopped;   /* terminated by --fail-fast */
} job;

typedef struct run {
    job *jobs;
    int njobs, next, jobs_n;
    bool fail_fast, failing;
    int worst;
} run;

/* The shell's way to put a status in 0..255. */
static int exit_status(int st)
{
    return st >= 0 ? st : 128 - st;
}

static void emit(const job *j, const char *line, size_t len)
{
    fputs(j->prefix, stdout);
    fwrite(line, 1, len, stdout);
    if (len == 0 || line[len - 1] != '\n')
        putchar('\n');
    fflush(stdout);
}

/* Streams the command's output line by line (a line is whole when its
 * '\n' came, or at the end of the output). */
static int pump(job *j, aio_stream_reader *out)
{
    char *line = NULL;
    size_t len = 0, cap = 0;
    char buf[16384];
    ssize_t n;
    while ((n = aio_stream_read(out, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (len == cap) {
                size_t c = cap ? cap * 2 : 256;
                char *b = realloc(line, c);
                if (!b) {
                    free(line);
                    return -ENOMEM;
                }
                line = b;
                cap = c;
            }
            line[len++] = buf[i];
            if (buf[i] == '\n') {
                emit(j, line, len);
                len = 0;
            }
        }
    }
    if (len)
        emit(j, line, len);
    free(line);
    return n < 0 ? (int)n : 0;
}

/* Signals the command's whole process group (the shell and what it
 * started); safe while the shell is not reaped: the group id is its pid. */
static bool signal_group(aio_process *p, int sig)
{
    return !aio_process_returncode(p, NULL) && kill(-aio_process_pid(p), sig) == 0;
}

static void stop_others(run *r)
{
    r->failing = true;
    for (int i = 0; i < r->njobs; i++)
        if (r->jobs[i].p && signal_group(r->jobs[i].p, SIGTERM))
            r->jobs[i].stopped = true;
}

static int run_one(job *j)
{
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_DEVNULL, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1},
                                .stderr_fd = {AIO_STDIO_STDOUT, -1},
                                .new_process_group = true};
    int rc = aio_create_subprocess_shell(al_get_running_loop(), j->cmd, &o, &j->p);
    if (rc < 0) {
        fprintf(stderr, "asyncio-run: %s: cannot start: %s\n", j->cmd, aio_strerror(rc));
        return 127;
    }
    aio_stream_reader *out;
    int st = 0;
    rc = aio_process_stdout(j->p, &out);
    if (rc == 0)
        rc = pump(j, out);
    if (rc == 0)
        rc = aio_process_wait(j->p, &st);
    aio_process *p = j->p;
    j->p = NULL;
    if (rc < 0) /* cancelled (Ctrl+C): the whole command goes */
        signal_group(p, SIGKILL);
    aio_process_free(p);
    if (rc < 0)
        return rc;
    if (st != 0 && !j->stopped)
        fprintf(stderr, "asyncio-run: '%s' %s %d\n", j->cmd,
                st > 0 ? "exited with status" : "was killed by signal", st > 0 ? st : -st);
    return exit_status(st);
}

static int worker(void *arg, void **result)
{
    (void)result;
    run *r = arg;
    while (r->next < r->njobs && !r->failing) {
        job *j = &r->jobs[r->next++];
        int st = run_one(j);
        if (st < 0)
            return st; /* cancelled */
        if (j->stopped)
            continue;
        if (st > r->worst)
            r->worst = st;
        if (st != 0 && r->fail_fast && !r->failing) {
            r->worst = st;
            stop_others(r);
        }
    }
    return 0;
}

static int main_task(void *arg, void **result)
{
    (void)result;
    run *r = arg;
    al_loop *loop = al_get_running_loop();
    int n = r->jobs_n < r->njobs ? r->jobs_n : r->njobs;
    al_task **t = calloc((size_t)n, sizeof *t);
    int rc = t ? 0 : -ENOMEM;
    for (int i = 0; i < n && rc == 0; i++)
        rc = al_task_new(loop, worker, r, NULL, &t[i]);
    for (int i = 0; i < n; i++) {
        if (!t || !t[i])
            continue;
        int st = al_await(al_task_future(t[i]));
        if (st < 0 && rc == 0)
            rc = st;
        al_task_unref(t[i]);
    }
    free(t);
    return rc;
}

static void set_prefix(job *j, int index, prefix_kind kind)
{
    if (kind == PREFIX_NONE) {
        j->prefix[0] = 0;
    } else if (kind == PREFIX_INDEX) {
        snprintf(j->prefix, sizeof j->prefix, "[%d] ", index + 1);
    } else {
        const char *s = j->cmd + strspn(j->cmd, " \t");
        int len = (int)strcspn(s, " \t\n;&|");
        const char *slash = memrchr(s, '/', (size_t)len);
        if (slash) {
            len -= (int)(slash + 1 - s);
            s = slash + 1;
        }
        snprintf(j->prefix, sizeof j->prefix, "[%.*s] ", len > 48 ? 48 : len, s);
    }
}

int main(int argc, char **argv)
{
    run r = {.jobs_n = (int)sysconf(_SC_NPROCESSORS_ONLN)};
    if (r.jobs_n < 1)
        r.jobs_n = 1;
    prefix_kind kind = PREFIX_INDEX;
    const char *backend = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--fail-fast")) {
            r.fail_fast = true;
            continue;
        } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
            val = i + 1 < argc ? argv[++i] : NULL;
        } else if (!strncmp(a, "--jobs=", 7)) {
            val = a + 7;
        } else if (!strncmp(a, "-j", 2)) {
            val = a + 2;
        } else if (!strncmp(a, "--prefix=", 9)) {
            const char *k = a + 9;
            if (!strcmp(k, "index"))
                kind = PREFIX_INDEX;
            else if (!strcmp(k, "name"))
                kind = PREFIX_NAME;
            else if (!strcmp(k, "none"))
                kind = PREFIX_NONE;
            else {
                fprintf(stderr, "asyncio-run: unknown prefix kind '%s' (index, name, none)\n", k);
                return 2;
            }
            continue;
        } else if (!strcmp(a, "-b")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "asyncio-run: -b needs a backend name\n");
                return 2;
            }
            backend = argv[++i];
            continue;
        } else {
            fprintf(stderr, "asyncio-run: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        char *end;
        long n = val ? strtol(val, &end, 10) : 0;
        if (!val || !*val || *end || n < 1 || n > 4096) {
            fprintf(stderr, "asyncio-run: -j needs a number from 1 to 4096\n");
            return 2;
        }
        r.jobs_n = (int)n;
    }
    if (i >= argc) {
        fprintf(stderr, "asyncio-run: no command given\n");
        usage(stderr);
        return 2;
    }
    r.njobs = argc - i;
    r.jobs = calloc((size_t)r.njobs, sizeof *r.jobs);
    if (!r.jobs)
        return 1;
    for (int k = 0; k < r.njobs; k++) {
        r.jobs[k].cmd = argv[i + k];
        set_prefix(&r.jobs[k], k, kind);
    }
    int rc = aio_run(main_task, &r, NULL, backend);
    free(r.jobs);
    if (rc < 0) {
        fprintf(stderr, "asyncio-run: %s\n", rc == -EINTR ? "interrupted" : aio_strerror(rc));
        return rc == -EINTR ? 130 : 1;
    }
    return r.worst;
}

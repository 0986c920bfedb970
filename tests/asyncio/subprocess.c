/* Subprocesses: spawn (stdio kinds, env, cwd, exec failures as errors),
 * wait and returncode (exit codes, signals, many waiters, cancellation, a
 * grandchild holding a pipe), signals to reaped children, no fd leak into
 * children, no zombie left; with a pidfd and with the polling fallback;
 * the protocol-level variant. communicate and the pipes as streams:
 * subprocess_pipes.c. */
#include "aio_conf.h"

#include <asyncio/subprocess.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*sp_case)(void);

/* Reads what the exited child left in a pipe (small outputs only: they
 * fit the pipe's buffer) until end of file. */
static size_t read_rest(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (int spins = 0; spins < 1000 && n < cap - 1; spins++) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k == 0)
            break;
        if (k > 0)
            n += (size_t)k;
        else
            ck_assert_int_eq(al_sleep(0.001), 0);
    }
    buf[n] = 0;
    return n;
}

static bool proc_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    return access(path, F_OK) == 0;
}

static int run_status(const char *const *argv, const aio_subprocess_options *o)
{
    aio_process *p;
    ck_assert_int_eq(aio_create_subprocess_exec(ac_loop(), argv, o, &p), 0);
    int st = 12345;
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    int rc2;
    ck_assert(aio_process_returncode(p, &rc2));
    ck_assert_int_eq(rc2, st);
    pid_t pid = aio_process_pid(p);
    aio_process_free(p);
    ck_assert(!proc_exists(pid)); /* reaped: no zombie */
    return st;
}

/* Runs fn as the main task with the pidfd turned off (the polling
 * fallback of subprocess.h). */
static void run_polling(al_task_fn fn)
{
    setenv("ASYNCIO_SUBPROCESS_NO_PIDFD", "1", 1);
    ac_run_main(fn, NULL);
    unsetenv("ASYNCIO_SUBPROCESS_NO_PIDFD");
}

/* ---- exit codes and signals ----------------------------------------------- */

static int exits_main(void *arg, void **result)
{
    (void)arg, (void)result;
    const char *const t[] = {"true", NULL}, *const f[] = {"/bin/false", NULL};
    ck_assert_int_eq(run_status(t, NULL), 0);
    ck_assert_int_eq(run_status(f, NULL), 1);
    aio_process *p;
    ck_assert_int_eq(aio_create_subprocess_shell(ac_loop(), "exit 7", NULL, &p), 0);
    int st;
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 7);
    ck_assert_int_eq(aio_process_wait(p, &st), 0); /* again: the same */
    ck_assert_int_eq(st, 7);
    ck_assert_int_eq(aio_process_send_signal(p, SIGTERM), -ESRCH);
    ck_assert_int_eq(aio_process_kill(p), -ESRCH);
    aio_process_free(p);

    const char *const sl[] = {"sleep", "30", NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(ac_loop(), sl, NULL, &p), 0);
    ck_assert(!aio_process_returncode(p, &st));
    ck_assert_int_eq(aio_process_send_signal(p, 0), 0);
    ck_assert_int_eq(aio_process_send_signal(p, -1), -EINVAL);
    ck_assert_int_eq(aio_process_terminate(p), 0);
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, -SIGTERM);
    aio_process_free(p);
    ck_assert_int_eq(aio_create_subprocess_exec(ac_loop(), sl, NULL, &p), 0);
    ck_assert_int_eq(aio_process_kill(p), 0);
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, -SIGKILL);
    ck_assert_int_eq(aio_process_kill(p), -ESRCH);
    aio_process_free(p);
    return 0;
}

START_TEST(test_exit_codes_and_signals)
{
    ac_run_main(exits_main, NULL);
}
END_TEST

START_TEST(test_exit_codes_polling_fallback)
{
    run_polling(exits_main);
}
END_TEST

/* ---- exec failures and bad input ------------------------------------------ */

static int failures_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    aio_process *p = (aio_process *)&p;
    const char *const missing[] = {"/nonexistent/program", NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, missing, NULL, &p), -ENOENT);
    const char *const nopath[] = {"no-such-program-in-path-xyz", NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, nopath, NULL, &p), -ENOENT);
    char tmpl[] = "/tmp/aio-subproc-XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    chmod(tmpl, 0644);
    const char *const noexec[] = {tmpl, NULL};
    aio_subprocess_options o = {.stdout_fd = {AIO_STDIO_PIPE, -1}};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, noexec, &o, &p), -EACCES);
    unlink(tmpl);
    const char *const t[] = {"/bin/true", NULL};
    o.cwd = "/nonexistent/dir";
    ck_assert_int_eq(aio_create_subprocess_exec(loop, t, &o, &p), -ENOENT);
    o.cwd = NULL;
    const char *const empty[] = {NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, empty, NULL, &p), -EINVAL);
    ck_assert_int_eq(aio_create_subprocess_exec(NULL, t, NULL, &p), -EINVAL);
    ck_assert_int_eq(aio_create_subprocess_shell(loop, NULL, NULL, &p), -EINVAL);
    o.stdin_fd.kind = AIO_STDIO_STDOUT;
    ck_assert_int_eq(aio_create_subprocess_exec(loop, t, &o, &p), -EINVAL);
    o.stdin_fd = (aio_stdio){AIO_STDIO_FD, 987};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, t, &o, &p), -EBADF);
    o.stdin_fd = (aio_stdio){(aio_stdio_kind)42, 0};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, t, &o, &p), -EINVAL);
    ck_assert(p == (aio_process *)&p); /* untouched on every error */
    ck_assert_int_eq(ac_open_fds(), before);
    al_loop *pure = al_loop_new();
    ck_assert_int_eq(aio_create_subprocess_exec(pure, t, NULL, &p), AL_ENOTIOLOOP);
    ck_assert_int_eq(al_loop_free(pure), 0);
    return 0;
}

START_TEST(test_exec_failures_are_errors)
{
    if (AC_UNDER_VALGRIND()) {
        /* Valgrind cannot run glibc's posix_spawn as it is (clone with
         * CLONE_VM | CLONE_VFORK), so the exec error never reaches the
         * parent there: a known gap of the posix_spawn path (issue 13). */
        printf("exec-failure case not run under Valgrind (posix_spawn's vfork)\n");
        return;
    }
    ac_run_main(failures_main, NULL);
}
END_TEST

/* ---- stdio kinds, environment, cwd ------------------------------------------ */

static int stdio_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    const char *const env[] = {"AIO_TEST_VAR=hello there", NULL};
    aio_subprocess_options o = {.envp = env,
                                .cwd = "/proc",
                                .stdin_fd = {AIO_STDIO_DEVNULL, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1},
                                .stderr_fd = {AIO_STDIO_STDOUT, -1}};
    aio_process *p;
    ck_assert_int_eq(aio_create_subprocess_shell(
                         loop, "echo \"$AIO_TEST_VAR\"; pwd; echo err >&2; cat; echo end", &o, &p),
                     0);
    ck_assert_int_eq(aio_process_fd(p, 0), -1);
    ck_assert_int_ge(aio_process_fd(p, 1), 0);
    ck_assert_int_eq(aio_process_fd(p, 2), -1);
    ck_assert_int_eq(aio_process_fd(p, 3), -EINVAL);
    int st;
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 0);
    char buf[256];
    read_rest(aio_process_fd(p, 1), buf, sizeof buf);
    ck_assert_str_eq(buf, "hello there\n/proc\nerr\nend\n");
    aio_process_free(p);

    /* A caller's fd, also one among 0..2 given to another slot. */
    int pp[2];
    ck_assert_int_eq(pipe(pp), 0);
    int saved0 = dup(0);
    ck_assert_int_eq(dup2(pp[1], 0), 0); /* our fd 0 is now the pipe's write end */
    o = (aio_subprocess_options){.stdout_fd = {AIO_STDIO_FD, 0},
                                 .stdin_fd = {AIO_STDIO_DEVNULL, -1}};
    ck_assert_int_eq(aio_create_subprocess_shell(loop, "echo via-caller-fd", &o, &p), 0);
    dup2(saved0, 0);
    close(saved0);
    close(pp[1]);
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 0);
    aio_process_free(p);
    ssize_t got = read(pp[0], buf, sizeof buf - 1);
    ck_assert_int_eq(got, 14);
    buf[got] = 0;
    ck_assert_str_eq(buf, "via-caller-fd\n");
    close(pp[0]);

    /* stdin a pipe: what we write the child reads (a small cat). */
    o = (aio_subprocess_options){.stdin_fd = {AIO_STDIO_PIPE, -1},
                                 .stdout_fd = {AIO_STDIO_PIPE, -1}};
    const char *const cat[] = {"cat", NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, cat, &o, &p), 0);
    int in = aio_process_take_fd(p, 0);
    ck_assert_int_eq(aio_process_fd(p, 0), -1);
    ck_assert_int_eq(write(in, "round trip\n", 11), 11);
    close(in);
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 0);
    read_rest(aio_process_fd(p, 1), buf, sizeof buf);
    ck_assert_str_eq(buf, "round trip\n");
    aio_process_free(p);
    return 0;
}

START_TEST(test_stdio_env_cwd)
{
    ac_run_main(stdio_main, NULL);
}
END_TEST

/* ---- no fd leak into children ----------------------------------------------- */

static int fds_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int leaky = open("/dev/null", O_RDONLY); /* not close-on-exec */
    ck_assert_int_ge(leaky, 0);
    aio_subprocess_options o = {.stdout_fd = {AIO_STDIO_PIPE, -1},
                                .stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stderr_fd = {AIO_STDIO_DEVNULL, -1}};
    const char *const ls[] = {"ls", "/proc/self/fd", NULL};
    aio_process *p;
    ck_assert_int_eq(aio_create_subprocess_exec(ac_loop(), ls, &o, &p), 0);
    int st;
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 0);
    char buf[512];
    read_rest(aio_process_fd(p, 1), buf, sizeof buf);
    /* 0, 1, 2 and ls's own directory fd (the lowest free: 3), nothing else. */
    int n = 0;
    for (char *s = strtok(buf, "\n"); s; s = strtok(NULL, "\n"), n++)
        ck_assert_msg(atoi(s) <= 3, "fd %s leaked into the child", s);
    ck_assert_int_eq(n, 4);
    aio_process_free(p);
    close(leaky);
    return 0;
}

START_TEST(test_no_fd_leak_into_child)
{
    ac_run_main(fds_main, NULL);
}
END_TEST

/* ---- many waiters, cancellation, grandchildren, free ----------------------- */

static int wait_task(void *arg, void **result)
{
    int st = 0;
    int rc = aio_process_wait(arg, &st);
    *result = AC_VP(rc ? rc : st);
    return 0;
}

static int waiters_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    const char *const sl[] = {"sleep", "30", NULL};
    aio_process *p;
    ck_assert_int_eq(aio_create_subprocess_exec(loop, sl, NULL, &p), 0);
    al_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = ac_spawn(wait_task, p);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_eq(al_task_cancel(t[1], NULL), 1);
    ck_assert_int_eq(ac_join_value(t[1]), AL_ECANCELLED);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert(!aio_process_returncode(p, NULL)); /* the cancel did not touch it */
    ck_assert_int_eq(aio_process_send_signal(p, SIGUSR1), 0);
    for (int i = 0; i < 4; i++) {
        if (i == 1)
            continue;
        ck_assert_int_eq(ac_join_value(t[i]), -SIGUSR1);
    }
    aio_process_free(p);

    /* Freeing a running child with a task waiting: killed, reaped, the
     * waiter ends. */
    ck_assert_int_eq(aio_create_subprocess_exec(loop, sl, NULL, &p), 0);
    pid_t pid = aio_process_pid(p);
    al_task *w = ac_spawn(wait_task, p);
    ck_assert_int_eq(al_sleep(0.01), 0);
    aio_process_free(p);
    ck_assert(!proc_exists(pid));
    ck_assert_int_eq(ac_join_value(w), -SIGKILL);

    /* A grandchild keeps stdout open: wait still ends at the child's exit. */
    aio_subprocess_options o = {.stdout_fd = {AIO_STDIO_PIPE, -1}};
    ck_assert_int_eq(aio_create_subprocess_shell(loop, "sleep 30 >&1 & echo $!; exit 3", &o, &p),
                     0);
    int st;
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 3);
    char buf[64] = {0};
    for (int i = 0; i < 1000 && !strchr(buf, '\n'); i++) {
        ssize_t k = read(aio_process_fd(p, 1), buf + strlen(buf), sizeof buf - 1 - strlen(buf));
        if (k <= 0)
            ck_assert_int_eq(al_sleep(0.001), 0);
    }
    pid_t grandchild = atoi(buf);
    ck_assert_int_gt(grandchild, 0);
    ck_assert_int_eq(kill(grandchild, SIGKILL), 0); /* stopped by pid */
    aio_process_free(p);
    return 0;
}

START_TEST(test_waiters_cancel_free_grandchild)
{
    ac_run_main(waiters_main, NULL);
}
END_TEST

/* ---- 100 concurrent short-lived children -------------------------------- */

#define NCHILD 100

static int many_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int before = ac_open_fds();
    aio_process *p[NCHILD];
    al_task *t[NCHILD];
    for (int i = 0; i < NCHILD; i++) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, "exit %d", i);
        ck_assert_int_eq(aio_create_subprocess_shell(ac_loop(), cmd, NULL, &p[i]), 0);
        t[i] = ac_spawn(wait_task, p[i]);
    }
    for (int i = 0; i < NCHILD; i++) {
        ck_assert_int_eq(ac_join_value(t[i]), i);
        pid_t pid = aio_process_pid(p[i]);
        aio_process_free(p[i]);
        ck_assert(!proc_exists(pid));
    }
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_many_concurrent_children)
{
    ac_run_main(many_main, NULL);
}
END_TEST

START_TEST(test_many_concurrent_children_polling)
{
    run_polling(many_main);
}
END_TEST

/* The child's signal mask is the calling thread's (subprocess.Popen). */
static int sigmask_main(void *arg, void **result)
{
    (void)arg, (void)result;
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, &old);
    aio_subprocess_options o = {.stdout_fd = {AIO_STDIO_PIPE, -1}};
    const char *const grep[] = {"grep", "^SigBlk", "/proc/self/status", NULL};
    aio_process *p;
    ck_assert_int_eq(aio_create_subprocess_exec(ac_loop(), grep, &o, &p), 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    aio_stream_reader *out;
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    void *line = NULL;
    size_t len;
    ck_assert_int_eq(aio_stream_readline(out, &line, &len), 0);
    ck_assert_uint_gt(len, 8);
    unsigned long long mask = strtoull((char *)line + 7, NULL, 16);
    ck_assert_msg(mask & (1ull << (SIGUSR2 - 1)), "SIGUSR2 not blocked in the child: %s",
                  (char *)line);
    free(line);
    ck_assert_int_eq(aio_process_wait(p, NULL), 0);
    ck_assert_int_eq(aio_process_free(p), 0);
    return 0;
}

START_TEST(test_child_inherits_signal_mask)
{
    ac_run_main(sigmask_main, NULL);
}
END_TEST

/* new_process_group: the child's pgid is its pid; otherwise ours. */
static int pgid_main(void *arg, void **result)
{
    (void)arg, (void)result;
    const char *const cut[] = {"cut", "-d", " ", "-f5", "/proc/self/stat", NULL};
    for (int group = 0; group < 2; group++) {
        aio_subprocess_options o = {.stdout_fd = {AIO_STDIO_PIPE, -1}, .new_process_group = group};
        aio_process *p;
        ck_assert_int_eq(aio_create_subprocess_exec(ac_loop(), cut, &o, &p), 0);
        char *out = NULL;
        ck_assert_int_eq(aio_process_communicate(p, NULL, 0, &out, NULL, NULL, NULL), 0);
        long pgid = atol(out);
        ck_assert_int_eq(pgid, group ? (long)aio_process_pid(p) : (long)getpgrp());
        free(out);
        ck_assert_int_eq(aio_process_free(p), 0);
    }
    return 0;
}

START_TEST(test_new_process_group)
{
    ac_run_main(pgid_main, NULL);
}
END_TEST

/* ---- closing the loop with live children ---------------------------------- */

static void count_reports(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop;
    ck_assert_ptr_nonnull(strstr(ctx->message, "closed with child pid"));
    ++*(int *)user;
}

START_TEST(test_loop_close_reaps_live_children)
{
    int before = ac_open_fds();
    al_loop *loop = ac_loop_new();
    int reports = 0;
    ck_assert_int_eq(al_loop_set_exception_handler(loop, count_reports, &reports), 0);
    const char *const sl[] = {"sleep", "30", NULL}, *const t[] = {"true", NULL};
    aio_subprocess_options o = {.stdout_fd = {AIO_STDIO_PIPE, -1}};
    aio_process *p, *q, *done;
    ck_assert_int_eq(aio_create_subprocess_exec(loop, sl, &o, &p), 0);
    aio_stream_reader *out; /* a stream on p: ended by the close, freed later */
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    ck_assert_int_eq(aio_create_subprocess_exec(loop, sl, NULL, &q), 0);
    ck_assert_int_eq(aio_create_subprocess_exec(loop, t, NULL, &done), 0);
    ck_assert_int_eq(al_loop_close(loop), 0);
    ck_assert_int_le(reports, 3); /* p and q, and done if it had not exited yet */
    ck_assert_int_ge(reports, 2);
    int st;
    ck_assert(aio_process_returncode(p, &st));
    ck_assert_int_eq(st, -SIGKILL);
    ck_assert(aio_process_returncode(q, &st));
    ck_assert_int_eq(st, -SIGKILL);
    ck_assert(aio_process_returncode(done, &st)); /* reaped, killed or not */
    ck_assert(!proc_exists(aio_process_pid(p)));
    ck_assert(!proc_exists(aio_process_pid(q)));
    ck_assert(!proc_exists(aio_process_pid(done)));
    ck_assert_int_eq(aio_process_kill(p), -ESRCH);
    ck_assert(aio_stream_at_eof(out) || aio_stream_reader_error(out) != 0);
    aio_process_free(p);
    aio_process_free(q);
    aio_process_free(done);
    ck_assert_int_eq(al_loop_free(loop), 0);
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

/* ---- the protocol-level variant ------------------------------------------ */

/* A state machine checking asyncio's order: made first; per fd data*
 * then pipe_connection_lost once; process_exited once; connection_lost
 * once and last. */
typedef struct sm {
    aio_subprocess_transport *t;
    bool made, exited, lost, pipe_lost[3], has_pipe[3];
    int lost_error, pipe_error[3];
    char data[3][256];
    size_t len[3];
    int pauses, resumes;
    al_future *done;
} sm;

static void sm_made(aio_subprocess_transport *t, void *user)
{
    sm *s = user;
    ck_assert(!s->made && !s->lost);
    ck_assert_ptr_eq(t, s->t);
    s->made = true;
}

static void sm_data(aio_subprocess_transport *t, int fd, const void *data, size_t len, void *user)
{
    (void)t;
    sm *s = user;
    ck_assert(s->made && !s->lost);
    ck_assert(fd == 1 || fd == 2);
    ck_assert_msg(!s->pipe_lost[fd], "data on fd %d after its pipe_connection_lost", fd);
    ck_assert_uint_gt(len, 0);
    ck_assert_uint_le(s->len[fd] + len, sizeof s->data[fd] - 1);
    memcpy(s->data[fd] + s->len[fd], data, len);
    s->len[fd] += len;
}

static void sm_pipe_lost(aio_subprocess_transport *t, int fd, int error, void *user)
{
    (void)t;
    sm *s = user;
    ck_assert(s->made && !s->lost);
    ck_assert(fd >= 0 && fd <= 2 && s->has_pipe[fd]);
    ck_assert_msg(!s->pipe_lost[fd], "pipe_connection_lost twice for fd %d", fd);
    s->pipe_lost[fd] = true;
    s->pipe_error[fd] = error;
}

static void sm_exited(aio_subprocess_transport *t, void *user)
{
    sm *s = user;
    ck_assert(s->made && !s->lost && !s->exited);
    ck_assert(aio_subprocess_transport_returncode(t, NULL));
    s->exited = true;
}

static void sm_lost(aio_subprocess_transport *t, int error, void *user)
{
    (void)t;
    sm *s = user;
    ck_assert(s->made && s->exited && !s->lost);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(!s->has_pipe[i] || s->pipe_lost[i], "connection_lost before fd %d", i);
    s->lost = true;
    s->lost_error = error;
    if (s->done && !al_future_done(s->done))
        al_future_set_result(s->done, NULL, NULL);
}

static void sm_pause(aio_subprocess_transport *t, void *user)
{
    (void)t;
    ((sm *)user)->pauses++;
}

static void sm_resume(aio_subprocess_transport *t, void *user)
{
    (void)t;
    ((sm *)user)->resumes++;
}

static const aio_subprocess_protocol sm_proto = {
    .connection_made = sm_made,
    .pipe_data_received = sm_data,
    .pipe_connection_lost = sm_pipe_lost,
    .process_exited = sm_exited,
    .connection_lost = sm_lost,
    .pause_writing = sm_pause,
    .resume_writing = sm_resume,
};

/* Starts cmd under the state machine; the transport is kept (a reference)
 * past connection_lost for the checks. */
static void sm_start(sm *s, const char *cmd, const aio_subprocess_options *o)
{
    *s = (sm){0};
    ck_assert_int_eq(al_future_new(ac_loop(), &s->done), 0);
    ck_assert_int_eq(aio_subprocess_shell(ac_loop(), &sm_proto, s, cmd, o, &s->t), 0);
    aio_subprocess_transport_ref(s->t);
    for (int i = 0; i < 3; i++)
        s->has_pipe[i] = aio_subprocess_transport_pipe(s->t, i) != NULL;
}

static int sm_end(sm *s)
{
    ck_assert_int_eq(al_await(s->done), 0);
    al_future_unref(s->done);
    ck_assert(s->lost);
    int st = 12345;
    ck_assert(aio_subprocess_transport_returncode(s->t, &st));
    pid_t pid = aio_subprocess_transport_pid(s->t);
    aio_subprocess_transport_unref(s->t);
    ck_assert(!proc_exists(pid));
    return st;
}

static int protocol_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int before = ac_open_fds();
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1},
                                .stderr_fd = {AIO_STDIO_PIPE, -1}};
    sm s;
    sm_start(&s, "echo out; echo err >&2; read x; echo \"in:$x\"; exit 3", &o);
    ck_assert(s.has_pipe[0] && s.has_pipe[1] && s.has_pipe[2]);
    ck_assert_ptr_null(aio_subprocess_transport_pipe(s.t, 3));
    ck_assert_int_gt(aio_subprocess_transport_pid(s.t), 0);
    ck_assert(!aio_subprocess_transport_returncode(s.t, NULL));
    aio_transport *in = aio_subprocess_transport_pipe(s.t, 0);
    ck_assert_int_eq(aio_transport_write(in, "hello\n", 6), 0);
    aio_transport_close(in);
    ck_assert_int_eq(sm_end(&s), 3);
    ck_assert_str_eq(s.data[1], "out\nin:hello\n");
    ck_assert_str_eq(s.data[2], "err\n");
    ck_assert_int_eq(s.lost_error, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(s.pipe_error[i], 0);

    /* Only stdout a pipe; a big output in several pieces, all of it
     * before the pipe's end. */
    o = (aio_subprocess_options){.stdout_fd = {AIO_STDIO_PIPE, -1},
                                 .stdin_fd = {AIO_STDIO_DEVNULL, -1}};
    sm_start(&s, "printf 'a%.0s' $(seq 200)", &o);
    ck_assert(!s.has_pipe[0] && s.has_pipe[1] && !s.has_pipe[2]);
    ck_assert_int_eq(sm_end(&s), 0);
    ck_assert_uint_eq(s.len[1], 200);

    /* stdin flow control: pause_writing above the high watermark, and the
     * child leaving under pending data ends stdin with -EPIPE. */
    o = (aio_subprocess_options){.stdin_fd = {AIO_STDIO_PIPE, -1}};
    sm_start(&s, "head -c 1 >/dev/null", &o);
    char *big = calloc(1, 1u << 20);
    ck_assert_int_eq(aio_transport_write(aio_subprocess_transport_pipe(s.t, 0), big, 1u << 20), 0);
    free(big);
    ck_assert_int_eq(sm_end(&s), 0);
    ck_assert_int_eq(s.pauses, 1);
    ck_assert_int_eq(s.pipe_error[0], -EPIPE);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_protocol_order)
{
    ac_run_main(protocol_main, NULL);
}
END_TEST

START_TEST(test_protocol_order_polling)
{
    run_polling(protocol_main);
}
END_TEST

static int transport_close_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int before = ac_open_fds();
    aio_subprocess_options o = {.stdout_fd = {AIO_STDIO_PIPE, -1}};
    sm s;
    /* Closing the transport of a running child kills it. */
    sm_start(&s, "exec sleep 30", &o);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert(!aio_subprocess_transport_is_closing(s.t));
    aio_subprocess_transport_close(s.t);
    ck_assert(aio_subprocess_transport_is_closing(s.t));
    aio_subprocess_transport_close(s.t); /* idempotent */
    ck_assert_int_eq(sm_end(&s), -SIGKILL);

    /* ... never one that has exited (reaped or not yet). */
    sm_start(&s, "exit 0", &o);
    int st;
    ck_assert_int_eq(aio_process_wait(aio_subprocess_transport_process(s.t), &st), 0);
    ck_assert_int_eq(st, 0);
    aio_subprocess_transport_close(s.t);
    ck_assert_int_eq(aio_subprocess_transport_kill(s.t), -ESRCH);
    ck_assert_int_eq(sm_end(&s), 0);

    /* Closed right away, before connection_made: made, exited, lost. */
    sm_start(&s, "exec sleep 30", &o);
    aio_subprocess_transport_close(s.t);
    ck_assert_int_eq(sm_end(&s), -SIGKILL);

    /* terminate through the transport. */
    sm_start(&s, "exec sleep 30", &o);
    ck_assert_int_eq(aio_subprocess_transport_send_signal(s.t, 0), 0);
    ck_assert_int_eq(aio_subprocess_transport_terminate(s.t), 0);
    ck_assert_int_eq(sm_end(&s), -SIGTERM);
    ck_assert_int_eq(ac_open_fds(), before);

    aio_subprocess_transport *t = (aio_subprocess_transport *)&t;
    const char *const missing[] = {"/nonexistent/program", NULL};
    if (!AC_UNDER_VALGRIND())
        ck_assert_int_eq(aio_subprocess_exec(ac_loop(), &sm_proto, NULL, missing, &o, &t), -ENOENT);
    ck_assert_int_eq(aio_subprocess_exec(ac_loop(), NULL, NULL, missing, &o, &t), -EINVAL);
    ck_assert_int_eq(aio_subprocess_shell(ac_loop(), &sm_proto, NULL, NULL, &o, &t), -EINVAL);
    ck_assert(t == (aio_subprocess_transport *)&t);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_transport_close_kills_running_only)
{
    ac_run_main(transport_close_main, NULL);
}
END_TEST

/* The loop closes under a running subprocess transport: the child is
 * reported and killed, every callback still due runs in order, and
 * connection_lost gets AL_ELOOPCLOSED; no fd, no zombie. */
START_TEST(test_transport_loop_close)
{
    int before = ac_open_fds();
    for (int variant = 0; variant < 2; variant++) {
        al_loop *loop = ac_loop_new();
        int reports = 0;
        ck_assert_int_eq(al_loop_set_exception_handler(loop, count_reports, &reports), 0);
        aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                    .stdout_fd = {AIO_STDIO_PIPE, -1}};
        sm s = {0};
        const char *const sl[] = {"sleep", "30", NULL};
        ck_assert_int_eq(aio_subprocess_exec(loop, &sm_proto, &s, sl, &o, &s.t), 0);
        aio_subprocess_transport_ref(s.t);
        s.has_pipe[0] = s.has_pipe[1] = true;
        if (variant == 1) { /* connection_made has run */
            ck_assert_int_eq(al_loop_run_once(loop), 0);
            ck_assert(s.made);
        }
        ck_assert_int_eq(al_loop_close(loop), 0);
        ck_assert_int_eq(reports, 1);
        ck_assert(s.made && s.exited && s.lost && s.pipe_lost[0] && s.pipe_lost[1]);
        ck_assert_int_eq(s.lost_error, AL_ELOOPCLOSED);
        int st;
        ck_assert(aio_subprocess_transport_returncode(s.t, &st));
        ck_assert_int_eq(st, -SIGKILL);
        ck_assert(!proc_exists(aio_subprocess_transport_pid(s.t)));
        aio_subprocess_transport_unref(s.t);
        ck_assert_int_eq(al_loop_free(loop), 0);
    }
    ck_assert_int_eq(ac_open_fds(), before);
}
END_TEST

AL_TEST_SUITE(suite_subprocess)
{
    ac_require_backend();
    Suite *s = suite_create("subprocess");
    TCase *tc = al_tcase("subprocess");
    tcase_add_test(tc, test_exit_codes_and_signals);
    tcase_add_test(tc, test_exit_codes_polling_fallback);
    tcase_add_test(tc, test_exec_failures_are_errors);
    tcase_add_test(tc, test_stdio_env_cwd);
    tcase_add_test(tc, test_no_fd_leak_into_child);
    tcase_add_test(tc, test_waiters_cancel_free_grandchild);
    tcase_add_test(tc, test_many_concurrent_children);
    tcase_add_test(tc, test_many_concurrent_children_polling);
    tcase_add_test(tc, test_child_inherits_signal_mask);
    tcase_add_test(tc, test_new_process_group);
    tcase_add_test(tc, test_loop_close_reaps_live_children);
    tcase_add_test(tc, test_protocol_order);
    tcase_add_test(tc, test_protocol_order_polling);
    tcase_add_test(tc, test_transport_close_kills_running_only);
    tcase_add_test(tc, test_transport_loop_close);
    suite_add_tcase(s, tc);
    return s;
}

/* A subprocess's pipes: communicate (large data both ways, broken pipes,
 * cancellation at each wait point losing nothing, mixed with the
 * streams as asyncio's) and stdin / stdout / stderr as streams (a
 * dialogue, write + drain, broken pipes, cancelled reads, drains and
 * wait_closed). */
#include "aio_conf.h"

#include <asyncio/subprocess.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int readline_is(aio_stream_reader *r, const char *want)
{
    void *line = NULL;
    size_t len = 0;
    int rc = aio_stream_readline(r, &line, &len);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(len == 0 || memcmp(line, want, len) == 0);
    free(line);
    return 0;
}

/* ---- communicate ------------------------------------------------------------ */

#define BIG (10u * 1024 * 1024)
#define BROKEN (8u << 20)

static int communicate_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    char *in = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        in[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    /* 10 MiB in through cat to stdout while 10 MiB comes out on stderr at
     * the same time: neither direction may wait for the other. */
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1},
                                .stderr_fd = {AIO_STDIO_PIPE, -1}};
    aio_process *p;
    ck_assert_int_eq(
        aio_create_subprocess_shell(loop, "head -c 10485760 /dev/zero >&2 & cat; wait", &o, &p), 0);
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    ck_assert_int_eq(aio_process_communicate(p, in, BIG, &out, &out_len, &err, &err_len), 0);
    ck_assert_uint_eq(out_len, BIG);
    ck_assert(memcmp(out, in, BIG) == 0);
    ck_assert_uint_eq(err_len, BIG);
    for (size_t i = 0; i < BIG; i++)
        if (err[i] != 0)
            ck_abort_msg("stderr byte %zu is %d", i, err[i]);
    int st;
    ck_assert(aio_process_returncode(p, &st));
    ck_assert_int_eq(st, 0);
    ck_assert_int_eq(aio_process_fd(p, 0), -1); /* stdin was closed */
    free(out);
    free(err);
    aio_process_free(p);

    /* The child exits without reading: EPIPE is ignored, no SIGPIPE. */
    o.stderr_fd = (aio_stdio){AIO_STDIO_DEVNULL, -1};
    ck_assert_int_eq(aio_create_subprocess_shell(loop, "echo early; exit 4", &o, &p), 0);
    ck_assert_int_eq(aio_process_communicate(p, in, BIG, &out, &out_len, &err, &err_len), 0);
    ck_assert_str_eq(out, "early\n");
    ck_assert_ptr_null(err); /* stderr was not a pipe */
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 4);
    free(out);
    aio_process_free(p);

    /* No input, nothing written: "" for an empty pipe. */
    const char *const t[] = {"true", NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, t, &o, &p), 0);
    ck_assert_int_eq(aio_process_communicate(p, NULL, 0, &out, &out_len, NULL, NULL), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(out_len, 0);
    ck_assert_int_eq(aio_process_communicate(p, NULL, 1, &out, NULL, NULL, NULL), -EINVAL);
    free(out);
    aio_process_free(p);
    free(in);
    return 0;
}

START_TEST(test_communicate_large_both_ways)
{
    ac_run_main(communicate_main, NULL);
}
END_TEST

static int comm_task(void *arg, void **result)
{
    char *out = NULL;
    int rc = aio_process_communicate(arg, "x", 1, &out, NULL, NULL, NULL);
    free(out);
    *result = AC_VP(rc);
    return 0;
}

static int comm_cancel_main(void *arg, void **result)
{
    (void)arg, (void)result;
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1}};
    const char *const sl[] = {"sleep", "30", NULL};
    aio_process *p;
    ck_assert_int_eq(aio_create_subprocess_exec(ac_loop(), sl, &o, &p), 0);
    al_task *t = ac_spawn(comm_task, p);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_eq(aio_process_communicate(p, NULL, 0, NULL, NULL, NULL, NULL), AIO_EFDBUSY);
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(ac_join_value(t), AL_ECANCELLED);
    ck_assert(!aio_process_returncode(p, NULL));
    ck_assert_int_eq(aio_process_terminate(p), 0);
    int st;
    ck_assert_int_eq(aio_process_wait(p, &st), 0); /* intact after the cancel */
    ck_assert_int_eq(st, -SIGTERM);
    aio_process_free(p);
    return 0;
}

START_TEST(test_communicate_cancelled)
{
    ac_run_main(comm_cancel_main, NULL);
}
END_TEST

/* Bounded wait (30 s of 1 ms sleeps) until r holds at least n bytes. */
static void until_buffered(aio_stream_reader *r, size_t n)
{
    for (int i = 0; i < 30000 && aio_stream_buffered(r) < n; i++)
        ck_assert_int_eq(al_sleep(0.001), 0);
    ck_assert_uint_ge(aio_stream_buffered(r), n);
}

/* cmd under the shell with stdin, stdout and stderr pipes. */
static aio_process *shell_piped(const char *cmd)
{
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1},
                                .stderr_fd = {AIO_STDIO_PIPE, -1}};
    aio_process *p;
    ck_assert_int_eq(aio_create_subprocess_shell(ac_loop(), cmd, &o, &p), 0);
    return p;
}

/* One byte read from a stream: the byte, or the error. */
static int read1_task(void *arg, void **result)
{
    unsigned char c;
    ssize_t n = aio_stream_read(arg, &c, 1);
    *result = AC_VP(n == 1 ? c : n);
    return 0;
}

/* communicate mixed with the streams, as asyncio's (which runs on
 * Process.stdin / .stdout): what went through the stdin stream goes first,
 * also while still buffered in its transport; what stdout's reader holds
 * unread comes first in *out; stdin is closed, the readers end at EOF. */
static int comm_mixed_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int before = ac_open_fds();
    aio_process *p = shell_piped("read x; echo \"first=$x\"; echo buffered; cat; echo bye >&2");
    aio_stream_writer *in;
    aio_stream_reader *out;
    ck_assert_int_eq(aio_process_stdin(p, &in), 0);
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    ck_assert_int_eq(aio_stream_write(in, "hello\n", 6), 0);
    ck_assert_int_eq(aio_stream_drain(in), 0);
    readline_is(out, "first=hello\n");
    until_buffered(out, 9);                                       /* "buffered\n", left unread */
    ck_assert_int_eq(aio_stream_write(in, "via-stream,", 11), 0); /* not drained */
    char *o1 = NULL, *e1 = NULL;
    size_t o1_len = 0, e1_len = 0;
    ck_assert_int_eq(aio_process_communicate(p, "via-communicate", 15, &o1, &o1_len, &e1, &e1_len),
                     0);
    ck_assert_str_eq(o1, "buffered\nvia-stream,via-communicate");
    ck_assert_uint_eq(o1_len, strlen(o1));
    ck_assert_str_eq(e1, "bye\n"); /* stderr never was a stream: made one */
    ck_assert_uint_eq(e1_len, 4);
    int st;
    ck_assert(aio_process_returncode(p, &st));
    ck_assert_int_eq(st, 0);
    ck_assert(aio_stream_is_closing(in));
    ck_assert(aio_stream_at_eof(out));
    ck_assert_int_eq(aio_process_fd(p, 2), -1);
    free(o1);
    free(e1);
    /* once more: at the end already, "" each */
    ck_assert_int_eq(aio_process_communicate(p, NULL, 0, &o1, &o1_len, &e1, NULL), 0);
    ck_assert_str_eq(o1, "");
    ck_assert_str_eq(e1, "");
    free(o1);
    free(e1);
    ck_assert_int_eq(aio_process_free(p), 0);

    /* At scale through cat: 1 MiB written through the stream and left in
     * its transport, 1000 bytes of the output read through the stream,
     * then communicate sends 3 MiB more: the rest arrives whole, in order. */
    size_t first = 1u << 20, more = 3u << 20, total = first + more;
    char *big = malloc(total);
    for (size_t i = 0; i < total; i++)
        big[i] = (char)(i * 131 + i / 1021);
    p = shell_piped("exec cat 2>/dev/null");
    ck_assert_int_eq(aio_process_stdin(p, &in), 0);
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    ck_assert_int_eq(aio_stream_write(in, big, first), 0);
    char head[1000];
    ck_assert_int_eq(aio_stream_readexactly(out, head, sizeof head, NULL), 0);
    ck_assert(memcmp(head, big, sizeof head) == 0);
    ck_assert_int_eq(aio_process_communicate(p, big + first, more, &o1, &o1_len, &e1, &e1_len), 0);
    ck_assert_uint_eq(o1_len, total - sizeof head);
    ck_assert(memcmp(o1, big + sizeof head, o1_len) == 0);
    ck_assert_str_eq(e1, "");
    ck_assert_uint_eq(e1_len, 0);
    free(o1);
    free(e1);
    ck_assert_int_eq(aio_process_free(p), 0);
    free(big);

    /* stdin ended by the caller (write_eof): input is dropped, as asyncio's
     * write on a closing pipe drops it; what was written first goes. */
    p = shell_piped("exec cat 2>/dev/null");
    ck_assert_int_eq(aio_process_stdin(p, &in), 0);
    ck_assert_int_eq(aio_stream_write(in, "kept", 4), 0);
    ck_assert_int_eq(aio_stream_write_eof(in), 0);
    ck_assert_int_eq(aio_process_communicate(p, "dropped", 7, &o1, &o1_len, NULL, NULL), 0);
    ck_assert_str_eq(o1, "kept");
    free(o1);
    ck_assert_int_eq(aio_process_free(p), 0);

    /* A read of stdout waits in another task: communicate's own read of
     * it is refused (one read at a time, asyncio's RuntimeError); its
     * stdin side still ran (written, closed). */
    p = shell_piped("exec cat 2>/dev/null");
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    al_task *t = ac_spawn(read1_task, out);
    ck_assert_int_eq(al_sleep(0), 0);
    ck_assert_int_eq(aio_process_communicate(p, "x", 1, &o1, NULL, NULL, NULL), AL_EINVALIDSTATE);
    ck_assert_int_eq(ac_join_value(t), 'x');
    void *rest = NULL;
    size_t rest_len = 1;
    ck_assert_int_eq(aio_stream_read_all(out, &rest, &rest_len), 0); /* to EOF: pipe closed */
    ck_assert_uint_eq(rest_len, 0);
    free(rest);
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 0);
    ck_assert_int_eq(aio_process_free(p), 0);
    /* the pipes close with their connection_lost, a loop iteration on */
    for (int i = 0; i < 1000 && ac_open_fds() != before; i++)
        ck_assert_int_eq(al_sleep(0.001), 0);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

/* With eager tasks (asyncio's eager_task_factory) communicate's side
 * tasks take their first step inside al_task_new: the same outcome, each
 * of its references released once. */
static int comm_eager_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int before = ac_open_fds();
    ck_assert_int_eq(al_loop_set_eager_tasks(ac_loop(), true), 0);
    for (int i = 0; i < 3; i++) {
        aio_process *p = shell_piped("cat; echo e >&2");
        char *o = NULL, *e = NULL;
        size_t ol = 0, el = 0;
        ck_assert_int_eq(aio_process_communicate(p, "in", 2, &o, &ol, &e, &el), 0);
        ck_assert_str_eq(o, "in");
        ck_assert_str_eq(e, "e\n");
        free(o);
        free(e);
        ck_assert_int_eq(aio_process_free(p), 0);
    }
    ck_assert_int_eq(al_loop_set_eager_tasks(ac_loop(), false), 0);
    for (int i = 0; i < 1000 && ac_open_fds() != before; i++)
        ck_assert_int_eq(al_sleep(0.001), 0);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_communicate_eager_tasks)
{
    ac_run_main(comm_eager_main, NULL);
}
END_TEST

START_TEST(test_communicate_mixed_with_streams)
{
    ac_run_main(comm_mixed_main, NULL);
}
END_TEST

typedef struct comm_input {
    aio_process *p;
    const void *in;
    size_t len;
} comm_input;

static int comm_input_task(void *arg, void **result)
{
    comm_input *c = arg;
    *result = AC_VP(aio_process_communicate(c->p, c->in, c->len, NULL, NULL, NULL, NULL));
    return 0;
}

/* Starts cmd (stdin and stdout pipes), runs communicate(c->in) in a task
 * until stdout's reader holds seen bytes (read by the communicate, which
 * waits for EOF), cancels it; the child is left running and is killed
 * here, its process in c->p. */
static void cancel_communicate(const char *cmd, comm_input *c, size_t seen, double then)
{
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1}};
    ck_assert_int_eq(aio_create_subprocess_shell(ac_loop(), cmd, &o, &c->p), 0);
    al_task *t = ac_spawn(comm_input_task, c);
    ck_assert_int_eq(al_sleep(0), 0);
    aio_stream_reader *out;
    ck_assert_int_eq(aio_process_stdout(c->p, &out), 0);
    until_buffered(out, seen);
    ck_assert_int_eq(al_sleep(then), 0);
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(ac_join_value(t), AL_ECANCELLED);
    ck_assert(!aio_process_returncode(c->p, NULL)); /* left running */
}

/* A cancelled communicate loses nothing (as asyncio's, whose stdin keeps
 * what write(input) queued; asyncio's read() drops the blocks it read,
 * ours stay in the readers): the output read so far comes out of the next
 * communicate; all of input is queued on stdin, which stays open; the
 * child is left running. */
static int comm_cancel_keeps_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int before = ac_open_fds();
    comm_input c = {.in = "hello world", .len = 11};
    cancel_communicate("head -c 6; exec sleep 30", &c, 6, 0);
    ck_assert_int_eq(aio_process_kill(c.p), 0);
    char *got = NULL;
    size_t len = 0;
    ck_assert_int_eq(aio_process_communicate(c.p, NULL, 0, &got, &len, NULL, NULL), 0);
    ck_assert_uint_eq(len, 6);
    ck_assert_str_eq(got, "hello ");
    free(got);
    int st;
    ck_assert(aio_process_returncode(c.p, &st));
    ck_assert_int_eq(st, -SIGKILL);
    ck_assert_int_eq(aio_process_free(c.p), 0);

    /* The child reads one byte and keeps stdin open: the feed waits in
     * drain; cancelled, the rest of input is queued whole. */
    char *big = calloc(1, BROKEN);
    c = (comm_input){.in = big, .len = BROKEN};
    cancel_communicate("head -c 1; exec sleep 30", &c, 1, 0);
    aio_stream_writer *in;
    ck_assert_int_eq(aio_process_stdin(c.p, &in), 0);
    ck_assert(!aio_stream_is_closing(in));
    size_t queued = aio_transport_get_write_buffer_size(aio_stream_transport(in));
    ck_assert_msg(queued > BROKEN / 2, "%zu bytes of input queued", queued);
    ck_assert_int_eq(aio_process_kill(c.p), 0);
    ck_assert_int_eq(aio_process_communicate(c.p, NULL, 0, &got, &len, NULL, NULL), 0);
    ck_assert_uint_eq(len, 1); /* the broken pipe is not an error */
    free(got);
    ck_assert_int_eq(aio_process_free(c.p), 0);
    free(big);

    /* The pipes reach their end while the child runs on: the cancel finds
     * the communicate in its wait for the child (or, on a slow machine,
     * still reading): the same outcome. */
    c = (comm_input){.in = "", .len = 0};
    cancel_communicate("echo hi; exec sleep 30 >&- 2>&-", &c, 3, 0.05);
    ck_assert_int_eq(aio_process_kill(c.p), 0);
    ck_assert_int_eq(aio_process_communicate(c.p, NULL, 0, &got, &len, NULL, NULL), 0);
    ck_assert_str_eq(got, "hi\n");
    free(got);
    ck_assert_int_eq(aio_process_free(c.p), 0);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_communicate_cancel_keeps_data)
{
    ac_run_main(comm_cancel_keeps_main, NULL);
}
END_TEST

/* ---- stdin / stdout / stderr as streams ------------------------------------ */

static int read_all_task(void *arg, void **result)
{
    void *data = NULL;
    size_t len = 0;
    int rc = aio_stream_read_all(arg, &data, &len);
    *result = rc ? AC_VP(rc) : data;
    if (rc == 0 && len == 0)
        free(data), *result = NULL;
    return 0;
}

static int streams_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    int before = ac_open_fds();
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1},
                                .stderr_fd = {AIO_STDIO_PIPE, -1}};
    aio_process *p;
    /* A dialogue: each line comes out before the child reads the next. */
    ck_assert_int_eq(
        aio_create_subprocess_shell(
            loop, "echo ready; while read x; do echo \"got $x\"; done; echo bye >&2", &o, &p),
        0);
    aio_stream_writer *in;
    aio_stream_reader *out, *err, *again;
    ck_assert_int_eq(aio_process_stdin(p, &in), 0);
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    ck_assert_int_eq(aio_process_stdout(p, &again), 0);
    ck_assert_ptr_eq(out, again);
    ck_assert_int_eq(aio_process_fd(p, 0), -1); /* the transports' now */
    ck_assert_int_eq(aio_process_fd(p, 1), -1);
    ck_assert_int_ge(aio_process_fd(p, 2), 0);
    readline_is(out, "ready\n");
    for (int i = 0; i < 3; i++) {
        char line[32], want[32];
        snprintf(line, sizeof line, "%d\n", i);
        snprintf(want, sizeof want, "got %d\n", i);
        ck_assert_int_eq(aio_stream_write(in, line, strlen(line)), 0);
        ck_assert_int_eq(aio_stream_drain(in), 0);
        readline_is(out, want);
    }
    ck_assert(!aio_process_returncode(p, NULL)); /* streamed, not at exit */
    ck_assert(aio_stream_can_write_eof(in));
    ck_assert_int_eq(aio_stream_write_eof(in), 0);
    ck_assert_int_eq(aio_process_stderr(p, &err), 0);
    readline_is(err, "bye\n");
    readline_is(out, ""); /* end of file */
    ck_assert(aio_stream_at_eof(out));
    int st;
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 0);
    ck_assert_int_eq(aio_process_free(p), 0);

    /* 4 MiB through cat: the writer drains while a task reads stdout. */
    size_t n = 4u << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 31 + i / 997);
    o.stderr_fd = (aio_stdio){AIO_STDIO_DEVNULL, -1};
    const char *const cat[] = {"cat", NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, cat, &o, &p), 0);
    ck_assert_int_eq(aio_process_stdin(p, &in), 0);
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    ck_assert_int_eq(aio_process_stderr(p, &err), -EBADF); /* not a pipe */
    al_task *rd = ac_spawn(read_all_task, out);
    for (size_t off = 0; off < n; off += 65536) {
        ck_assert_int_eq(aio_stream_write(in, big + off, 65536), 0);
        ck_assert_int_eq(aio_stream_drain(in), 0);
    }
    aio_stream_close(in);
    ck_assert_int_eq(aio_stream_wait_closed(in), 0);
    ck_assert_int_eq(al_await(al_task_future(rd)), 0);
    void *got = NULL;
    ck_assert_int_eq(al_future_result(al_task_future(rd), &got), 0);
    al_task_unref(rd);
    ck_assert_ptr_nonnull(got);
    ck_assert(memcmp(got, big, n) == 0);
    free(got);
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 0);
    ck_assert_int_eq(aio_process_free(p), 0);
    free(big);
    ck_assert_int_eq(ac_open_fds(), before);
    return 0;
}

START_TEST(test_streams_readline_write_drain)
{
    ac_run_main(streams_main, NULL);
}
END_TEST

static int broken_pipe_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    char *big = calloc(1, BROKEN);
    /* (its stdout to /dev/null: the byte it copies is not the test log's) */
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_DEVNULL, -1}};
    aio_process *p;
    aio_stream_writer *in;
    /* The child reads one byte and leaves while the rest is buffered:
     * drain reports the broken pipe (no SIGPIPE reaches us). */
    const char *const head[] = {"head", "-c", "1", NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, head, &o, &p), 0);
    ck_assert_int_eq(aio_process_stdin(p, &in), 0);
    ck_assert_int_eq(aio_stream_write(in, big, BROKEN), 0);
    ck_assert_int_eq(aio_stream_drain(in), -EPIPE);
    ck_assert_int_lt(aio_stream_write(in, "x", 1), 0); /* lost: said again */
    int st;
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 0);
    ck_assert_int_eq(aio_process_free(p), 0);

    /* The child has exited before the write: the pipe ended cleanly when
     * its reader went (nothing was pending), so the write and the drain
     * say the connection is lost (asyncio: ConnectionResetError). */
    ck_assert_int_eq(aio_create_subprocess_shell(loop, "exit 5", &o, &p), 0);
    ck_assert_int_eq(aio_process_stdin(p, &in), 0);
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, 5);
    ck_assert_int_eq(al_sleep(0.01), 0);
    int wr = aio_stream_write(in, big, BROKEN);
    ck_assert_msg(wr == 0 || wr == -ECONNRESET, "write: %d", wr);
    int dr = aio_stream_drain(in);
    ck_assert_msg(dr == -EPIPE || dr == -ECONNRESET, "drain: %d", dr);
    ck_assert_int_eq(aio_process_free(p), 0);
    free(big);
    return 0;
}

START_TEST(test_streams_broken_pipe)
{
    ac_run_main(broken_pipe_main, NULL);
}
END_TEST

static int readline_task(void *arg, void **result)
{
    void *line = NULL;
    size_t len;
    int rc = aio_stream_readline(arg, &line, &len);
    free(line);
    *result = AC_VP(rc);
    return 0;
}

static int drain_task(void *arg, void **result)
{
    *result = AC_VP(aio_stream_drain(arg));
    return 0;
}

static int wait_closed_task(void *arg, void **result)
{
    *result = AC_VP(aio_stream_wait_closed(arg));
    return 0;
}

static int free_task(void *arg, void **result)
{
    *result = AC_VP(aio_process_free(arg));
    return 0;
}

/* Cancelling readline, read_all, drain and communicate: each ends with
 * AL_ECANCELLED and leaves the process and its streams usable. */
static int streams_cancel_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1},
                                .stderr_fd = {AIO_STDIO_PIPE, -1}};
    aio_process *p;
    ck_assert_int_eq(
        aio_create_subprocess_shell(loop, "read x; echo \"$x\"; exec sleep 30", &o, &p), 0);
    aio_stream_writer *in;
    aio_stream_reader *out, *err;
    ck_assert_int_eq(aio_process_stdin(p, &in), 0);
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    ck_assert_int_eq(aio_process_stderr(p, &err), 0);
    al_task *t = ac_spawn(readline_task, out);
    al_task *t2 = ac_spawn(read_all_task, err);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(al_task_cancel(t2, NULL), 1);
    ck_assert_int_eq(ac_join_value(t), AL_ECANCELLED);
    ck_assert_int_eq(ac_join_value(t2), AL_ECANCELLED);
    ck_assert_int_eq(aio_stream_write(in, "after\n", 6), 0);
    readline_is(out, "after\n"); /* the stream still works */
    /* The child no longer reads: fill the pipe, cancel the drain. */
    char *big = calloc(1, BROKEN);
    ck_assert_int_eq(aio_stream_write(in, big, BROKEN), 0);
    t = ac_spawn(drain_task, in);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(ac_join_value(t), AL_ECANCELLED);
    /* close() with the buffer still full: two wait_closed wait; cancel one.
     * The other, and a later call, still get the end (the shared closed
     * future is shielded from a waiter's cancel). */
    aio_stream_close(in);
    t = ac_spawn(wait_closed_task, in);
    t2 = ac_spawn(wait_closed_task, in);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(ac_join_value(t), AL_ECANCELLED);
    ck_assert(!aio_process_returncode(p, NULL));
    ck_assert_int_eq(aio_process_kill(p), 0);
    /* then the child died under the pending write */
    ck_assert_int_eq(ac_join_value(t2), -EPIPE);
    ck_assert_int_eq(aio_stream_wait_closed(in), -EPIPE);
    ck_assert_int_eq(aio_stream_drain(in), -EPIPE);
    int st;
    ck_assert_int_eq(aio_process_wait(p, &st), 0);
    ck_assert_int_eq(st, -SIGKILL);
    ck_assert_int_eq(aio_process_free(p), 0);
    free(big);

    /* Freeing a process while a communicate of it runs is refused. */
    o.stderr_fd = (aio_stdio){AIO_STDIO_DEVNULL, -1};
    const char *const sl[] = {"sleep", "30", NULL};
    ck_assert_int_eq(aio_create_subprocess_exec(loop, sl, &o, &p), 0);
    t = ac_spawn(comm_task, p);
    ck_assert_int_eq(al_sleep(0.01), 0);
    t2 = ac_spawn(free_task, p);
    ck_assert_int_eq(ac_join_value(t2), -EBUSY);
    /* its streams are the communicate's: one read at a time (asyncio's
     * RuntimeError "already waiting") */
    ck_assert_int_eq(aio_process_stdout(p, &out), 0);
    char byte;
    ck_assert_int_eq(aio_stream_read(out, &byte, 1), AL_EINVALIDSTATE);
    ck_assert_int_eq(al_task_cancel(t, NULL), 1);
    ck_assert_int_eq(ac_join_value(t), AL_ECANCELLED);
    ck_assert_int_eq(aio_process_free(p), 0);
    return 0;
}

START_TEST(test_streams_cancel_and_busy)
{
    ac_run_main(streams_cancel_main, NULL);
}
END_TEST

AL_TEST_SUITE(suite_subprocess_pipes)
{
    ac_require_backend();
    Suite *s = suite_create("subprocess_pipes");
    TCase *tc = al_tcase("subprocess_pipes");
    tcase_add_test(tc, test_communicate_large_both_ways);
    tcase_add_test(tc, test_communicate_cancelled);
    tcase_add_test(tc, test_communicate_mixed_with_streams);
    tcase_add_test(tc, test_communicate_eager_tasks);
    tcase_add_test(tc, test_communicate_cancel_keeps_data);
    tcase_add_test(tc, test_streams_readline_write_drain);
    tcase_add_test(tc, test_streams_broken_pipe);
    tcase_add_test(tc, test_streams_cancel_and_busy);
    suite_add_tcase(s, tc);
    return s;
}

/* Subprocesses (asyncio's create_subprocess_exec / create_subprocess_shell
 * and the Process object): spawn, watch, signal and wait for a child.
 *
 * Spawning uses posix_spawn (glibc reports every failure of the child
 * before exec, so a missing program, a program without permission or a bad
 * working directory comes back to the caller as -ENOENT, -EACCES, ...,
 * never as a child exiting 127). In the child, stdin/stdout/stderr are set
 * as asked, every other fd is closed (as close_fds=True), SIGPIPE and
 * SIGXFSZ get their default disposition (subprocess's restore_signals)
 * and the signal mask is the calling thread's, inherited as
 * subprocess.Popen lets it be (block nothing around a spawn you do not
 * want the child to block). The fds the library creates are close-on-exec.
 *
 * Child watching: a pidfd (pidfd_open) registered as a reader of the loop,
 * so it works on every selector backend; on readiness the child is reaped
 * with waitid(P_PIDFD, WNOHANG). Signals go through pidfd_send_signal, so a
 * recycled pid is never signalled. Fallback when the kernel has no pidfd
 * (pidfd_open fails with ENOSYS, or the environment variable
 * ASYNCIO_SUBPROCESS_NO_PIDFD is set to a non-empty value, for tests): a
 * timer polls waitpid(pid, WNOHANG) for this child only, every 1 ms at
 * first, doubling up to 100 ms. Neither way calls waitpid(-1) or touches
 * SIGCHLD; in the fallback, kill(pid) is used, which is safe as long as
 * no other code reaps this library's children.
 *
 * Threads: the loop's thread only.
 */
#ifndef ASYNCIO_SUBPROCESS_H
#define ASYNCIO_SUBPROCESS_H

#include <asynclib/loop.h>

#include <stdbool.h>
#include <sys/types.h>

#include <asyncio/export.h>
#include <asyncio/streams.h>
#include <asyncio/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What one of the child's standard fds is. */
typedef enum aio_stdio_kind {
    AIO_STDIO_INHERIT = 0, /* the parent's own fd 0/1/2 (the default) */
    AIO_STDIO_PIPE,        /* a pipe; the parent's end is the process's */
    AIO_STDIO_DEVNULL,     /* /dev/null */
    AIO_STDIO_FD,          /* the caller's fd `fd` (stays the caller's) */
    AIO_STDIO_STDOUT,      /* stderr only: the same as the child's stdout */
} aio_stdio_kind;

typedef struct aio_stdio {
    aio_stdio_kind kind;
    int fd; /* AIO_STDIO_FD only */
} aio_stdio;

/* Options of a spawn; a NULL pointer means all defaults. The strings are
 * read during the call only. */
typedef struct aio_subprocess_options {
    const char *const *envp; /* NULL-terminated "K=V" list; NULL: environ */
    const char *cwd;         /* the child's working directory; NULL: ours */
    aio_stdio stdin_fd, stdout_fd, stderr_fd;
    /* The child leads a new process group (its pgid is its pid), as
     * subprocess's process_group=0: signal the whole command, its own
     * children included, with kill(-pid, sig) while it is not reaped. */
    bool new_process_group;
} aio_subprocess_options;

typedef struct aio_process aio_process;

/* Starts argv[0] (searched in PATH when it has no '/', as execvp) with
 * argv (NULL-terminated, at least one entry) on loop. *out receives the
 * caller's process (release with aio_process_free); unchanged on error.
 * Errors: -EINVAL (NULL loop/argv/out, empty argv, a bad aio_stdio: kind
 * out of range, STDOUT for stdin/stdout, FD with a negative fd),
 * -EBADF (an AIO_STDIO_FD that is not open), AL_ENOTIOLOOP,
 * AL_ELOOPCLOSED, AIO_EFORKED, the exec/chdir errno (-ENOENT, -EACCES,
 * -ENOTDIR, -ENOEXEC...), -EMFILE, -ENOMEM, -EAGAIN. On error no child is
 * left running and no fd is left open. */
AIO_API int aio_create_subprocess_exec(al_loop *loop, const char *const *argv,
                                       const aio_subprocess_options *opts, aio_process **out);

/* The same for /bin/sh -c cmd. */
AIO_API int aio_create_subprocess_shell(al_loop *loop, const char *cmd,
                                        const aio_subprocess_options *opts, aio_process **out);

/* The child's pid (still valid after it was reaped, as asyncio's pid). */
AIO_API pid_t aio_process_pid(const aio_process *p);

/* The parent's end of the stdin / stdout / stderr pipe (non-blocking,
 * close-on-exec), or -1 when that fd is not AIO_STDIO_PIPE. Borrowed: the
 * process closes it in aio_process_free, unless taken with
 * aio_process_take_fd (which returns it, then -1, and the caller owns it).
 * which: 0, 1 or 2; -EINVAL otherwise. */
AIO_API int aio_process_fd(const aio_process *p, int which);
AIO_API int aio_process_take_fd(aio_process *p, int which);

/* asyncio's returncode: true and *status (may be NULL) once the child was
 * reaped: its exit code, or the negative signal number when a signal
 * killed it; false while it runs. */
AIO_API bool aio_process_returncode(const aio_process *p, int *status);

/* asyncio's Process.wait: suspends the current task until the child has
 * exited (it does not wait for pipes: a grandchild holding one open does
 * not delay it), then 0 and *status (may be NULL) as for returncode. Any
 * number of tasks may wait at once; all get the status. Errors:
 * AL_ECANCELLED (the waiting task was cancelled; the process and the other
 * waits are unaffected), AL_ENOTINTASK, AL_EWRONGLOOP, -EINVAL,
 * AL_ELOOPCLOSED. */
AIO_API int aio_process_wait(aio_process *p, int *status);

/* asyncio's Process.communicate: writes input (len bytes; may be NULL
 * when len is 0) to stdin and then closes it, while reading stdout and
 * stderr to end of file, then waits for the child. It runs on the pipes'
 * streams (aio_process_stdin/stdout/stderr, made here for the pipes that
 * are not streams yet), as asyncio's does, so it mixes with them: what was
 * written through the stdin stream goes first (also while still buffered
 * there), and *out / *err begin with what the readers held unread. A
 * stdin that is not a pipe, or whose stream was closed (or write_eof'd),
 * is not written (asyncio's write drops the data then). A child that
 * exits before reading all of input (EPIPE, or the pipe already lost:
 * -ECONNRESET) is not an error: the rest is dropped, and SIGPIPE is never
 * delivered to this process for it. Input is written a chunk at a time,
 * each drained (not copied whole). On 0, *out / *err (each may be NULL)
 * receive the bytes read (malloc'd, NUL-terminated for convenience, the
 * caller frees; NULL when that fd is not a pipe) and *out_len / *err_len
 * (may be NULL) their lengths; the child has been reaped
 * (aio_process_returncode); the readers are at end of file, empty.
 * Cancelled (AL_ECANCELLED), nothing is lost, and the child is neither
 * signalled nor waited for: the output read so far stays in the stdout /
 * stderr readers (the next communicate or read returns it: asyncio's
 * read() would drop it), the part of input not yet written is queued
 * whole on the stdin stream (as asyncio's write(input) had queued it) and
 * stdin stays open (if all was written already, it was closed). Errors:
 * AL_ECANCELLED, the stream errors of the pipes (a read or write errno),
 * -ENOMEM, -EINVAL (NULL p, or input NULL with len > 0), AL_ENOTINTASK,
 * AL_EINVALIDSTATE (a read of stdout or stderr waits in another task;
 * stdin is still fed and closed), the errors of aio_process_wait; on an
 * error nothing is handed out and what was read stays in the readers. One
 * communicate at a time per process (a second one meanwhile: AIO_EFDBUSY);
 * meanwhile its streams' reads fail with AL_EINVALIDSTATE (one read at a
 * time per reader, asyncio's RuntimeError). */
AIO_API int aio_process_communicate(aio_process *p, const void *input, size_t len, char **out,
                                    size_t *out_len, char **err, size_t *err_len);

/* The pipes as the streams of streams.h (asyncio's Process.stdin,
 * .stdout, .stderr): made on the first call from the pipe the process
 * holds (a pipe transport over it; aio_process_fd then says -1), the same
 * handle afterwards. Borrowed: valid until aio_process_free, which closes
 * them (stdin after what is buffered was written); do not free them.
 * The reader's limit is the default (64 KiB). A child that exits under a
 * pending write makes the writer's drain return -EPIPE (write + drain
 * reports the broken pipe; communicate ignores it). They mix with
 * aio_process_communicate, which uses them. Errors: -EINVAL (NULL),
 * -EBADF (that fd is not a pipe, or was taken or closed), AL_ELOOPCLOSED,
 * -ENOMEM. */
AIO_API int aio_process_stdin(aio_process *p, aio_stream_writer **w);
AIO_API int aio_process_stdout(aio_process *p, aio_stream_reader **r);
AIO_API int aio_process_stderr(aio_process *p, aio_stream_reader **r);

/* Sends sig to the child (0 checks it can be signalled). 0, or -ESRCH
 * once the child has been reaped (nothing is sent: the pid may be another
 * process's by now), -EINVAL (NULL or a bad number), -EPERM. */
AIO_API int aio_process_send_signal(aio_process *p, int sig);
/* send_signal(SIGTERM) and send_signal(SIGKILL). */
AIO_API int aio_process_terminate(aio_process *p);
AIO_API int aio_process_kill(aio_process *p);

/* Releases p: a child still running is killed (SIGKILL) and reaped before
 * this returns (no zombie), pending waits are cancelled, the streams are
 * closed and the pipe fds the process still owns are closed. 0 (also for
 * NULL), or -EBUSY while an aio_process_communicate of p runs in another
 * task (nothing is done: cancel that task first). Closing the loop
 * (al_loop_close / al_loop_free) kills every child of the loop still
 * running the same way (killed, reaped, its pidfd closed; returncode
 * -SIGKILL) and reports each to the loop's exception handler ("event loop
 * closed with child pid N running"; CPython logs "Loop ... that handles
 * pid ... is closed" as a warning in the same case), leaving the object to
 * be released here, also after the loop is gone. */
AIO_API int aio_process_free(aio_process *p);

/* ---- the protocol-level variant (loop.subprocess_exec / subprocess_shell) ---- */

typedef struct aio_subprocess_transport aio_subprocess_transport;

/* asyncio's SubprocessProtocol. Callbacks run on the loop's thread as
 * ordinary loop callbacks; a NULL one does nothing. fd is 0 (stdin), 1
 * (stdout) or 2 (stderr). Order (checked by the tests):
 *     connection_made first;
 *     per pipe: pipe_data_received* then pipe_connection_lost once
 *     (every byte of a pipe before its pipe_connection_lost);
 *     process_exited once, when the child has been reaped: it may come
 *     before, between or after the pipes' events (as in CPython, which
 *     documents the same since gh-108973: a grandchild may hold a pipe);
 *     connection_lost once and last, after process_exited and every
 *     pipe_connection_lost (base_subprocess's _try_finish).
 * data is borrowed for the call. After connection_lost returns, the
 * transport is freed unless the user holds a reference. */
typedef struct aio_subprocess_protocol {
    void (*connection_made)(aio_subprocess_transport *t, void *user);
    void (*pipe_data_received)(aio_subprocess_transport *t, int fd, const void *data, size_t len,
                               void *user);
    /* error 0 at end of file or a clean close; -EPIPE for stdin when the
     * child went away under pending data; AL_ELOOPCLOSED at loop close. */
    void (*pipe_connection_lost)(aio_subprocess_transport *t, int fd, int error, void *user);
    void (*process_exited)(aio_subprocess_transport *t, void *user);
    /* 0, or AL_ELOOPCLOSED when the loop's close ended it. */
    void (*connection_lost)(aio_subprocess_transport *t, int error, void *user);
    /* stdin's write buffer went above its high watermark / back to low. */
    void (*pause_writing)(aio_subprocess_transport *t, void *user);
    void (*resume_writing)(aio_subprocess_transport *t, void *user);
} aio_subprocess_protocol;

/* Starts argv (as aio_create_subprocess_exec, same options and errors)
 * with a pipe transport for every AIO_STDIO_PIPE fd, delivering to proto
 * with user (proto must outlive the transport). connection_made runs in
 * a later callback. *out is the transport: the library's until
 * connection_lost has returned (take a reference to keep it longer);
 * unchanged on error (no child is left running). */
AIO_API int aio_subprocess_exec(al_loop *loop, const aio_subprocess_protocol *proto, void *user,
                                const char *const *argv, const aio_subprocess_options *opts,
                                aio_subprocess_transport **out);
/* The same for /bin/sh -c cmd. */
AIO_API int aio_subprocess_shell(al_loop *loop, const aio_subprocess_protocol *proto, void *user,
                                 const char *cmd, const aio_subprocess_options *opts,
                                 aio_subprocess_transport **out);

/* get_pid, get_returncode (as aio_process_returncode). */
AIO_API pid_t aio_subprocess_transport_pid(const aio_subprocess_transport *t);
AIO_API bool aio_subprocess_transport_returncode(const aio_subprocess_transport *t, int *status);
/* get_pipe_transport: the pipe transport of fd 0, 1 or 2 (write stdin
 * with aio_transport_write, close it with aio_transport_close), or NULL
 * when that fd is not a pipe. Borrowed: valid as long as t. */
AIO_API aio_transport *aio_subprocess_transport_pipe(const aio_subprocess_transport *t, int fd);
/* The process underneath (to aio_process_wait for it; its pipes belong to
 * the transports). Borrowed: valid as long as t; never free it. */
AIO_API aio_process *aio_subprocess_transport_process(const aio_subprocess_transport *t);
/* As aio_process_send_signal / terminate / kill (-ESRCH once reaped). */
AIO_API int aio_subprocess_transport_send_signal(aio_subprocess_transport *t, int sig);
AIO_API int aio_subprocess_transport_terminate(aio_subprocess_transport *t);
AIO_API int aio_subprocess_transport_kill(aio_subprocess_transport *t);
/* Closes every pipe transport and kills (SIGKILL) the child if it is
 * still running, never one that has exited (it is reaped first if it
 * can be). connection_lost follows once the child is reaped and the pipes
 * are closed. Idempotent. Closing the loop does the same for every
 * transport still open (the child is reported and killed, the callbacks
 * still due run, connection_lost gets AL_ELOOPCLOSED). */
AIO_API void aio_subprocess_transport_close(aio_subprocess_transport *t);
AIO_API bool aio_subprocess_transport_is_closing(const aio_subprocess_transport *t);
/* References: keep t past connection_lost. */
AIO_API aio_subprocess_transport *aio_subprocess_transport_ref(aio_subprocess_transport *t);
AIO_API void aio_subprocess_transport_unref(aio_subprocess_transport *t);

#ifdef __cplusplus
}
#endif
#endif

/* Subprocesses: spawn with posix_spawn, watch with a pidfd (or a polling
 * timer where there is none), reap with waitid for this child only. */
#include <asyncio/subprocess.h>

#include <asynclib/future.h>
#include <asynclib/task.h>

#include <asyncio/error.h>
#include <asyncio/fd.h>
#include <asyncio/loop.h>

#include "io_internal.h"
#include "subprocess_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define POLL_FIRST 0.001
#define POLL_MAX 0.1

static int status_of(const siginfo_t *si)
{
    return si->si_code == CLD_EXITED ? si->si_status : -si->si_status;
}

static void wake_waiters(aio_process *p)
{
    for (aio__waiter *w = p->waiters; w; w = w->next) {
        w->got = true;
        w->status = p->status;
        if (!al_future_done(w->fut))
            al_future_set_result(w->fut, NULL, NULL);
    }
}

static void reaped(aio_process *p, int status)
{
    p->reaped = true;
    p->status = status;
    if (p->prev_live) {
        *p->prev_live = p->next_live;
        if (p->next_live)
            p->next_live->prev_live = p->prev_live;
        p->prev_live = NULL;
    }
    if (p->pidfd >= 0) {
        aio__set_interest(p->io, p->pidfd, AIO_READ, NULL, NULL); /* also while closing */
        close(p->pidfd);
        p->pidfd = -1;
    }
    if (p->timer) {
        al_handle_cancel(p->timer);
        al_handle_unref(p->timer);
        p->timer = NULL;
    }
    wake_waiters(p);
    if (p->on_exit)
        p->on_exit(p, p->exit_arg);
}

/* Reaps the child if it has exited; blocking if `block`. 1 if reaped. */
static int try_reap(aio_process *p, bool block)
{
    siginfo_t si;
    int flags = WEXITED | (block ? 0 : WNOHANG);
    for (;;) {
        memset(&si, 0, sizeof si);
        int rc = p->pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, flags)
                               : waitid(P_PID, (id_t)p->pid, &si, flags);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) /* ECHILD: someone else reaped it; no status to give */
            return reaped(p, 255), 1;
        if (si.si_pid == 0)
            return 0;
        reaped(p, status_of(&si));
        return 1;
    }
}

static int on_pidfd(al_loop *loop, void *arg)
{
    (void)loop;
    try_reap(arg, false);
    return 0;
}

static int on_poll(al_loop *loop, void *arg)
{
    aio_process *p = arg;
    al_handle_unref(p->timer);
    p->timer = NULL;
    if (try_reap(p, false))
        return 0;
    p->poll_delay = p->poll_delay * 2 > POLL_MAX ? POLL_MAX : p->poll_delay * 2;
    return al_call_later(loop, p->poll_delay, on_poll, p, &p->timer);
}

static int watch(aio_process *p)
{
    const char *no = getenv("ASYNCIO_SUBPROCESS_NO_PIDFD");
    if (!no || !*no) {
        long fd = syscall(SYS_pidfd_open, p->pid, 0);
        if (fd >= 0) {
            p->pidfd = (int)fd;
            return aio_loop_add_reader(p->loop, p->pidfd, on_pidfd, p);
        }
        if (errno != ENOSYS)
            return -errno;
    }
    p->poll_delay = POLL_FIRST;
    return al_call_later(p->loop, p->poll_delay, on_poll, p, &p->timer);
}

/* ---- spawning ----------------------------------------------------------- */

static int check_stdio(const aio_stdio *s, int which)
{
    if ((unsigned)s->kind > AIO_STDIO_STDOUT || (s->kind == AIO_STDIO_STDOUT && which != 2))
        return -EINVAL;
    if (s->kind == AIO_STDIO_FD) {
        if (s->fd < 0)
            return -EINVAL;
        if (fcntl(s->fd, F_GETFD) < 0)
            return -EBADF;
    }
    return 0;
}

/* The fds the child gets (src[i], -1: inherit) and the parent's pipe ends;
 * every fd opened here is listed in opened[] for closing. */
typedef struct plan {
    int src[3];
    int opened[8];
    int nopened;
} plan;

static int plan_fd(plan *pl, int fd)
{
    if (fd < 0)
        return -errno;
    pl->opened[pl->nopened++] = fd;
    return fd;
}

static int plan_stdio(plan *pl, aio_process *p, const aio_stdio *s, int which)
{
    int fd;
    switch (s->kind) {
    case AIO_STDIO_INHERIT:
        pl->src[which] = -1;
        return 0;
    case AIO_STDIO_STDOUT:
        pl->src[which] = 1; /* dup2(1, 2) after stdout is in place */
        return 0;
    case AIO_STDIO_DEVNULL:
        fd = plan_fd(pl, open("/dev/null", O_RDWR | O_CLOEXEC));
        break;
    case AIO_STDIO_FD:
        fd = s->fd;
        break;
    case AIO_STDIO_PIPE: {
        int pp[2];
        if (pipe2(pp, O_CLOEXEC) < 0)
            return -errno;
        int child = which == 0 ? pp[0] : pp[1], parent = which == 0 ? pp[1] : pp[0];
        plan_fd(pl, child);
        p->fds[which] = parent;
        if (fcntl(parent, F_SETFL, O_NONBLOCK) < 0)
            return -errno;
        fd = child;
        break;
    }
    default:
        return -EINVAL;
    }
    if (fd < 0)
        return fd;
    /* A source among 0..2 other than its target could be overwritten by an
     * earlier dup2 of the child: use a copy above 2. */
    if (fd < 3 && fd != which)
        fd = plan_fd(pl, fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (fd < 0)
        return fd;
    pl->src[which] = fd;
    return 0;
}

static int spawn(aio_process *p, const char *const *argv, const aio_subprocess_options *o,
                 const plan *pl)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return -rc;
    rc = posix_spawnattr_init(&at);
    if (rc) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    for (int i = 0; i < 3 && !rc; i++)
        if (pl->src[i] >= 0)
            rc = posix_spawn_file_actions_adddup2(&fa, pl->src[i], i);
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!rc && o && o->cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    /* restore_signals=True: SIGPIPE and SIGXFSZ back to their default; the
     * signal mask stays the calling thread's (as subprocess.Popen). */
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGXFSZ);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&at, &def);
    short flags = POSIX_SPAWN_SETSIGDEF;
    if (o && o->new_process_group)
        flags |= POSIX_SPAWN_SETPGROUP; /* pgroup 0: its own pid */
    if (!rc)
        rc = posix_spawnattr_setflags(&at, flags);
    char *const *env = o && o->envp ? (char *const *)o->envp : environ;
    if (!rc)
        rc = posix_spawnp(&p->pid, argv[0], &fa, &at, (char *const *)argv, env);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

static void close_fds(aio_process *p)
{
    for (int i = 0; i < 3; i++)
        if (p->fds[i] >= 0) {
            close(p->fds[i]);
            p->fds[i] = -1;
        }
}

int aio_create_subprocess_exec(al_loop *loop, const char *const *argv,
                               const aio_subprocess_options *opts, aio_process **out)
{
    if (!loop || !argv || !argv[0] || !out)
        return -EINVAL;
    static const aio_stdio inherit = {AIO_STDIO_INHERIT, -1};
    const aio_stdio *st[3] = {opts ? &opts->stdin_fd : &inherit, opts ? &opts->stdout_fd : &inherit,
                              opts ? &opts->stderr_fd : &inherit};
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    for (int i = 0; i < 3 && !rc; i++)
        rc = check_stdio(st[i], i);
    if (rc)
        return rc;
    aio_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    *p = (aio_process){.loop = loop, .io = io, .pidfd = -1, .fds = {-1, -1, -1}};
    plan pl = {.src = {-1, -1, -1}};
    for (int i = 0; i < 3 && !rc; i++)
        rc = plan_stdio(&pl, p, st[i], i);
    if (!rc)
        rc = spawn(p, argv, opts, &pl);
    for (int i = 0; i < pl.nopened; i++)
        close(pl.opened[i]);
    if (!rc) {
        rc = watch(p);
        if (rc) { /* the child runs: kill and reap it, leave nothing */
            kill(p->pid, SIGKILL);
            try_reap(p, true);
        }
    }
    if (rc) {
        close_fds(p);
        free(p);
        return rc;
    }
    p->next_live = io->procs; /* a live child of the loop until reaped */
    if (p->next_live)
        p->next_live->prev_live = &p->next_live;
    p->prev_live = &io->procs;
    io->procs = p;
    *out = p;
    return 0;
}

int aio_create_subprocess_shell(al_loop *loop, const char *cmd, const aio_subprocess_options *opts,
                                aio_process **out)
{
    if (!cmd)
        return -EINVAL;
    const char *const argv[] = {"/bin/sh", "-c", cmd, NULL};
    return aio_create_subprocess_exec(loop, argv, opts, out);
}

/* ---- the process object --------------------------------------------------- */

pid_t aio_process_pid(const aio_process *p)
{
    return p ? p->pid : -1;
}

int aio_process_fd(const aio_process *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -EINVAL;
    return p->fds[which];
}

int aio_process_take_fd(aio_process *p, int which)
{
    int fd = aio_process_fd(p, which);
    if (fd >= 0)
        p->fds[which] = -1;
    return fd;
}

bool aio_process_returncode(const aio_process *p, int *status)
{
    if (!p || !p->reaped)
        return false;
    if (status)
        *status = p->status;
    return true;
}

int aio_process_wait(aio_process *p, int *status)
{
    if (!p)
        return -EINVAL;
    if (!p->reaped) {
        aio__waiter w = {.next = p->waiters, .p = p};
        int rc = al_future_new(p->loop, &w.fut);
        if (rc)
            return rc;
        p->waiters = &w;
        rc = al_await(w.fut);
        for (aio__waiter **pp = w.p ? &p->waiters : NULL; pp && *pp; pp = &(*pp)->next)
            if (*pp == &w) {
                *pp = w.next;
                break;
            }
        al_future_unref(w.fut);
        if (rc)
            return rc;
        if (!w.got) /* freed meanwhile without a status */
            return AL_ECANCELLED;
        if (status)
            *status = w.status;
        return 0;
    }
    if (status)
        *status = p->status;
    return 0;
}

int aio_process_send_signal(aio_process *p, int sig)
{
    if (!p || sig < 0 || sig >= NSIG)
        return -EINVAL;
    if (p->reaped)
        return -ESRCH;
    long rc =
        p->pidfd >= 0 ? syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) : kill(p->pid, sig);
    return rc < 0 ? -errno : 0;
}

int aio_process_terminate(aio_process *p)
{
    return aio_process_send_signal(p, SIGTERM);
}

int aio_process_kill(aio_process *p)
{
    return aio_process_send_signal(p, SIGKILL);
}

void aio__process_kill_running(aio_process *p)
{
    if (!p->reaped && !try_reap(p, false))
        aio_process_send_signal(p, SIGKILL);
}

/* Kills and reaps a child still running (no zombie); the waits get
 * -SIGKILL. */
static void kill_and_reap(aio_process *p)
{
    aio__process_kill_running(p);
    if (!p->reaped)
        try_reap(p, true);
}

void aio__process_loop_closing(aio_process *p)
{
    if (p->reaped || try_reap(p, false))
        return;
    char msg[96];
    snprintf(msg, sizeof msg, "event loop closed with child pid %d running: killed (SIGKILL)",
             (int)p->pid);
    al_error_context ctx = {.message = msg};
    al_loop_call_exception_handler(p->loop, &ctx);
    kill_and_reap(p);
}

void aio__subprocess_close(aio__io *io)
{
    while (io->procs)
        aio__process_loop_closing(io->procs); /* reaping unlinks it */
}

int aio_process_free(aio_process *p)
{
    if (!p)
        return 0;
    if (p->communicating)
        return -EBUSY;
    aio__process_free_streams(p);
    kill_and_reap(p);
    for (aio__waiter *w = p->waiters; w; w = w->next) {
        w->p = NULL;
        al_future_cancel(w->fut, NULL);
    }
    close_fds(p);
    free(p);
    return 0;
}

/* The process object, shared by subprocess.c (spawn, watch, wait) and
 * subprocess_communicate.c. */
#ifndef ASYNCIO_SUBPROCESS_INTERNAL_H
#define ASYNCIO_SUBPROCESS_INTERNAL_H

#include <asyncio/subprocess.h>

#include <asynclib/future.h>

#include <asyncio/transport.h>

#include <stdbool.h>

/* One task in aio_process_wait, on its own stack; its own future, so a
 * cancelled wait cancels nothing shared. */
typedef struct aio__waiter {
    struct aio__waiter *next;
    al_future *fut;
    aio_process *p; /* NULL once the process was freed */
    bool got;
    int status;
} aio__waiter;

struct aio_process {
    struct aio_process *next_live, **prev_live; /* the loop's unreaped children */
    al_loop *loop;
    struct aio__io *io;
    pid_t pid;
    int pidfd;        /* -1 in the polling fallback or once reaped */
    al_handle *timer; /* the polling fallback's timer */
    double poll_delay;
    bool reaped;
    int status;
    int fds[3];
    aio__waiter *waiters;
    bool communicating;             /* an aio_process_communicate runs */
    struct aio__stream *streams[3]; /* stdin/stdout/stderr made streams, or NULL */
    aio_transport *pipe_t[3];       /* their pipe transports (a reference each) */
    /* Called once the child was reaped (the subprocess transport's hook). */
    void (*on_exit)(aio_process *p, void *arg);
    void *exit_arg;
};

/* Kills (SIGKILL) the child unless it has exited (reaped, or reapable at
 * once: never a signal to an exited child). */
void aio__process_kill_running(aio_process *p);
/* The loop closes under a child still running: reported to the loop's
 * exception handler, killed and reaped now. */
void aio__process_loop_closing(aio_process *p);
/* The stream of pipe which (0 stdin, 1 stdout, 2 stderr), made on first
 * use (borrowed: the process's). -EBADF (no pipe), -ENOMEM. */
int aio__process_stream(aio_process *p, int which, struct aio__stream **out);
/* Closes and releases the streams made of the pipes. */
void aio__process_free_streams(aio_process *p);

#endif

/* The process object, shared by subprocess.c (spawn, watch, wait) and
 * subprocess_communicate.c. */
#ifndef ASYNCIO_SUBPROCESS_INTERNAL_H
#define ASYNCIO_SUBPROCESS_INTERNAL_H

#include <asyncio/subprocess.h>

#include <asynclib/future.h>

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
    bool communicating; /* an aio_process_communicate runs */
};

#endif

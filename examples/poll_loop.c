/* poll_loop: an event loop whose one blocking step is another event
 * system, written only with <asynclib/loop_ops.h> (the way asyncio/
 * builds its I/O loop on a selector, or a GUI toolkit would plug in its
 * own main loop). Here the other system is poll(2) on a small set of fds
 * the program watches:
 *   - wait(timeout) polls the set, then queues the ready fds' handles as
 *     ready callbacks of the same iteration (al_loop_queue_handle: one
 *     persistent handle per fd, no allocation per event);
 *   - wakeup writes to a pipe that is part of the set;
 *   - time is CLOCK_MONOTONIC; destroy releases the rest.
 * Everything of the pure layer runs on it unchanged: a task awaits a
 * future that an fd callback completes, sleeps on timers, and a thread's
 * al_call_soon_threadsafe wakes the poll. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, when built on its own */
#endif
#include "check.h"

#include <asynclib/loop_ops.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 8

typedef struct pollset {
    al_loop *loop;
    struct pollfd fds[MAX_FDS]; /* fds[0]: the wakeup pipe */
    al_handle *handles[MAX_FDS];
    int n;
    int wake[2];
    atomic_bool woken;
} pollset;

static double ps_time(al_loop *loop)
{
    (void)loop;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int ps_wait(al_loop *loop, double timeout)
{
    pollset *ps = al_loop_impl(loop);
    /* Milliseconds, rounded up (never a busy poll), at most a day. */
    int ms = timeout < 0 ? -1 : timeout > 86400 ? 86400000 : (int)(timeout * 1000 + 0.999);
    if (poll(ps->fds, (nfds_t)ps->n, ms) < 0)
        return errno == EINTR ? 0 : -errno;
    if (ps->fds[0].revents) {
        atomic_store(&ps->woken, false);
        char buf[64];
        while (read(ps->wake[0], buf, sizeof buf) > 0)
            ;
    }
    for (int i = 1; i < ps->n; i++)
        if (ps->fds[i].revents)
            al_loop_queue_handle(loop, ps->handles[i]);
    return 0;
}

static void ps_wakeup(al_loop *loop) /* any thread */
{
    pollset *ps = al_loop_impl(loop);
    if (!atomic_exchange(&ps->woken, true)) {
        ssize_t n = write(ps->wake[1], "", 1);
        (void)n;
    }
}

static void ps_close(al_loop *loop) /* the loop's thread: drop the handles */
{
    pollset *ps = al_loop_impl(loop);
    for (int i = 1; i < ps->n; i++)
        al_handle_unref(ps->handles[i]);
    ps->n = 1;
}

static void ps_destroy(al_loop *loop) /* the loop's memory goes */
{
    pollset *ps = al_loop_impl(loop);
    close(ps->wake[0]);
    close(ps->wake[1]);
    free(ps);
}

static const al_loop_ops pollset_ops = {.name = "pollset",
                                        .time = ps_time,
                                        .wait = ps_wait,
                                        .wakeup = ps_wakeup,
                                        .close = ps_close,
                                        .destroy = ps_destroy};

static al_loop *pollset_loop_new(void)
{
    pollset *ps = calloc(1, sizeof *ps);
    if (!ps || pipe2(ps->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(ps);
        return NULL;
    }
    ps->fds[0] = (struct pollfd){.fd = ps->wake[0], .events = POLLIN};
    ps->n = 1;
    al_loop *loop = al_loop_new_with_ops(&pollset_ops, ps);
    if (!loop) { /* the impl is still ours */
        close(ps->wake[0]);
        close(ps->wake[1]);
        free(ps);
        return NULL;
    }
    ps->loop = loop;
    return loop;
}

/* fn(loop, arg) runs whenever fd is readable. */
static int pollset_watch(al_loop *loop, int fd, al_callback_fn fn, void *arg)
{
    pollset *ps = al_loop_impl(loop);
    if (ps->n == MAX_FDS)
        return -ENOSPC;
    int rc = al_loop_handle_new(loop, fn, arg, &ps->handles[ps->n]);
    if (rc < 0)
        return rc;
    ps->fds[ps->n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    return 0;
}

/* ---- a program on it ---------------------------------------------------------- */

typedef struct line {
    int fd;
    al_future *arrived; /* completed by the fd callback */
    char text[32];
} line;

static int on_readable(al_loop *loop, void *arg)
{
    (void)loop;
    line *l = arg;
    ssize_t n = read(l->fd, l->text, sizeof l->text - 1);
    if (n > 0 && !al_future_done(l->arrived)) {
        l->text[n] = '\0';
        return al_future_set_result(l->arrived, NULL, NULL);
    }
    return 0;
}

static void *writer_thread(void *arg)
{
    int fd = *(int *)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ssize_t n = write(fd, "from a thread", 13);
    (void)n;
    return NULL;
}

static int noted(al_loop *loop, void *arg)
{
    (void)loop;
    *(int *)arg = 1;
    return 0;
}

static void *threadsafe_thread(void *arg)
{
    static int flag;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    al_call_soon_threadsafe(arg, noted, &flag);
    return &flag;
}

static int main_task(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = al_get_running_loop();
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    line l = {.fd = p[0]};
    CHECK(al_future_new(loop, &l.arrived));
    CHECK(pollset_watch(loop, p[0], on_readable, &l));
    pthread_t w, t;
    pthread_create(&w, NULL, writer_thread, &p[1]);
    pthread_create(&t, NULL, threadsafe_thread, loop);
    double t0 = al_loop_time(loop);
    CHECK(al_await(l.arrived)); /* the poll wakes for the pipe */
    CHECK(al_sleep(0.05));      /* and for a timer */
    pthread_join(w, NULL);
    void *flag;
    pthread_join(t, &flag);
    printf("poll_loop: got '%s' after %.0f ms on loop '%s'; thread-safe call %s\n", l.text,
           (al_loop_time(loop) - t0) * 1000, al_loop_name(loop),
           *(int *)flag ? "ran" : "did not run");
    al_future_unref(l.arrived);
    close(p[0]);
    close(p[1]);
    if (strcmp(l.text, "from a thread") != 0 || !*(int *)flag)
        return AL_EFAILED;
    return 0;
}

int main(void)
{
    al_loop *loop = pollset_loop_new();
    if (!loop)
        return example_exit("poll_loop", -ENOMEM);
    int rc = al_run_on(loop, main_task, NULL, NULL);
    al_loop_free(loop);
    return example_exit("poll_loop", rc);
}

/* Signal handlers as loop callbacks: a self-pipe per loop, written by a
 * process-wide sigaction handler (unix_events.py's add_signal_handler with
 * signal.set_wakeup_fd). The handler runs on whichever thread the kernel
 * picks, so it touches only atomics and write(2). */
#include "io_internal.h"

#include <asyncio/signals.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

struct aio__signals {
    int rfd, wfd; /* the self-pipe, both ends non-blocking */
    al_handle *h[NSIG];
};

/* Process-wide, by signal number. wfd < 0: no loop handles it. */
static struct {
    atomic_int wfd;
    atomic_int pending;
    struct sigaction previous;
    aio__io *owner;
} g_sig[NSIG];

/* Owner changes (adds, removes, closes on any thread's loop, fork). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int sig)
{
    int saved = errno;
    atomic_store(&g_sig[sig].pending, 1);
    int fd = atomic_load(&g_sig[sig].wfd);
    if (fd >= 0) {
        unsigned char c = (unsigned char)sig;
        /* Full pipe: the pending flag is enough, a byte is already queued. */
        ssize_t n = write(fd, &c, 1);
        (void)n;
    }
    errno = saved;
}

/* In a forked child the loops are the parent's: give every signal its
 * previous disposition back, so the child is not deaf to them. */
static void signals_after_fork(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        if (g_sig[sig].owner) {
            atomic_store(&g_sig[sig].wfd, -1);
            sigaction(sig, &g_sig[sig].previous, NULL);
            g_sig[sig].owner = NULL;
        }
    }
    pthread_mutex_init(&g_lock, NULL);
}

static void install_fork_handler(void)
{
    pthread_atfork(NULL, NULL, signals_after_fork);
}

/* The self-pipe's reader: empty it, queue the callbacks of what arrived. */
static int on_pipe(al_loop *loop, void *arg)
{
    aio__io *io = arg;
    unsigned char buf[64];
    while (read(io->signals->rfd, buf, sizeof buf) > 0)
        ;
    for (int sig = 1; sig < NSIG; sig++) {
        al_handle *h = io->signals->h[sig];
        if (h && atomic_exchange(&g_sig[sig].pending, 0))
            al_loop_queue_handle(loop, h);
    }
    return 0;
}

static int signals_open(aio__io *io)
{
    if (io->signals)
        return 0;
    aio__signals *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
        int rc = -errno;
        free(s);
        return rc;
    }
    s->rfd = p[0];
    s->wfd = p[1];
    io->signals = s;
    int rc = aio__set_interest(io, s->rfd, AIO_READ, on_pipe, io);
    if (rc < 0) {
        close(p[0]);
        close(p[1]);
        free(s);
        io->signals = NULL;
    }
    return rc;
}

static bool valid_signal(int sig)
{
    return sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP;
}

int aio_loop_add_signal_handler(al_loop *loop, int sig, al_callback_fn fn, void *arg)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!loop || !fn)
        return -EINVAL;
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    if (!valid_signal(sig))
        return AIO_ESIGNAL;
    pthread_once(&once, install_fork_handler);
    if ((rc = signals_open(io)) < 0)
        return rc;
    al_handle *h;
    if ((rc = al_loop_handle_new(loop, fn, arg, &h)) < 0)
        return rc;
    pthread_mutex_lock(&g_lock);
    if (g_sig[sig].owner && g_sig[sig].owner != io) {
        rc = AIO_ESIGNALOWNER;
    } else if (!g_sig[sig].owner) {
        struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
        sigfillset(&sa.sa_mask);
        atomic_store(&g_sig[sig].pending, 0);
        atomic_store(&g_sig[sig].wfd, io->signals->wfd);
        if (sigaction(sig, &sa, &g_sig[sig].previous) < 0) {
            rc = -errno;
            atomic_store(&g_sig[sig].wfd, -1);
        } else {
            g_sig[sig].owner = io;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (rc < 0) {
        al_handle_unref(h);
        return rc;
    }
    al_handle *old = io->signals->h[sig];
    io->signals->h[sig] = h;
    if (old) {
        al_handle_cancel(old);
        al_handle_unref(old);
    }
    return 0;
}

/* Restores sig's disposition and drops the loop's callback. */
static void signal_release(aio__io *io, int sig)
{
    pthread_mutex_lock(&g_lock);
    if (g_sig[sig].owner == io) {
        sigaction(sig, &g_sig[sig].previous, NULL);
        atomic_store(&g_sig[sig].wfd, -1);
        g_sig[sig].owner = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    al_handle *h = io->signals->h[sig];
    io->signals->h[sig] = NULL;
    al_handle_cancel(h);
    al_handle_unref(h);
}

int aio_loop_remove_signal_handler(al_loop *loop, int sig)
{
    aio__io *io;
    int rc = aio__io_get_removal(loop, &io);
    if (rc < 0 || !io)
        return rc;
    if (!valid_signal(sig))
        return AIO_ESIGNAL;
    if (!io->signals || !io->signals->h[sig])
        return 0;
    signal_release(io, sig);
    return 1;
}

void aio__signals_close(aio__io *io)
{
    aio__signals *s = io->signals;
    if (!s)
        return;
    for (int sig = 1; sig < NSIG; sig++)
        if (s->h[sig])
            signal_release(io, sig);
    close(s->rfd);
    close(s->wfd);
    free(s);
    io->signals = NULL;
}

/* Ctrl+C for al_run, as asyncio.Runner does it: the first SIGINT cancels
 * the main task (al_run then returns -EINTR, the KeyboardInterrupt); a
 * second one ends the process the default way.
 *
 * A signal handler may not touch the loop (its calls are not
 * async-signal-safe), so SIGINT is blocked in the running thread (and in
 * the threads it creates meanwhile, executor threads included) and taken
 * with sigwait by a small watcher thread, which hands it to the loop with
 * al_call_soon_threadsafe. Installed only when SIGINT has its default
 * disposition and is not already blocked: a program with its own policy
 * keeps it. */
#include "interrupt.h"

#include <asynclib/task.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

struct al_interrupt {
    pthread_t thread;
    al_loop *loop;
    al_task *main_task;
    sigset_t old_mask;
    atomic_bool stop;
    atomic_bool fired; /* read by al_run after the watcher is joined */
};

static int cancel_main(al_loop *loop, void *arg)
{
    (void)loop;
    al_interrupt *in = arg;
    al_task_cancel(in->main_task, "interrupted");
    return 0;
}

static void *watch(void *arg)
{
    al_interrupt *in = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0 || atomic_load(&in->stop))
            return NULL;
        if (!atomic_exchange(&in->fired, true)) {
            al_call_soon_threadsafe(in->loop, cancel_main, in);
            continue;
        }
        /* The second Ctrl+C: the default action, here and now. */
        signal(SIGINT, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(SIGINT);
    }
}

al_interrupt *al__interrupt_start(al_loop *loop, al_task *main_task)
{
    struct sigaction sa;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    if (sigaction(SIGINT, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL)
        return NULL;
    if (pthread_sigmask(SIG_BLOCK, &set, &old) != 0)
        return NULL;
    al_interrupt *in = calloc(1, sizeof *in);
    if (!in || sigismember(&old, SIGINT)) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        free(in);
        return NULL;
    }
    in->loop = loop;
    in->main_task = main_task;
    in->old_mask = old;
    if (pthread_create(&in->thread, NULL, watch, in) != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        free(in);
        return NULL;
    }
    return in;
}

bool al__interrupt_stop(al_interrupt *in)
{
    if (!in)
        return false;
    atomic_store(&in->stop, true);
    pthread_kill(in->thread, SIGINT); /* wakes its sigwait */
    pthread_join(in->thread, NULL);
    /* A SIGINT that arrived after the watcher left stays pending: consume
     * it before unblocking, or it would kill the process now. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) == SIGINT)
        ;
    pthread_sigmask(SIG_SETMASK, &in->old_mask, NULL);
    bool fired = atomic_load(&in->fired);
    free(in);
    return fired;
}

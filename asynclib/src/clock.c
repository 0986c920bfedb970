/* The two pure loops: the worked examples of loop_ops.h.
 *
 * Both are a loop implementation exactly as an I/O loop is one: an
 * operations table and an impl (here a pure_wait) handed to
 * al_loop_new_with_ops; the core never looks inside the impl. "real" reads
 * CLOCK_MONOTONIC and sleeps on a condition variable that al_loop_wakeup
 * signals. "virtual" never sleeps: its time jumps to the next deadline,
 * except while work on other threads is in flight (ops->external).
 *
 * An I/O loop follows the same pattern: its impl holds the selector and
 * the wakeup fd, its wait is a select (plus queueing the ready fd
 * callbacks), its wakeup writes the fd, its close releases the selector,
 * its destroy the rest. */
#include "deadline.h"
#include "loop_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

double al__monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the impl: what the pure loops wait on ------------------------------ */

typedef struct pure_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool woken;          /* under lock: a wakeup not yet consumed by a wait */
    /* Virtual loop only, the loop's thread only: */
    double vtime; /* the clock */
    int external; /* work on other threads in flight: wait for real */
} pure_wait;

static pure_wait *pure_wait_new(void)
{
    pure_wait *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(w);
        return NULL;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        free(w);
        return NULL;
    }
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        pthread_cond_destroy(&w->cond);
        free(w);
        return NULL;
    }
    return w;
}

static void pure_wait_free(pure_wait *w)
{
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

/* ops->destroy: the loop's memory goes, nothing can call wakeup any more. */
static void pure_wait_destroy(al_loop *loop)
{
    pure_wait_free(al_loop_impl(loop));
}

/* Sleeps until woken or timeout (< 0, or beyond AL_TIMEOUT_UNLIMITED: no
 * limit). Returns true if woken. Caller holds w->lock. */
static bool cond_sleep(pure_wait *w, double timeout)
{
    struct timespec deadline;
    bool limited = al__deadline_after(CLOCK_MONOTONIC, timeout, &deadline);
    while (!w->woken) {
        int rc = limited ? pthread_cond_timedwait(&w->cond, &w->lock, &deadline)
                         : pthread_cond_wait(&w->cond, &w->lock);
        if (rc != 0) /* ETIMEDOUT; never spin on an error */
            break;
    }
    bool woken = w->woken;
    w->woken = false;
    return woken;
}

/* ops->wakeup, both loops: any thread. */
static void cond_wakeup(al_loop *loop)
{
    pure_wait *w = al_loop_impl(loop);
    pthread_mutex_lock(&w->lock);
    w->woken = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* ---- real ------------------------------------------------------------------ */

static double real_time(al_loop *loop)
{
    (void)loop;
    return al__monotonic();
}

/* A poll (timeout 0) takes no lock: a pending wakeup stays pending and
 * makes the next real sleep return at once, which is only early, never
 * late (the loop looks at its queues after every wait anyway). */
static int real_wait(al_loop *loop, double timeout)
{
    if (timeout == 0)
        return 0;
    pure_wait *w = al_loop_impl(loop);
    pthread_mutex_lock(&w->lock);
    cond_sleep(w, timeout);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static const al_loop_ops real_ops = {
    .name = "real",
    .time = real_time,
    .wait = real_wait,
    .wakeup = cond_wakeup,
    .close = NULL, /* wakeup may still come until destroy */
    .destroy = pure_wait_destroy,
};

/* ---- virtual --------------------------------------------------------------- */

static double virtual_time(al_loop *loop)
{
    return ((pure_wait *)al_loop_impl(loop))->vtime;
}

/* Virtual time jumps to the deadline instead of sleeping. Only work on
 * other threads (executor jobs) makes it wait for real, and then virtual
 * time advances by the real time spent, so timeouts still mean something. */
static int virtual_wait(al_loop *loop, double timeout)
{
    if (timeout == 0)
        return 0;
    pure_wait *w = al_loop_impl(loop);
    pthread_mutex_lock(&w->lock);
    if (w->woken) {
        w->woken = false;
    } else if (w->external > 0 || timeout < 0) {
        double start = al__monotonic();
        bool woken = cond_sleep(w, timeout);
        double spent = woken ? al__monotonic() - start : timeout;
        if (timeout >= 0 && spent > timeout)
            spent = timeout;
        if (spent > 0)
            w->vtime += spent;
    } else {
        w->vtime += timeout;
    }
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static void virtual_external(al_loop *loop, int delta)
{
    ((pure_wait *)al_loop_impl(loop))->external += delta;
}

static const al_loop_ops virtual_ops = {
    .name = "virtual",
    .time = virtual_time,
    .wait = virtual_wait,
    .wakeup = cond_wakeup,
    .close = NULL,
    .external = virtual_external,
    .destroy = pure_wait_destroy,
};

/* ---- creation --------------------------------------------------------------- */

static al_loop *pure_loop_new(const al_loop_ops *ops)
{
    pure_wait *w = pure_wait_new();
    if (!w)
        return NULL;
    al_loop *loop = al_loop_new_with_ops(ops, w);
    if (!loop)
        pure_wait_free(w); /* not handed over: still ours */
    return loop;
}

al_loop *al_loop_new(void)
{
    al_loop *loop = pure_loop_new(&real_ops);
    struct timespec res;
    if (loop && clock_getres(CLOCK_MONOTONIC, &res) == 0)
        loop->clock_resolution = (double)res.tv_sec + (double)res.tv_nsec * 1e-9;
    return loop;
}

al_loop *al_loop_new_virtual(void)
{
    return pure_loop_new(&virtual_ops);
}

/* The virtual loop's clock, for the loop's thread; NULL if loop is not a
 * virtual loop. */
static double *virtual_clock(al_loop *loop)
{
    return loop->ops == &virtual_ops ? &((pure_wait *)al_loop_impl(loop))->vtime : NULL;
}

/* TestLoop.advance_time: the next iteration finds every timer that fell
 * due meanwhile and runs them in deadline order, as after a busy spell. */
int al_loop_advance_time(al_loop *loop, double seconds)
{
    if (!loop || !(seconds >= 0) || !isfinite(seconds))
        return -EINVAL;
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    double *clock = virtual_clock(loop);
    if (!clock)
        return -ENOTSUP;
    if (!isfinite(*clock + seconds))
        return -ERANGE;
    *clock += seconds;
    return 0;
}

/* The two pure loops: the same core with a different clock and wait.
 *
 * "real" reads CLOCK_MONOTONIC and sleeps on a condition variable that
 * al_loop_wakeup signals. "virtual" never sleeps: its time jumps to the
 * next deadline, except while work on other threads is in flight. */
#include "loop_internal.h"

#include <errno.h>
#include <math.h>
#include <time.h>

double al__monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double real_time(al_loop *loop)
{
    (void)loop;
    return al__monotonic();
}

static double virtual_time(al_loop *loop)
{
    return loop->vtime;
}

static void abs_deadline(struct timespec *ts, double timeout)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    double whole = floor(timeout);
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((timeout - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Sleeps until woken or timeout (< 0: no limit). Returns true if woken.
 * Caller holds wait_lock. */
static bool cond_sleep(al_loop *loop, double timeout)
{
    struct timespec deadline;
    if (timeout >= 0)
        abs_deadline(&deadline, timeout);
    while (!loop->woken) {
        int rc = timeout < 0
                     ? pthread_cond_wait(&loop->wait_cond, &loop->wait_lock)
                     : pthread_cond_timedwait(&loop->wait_cond, &loop->wait_lock, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
    bool woken = loop->woken;
    loop->woken = false;
    return woken;
}

/* A poll (timeout 0) takes no lock: a pending wakeup stays pending and
 * makes the next real sleep return at once, which is only early, never
 * late (the loop looks at its queues after every wait anyway). */
static int real_wait(al_loop *loop, double timeout)
{
    if (timeout == 0)
        return 0;
    pthread_mutex_lock(&loop->wait_lock);
    cond_sleep(loop, timeout);
    pthread_mutex_unlock(&loop->wait_lock);
    return 0;
}

/* Virtual time jumps to the deadline instead of sleeping. Only work on
 * other threads (executor jobs) makes it wait for real, and then virtual
 * time advances by the real time spent, so timeouts still mean something. */
static int virtual_wait(al_loop *loop, double timeout)
{
    if (timeout == 0)
        return 0;
    pthread_mutex_lock(&loop->wait_lock);
    if (loop->woken) {
        loop->woken = false;
    } else if (atomic_load(&loop->external) > 0 || timeout < 0) {
        double start = al__monotonic();
        bool woken = cond_sleep(loop, timeout);
        double spent = woken ? al__monotonic() - start : timeout;
        if (timeout >= 0 && spent > timeout)
            spent = timeout;
        if (spent > 0)
            loop->vtime += spent;
    } else {
        loop->vtime += timeout;
    }
    pthread_mutex_unlock(&loop->wait_lock);
    return 0;
}

static void cond_wakeup(al_loop *loop)
{
    pthread_mutex_lock(&loop->wait_lock);
    loop->woken = true;
    pthread_cond_signal(&loop->wait_cond);
    pthread_mutex_unlock(&loop->wait_lock);
}

static const al_loop_ops real_ops = {"real", real_time, real_wait, cond_wakeup, NULL};
static const al_loop_ops virtual_ops = {"virtual", virtual_time, virtual_wait, cond_wakeup, NULL};

al_loop *al_loop_new(void)
{
    al_loop *loop = al_loop_new_with_ops(&real_ops, NULL);
    struct timespec res;
    if (loop && clock_getres(CLOCK_MONOTONIC, &res) == 0)
        loop->clock_resolution = (double)res.tv_sec + (double)res.tv_nsec * 1e-9;
    return loop;
}

al_loop *al_loop_new_virtual(void)
{
    return al_loop_new_with_ops(&virtual_ops, NULL);
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
    if (loop->ops != &virtual_ops)
        return -ENOTSUP;
    if (!isfinite(loop->vtime + seconds))
        return -ERANGE;
    loop->vtime += seconds;
    return 0;
}

/* Timeout scopes: a port of CPython 3.12 timeouts.py.
 *
 * The deadline callback cancels the task; on exit the scope takes back its
 * own cancellation request (uncancel) and reports AL_ETIMEOUT only if its
 * own was the only one the task received inside the scope, so an outer
 * scope or an external cancel is never mistaken for ours, not even one
 * pending (requested, not yet delivered) when the scope was entered.
 *
 * The scope's timer handle is a hold of its task (task.h): released by
 * the exit, or when the task ends without it (a scope left without its
 * exit, a task that ignores the loop's close). */
#include "future_internal.h"

#include <asynclib/error.h>
#include <asynclib/timeout.h>

#include <errno.h>

enum { TO_CREATED = 0, TO_ENTERED, TO_EXPIRING, TO_EXPIRED, TO_EXITED };

/* The timer's argument is the task, never the scope: a scope usually lives
 * on its task's stack, where another task's frames are while this one is
 * parked in shared-stack mode (task.h). The timer is cancelled before the
 * task can be freed (the scope's exit, or the hold). Whether it
 * fired is read from its handle by the task itself (fired). */
static int on_timeout(al_loop *loop, void *arg)
{
    (void)loop;
    al_task *t = arg;
    if (!al_future_done(al_task_future(t)))
        al_task_cancel(t, NULL);
    return 0;
}

static bool fired(const al_timeout *to)
{
    return to->state == TO_ENTERED && to->handle && to->handle->ran;
}

/* An entered scope whose timer fired is expiring. */
static void sync_state(al_timeout *to)
{
    if (fired(to))
        to->state = TO_EXPIRING;
}

static void release_handle(void *arg)
{
    al_handle_cancel(arg);
    al_handle_unref(arg);
}

static void drop_handle(al_timeout *to)
{
    if (to->handle) {
        if (al_task_unhold(to->task, release_handle, to->handle))
            release_handle(to->handle);
        to->handle = NULL;
    }
}

int al_timeout_reschedule(al_timeout *to, double when)
{
    if (!to || when != when)
        return -EINVAL;
    sync_state(to);
    if (to->state != TO_ENTERED)
        return AL_EINVALIDSTATE;
    al_loop *loop = al_future_loop(al_task_future(to->task));
    /* The new timer first: a refusal (-ENOMEM) keeps the old deadline. */
    al_handle *h = NULL;
    if (when != AL_FOREVER) {
        int rc = when <= al_loop_time(loop) ? al_call_soon(loop, on_timeout, to->task, &h)
                                            : al_call_at(loop, when, on_timeout, to->task, &h);
        if (rc < 0)
            return rc;
        rc = al_task_hold(to->task, release_handle, h);
        if (rc < 0) {
            release_handle(h);
            return rc;
        }
    }
    drop_handle(to);
    to->when = when;
    to->handle = h;
    return 0;
}

int al_timeout_enter_at(al_timeout *to, double when)
{
    if (!to || when != when)
        return -EINVAL;
    if (to->state != TO_CREATED)
        return AL_EINVALIDSTATE;
    al_task *t = al_current_task();
    if (!t)
        return AL_ENOTINTASK;
    to->task = t;
    to->handle = NULL;
    /* The requests the scope's own cannot be mistaken for: those already
     * delivered. One still undelivered will be delivered inside the scope
     * (merged with ours if the deadline passes first): it counts as one
     * arriving inside, so the exit lets it through (CPython takes it for
     * a timeout: cpython#134471). */
    to->cancelling = al_task_cancelling(t) - (al__task_cancel_pending(t) ? 1 : 0);
    to->state = TO_ENTERED;
    int rc = al_timeout_reschedule(to, when);
    if (rc < 0) {
        to->state = TO_CREATED;
        to->task = NULL;
    }
    return rc;
}

int al_timeout_enter(al_timeout *to, double delay)
{
    if (!to || delay != delay)
        return -EINVAL;
    if (to->state != TO_CREATED)
        return AL_EINVALIDSTATE;
    al_loop *loop = al_get_running_loop();
    if (!loop || !al_current_task())
        return AL_ENOTINTASK;
    return al_timeout_enter_at(to, delay == AL_FOREVER ? AL_FOREVER : al_loop_time(loop) + delay);
}

int al_timeout_exit(al_timeout *to, int status)
{
    if (!to)
        return -EINVAL;
    sync_state(to);
    if (to->state != TO_ENTERED && to->state != TO_EXPIRING)
        return AL_EINVALIDSTATE;
    drop_handle(to);
    if (to->state == TO_EXPIRING) {
        to->state = TO_EXPIRED;
        if (al_task_uncancel(to->task) <= to->cancelling && status == AL_ECANCELLED)
            return AL_ETIMEOUT;
    } else {
        to->state = TO_EXITED;
    }
    return status;
}

bool al_timeout_expired(const al_timeout *to)
{
    return to && (to->state == TO_EXPIRING || to->state == TO_EXPIRED || fired(to));
}

double al_timeout_when(const al_timeout *to)
{
    if (!to || to->state == TO_CREATED)
        return NAN;
    return to->when;
}

int al_with_timeout(double delay, al_task_fn fn, void *arg, void **result)
{
    if (!fn)
        return -EINVAL;
    al_timeout to = AL_TIMEOUT_INIT;
    int rc = al_timeout_enter(&to, delay);
    if (rc < 0)
        return rc;
    void *value = NULL;
    rc = fn(arg, &value);
    if (result)
        *result = value;
    return al_timeout_exit(&to, rc);
}

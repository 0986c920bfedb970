/* TaskGroup: a port of CPython 3.13 taskgroups.py.
 *
 * The cancellation bookkeeping is asyncio's, line for line in spirit:
 * the group cancels its parent at most once (parent_cancel_requested) and
 * withdraws that request on exit (gh-95289); when child errors are raised
 * while the parent is also cancelled from outside, the outside request is
 * re-armed so it is not lost (gh-116720).
 *
 * Between enter and exit the group is used by its parent task's frame,
 * which a loop close unwinds (exit then lets go of the children), or drops
 * without unwinding if the parent ignores the close (task.h): the group is
 * a hold of its parent (task.h), which then lets go of what the group
 * holds (parent_gone). Either way the group itself stays the caller's:
 * al_taskgroup_free is right exactly once, whatever ran. */
#include "future_internal.h"

#include <asynclib/error.h>
#include <asynclib/taskgroup.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct al_taskgroup {
    bool entered, exiting, aborting, parent_cancel_requested, exited;
    al_loop *loop;
    al_task *parent; /* one reference while entered */
    al_task **tasks; /* children not done, one reference each */
    size_t ntasks, tasks_cap;
    int *errors;
    size_t nerrors, errors_cap;
    al_future *on_completed;
};

int al_taskgroup_new(al_taskgroup **out)
{
    if (!out)
        return -EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

static int task_done_cb(al_future *f, void *arg);

/* Lets go of the children still counted: their done-callbacks will not
 * run (the loop is closing). */
static void forget_children(al_taskgroup *tg)
{
    for (size_t i = 0; i < tg->ntasks; i++) {
        al_future *f = al_task_future(tg->tasks[i]);
        if (!al_future_done(f))
            al_future_remove_done_callback(f, task_done_cb, tg);
        al_task_unref(tg->tasks[i]);
    }
    tg->ntasks = 0;
}

/* The parent ended between enter and exit (it ignored the loop's close
 * and was dropped without unwinding): its exit will never run. The group
 * lets go of the children and the parent and counts as exited; freeing it
 * stays the caller's job (ownership must not depend on whether this ran).
 * A hold of the parent (task.h) from enter to exit. */
static void parent_gone(void *arg)
{
    al_taskgroup *tg = arg;
    forget_children(tg);
    al_future_unref(tg->on_completed);
    tg->on_completed = NULL;
    al_task_unref(tg->parent);
    tg->parent = NULL;
    tg->exited = true;
}

int al_taskgroup_enter(al_taskgroup *tg)
{
    if (!tg)
        return -EINVAL;
    if (tg->entered)
        return AL_EINVALIDSTATE;
    al_task *parent = al_current_task();
    if (!parent)
        return AL_ENOTINTASK;
    int rc = al_task_hold(parent, parent_gone, tg);
    if (rc < 0)
        return rc;
    tg->loop = al_future_loop(al_task_future(parent));
    tg->parent = (al_task *)al_future_ref(al_task_future(parent));
    tg->entered = true;
    return 0;
}

static void tg_abort(al_taskgroup *tg)
{
    tg->aborting = true;
    for (size_t i = 0; i < tg->ntasks; i++)
        if (!al_future_done(al_task_future(tg->tasks[i])))
            al_task_cancel(tg->tasks[i], NULL);
}

static void add_error(al_taskgroup *tg, int err)
{
    if (tg->nerrors == tg->errors_cap) {
        size_t cap = tg->errors_cap ? 2 * tg->errors_cap : 4;
        int *e = realloc(tg->errors, cap * sizeof *e);
        if (!e)
            return; /* the count of AL_EGROUP still says something failed */
        tg->errors = e;
        tg->errors_cap = cap;
    }
    tg->errors[tg->nerrors++] = err;
}

static void on_task_done(al_taskgroup *tg, al_task *t)
{
    al_future *f = al_task_future(t);
    if (tg->ntasks == 0 && tg->on_completed && !al_future_done(tg->on_completed))
        al_future_set_result(tg->on_completed, NULL, NULL);
    if (al_future_cancelled(f))
        return;
    int err = al_future_error(f);
    if (err == 0)
        return;
    add_error(tg, err);
    if (al_future_done(al_task_future(tg->parent))) {
        al_loop_call_exception_handler(
            tg->loop, &(al_error_context){.message = "Task error in a TaskGroup whose parent "
                                                     "task is done",
                                          .error = err,
                                          .future = f,
                                          .task = t});
        return;
    }
    if (!tg->aborting && !tg->parent_cancel_requested) {
        /* The parent is not being cancelled: cancel it so the body stops. */
        tg_abort(tg);
        tg->parent_cancel_requested = true;
        al_task_cancel(tg->parent, NULL);
    }
}

static int task_done_cb(al_future *f, void *arg)
{
    al_taskgroup *tg = arg;
    al_task *t = al_future_task(f);
    for (size_t i = 0; i < tg->ntasks; i++) {
        if (tg->tasks[i] == t) {
            tg->tasks[i] = tg->tasks[--tg->ntasks];
            on_task_done(tg, t);
            al_task_unref(t);
            break;
        }
    }
    return 0;
}

int al_taskgroup_create_task(al_taskgroup *tg, al_task_fn fn, void *arg,
                             const al_task_options *opts, al_task **out)
{
    if (!tg || !fn)
        return -EINVAL;
    if (!tg->entered)
        return AL_EINVALIDSTATE; /* not entered */
    if ((tg->exiting && tg->ntasks == 0) || tg->exited)
        return AL_EINVALIDSTATE; /* finished */
    if (tg->aborting)
        return AL_EINVALIDSTATE; /* shutting down */
    if (tg->ntasks == tg->tasks_cap) {
        size_t cap = tg->tasks_cap ? 2 * tg->tasks_cap : 8;
        al_task **v = realloc(tg->tasks, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        tg->tasks = v;
        tg->tasks_cap = cap;
    }
    al_task *t;
    int rc = al_task_new(tg->loop, fn, arg, opts, &t);
    if (rc < 0)
        return rc;
    /* Even a child already done (eager) goes through its done-callback: run
     * inline, a failure would cancel the parent inside create_task, too
     * early (gh-128550). */
    rc = al_future_add_done_callback(al_task_future(t), task_done_cb, tg);
    if (rc < 0) {
        al_task_cancel(t, NULL);
        al_task_unref(t);
        return rc;
    }
    tg->tasks[tg->ntasks++] = (al_task *)al_future_ref(al_task_future(t));
    if (out)
        *out = t;
    else
        al_task_unref(t);
    return 0;
}

int al_taskgroup_exit(al_taskgroup *tg, int body_status)
{
    if (!tg)
        return -EINVAL;
    if (!tg->entered || tg->exiting || tg->exited)
        return AL_EINVALIDSTATE;
    tg->exiting = true;
    bool propagate_cancel = body_status == AL_ECANCELLED;
    if (body_status != 0 && !tg->aborting)
        tg_abort(tg); /* the parent is cancelled, or the body failed */

    /* A loop: on_completed may be cancelled repeatedly if the parent is. */
    bool closing = body_status == AL_ELOOPCLOSING;
    while (tg->ntasks > 0 && !closing) {
        int rc;
        if (!tg->on_completed && al_future_new(tg->loop, &tg->on_completed) < 0) {
            rc = al_sleep(0); /* out of memory: poll */
        } else {
            rc = al_await(tg->on_completed);
            al_future_unref(tg->on_completed);
            tg->on_completed = NULL;
        }
        if (rc == AL_ECANCELLED && !tg->aborting) {
            /* The parent is cancelled from outside while children run. */
            propagate_cancel = true;
            tg_abort(tg);
        }
        closing = rc == AL_ELOOPCLOSING;
    }
    tg->exited = true;
    al_task_unhold(tg->parent, parent_gone, tg);
    if (closing) {
        /* The loop closes and unwinds the parent: the children are unwound
         * (or dropped) too, and their outcomes will never be reported. */
        tg_abort(tg);
        forget_children(tg);
        if (tg->parent_cancel_requested)
            al_task_uncancel(tg->parent);
        return AL_ELOOPCLOSING;
    }

    if (tg->parent_cancel_requested) {
        /* Our own request must be withdrawn; if no other is left, the
         * cancellation the body saw was ours and is not propagated. */
        if (al_task_uncancel(tg->parent) == 0)
            propagate_cancel = false;
    }
    int rc = body_status;
    if (propagate_cancel && tg->nerrors == 0) {
        rc = AL_ECANCELLED;
    } else {
        if (body_status != 0 && body_status != AL_ECANCELLED)
            add_error(tg, body_status);
        if (tg->nerrors > 0) {
            /* gh-116720: keep an outside cancellation pending, with a stable
             * count, while the group reports its errors. */
            if (al_task_cancelling(tg->parent) > 0) {
                al_task_uncancel(tg->parent);
                al_task_cancel(tg->parent, NULL);
            }
            rc = AL_EGROUP;
        }
    }
    return rc;
}

const int *al_taskgroup_errors(const al_taskgroup *tg, size_t *n)
{
    if (n)
        *n = tg ? tg->nerrors : 0;
    return tg ? tg->errors : NULL;
}

size_t al_taskgroup_size(const al_taskgroup *tg)
{
    return tg ? tg->ntasks : 0;
}

int al_taskgroup_free(al_taskgroup *tg)
{
    if (!tg)
        return 0;
    if (tg->entered && !tg->exited)
        return AL_EINVALIDSTATE;
    al_task_unref(tg->parent);
    free(tg->tasks);
    free(tg->errors);
    free(tg);
    return 0;
}

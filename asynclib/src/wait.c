/* wait, wait_for, as_completed: a task waits on several futures.
 *
 * Each waiter keeps a small reference-counted state: the futures'
 * done-callbacks point at it, and a callback already queued by a finishing
 * future cannot be removed any more, so the state must outlive the waiting
 * task's call until every such callback has run.
 *
 * If the loop is closed meanwhile, nothing may be left behind: the waiting
 * task unwinds and releases its reference (a hold, task.h, in case it
 * ignores the close), and the callbacks' drop hooks release theirs when
 * they are dropped. */
#include "combinators_internal.h"
#include "future_internal.h"

#include <asynclib/combinators.h>
#include <asynclib/error.h>
#include <asynclib/timeout.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- wait --------------------------------------------------------------------- */

typedef struct wait_state {
    int refs;
    size_t counter;
    int return_when;
    al_future *waiter;
    al_handle *timer; /* the timeout's, a loop-side reference (or NULL) */
    size_t k;
    al_future *uniq[]; /* the k distinct futures (borrowed) */
} wait_state;

static void wait_unref(wait_state *w)
{
    if (--w->refs == 0) {
        if (w->timer) {
            /* Before the waiter: its reference keeps the loop's memory. */
            al_handle_cancel(w->timer);
            al__handle_release(w->timer);
        }
        al_future_unref(w->waiter);
        free(w);
    }
}

static void release_waiter(al_future *waiter)
{
    if (!al_future_done(waiter))
        al_future_set_result(waiter, NULL, NULL);
}

static int wait_on_completion(al_future *f, void *arg)
{
    wait_state *w = arg;
    w->counter--;
    if (w->counter == 0 || w->return_when == AL_FIRST_COMPLETED ||
        (w->return_when == AL_FIRST_EXCEPTION && !al_future_cancelled(f) && al_future_error(f) < 0))
        release_waiter(w->waiter);
    wait_unref(w);
    return 0;
}

/* wait_on_completion will never run (the loop closed, or the future was
 * freed while pending): only its reference goes. */
static void wait_completion_dropped(void *arg)
{
    wait_unref(arg);
}

/* The waiting frame's reference to the state is a hold (task.h). */
static void wait_release(void *arg)
{
    wait_unref(arg);
}

static int wait_on_timeout(al_loop *loop, void *arg)
{
    (void)loop;
    release_waiter(arg);
    al_future_unref(arg); /* the timer's reference (the drop hook is for a timer that never runs) */
    return 0;
}

static void wait_timer_drop(void *arg)
{
    al_future_unref(arg);
}

/* Distinct futures of fs, first occurrence order (quadratic only for the
 * small sets wait is used with; gather has the hashed version). */
static size_t distinct(al_future *const *fs, size_t n, al_future **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && out[j] != fs[i])
            j++;
        if (j == k)
            out[k++] = fs[i];
    }
    return k;
}

int al_wait(al_future *const *fs, size_t n, double timeout, int return_when, al_future **done,
            size_t *ndone, al_future **pending, size_t *npending)
{
    al_task *self = al_current_task();
    if (!self)
        return AL_ENOTINTASK;
    al_loop *loop = al_future_loop(al_task_future(self));
    if (n == 0 || timeout != timeout || return_when < AL_FIRST_COMPLETED ||
        return_when > AL_ALL_COMPLETED)
        return -EINVAL;
    int rc = al__check_futures(loop, fs, n);
    if (rc < 0)
        return rc;
    wait_state *w = calloc(1, sizeof *w + n * sizeof(al_future *));
    if (!w || al_future_new(loop, &w->waiter) < 0) {
        free(w);
        return -ENOMEM;
    }
    size_t k = distinct(fs, n, w->uniq);
    w->k = k;
    w->refs = 1; /* the frame's, a hold of the task */
    w->counter = k;
    w->return_when = return_when;
    if (al_task_hold(self, wait_release, w) < 0) {
        wait_unref(w);
        return -ENOMEM;
    }
    if (timeout != AL_FOREVER) {
        rc = al__call_at(loop, al_loop_time(loop) + timeout, wait_on_timeout,
                         al_future_ref(w->waiter), wait_timer_drop, &w->timer);
        if (rc < 0)
            al_future_unref(w->waiter);
    }
    size_t i = 0;
    for (; rc == 0 && i < k; i++) {
        rc = al__future_add_done_callback_ex(w->uniq[i], wait_on_completion, w,
                                             wait_completion_dropped);
        if (rc == 0)
            w->refs++;
    }
    if (rc == 0)
        rc = al_await(w->waiter);
    al_task_unhold(self, wait_release, w);
    if (w->timer) {
        al_handle_cancel(w->timer);
        al__handle_release(w->timer);
        w->timer = NULL;
    }
    for (size_t j = 0; j < i; j++) {
        int removed = al_future_remove_done_callback(w->uniq[j], wait_on_completion, w);
        while (removed-- > 0)
            w->refs--; /* never the last: the frame's is still held */
    }
    if (rc == 0 || rc == AL_ECANCELLED) {
        size_t nd = 0, np = 0;
        for (size_t j = 0; j < k; j++) {
            if (al_future_done(w->uniq[j])) {
                if (done)
                    done[nd] = w->uniq[j];
                nd++;
            } else {
                if (pending)
                    pending[np] = w->uniq[j];
                np++;
            }
        }
        if (ndone)
            *ndone = nd;
        if (npending)
            *npending = np;
    }
    wait_unref(w);
    return rc;
}

/* ---- wait_for --------------------------------------------------------------------- */

/* asyncio's _cancel_and_wait: cancel f and wait until it is done, without
 * passing a cancellation of the caller on to f. It suspends at least once,
 * as asyncio's does (its waiter completes from f's done-callback): a
 * cancellation of the caller requested before the call is delivered
 * there, not turned into a timeout. */
static int cancel_and_wait(al_future *f)
{
    al_future_cancel(f, NULL);
    int rc = 0;
    do {
        int r = al_wait(&f, 1, AL_FOREVER, AL_ALL_COMPLETED, NULL, NULL, NULL, NULL);
        if (r == AL_ECANCELLED)
            rc = r;
        else if (r < 0)
            return r;
        if (rc == AL_ECANCELLED)
            break;
    } while (!al_future_done(f));
    return rc;
}

int al_wait_for(al_future *f, double timeout)
{
    al_task *self = al_current_task();
    if (!self)
        return AL_ENOTINTASK;
    if (!f || timeout != timeout)
        return -EINVAL;
    if (al_future_loop(f) != al_future_loop(al_task_future(self)))
        return AL_EWRONGLOOP;
    if (timeout <= 0) {
        if (al_future_done(f))
            return al_future_error(f);
        int rc = cancel_and_wait(f);
        if (rc < 0)
            return rc;
        rc = al_future_error(f);
        return rc == AL_ECANCELLED ? AL_ETIMEOUT : rc;
    }
    al_timeout to = AL_TIMEOUT_INIT;
    int rc = al_timeout_enter(&to, timeout);
    if (rc < 0)
        return rc;
    rc = al_await(f);
    return al_timeout_exit(&to, rc);
}

/* ---- as_completed --------------------------------------------------------------------- */

struct al_as_completed {
    int refs;
    al_loop *loop;
    size_t n;          /* distinct futures */
    size_t nreturned;  /* handed out by next */
    size_t head, tail; /* completed futures queue: q[head..tail) */
    al_future **todo;  /* n entries, one reference each (NULL once done) */
    al_future **q;     /* n entries */
    al_future *waiter; /* a task blocked in next, or NULL */
    al_handle *timer;
    bool timed_out;
};

static void ac_unref(al_as_completed *it)
{
    if (--it->refs > 0)
        return;
    for (size_t i = 0; i < it->n; i++)
        al_future_unref(it->todo[i]);
    for (size_t i = it->head; i < it->tail; i++)
        al_future_unref(it->q[i]);
    free(it->todo);
    free(it->q);
    free(it);
}

static void ac_wake(al_as_completed *it)
{
    if (it->waiter && !al_future_done(it->waiter))
        al_future_set_result(it->waiter, NULL, NULL);
}

static int ac_on_completion(al_future *f, void *arg)
{
    al_as_completed *it = arg;
    if (!it->timed_out) {
        for (size_t i = 0; i < it->n; i++) {
            if (it->todo[i] == f) {
                it->q[it->tail++] = f; /* the todo reference moves to the queue */
                it->todo[i] = NULL;
                break;
            }
        }
        ac_wake(it);
    }
    ac_unref(it);
    return 0;
}

/* ac_on_completion will never run (the loop closed): its reference goes,
 * the future stays in todo (released with the iterator). */
static void ac_completion_dropped(void *arg)
{
    ac_unref(arg);
}

static void ac_stop_watching(al_as_completed *it)
{
    for (size_t i = 0; i < it->n; i++) {
        if (!it->todo[i])
            continue;
        int removed = al_future_remove_done_callback(it->todo[i], ac_on_completion, it);
        while (removed-- > 0)
            it->refs--; /* never the last one: the caller's is still held */
    }
}

static int ac_on_timeout(al_loop *loop, void *arg)
{
    (void)loop;
    al_as_completed *it = arg;
    it->timed_out = true;
    ac_stop_watching(it);
    ac_wake(it);
    return 0;
}

int al_as_completed_new(al_loop *loop, al_future *const *fs, size_t n, double timeout,
                        al_as_completed **out)
{
    if (!loop || !out || timeout != timeout)
        return -EINVAL;
    int rc = al__check_futures(loop, fs, n);
    if (rc < 0)
        return rc;
    al_as_completed *it = calloc(1, sizeof *it);
    if (!it)
        return -ENOMEM;
    it->loop = loop;
    it->refs = 1;
    it->todo = malloc((n ? n : 1) * sizeof *it->todo);
    it->q = malloc((n ? n : 1) * sizeof *it->q);
    if (!it->todo || !it->q) {
        free(it->todo);
        free(it->q);
        free(it);
        return -ENOMEM;
    }
    it->n = distinct(fs, n, it->todo);
    if (timeout != AL_FOREVER && it->n > 0)
        rc = al_call_later(loop, timeout, ac_on_timeout, it, &it->timer);
    size_t i = 0;
    for (; rc == 0 && i < it->n; i++) {
        al_future_ref(it->todo[i]);
        rc = al__future_add_done_callback_ex(it->todo[i], ac_on_completion, it,
                                             ac_completion_dropped);
        if (rc < 0)
            al_future_unref(it->todo[i]);
        else
            it->refs++;
    }
    if (rc < 0) {
        it->n = i > 0 ? i - 1 : 0; /* futures watched (todo[i - 1] failed, unreferenced) */
        ac_stop_watching(it);
        if (it->timer) {
            al_handle_cancel(it->timer);
            al_handle_unref(it->timer);
        }
        it->refs = 1;
        ac_unref(it);
        return rc;
    }
    *out = it;
    return 0;
}

int al_as_completed_next(al_as_completed *it, al_future **f)
{
    if (!it || !f)
        return -EINVAL;
    al_task *self = al_current_task();
    if (!self)
        return AL_ENOTINTASK;
    if (it->waiter)
        return AL_EINVALIDSTATE;
    while (it->head == it->tail) {
        if (it->nreturned == it->n) {
            *f = NULL; /* the end */
            return 0;
        }
        if (it->timed_out)
            return AL_ETIMEOUT;
        int rc = al_future_new(it->loop, &it->waiter);
        if (rc < 0)
            return rc;
        rc = al_await(it->waiter);
        al_future_unref(it->waiter);
        it->waiter = NULL;
        if (rc < 0)
            return rc;
    }
    *f = it->q[it->head++]; /* the queue's reference goes to the caller */
    it->nreturned++;
    return 0;
}

size_t al_as_completed_remaining(const al_as_completed *it)
{
    return it ? it->n - it->nreturned : 0;
}

int al_as_completed_free(al_as_completed *it)
{
    if (!it)
        return 0;
    if (it->waiter) {
        if (!al_loop_is_closed(al_future_loop(it->waiter)))
            return AL_EINVALIDSTATE;
        /* The loop was closed with a task waiting in next: its stack was
         * dropped, so the reference it held is released here. */
        al_future_unref(it->waiter);
        it->waiter = NULL;
    }
    if (it->timer) {
        al_handle_cancel(it->timer);
        al_handle_unref(it->timer);
        it->timer = NULL;
    }
    if (!it->timed_out) {
        it->timed_out = true; /* callbacks still queued only drop their reference */
        ac_stop_watching(it);
    }
    ac_unref(it);
    return 0;
}

/* Task: asyncio's tasks.Task over a stackful coroutine.
 *
 * A step is one resume of the coroutine. The coroutine suspends only in
 * al_await (parked on a future whose done-callback is the next step) and in
 * al_sleep(0) (the next step is queued with call_soon), so the scheduling
 * is asyncio's: a wake-up costs exactly one loop iteration. */
#include "coro.h"
#include "future_internal.h"

#include <asynclib/error.h>
#include <asynclib/task.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct al_task {
    al_future fut; /* first: a task is a future */
    al_task_fn fn;
    void *arg;
    void *result;
    al_value_dtor result_dtor;
    int rc;
    al_coro *coro;
    al_future *fut_waiter; /* the future the task is parked on (one reference) */
    char *cancel_msg;      /* message of the latest cancel() */
    int cancel_requests;
    bool must_cancel; /* deliver AL_ECANCELLED at the next suspension */
    bool started;
    bool closing;                /* loop close: its registration on fut_waiter is still to purge */
    bool unwinding;              /* loop close: every suspension returns AL_ELOOPCLOSING at once */
    unsigned unwind_suspensions; /* suspensions attempted while unwinding */
    al_link link;                /* in loop->tasks.all while not done */
    char *name;
    char name_inline[28]; /* "Task-" and up to 20 digits */
};

static void task_step(al_task *t);
static const al_future_class task_class;

static int task_step_cb(al_loop *loop, void *arg)
{
    (void)loop;
    task_step(arg);
    return 0;
}

static int task_wakeup(al_future *f, void *arg)
{
    (void)f;
    task_step(arg);
    return 0;
}

int al__task_describe(const al_handle *h, char *buf, size_t len)
{
    if (h->fn != task_step_cb && h->done != task_wakeup)
        return -1;
    snprintf(buf, len, "<Task '%s'>", ((al_task *)h->arg)->name);
    return 0;
}

static void task_entry(void *arg)
{
    al_task *t = arg;
    t->rc = t->fn(t->arg, &t->result);
}

/* ---- the loop's task list ------------------------------------------------ */

static void list_add(al_loop *loop, al_task *t)
{
    al__list_push_front(&loop->tasks.all, &t->link);
}

static void list_remove(al_loop *loop, al_task *t)
{
    al__list_remove(&loop->tasks.all, &t->link);
}

static al_task *task_of(al_link *link)
{
    return link ? AL_CONTAINER(link, al_task, link) : NULL;
}

/* ---- completion ------------------------------------------------------------ */

static void set_cancel_msg(al_task *t, const char *msg)
{
    free(t->cancel_msg);
    t->cancel_msg = msg ? strdup(msg) : NULL;
}

/* ---- holds (task.h) ---------------------------------------------------------
 * A hold is a done-callback slot on the task's own future whose fn is the
 * marker below and whose drop hook is the release: no memory of its own.
 * The marker never runs: the holds left are taken out and released when
 * the task ends, before its completion schedules the other callbacks. */

static int hold_marker(al_future *f, void *arg)
{
    (void)f;
    (void)arg;
    return 0;
}

int al_task_hold(al_task *t, al_release_fn release, void *arg)
{
    if (!t || !release)
        return -EINVAL;
    if (t->fut.state != AL_PENDING)
        return AL_EINVALIDSTATE;
    return al__future_add_cb_ex(&t->fut, hold_marker, arg, release);
}

bool al_task_unhold(al_task *t, al_release_fn release, void *arg)
{
    if (!t || !release)
        return false;
    al_future *f = &t->fut;
    for (size_t i = f->ncbs; i-- > 0;) {
        if (f->cbs[i].fn == hold_marker && f->cbs[i].arg == arg && f->cbs[i].drop == release) {
            memmove(&f->cbs[i], &f->cbs[i + 1], (f->ncbs - i - 1) * sizeof f->cbs[0]);
            f->ncbs--;
            return true;
        }
    }
    return false;
}

/* The frames are gone: what they still hold is released, latest first. */
static void release_holds(al_task *t)
{
    al_future *f = &t->fut;
    for (size_t i = f->ncbs; i-- > 0;) {
        if (i >= f->ncbs || f->cbs[i].fn != hold_marker)
            continue; /* a release may have taken other entries out */
        al_done_cb cb = f->cbs[i];
        memmove(&f->cbs[i], &f->cbs[i + 1], (f->ncbs - i - 1) * sizeof f->cbs[0]);
        f->ncbs--;
        cb.drop(cb.arg);
    }
}

static void task_finish(al_task *t, int state, int error)
{
    al_loop *loop = t->fut.loop;
    al__coro_free(t->coro);
    t->coro = NULL;
    release_holds(t);
    if (state == AL_RESULT) {
        al__future_finish(&t->fut, AL_RESULT, 0, t->result, t->result_dtor, NULL);
        t->result = NULL;
    } else {
        /* A value the body stored before failing (or before a cancellation
         * it never received) is the task's to release. */
        if (t->result && t->result_dtor)
            t->result_dtor(t->result);
        t->result = NULL;
        al__future_finish(&t->fut, state, error, NULL, NULL,
                          state == AL_CANCELLED ? t->cancel_msg : NULL);
    }
    list_remove(loop, t);
    al_future_unref(&t->fut); /* the loop's reference */
}

/* The body returned: how the task ends follows asyncio's __step. */
static void task_complete(al_task *t)
{
    /* A non-negative return is success, as for every call of the library
     * (a positive one must not become an "error" that reads as success). */
    if (t->rc >= 0 && t->must_cancel)
        task_finish(t, AL_CANCELLED, AL_ECANCELLED); /* cancelled, never delivered */
    else if (t->rc >= 0)
        task_finish(t, AL_RESULT, 0);
    else if (t->rc == AL_ECANCELLED)
        task_finish(t, AL_CANCELLED, AL_ECANCELLED);
    else
        task_finish(t, AL_ERROR, t->rc);
}

/* The switch into the coroutine failed (shared-stack mode: no memory to
 * move the frames of the stack's owner): the task fails with the reason. */
static void fail_switch(al_task *t, int rc)
{
    t->rc = rc;
    task_finish(t, AL_ERROR, rc);
}

static void task_step(al_task *t)
{
    al_loop *loop = t->fut.loop;
    if (t->fut.state != AL_PENDING)
        return;
    al_task *outer = loop->tasks.current; /* non-NULL during an eager start */
    loop->tasks.current = t;
    if (!t->started && t->must_cancel) {
        /* Cancelled before its first step: the body never runs. */
        t->must_cancel = false;
        task_finish(t, AL_CANCELLED, AL_ECANCELLED);
    } else {
        al__future_ref(&t->fut);
        int r = al__coro_resume(t->coro);
        if (r == 1) {
            task_complete(t);
        } else if (r == 0) {
            t->started = true;
        } else if (r == -EBUSY && !t->started) {
            /* An eager first step from a task that occupies the shared
             * stack: this one needs it too, so it starts from the loop. */
            r = al__call_soon(loop, task_step_cb, t, NULL);
            if (r < 0)
                fail_switch(t, r);
        } else {
            fail_switch(t, r); /* could not switch (ENOMEM) */
        }
        al__future_unref(&t->fut);
    }
    loop->tasks.current = outer;
}

/* ---- creation --------------------------------------------------------------- */

/* "Task-N" without snprintf, which cost as much as the rest of a spawn.
 * Names are consecutive, so the thread keeps the last one and increments
 * it as text (one or two digits change); a full conversion otherwise. */
static _Thread_local struct {
    uintptr_t loop; /* the loop's address, inverted: a stale pointer kept here
                     * would hide a leaked loop from LeakSanitizer */
    uint64_t n;
    size_t len;
    char buf[28];
} tl_name;

static void format_name(const al_loop *loop, char buf[28], uint64_t n)
{
    if (tl_name.loop == ~(uintptr_t)loop && tl_name.n + 1 == n && tl_name.len) {
        size_t i = tl_name.len;
        while (i > 5 && tl_name.buf[i - 1] == '9')
            tl_name.buf[--i] = '0';
        if (i > 5) {
            tl_name.buf[i - 1]++;
            tl_name.n = n;
            memcpy(buf, tl_name.buf, sizeof tl_name.buf);
            return;
        }
    }
    char digits[21];
    size_t len = 0;
    uint64_t v = n;
    do {
        digits[len++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(tl_name.buf, "Task-", 5);
    for (size_t i = 0; i < len; i++)
        tl_name.buf[5 + i] = digits[len - 1 - i];
    memset(tl_name.buf + 5 + len, 0, sizeof tl_name.buf - 5 - len);
    tl_name.len = 5 + len;
    tl_name.loop = ~(uintptr_t)loop;
    tl_name.n = n;
    memcpy(buf, tl_name.buf, sizeof tl_name.buf);
}

static int create_with_factory(al_loop *loop, al_task_fn fn, void *arg, const al_task_options *opts,
                               al_task **out)
{
    al_task *t = NULL;
    loop->tasks.in_factory = true;
    int rc = loop->tasks.factory(loop, fn, arg, opts, &t, loop->tasks.factory_user);
    loop->tasks.in_factory = false;
    if (rc < 0)
        return rc;
    if (!t)
        return AL_EFAILED; /* the factory claimed success without a task */
    if (out)
        *out = t;
    else
        al_task_unref(t);
    return 0;
}

int al_loop_set_task_factory(al_loop *loop, al_task_factory_fn factory, void *user)
{
    if (!loop)
        return -EINVAL;
    loop->tasks.factory = factory;
    loop->tasks.factory_user = factory ? user : NULL;
    return 0;
}

int al_task_new(al_loop *loop, al_task_fn fn, void *arg, const al_task_options *opts, al_task **out)
{
    static const al_task_options defaults = AL_TASK_OPTIONS_DEFAULT;
    if (!loop || !fn)
        return -EINVAL;
    if (!opts)
        opts = &defaults;
    if (opts->stack_size &&
        (opts->stack_size < AL_CORO_STACK_MIN || opts->stack_size > AL_CORO_STACK_MAX))
        return -EINVAL;
    if (opts->eager < AL_EAGER_DEFAULT || opts->eager > AL_EAGER_OFF)
        return -EINVAL;
    if ((opts->flags & ~(unsigned)AL_TASK_SHARED_STACK) ||
        ((opts->flags & AL_TASK_SHARED_STACK) && opts->stack_size > AL_CORO_SHARED_STACK_SIZE))
        return -EINVAL;
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    if (loop->closing)
        return AL_ELOOPCLOSED; /* a task's cleanup while the close unwinds it */
    if (loop->tasks.factory && !loop->tasks.in_factory)
        return create_with_factory(loop, fn, arg, opts, out);
    al_task *t = al__obj_alloc(AL_OBJ_TASK, sizeof *t);
    if (!t)
        return -ENOMEM;
    al__future_init(&t->fut, loop, &task_class);
    t->fn = fn;
    t->arg = arg;
    t->result_dtor = opts->result_dtor;
    loop->tasks.counter++;
    if (opts->name) {
        t->name = strdup(opts->name);
    } else {
        format_name(loop, t->name_inline, loop->tasks.counter);
        t->name = t->name_inline;
    }
    bool eager = opts->eager == AL_EAGER_DEFAULT ? loop->tasks.eager : opts->eager == AL_EAGER_ON;
    eager = eager && loop->running && al_get_running_loop() == loop;
    rc = t->name ? al__coro_new_ex(&t->coro, opts->stack_size, task_entry, t,
                                   (opts->flags & AL_TASK_SHARED_STACK) ? AL_CORO_SHARED_STACK : 0u)
                 : -ENOMEM;
    if (rc == 0 && !eager)
        rc = al__call_soon(loop, task_step_cb, t, NULL);
    if (rc < 0) {
        al_future_unref(&t->fut); /* task_destroy copes with the partial task */
        return rc;
    }
    al__coro_set_name(t->coro, t->name);
    list_add(loop, t); /* the loop's reference is the one from init */
    if (out)
        *out = (al_task *)al_future_ref(&t->fut);
    if (eager)
        task_step(t); /* the first step runs inside create */
    return 0;
}

static void task_destroy(al_future *f)
{
    al_task *t = (al_task *)f;
    al__coro_free(t->coro);
    free(t->cancel_msg);
    if (t->name != t->name_inline)
        free(t->name);
}

static void task_unretrieved(al_future *f)
{
    al__report(f->loop, "Task exception was never retrieved", f->error, f, (al_task *)f);
}

static int task_cancel_method(al_future *f, const char *message)
{
    return al_task_cancel((al_task *)f, message);
}

/* A task is a future that completes itself, cancels as asyncio's
 * Task.cancel and owns a coroutine, a name and a message. */
static const al_future_class task_class = {
    .cancel = task_cancel_method,
    .destroy = task_destroy,
    .unretrieved = task_unretrieved,
    .obj = AL_OBJ_TASK,
    .completes_itself = true,
};

/* ---- closing the loop: unwinding ---------------------------------------------
 *
 * asyncio closes a pending coroutine by throwing GeneratorExit into it, so
 * its finally blocks run. Here a parked task is resumed once from its
 * pending suspension, which returns AL_ELOOPCLOSING; so does every later
 * suspension, at once, and the body's cleanup runs to its end. Frames then
 * release what they hold themselves: nothing registered across a
 * suspension outlives the close. */

/* Past this many suspensions while unwinding, a task is taken to ignore the
 * close (a retry loop would spin for ever): it parks for real and the close
 * drops it, as CPython reports a coroutine that ignored GeneratorExit. */
#define AL_UNWIND_MAX_SUSPENSIONS 100000u

/* A suspension of an unwinding task: AL_ELOOPCLOSING without suspending. */
static int unwind_suspension(al_task *t)
{
    if (t->unwind_suspensions++ >= AL_UNWIND_MAX_SUSPENSIONS)
        al__coro_yield(); /* never resumed: the close drops the stack */
    return AL_ELOOPCLOSING;
}

/* Drops the registrations of every closing task from f in one pass (one
 * remove_done_callback per task would be quadratic when many tasks wait on
 * one future). */
static void purge_closing(al_future *f)
{
    size_t kept = 0;
    for (size_t i = 0; i < f->ncbs; i++) {
        al_done_cb cb = f->cbs[i];
        if (cb.fn == task_wakeup && ((al_task *)cb.arg)->closing)
            ((al_task *)cb.arg)->closing = false;
        else
            f->cbs[kept++] = cb;
    }
    f->ncbs = kept;
}

/* Resumes a parked task that will never be woken, so that it unwinds. */
static void unwind(al_task *t)
{
    al_loop *loop = t->fut.loop;
    t->unwinding = true;
    al_task *outer = loop->tasks.current;
    loop->tasks.current = t;
    int r = al__coro_resume(t->coro);
    loop->tasks.current = outer;
    if (r == 0) {
        al__report(loop, "Task ignored loop close", AL_ELOOPCLOSING, &t->fut, t);
    } else if (r < 0) {
        al__report(loop, "Task could not be unwound", r, &t->fut, t);
    }
    if (t->fut_waiter) {
        /* Not resumed: the reference its dropped frame held goes with it. */
        al_future_unref(t->fut_waiter);
        t->fut_waiter = NULL;
    }
}

/* The loop is closing (called by al_loop_close before anything else): each
 * task still pending is reported as asyncio's "Task was destroyed but it is
 * pending!", unwound if it ever ran (one that never ran is dropped without
 * running, as CPython closes a never-started coroutine), and ends
 * cancelled with the message "event loop closed". */
void al__tasks_on_close(al_loop *loop)
{
    AL_LIST_FOREACH (it, &loop->tasks.all) {
        al_task *t = task_of(it);
        t->closing = t->fut_waiter != NULL;
    }
    AL_LIST_FOREACH (it, &loop->tasks.all) {
        al_task *t = task_of(it);
        if (t->closing)
            purge_closing(t->fut_waiter); /* clears closing of every task it held */
    }
    al_task *t;
    while ((t = task_of(loop->tasks.all.head))) {
        al__future_ref(&t->fut);
        al__report(loop, "Task was destroyed but it is pending!", 0, &t->fut, t);
        if (t->fut.state == AL_PENDING && t->started)
            unwind(t);
        if (t->fut.state == AL_PENDING) {
            set_cancel_msg(t, "event loop closed");
            task_finish(t, AL_CANCELLED, AL_ECANCELLED);
        }
        al__future_unref(&t->fut);
    }
}

/* ---- accessors ---------------------------------------------------------------- */

al_future *al_task_future(al_task *t)
{
    return t ? &t->fut : NULL;
}

al_task *al_future_task(al_future *f)
{
    return f && f->cls == &task_class ? (al_task *)f : NULL;
}

void al_task_unref(al_task *t)
{
    if (t)
        al_future_unref(&t->fut);
}

const char *al_task_name(const al_task *t)
{
    return t ? t->name : NULL;
}

int al_task_set_name(al_task *t, const char *name)
{
    if (!t || !name)
        return -EINVAL;
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    if (t->name != t->name_inline)
        free(t->name);
    t->name = copy;
    if (t->coro)
        al__coro_set_name(t->coro, t->name);
    return 0;
}

al_task *al_current_task(void)
{
    al_loop *loop = al_get_running_loop();
    return loop ? loop->tasks.current : NULL;
}

size_t al_loop_all_tasks(al_loop *loop, al_task **out, size_t max)
{
    if (!loop)
        return 0;
    size_t i = 0;
    AL_LIST_FOREACH (it, &loop->tasks.all) {
        if (out && i < max)
            out[i] = task_of(it);
        i++;
    }
    return i;
}

int al_loop_set_eager_tasks(al_loop *loop, bool eager)
{
    if (!loop)
        return -EINVAL;
    loop->tasks.eager = eager;
    return 0;
}

/* ---- cancellation ------------------------------------------------------------ */

int al_task_cancel(al_task *t, const char *message)
{
    if (!t)
        return -EINVAL;
    t->fut.retrieved = true; /* asyncio: cancel() silences the traceback log */
    if (t->fut.state != AL_PENDING)
        return 0;
    if (t->cancel_requests < INT_MAX) /* saturates: never overflows */
        t->cancel_requests++;
    set_cancel_msg(t, message);
    /* The awaited future may be a task that swallows the cancellation: we
     * stay parked on it and may have to cancel it again later. */
    if (t->fut_waiter && al_future_cancel(t->fut_waiter, message) == 1)
        return 1;
    t->must_cancel = true;
    return 1;
}

bool al__task_cancel_pending(const al_task *t)
{
    return t->must_cancel;
}

int al_task_cancelling(const al_task *t)
{
    return t ? t->cancel_requests : 0;
}

int al_task_uncancel(al_task *t)
{
    if (!t)
        return -EINVAL;
    if (t->cancel_requests > 0 && --t->cancel_requests == 0)
        t->must_cancel = false;
    return t->cancel_requests;
}

/* ---- suspending ---------------------------------------------------------------- */

/* The running task, if the caller runs on its stack. */
static al_task *running_task(void)
{
    al_task *t = al_current_task();
    if (!t || !t->coro || al__coro_current() != t->coro)
        return NULL;
    return t;
}

/* After a suspension: a cancellation that could not cancel a future. */
static int take_must_cancel(al_task *t)
{
    if (!t->must_cancel)
        return 0;
    t->must_cancel = false;
    return AL_ECANCELLED;
}

/* Woken by f's done-callback: the handle running it holds a reference to
 * f that the task's own makes redundant. Dropped now, so that f's owner
 * alone holds it again once al_await returns (al_future_reset can reuse
 * it) instead of after the task's next suspension. */
static void release_wakeup_ref(al_task *t, al_future *f)
{
    al_handle *h = t->fut.loop->calling;
    if (h && h->done == task_wakeup && h->arg == t && h->future == f) {
        h->future = NULL;
        al__future_unref(f);
    }
}

int al_await(al_future *f)
{
    al_task *t = running_task();
    if (!t)
        return AL_ENOTINTASK;
    if (!f)
        return -EINVAL;
    if (f->loop != t->fut.loop)
        return AL_EWRONGLOOP;
    if (f == &t->fut)
        return AL_EINVALIDSTATE;
    if (f->state != AL_PENDING) {
        int st = al_future_error(f);
        if (st == AL_ECANCELLED)
            set_cancel_msg(t, f->cancel_msg);
        return st;
    }
    if (t->unwinding)
        return unwind_suspension(t);

    int rc = al__future_add_cb(f, task_wakeup, t);
    if (rc < 0)
        return rc;
    al__future_ref(f);
    t->fut_waiter = f;
    if (t->must_cancel && al_future_cancel(f, t->cancel_msg) == 1)
        t->must_cancel = false;
    al__coro_yield();
    t->fut_waiter = NULL;
    release_wakeup_ref(t, f);
    rc = t->unwinding ? AL_ELOOPCLOSING : take_must_cancel(t);
    if (rc == 0) {
        rc = al_future_error(f);
        /* The CancelledError the body now holds carries f's message; if it
         * returns it, the task ends cancelled with that message (asyncio
         * keeps the exception object itself). */
        if (rc == AL_ECANCELLED)
            set_cancel_msg(t, f->cancel_msg);
    }
    al__future_unref(f);
    return rc;
}

static int sleep_fire(al_loop *loop, void *arg)
{
    (void)loop;
    al_future *f = arg;
    if (f->state == AL_PENDING)
        al_future_set_result(f, NULL, NULL);
    al_future_unref(f);
    return 0;
}

static void sleep_drop(void *arg)
{
    al_future_unref(arg);
}

int al_sleep(double delay)
{
    al_task *t = running_task();
    if (!t)
        return AL_ENOTINTASK;
    if (delay != delay)
        return -EINVAL;
    if (t->unwinding)
        return unwind_suspension(t);
    al_loop *loop = t->fut.loop;
    if (delay <= 0) {
        int rc = al__call_soon(loop, task_step_cb, t, NULL);
        if (rc < 0)
            return rc;
        al__coro_yield();
        return t->unwinding ? AL_ELOOPCLOSING : take_must_cancel(t);
    }
    al_future *f;
    int rc = al_future_new(loop, &f);
    if (rc < 0)
        return rc;
    al_handle *timer;
    rc = al__call_at(loop, al_loop_time(loop) + delay, sleep_fire, al_future_ref(f), sleep_drop,
                     &timer);
    if (rc < 0) {
        al_future_unref(f);
        al_future_unref(f);
        return rc;
    }
    rc = al_await(f);
    al_handle_cancel(timer); /* no-op if it fired */
    al__handle_release(timer);
    al_future_unref(f);
    return rc;
}

/* The pure event loop: asyncio's BaseEventLoop._run_once in C.
 *
 * Scheduling state is touched only on the loop's thread; the one exception
 * is the thread-safe queue (ts_queue under ts_lock), which foreign threads
 * fill and the loop splices into the ready queue after each wait. */
#include "loop_internal.h"

#include <asynclib/future.h>

#include <asynclib/error.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AL_PURGE_MIN_TIMERS 100

static _Thread_local al_loop *tl_running;
/* Its address identifies the thread, atomically comparable from any thread. */
static _Thread_local char tl_thread_id;

static uintptr_t this_thread(void)
{
    return (uintptr_t)&tl_thread_id;
}

/* ---- timers ---------------------------------------------------------------- */

static int timer_push(al_loop *loop, al_handle *h)
{
    int rc = al__theap_push(&loop->timers, h->when, h->seq, h);
    if (rc == 0)
        h->in_heap = true;
    return rc;
}

static al_handle *timer_pop(al_loop *loop)
{
    al_handle *h = al__theap_pop(&loop->timers);
    h->in_heap = false;
    if (h->cancelled)
        loop->timers_cancelled--;
    return h;
}

static bool timer_live(const al_handle *h)
{
    return !h->cancelled;
}

static void timer_discard(al_handle *h)
{
    h->in_heap = false;
    al__handle_release(h);
}

/* Lazy cancellation: cancelled timers stay in the heap until they reach the
 * head, unless they are the majority of a big heap; then one O(n) rebuild
 * drops them all (asyncio's _MIN_CANCELLED_TIMER_HANDLES_FRACTION). */
static void purge_cancelled_timers(al_loop *loop)
{
    al_timer_heap *heap = &loop->timers;
    if (heap->len > AL_PURGE_MIN_TIMERS && loop->timers_cancelled * 2 > heap->len) {
        al__theap_filter(heap, timer_live, timer_discard);
        loop->timers_cancelled = 0;
    }
    while (heap->len && heap->v[0].h->cancelled)
        al__handle_release(timer_pop(loop));
}

/* ---- lifetime ------------------------------------------------------------- */

void al__loop_ref(al_loop *loop)
{
    loop->refs++;
}

static void loop_destroy(al_loop *loop)
{
    al__stack_free(&loop->free_handles);
    al__stack_free(&loop->ts_free);
    al__theap_free(&loop->timers);
    pthread_mutex_destroy(&loop->ts_lock);
    if (loop->ops->destroy)
        loop->ops->destroy(loop);
    free(loop);
}

void al__loop_unref(al_loop *loop)
{
    if (--loop->refs == 0)
        loop_destroy(loop);
}

al_loop *al_loop_new_with_ops(const al_loop_ops *ops, void *impl)
{
    if (!ops || !ops->time || !ops->wait || !ops->wakeup)
        return NULL;
    al_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->ops = ops;
    loop->impl = impl;
    loop->refs = 1;
    atomic_init(&loop->owner, this_thread());
    if (pthread_mutex_init(&loop->ts_lock, NULL) != 0) {
        free(loop);
        return NULL;
    }
    loop->clock_resolution = 1e-9;
    loop->slow_callback = 0.1;
    const char *dbg = getenv("ASYNCLIB_DEBUG");
    loop->debug = dbg && dbg[0] && strcmp(dbg, "0") != 0;
    return loop;
}

void *al_loop_impl(const al_loop *loop)
{
    return loop ? loop->impl : NULL;
}

const al_loop_ops *al_loop_get_ops(const al_loop *loop)
{
    return loop ? loop->ops : NULL;
}

int al_loop_set_data(al_loop *loop, void *data)
{
    if (!loop)
        return -EINVAL;
    loop->data = data;
    return 0;
}

void *al_loop_get_data(const al_loop *loop)
{
    return loop ? loop->data : NULL;
}

const char *al_loop_name(const al_loop *loop)
{
    return loop ? loop->ops->name : "(null)";
}

static void drop_all_queued(al_loop *loop)
{
    al_handle *h;
    while ((h = al__queue_pop(&loop->ready)))
        al__handle_drop(h);
    pthread_mutex_lock(&loop->ts_lock);
    al_handle_queue ts = loop->ts_queue;
    loop->ts_queue = (al_handle_queue){0};
    atomic_store(&loop->ts_len, 0);
    pthread_mutex_unlock(&loop->ts_lock);
    while ((h = al__queue_pop(&ts)))
        al__handle_drop(h);
    while (loop->timers.len) {
        h = timer_pop(loop);
        al__handle_drop(h);
    }
    loop->timers_cancelled = 0;
}

int al_loop_close(al_loop *loop)
{
    if (!loop)
        return -EINVAL;
    if (loop->running)
        return AL_ELOOPRUNNING;
    if (loop->closed)
        return 0;
    if (loop->closing)
        return AL_ELOOPRUNNING; /* from a task's cleanup while it unwinds */
    /* Tasks first: they unwind (as the loop's running tasks: the thread's
     * running loop is this one meanwhile), releasing what their frames
     * hold. Then the executor lets go of its futures, and from the moment
     * the loop is marked closed no other thread can queue anything. */
    loop->closing = true;
    al_loop *outer = tl_running;
    tl_running = loop;
    al__tasks_on_close(loop);
    tl_running = outer;
    loop->closing = false;
    al__futures_on_close(loop);
    al__executor_shutdown_nowait(loop);
    pthread_mutex_lock(&loop->ts_lock);
    loop->closed = true;
    pthread_mutex_unlock(&loop->ts_lock);
    al__futures_retry_late(loop); /* closed: drops them */
    drop_all_queued(loop);
    if (loop->ops->close)
        loop->ops->close(loop);
    return 0;
}

int al_loop_free(al_loop *loop)
{
    if (!loop)
        return -EINVAL;
    int rc = al_loop_close(loop);
    if (rc < 0)
        return rc;
    al__loop_unref(loop);
    return 0;
}

bool al_loop_is_running(const al_loop *loop)
{
    return loop && loop->running;
}

bool al_loop_is_closed(const al_loop *loop)
{
    return loop && loop->closed;
}

al_loop *al_get_running_loop(void)
{
    return tl_running;
}

double al_loop_time(al_loop *loop)
{
    return loop ? loop->ops->time(loop) : NAN;
}

void al_loop_wakeup(al_loop *loop)
{
    if (loop)
        loop->ops->wakeup(loop);
}

void al__loop_external_begin(al_loop *loop)
{
    if (loop->ops->external)
        loop->ops->external(loop, 1);
}

void al__loop_external_end(al_loop *loop)
{
    if (loop->ops->external)
        loop->ops->external(loop, -1);
}

/* ---- scheduling --------------------------------------------------------- */

int al__loop_check(al_loop *loop)
{
    /* The thread first: a foreign thread must not even read loop state. */
    if (loop->debug) {
        uintptr_t runner = atomic_load_explicit(&loop->running_on, memory_order_relaxed);
        if (runner && runner != this_thread())
            return AL_EWRONGTHREAD;
    }
    if (loop->closed)
        return AL_ELOOPCLOSED;
    return 0;
}

int al__call_soon(al_loop *loop, al_callback_fn fn, void *arg, al_drop_fn drop)
{
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    al_handle *h = al__handle_alloc(loop);
    if (!h)
        return -ENOMEM;
    h->fn = fn;
    h->arg = arg;
    h->drop = drop;
    h->when = NAN;
    al__queue_push(&loop->ready, h);
    return 0;
}

int al__call_soon_done(al_loop *loop, int (*done)(al_future *, void *), al_future *f, void *arg,
                       al_drop_fn drop)
{
    int rc = al__call_soon(loop, NULL, arg, drop);
    if (rc < 0)
        return rc;
    al_handle *h = loop->ready.tail;
    h->done = done;
    h->future = al_future_ref(f);
    return 0;
}

int al_call_soon(al_loop *loop, al_callback_fn fn, void *arg, al_handle **out)
{
    if (!loop || !fn)
        return -EINVAL;
    int rc = al__call_soon(loop, fn, arg, NULL);
    if (rc == 0)
        al__handle_give_user_ref(loop->ready.tail, out);
    return rc;
}

/* Foreign threads take handles from ts_free, a small stock that the loop
 * refills from its own free list whenever it takes a batch of calls, so a
 * steady stream of thread-safe calls (executor completions) allocates
 * nothing. */
#define AL_TS_FREE_STOCK 64

int al__call_soon_threadsafe(al_loop *loop, al_callback_fn fn, void *arg, al_drop_fn drop)
{
    pthread_mutex_lock(&loop->ts_lock);
    /* Checked under the lock: close marks the loop closed under it. */
    if (loop->closed) {
        pthread_mutex_unlock(&loop->ts_lock);
        return AL_ELOOPCLOSED;
    }
    al_handle *h = al__stack_pop(&loop->ts_free);
    if (!h && !(h = malloc(sizeof *h))) {
        pthread_mutex_unlock(&loop->ts_lock);
        return -ENOMEM;
    }
    *h = (al_handle){.loop = loop, .refs = 1, .fn = fn, .arg = arg, .drop = drop, .when = NAN};
    bool first = loop->ts_queue.len == 0;
    al__queue_push(&loop->ts_queue, h);
    atomic_store(&loop->ts_len, loop->ts_queue.len);
    pthread_mutex_unlock(&loop->ts_lock);
    if (first) /* coalesced: one wakeup until the loop takes the batch */
        loop->ops->wakeup(loop);
    return 0;
}

/* The owner's call while no thread runs the loop: straight into the ready
 * queue (the FIFO it shares with call_soon), but under ts_lock, which
 * run_begin and run_end also take to set running_on, so either this push
 * happens before another thread starts running the loop (which then sees
 * it), or that thread is seen running and the call takes the locked queue. */
static int call_soon_idle_owner(al_loop *loop, al_callback_fn fn, void *arg)
{
    pthread_mutex_lock(&loop->ts_lock);
    if (atomic_load(&loop->running_on) != 0) {
        pthread_mutex_unlock(&loop->ts_lock);
        return al__call_soon_threadsafe(loop, fn, arg, NULL);
    }
    int rc = al_call_soon(loop, fn, arg, NULL);
    pthread_mutex_unlock(&loop->ts_lock);
    return rc;
}

int al_call_soon_threadsafe(al_loop *loop, al_callback_fn fn, void *arg)
{
    if (!loop || !fn)
        return -EINVAL;
    /* On the thread running the loop, the same FIFO as call_soon (asyncio
     * R1); so on its owner (creator, or last runner) while nobody runs it.
     * The owner id alone is not enough: another thread may be starting the
     * loop (fault: a loop created here and run there). */
    uintptr_t me = this_thread();
    if (atomic_load(&loop->running_on) == me)
        return al_call_soon(loop, fn, arg, NULL);
    if (atomic_load(&loop->owner) == me)
        return call_soon_idle_owner(loop, fn, arg);
    return al__call_soon_threadsafe(loop, fn, arg, NULL);
}

static void take_threadsafe_calls(al_loop *loop)
{
    if (atomic_load(&loop->ts_len) == 0)
        return;
    pthread_mutex_lock(&loop->ts_lock);
    al__queue_splice(&loop->ready, &loop->ts_queue);
    atomic_store(&loop->ts_len, 0);
    al_handle *h;
    while (loop->ts_free.len < AL_TS_FREE_STOCK && (h = al__stack_pop(&loop->free_handles)))
        al__stack_push(&loop->ts_free, h);
    pthread_mutex_unlock(&loop->ts_lock);
}

int al__call_at(al_loop *loop, double when, al_callback_fn fn, void *arg, al_drop_fn drop,
                al_handle **out)
{
    if (isnan(when))
        return -EINVAL;
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    al_handle *h = al__handle_alloc(loop);
    if (!h)
        return -ENOMEM;
    h->fn = fn;
    h->arg = arg;
    h->drop = drop;
    h->when = when;
    h->seq = loop->seq++;
    rc = timer_push(loop, h);
    if (rc < 0) {
        al__handle_release(h);
        return rc;
    }
    if (out) {
        h->refs++;
        *out = h;
    }
    return 0;
}

int al_call_at(al_loop *loop, double when, al_callback_fn fn, void *arg, al_handle **out)
{
    if (!loop || !fn)
        return -EINVAL;
    al_handle *h = NULL;
    int rc = al__call_at(loop, when, fn, arg, NULL, out ? &h : NULL);
    if (rc == 0 && out) {
        al__loop_ref(loop);
        *out = h;
    }
    return rc;
}

int al_call_later(al_loop *loop, double delay, al_callback_fn fn, void *arg, al_handle **out)
{
    if (!loop || !fn || isnan(delay))
        return -EINVAL;
    return al_call_at(loop, al_loop_time(loop) + delay, fn, arg, out);
}

/* ---- running ------------------------------------------------------------ */

static void run_handle(al_loop *loop, al_handle *h)
{
    h->ran = true;
    /* Timed only when debug mode was on as it started: a callback that
     * turns it on must not be reported as running since time 0. */
    bool timed = loop->debug;
    double start = timed ? al__monotonic() : 0;
    al_handle *outer = loop->calling;
    loop->calling = h;
    int rc = h->done ? h->done(h->future, h->arg) : h->fn(loop, h->arg);
    loop->calling = outer;
    if (rc < 0) {
        al_error_context ctx = {.message = "Exception in callback",
                                .error = rc,
                                .callback = h->fn,
                                .callback_arg = h->arg};
        al_loop_call_exception_handler(loop, &ctx);
    }
    if (timed && loop->debug) {
        double took = al__monotonic() - start;
        if (took >= loop->slow_callback) {
            char what[160], msg[256];
            if (al__task_describe(h, what, sizeof what) < 0)
                snprintf(what, sizeof what, "<callback %p>", (void *)(uintptr_t)h->fn);
            snprintf(msg, sizeof msg, "Executing %s took %.3f seconds", what, took);
            al_error_context ctx = {.message = msg, .callback = h->fn, .callback_arg = h->arg};
            al_loop_call_exception_handler(loop, &ctx);
        }
    }
}

/* Not capped (asyncio caps at MAXIMUM_SELECT_TIMEOUT, a day): a virtual
 * loop jumps straight to a far deadline instead of a day per iteration,
 * and waits cope with any length. A deadline at +infinity never comes:
 * wait until woken. */
static double compute_timeout(al_loop *loop)
{
    if (loop->ready.len || loop->stopping || loop->late_futures || atomic_load(&loop->ts_len))
        return 0;
    if (!loop->timers.len || loop->timers.v[0].when == INFINITY)
        return -1;
    double timeout = loop->timers.v[0].when - loop->ops->time(loop);
    return timeout > 0 ? timeout : 0;
}

bool al_loop_waits_next(const al_loop *loop)
{
    return loop && loop->running && !loop->single && !loop->stopping && !loop->ready.len &&
           !atomic_load_explicit(&loop->ts_len, memory_order_relaxed);
}

double al_loop_next_timeout(al_loop *loop)
{
    if (!loop)
        return NAN;
    purge_cancelled_timers(loop);
    return compute_timeout(loop);
}

static void run_once(al_loop *loop)
{
    if (loop->late_futures)
        al__futures_retry_late(loop);
    purge_cancelled_timers(loop);
    int rc = loop->ops->wait(loop, compute_timeout(loop));
    if (rc < 0)
        al__report(loop, "Error in the loop's wait", rc, NULL, NULL);
    take_threadsafe_calls(loop);

    /* Due within the clock's resolution, compared as a difference: at large
     * times now + resolution rounds to now and a deadline equal to now would
     * never become due. No timers, no clock read. */
    double now = loop->timers.len ? loop->ops->time(loop) : 0;
    while (loop->timers.len && loop->timers.v[0].when - now < loop->clock_resolution) {
        al_handle *h = timer_pop(loop);
        if (h->cancelled)
            al__handle_release(h);
        else
            al__queue_push(&loop->ready, h);
    }

    /* Exactly the callbacks ready now; what they queue waits for the next
     * iteration. */
    for (size_t n = loop->ready.len; n > 0; n--) {
        al_handle *h = al__queue_pop(&loop->ready);
        if (!h->cancelled)
            run_handle(loop, h);
        al__handle_release(h);
    }
}

int al__loop_can_run(const al_loop *loop)
{
    if (!loop)
        return -EINVAL;
    if (loop->closed)
        return AL_ELOOPCLOSED;
    if (loop->running || tl_running)
        return AL_ELOOPRUNNING;
    return 0;
}

static int run_begin(al_loop *loop)
{
    int rc = al__loop_can_run(loop);
    if (rc < 0)
        return rc;
    loop->running = true;
    loop->thread = pthread_self();
    pthread_mutex_lock(&loop->ts_lock); /* see call_soon_idle_owner */
    atomic_store(&loop->owner, this_thread());
    atomic_store(&loop->running_on, this_thread());
    pthread_mutex_unlock(&loop->ts_lock);
    tl_running = loop;
    al__loop_ref(loop); /* a callback may free the loop's last user reference */
    return 0;
}

static void run_end(al_loop *loop)
{
    loop->stopping = false;
    loop->single = false;
    loop->running = false;
    pthread_mutex_lock(&loop->ts_lock);
    atomic_store(&loop->running_on, 0);
    pthread_mutex_unlock(&loop->ts_lock);
    tl_running = NULL;
    al__loop_unref(loop);
}

int al_loop_run_forever(al_loop *loop)
{
    int rc = run_begin(loop);
    if (rc < 0)
        return rc;
    do
        run_once(loop);
    while (!loop->stopping);
    run_end(loop);
    return 0;
}

int al_loop_run_once(al_loop *loop)
{
    int rc = run_begin(loop);
    if (rc < 0)
        return rc;
    loop->single = true;
    run_once(loop);
    run_end(loop);
    return 0;
}

int al_loop_stop(al_loop *loop)
{
    if (!loop)
        return -EINVAL;
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    loop->stopping = true;
    return 0;
}

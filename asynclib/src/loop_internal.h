/* The loop's private state, shared by the files of the pure layer
 * (future.c, task.c, executor.c need the ready queue and the task list). */
#ifndef ASYNCLIB_LOOP_INTERNAL_H
#define ASYNCLIB_LOOP_INTERNAL_H

#include "list.h"
#include "timer_heap.h"

#include <asynclib/loop_ops.h>
#include <asynclib/task.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Called instead of fn when a queued call is dropped without running (the
 * loop closes): releases what arg holds. */
typedef void (*al_drop_fn)(void *arg);

struct al_handle {
    al_handle *next; /* ready queue, thread-safe queue or free list */
    al_loop *loop;
    al_callback_fn fn;
    void *arg;
    al_drop_fn drop;
    al_future *future; /* a done-callback: done(future, arg), one reference held */
    int (*done)(al_future *f, void *arg);
    double when;   /* NaN for call_soon */
    uint64_t seq;  /* tie-breaker: equal deadlines fire in scheduling order */
    unsigned refs; /* the loop's while queued + the user's */
    bool cancelled;
    bool in_heap;
    bool ran; /* its call ran (a timeout scope reads it: timeout.c) */
};

typedef struct al_handle_queue {
    al_handle *head, *tail;
    size_t len;
} al_handle_queue;

/* A LIFO of unused handles (linked through next). */
typedef struct al_handle_stack {
    al_handle *top;
    size_t len;
} al_handle_stack;

typedef struct al_executor al_executor;

struct al_loop {
    const al_loop_ops *ops;
    void *impl;
    unsigned refs; /* owner + user-held handles, futures, tasks */
    void *data;    /* the user's (al_loop_set_data) */

    al_handle_queue ready;
    al_timer_heap timers;
    size_t timers_cancelled; /* cancelled timers still in the heap */
    uint64_t seq;
    al_handle_stack free_handles; /* released handles kept for reuse */

    /* call_soon_threadsafe from foreign threads lands here first. */
    pthread_mutex_t ts_lock;
    al_handle_queue ts_queue;
    al_handle_stack ts_free; /* handles for foreign threads, refilled by the loop */
    atomic_size_t ts_len;

    bool running, stopping, closed;
    bool single;                 /* in al_loop_run_once: no wait follows this iteration */
    bool closing;                /* al_loop_close is unwinding the tasks (task.c) */
    al_future *held_futures;     /* pending futures with drop-hooked callbacks (future.c) */
    al_future *late_futures;     /* done futures whose callbacks wait to be queued (future.c) */
    pthread_t thread;            /* valid while running */
    atomic_uintptr_t running_on; /* id of the running thread, 0 when not running */
    atomic_uintptr_t owner;      /* id of the thread that created or last ran it */
    double clock_resolution;

    al_handle *calling; /* the handle whose call runs now, or NULL */
    bool debug;
    double slow_callback;
    al_exception_handler_fn handler;
    void *handler_user;

    /* Owner: task.c; no other file touches these. */
    struct al_loop_tasks {
        al_list all;      /* every task not yet done, so none vanishes mid-run */
        uint64_t counter; /* Task-N names */
        al_task *current;
        bool eager;                 /* the loop-wide task factory: eager start */
        al_task_factory_fn factory; /* NULL: tasks as al_task_new makes them */
        void *factory_user;
        bool in_factory; /* al_task_new from the factory itself: direct */
    } tasks;

    /* Owner: executor.c; no other file touches these. */
    struct al_loop_executor {
        al_executor *pool; /* the default executor, created on first use */
        al_list jobs;      /* work in flight whose future the loop side still holds */
        bool shut;         /* al_loop_shutdown_default_executor was called */
        int workers;       /* 0: default */
    } exec;
};

/* ---- handles (handle.c) and their FIFO queues ---- */

al_handle *al__handle_alloc(al_loop *loop);
/* The handle stacks: pop (NULL when empty), push, and free every handle. */
al_handle *al__stack_pop(al_handle_stack *s);
void al__stack_push(al_handle_stack *s, al_handle *h);
void al__stack_free(al_handle_stack *s);
/* The loop's reference ends without running the call: drop hook, release. */
void al__handle_drop(al_handle *h);
/* If out is not NULL: a user reference (holding the loop's memory too). */
void al__handle_give_user_ref(al_handle *h, al_handle **out);

static inline void al__queue_push(al_handle_queue *q, al_handle *h)
{
    h->next = NULL;
    if (q->tail)
        q->tail->next = h;
    else
        q->head = h;
    q->tail = h;
    q->len++;
}

static inline al_handle *al__queue_pop(al_handle_queue *q)
{
    al_handle *h = q->head;
    if (h) {
        q->head = h->next;
        if (!q->head)
            q->tail = NULL;
        q->len--;
    }
    return h;
}

static inline void al__queue_splice(al_handle_queue *dst, al_handle_queue *src)
{
    if (!src->head)
        return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->len += src->len;
    src->head = src->tail = NULL;
    src->len = 0;
}

/* Monotonic seconds (clock.c). */
double al__monotonic(void);

/* Queue fn(arg) with an optional drop hook (internal callers keep
 * references in arg that must be released if the call never runs). */
int al__call_soon(al_loop *loop, al_callback_fn fn, void *arg, al_drop_fn drop);
/* A timer with a drop hook; *out gets a loop-side reference (may be NULL). */
int al__call_at(al_loop *loop, double when, al_callback_fn fn, void *arg, al_drop_fn drop,
                al_handle **out);
/* Queue done(f, arg) holding a reference to f (a future's done-callback);
 * drop (may be NULL) is called instead if the call is dropped. */
int al__call_soon_done(al_loop *loop, int (*done)(al_future *, void *), al_future *f, void *arg,
                       al_drop_fn drop);
/* Drops a loop-side or internal reference (no loop reference). */
void al__handle_release(al_handle *h);
/* Whether al_loop_run_forever would start: -EINVAL, AL_ELOOPCLOSED,
 * AL_ELOOPRUNNING (this loop or another on this thread) or 0. */
int al__loop_can_run(const al_loop *loop);
/* Returns AL_ELOOPCLOSED / AL_EWRONGTHREAD / 0. */
int al__loop_check(al_loop *loop);
void al__loop_ref(al_loop *loop);
void al__loop_unref(al_loop *loop);
void al__report(al_loop *loop, const char *message, int error, al_future *f, al_task *t);

/* call_soon_threadsafe with a drop hook, for the executor's completions. */
int al__call_soon_threadsafe(al_loop *loop, al_callback_fn fn, void *arg, al_drop_fn drop);

/* Executor work in flight (loop thread): ops->external, if the loop
 * implementation has one (the virtual loop waits in real time meanwhile). */
void al__loop_external_begin(al_loop *loop);
void al__loop_external_end(al_loop *loop);

/* Provided by task.c / executor.c for the loop's close and diagnostics. */
void al__tasks_on_close(al_loop *loop);
/* future.c: after the tasks unwound, every callback with a drop hook still
 * registered on a pending future of the loop is dropped. */
void al__futures_on_close(al_loop *loop);
/* Queues the done-callbacks that could not be queued when their future
 * finished (no memory); those that still cannot be wait for the next
 * iteration. Called at the start of every iteration. */
void al__futures_retry_late(al_loop *loop);
int al__task_describe(const al_handle *h, char *buf, size_t len);
/* task.c: a cancellation of t requested and not yet delivered (its next
 * suspension returns AL_ECANCELLED). */
bool al__task_cancel_pending(const al_task *t);
void al__executor_shutdown_nowait(al_loop *loop);

#endif

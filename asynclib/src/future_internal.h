/* The future's private state, shared with its subtypes (a task, a gather
 * future, a waiter node: each is a struct whose first member is an
 * al_future). The base knows nothing of its subtypes: what differs per
 * kind is in the future's class table (al_future_class). */
#ifndef ASYNCLIB_FUTURE_INTERNAL_H
#define ASYNCLIB_FUTURE_INTERNAL_H

#include "loop_internal.h"

#include <asynclib/future.h>

enum al_future_state { AL_PENDING, AL_RESULT, AL_ERROR, AL_CANCELLED };

typedef struct al_done_cb {
    al_done_fn fn;
    void *arg;
    al_drop_fn drop; /* NULL, or called instead of fn if fn will never run */
} al_done_cb;

#define AL_FUTURE_INLINE_CBS 2

/* Zeroed memory for a future or a task, from a per-thread cache of freed
 * ones (no malloc on hot paths); al__obj_free returns it. AL_OBJ_HEAP is
 * plain calloc/free (a subtype of its own size). */
enum { AL_OBJ_FUTURE, AL_OBJ_TASK, AL_OBJ_CLASSES, AL_OBJ_HEAP = AL_OBJ_CLASSES };
void *al__obj_alloc(int cls, size_t size);
void al__obj_free(int cls, void *p);

/* What differs per kind of future. One static const table per subtype;
 * every member may be NULL / zero for the plain future's behaviour. None
 * of them is on the await path (await, completion and the callbacks are
 * the base's alone). */
typedef struct al_future_class {
    /* al_future_cancel(f, message) on a future of this class: 1 if a
     * cancellation was requested, 0 if not (see al_future_cancel). NULL:
     * the plain future's, al__future_cancel_plain. */
    int (*cancel)(al_future *f, const char *message);
    /* Releases the subtype's own fields; called by the last unref before
     * the base releases its value, message and callbacks. NULL: none. */
    void (*destroy)(al_future *f);
    /* Reports an error nobody retrieved (the last unref of a future that
     * ended with one, f->refs set to 1 meanwhile). NULL: the plain
     * future's "Future exception was never retrieved". */
    void (*unretrieved)(al_future *f);
    /* Where the memory goes when the last reference does (AL_OBJ_*). */
    unsigned char obj;
    /* Completes itself: al_future_set_result/set_error refuse it (-EINVAL),
     * as for a task, which ends with its body. */
    bool completes_itself;
} al_future_class;

/* The plain future's class (al_future_new, waiter nodes). */
extern const al_future_class al__future_plain;

struct al_future {
    al_loop *loop;
    const al_future_class *cls;
    unsigned refs;
    unsigned char state;
    bool retrieved; /* the error was looked at: no "never retrieved" report */
    int error;
    void *value;
    al_value_dtor dtor;
    char *cancel_msg;
    al_done_cb *cbs; /* cb_inline or a heap array */
    size_t ncbs, cbs_cap;
    al_done_cb cb_inline[AL_FUTURE_INLINE_CBS];
    /* The loop's list of pending futures that hold a callback with a drop
     * hook (see al__futures_on_close). */
    al_future *held_prev, *held_next;
    bool held;
    /* Done-callbacks that could not be queued when the future finished
     * (no memory for their handles): cbs[0..nlate), the future on the
     * loop's late list (al__futures_retry_late) with a reference. */
    size_t nlate;
    al_future *late_next;
};

/* A pending future of class cls on loop, one reference (the caller's);
 * takes a reference to the loop. f is zeroed memory. */
void al__future_init(al_future *f, al_loop *loop, const al_future_class *cls);
/* Makes a done future whose only reference is the caller's pending again
 * (same loop and class), for reuse: its value's destructor is NOT called
 * (the caller took or never set one), its message is freed, its callbacks
 * are forgotten (the array, if it grew, is kept). */
void al__future_reset(al_future *f);
/* The plain future's cancel: pending -> cancelled with message (1), else 0;
 * in both cases the error counts as retrieved. For subtypes whose cancel
 * ends in the plain one. */
int al__future_cancel_plain(al_future *f, const char *message);
/* Frees f once its last reference is gone (al_future_unref's slow path). */
void al__future_free(al_future *f);
/* Hot-path forms of ref/unref/add_done_callback for the pure layer's own
 * files: no NULL checks, inlined. */
static inline void al__future_ref(al_future *f)
{
    f->refs++;
}
static inline void al__future_unref(al_future *f)
{
    if (--f->refs == 0)
        al__future_free(f);
}
/* Registers fn(f, arg) on a pending f (drop may be NULL, see
 * al__future_add_done_callback_ex). -ENOMEM. */
int al__future_add_cb_slow(al_future *f, al_done_fn fn, void *arg, al_drop_fn drop);
static inline int al__future_add_cb_ex(al_future *f, al_done_fn fn, void *arg, al_drop_fn drop)
{
    if (f->ncbs == f->cbs_cap)
        return al__future_add_cb_slow(f, fn, arg, drop);
    f->cbs[f->ncbs].fn = fn;
    f->cbs[f->ncbs].arg = arg;
    f->cbs[f->ncbs].drop = drop;
    f->ncbs++;
    return 0;
}
static inline int al__future_add_cb(al_future *f, al_done_fn fn, void *arg)
{
    return al__future_add_cb_ex(f, fn, arg, NULL);
}
/* al_future_add_done_callback with a drop hook: when fn(f, arg) will never
 * run, drop(arg) is called instead, exactly once, so that arg's state is
 * released. That is when
 *   - the loop is closed while the call is queued (al_loop_close drops it),
 *   - the loop is closed while f is pending with the callback registered
 *     (al__futures_on_close: state that a never-completed future and its
 *     callback keep in a cycle is released, not leaked),
 *   - f completes on a closed loop (the call cannot be queued), or
 *   - f is freed while still pending with the callback registered.
 * al_future_remove_done_callback does NOT call drop: whoever removes a
 * callback on purpose releases what it held. drop NULL is
 * al_future_add_done_callback. Errors as al_future_add_done_callback (drop
 * is not called on failure). */
int al__future_add_done_callback_ex(al_future *f, al_done_fn fn, void *arg, al_drop_fn drop);
/* Transitions a pending future and schedules its callbacks. */
void al__future_finish(al_future *f, int state, int error, void *value, al_value_dtor dtor,
                       const char *cancel_msg);

#endif

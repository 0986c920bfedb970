/* Future state shared with task.c (a task is a future with more fields). */
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

struct al_future {
    al_loop *loop;
    unsigned refs;
    unsigned char state;
    bool retrieved; /* the error was looked at: no "never retrieved" report */
    bool is_task;
    int error;
    void *value;
    al_value_dtor dtor;
    char *cancel_msg;
    al_done_cb *cbs; /* cb_inline or a heap array */
    size_t ncbs, cbs_cap;
    al_done_cb cb_inline[AL_FUTURE_INLINE_CBS];
};

void al__future_init(al_future *f, al_loop *loop);
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
/* task.c: releases a task's own fields before the future part is freed. */
void al__task_destroy(al_future *f);

/* Zeroed memory for a future or a task, from a per-thread cache of freed
 * ones (no malloc on hot paths); al__obj_free returns it. A task's memory
 * is freed by al_future_unref, so tasks must use AL_OBJ_TASK. */
enum { AL_OBJ_FUTURE, AL_OBJ_TASK, AL_OBJ_CLASSES };
void *al__obj_alloc(int cls, size_t size);
void al__obj_free(int cls, void *p);

#endif

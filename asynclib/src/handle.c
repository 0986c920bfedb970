/* Handles: one scheduled call each, from a per-loop free list.
 *
 * A handle has up to two owners: the loop while the call is queued (ready
 * queue, timer heap or thread-safe queue) and the user who asked for it. A
 * user's reference also holds the loop's memory, so cancelling or
 * releasing a handle is always safe, even after the loop was freed. */
#include "loop_internal.h"

#include <asynclib/future.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define AL_FREE_HANDLES_MAX 4096

al_handle *al__stack_pop(al_handle_stack *s)
{
    al_handle *h = s->top;
    if (h) {
        s->top = h->next;
        s->len--;
    }
    return h;
}

void al__stack_push(al_handle_stack *s, al_handle *h)
{
    h->next = s->top;
    s->top = h;
    s->len++;
}

void al__stack_free(al_handle_stack *s)
{
    al_handle *h;
    while ((h = al__stack_pop(s)))
        free(h);
}

al_handle *al__handle_alloc(al_loop *loop)
{
    al_handle *h = al__stack_pop(&loop->free_handles);
    if (!h && !(h = malloc(sizeof *h)))
        return NULL;
    memset(h, 0, sizeof *h);
    h->loop = loop;
    h->refs = 1;
    return h;
}

static void handle_release(al_handle *h)
{
    if (--h->refs)
        return;
    al_loop *loop = h->loop;
    if (h->future) {
        al_future *f = h->future;
        h->future = NULL;
        al_future_unref(f);
    }
    if (loop->free_handles.len < AL_FREE_HANDLES_MAX && !loop->closed)
        al__stack_push(&loop->free_handles, h);
    else
        free(h);
}

/* The loop's reference ends without running the callback. */
void al__handle_drop(al_handle *h)
{
    if (h->drop && !h->cancelled)
        h->drop(h->arg);
    handle_release(h);
}

int al_loop_handle_new(al_loop *loop, al_callback_fn fn, void *arg, al_handle **out)
{
    if (!loop || !fn || !out)
        return -EINVAL;
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    al_handle *h = al__handle_alloc(loop);
    if (!h)
        return -ENOMEM;
    h->fn = fn;
    h->arg = arg;
    h->when = NAN;
    al__loop_ref(loop); /* the one reference is the caller's: it holds the loop */
    *out = h;
    return 0;
}

/* The caller holds the only other reference: more than one means queued. */
int al_loop_queue_handle(al_loop *loop, al_handle *h)
{
    if (!loop || !h || h->loop != loop)
        return -EINVAL;
    if (h->cancelled || h->refs > 1)
        return 0;
    h->refs++;
    al__queue_push(&loop->ready, h);
    return 1;
}

void al__handle_give_user_ref(al_handle *h, al_handle **out)
{
    if (out) {
        h->refs++;
        al__loop_ref(h->loop);
        *out = h;
    }
}

void al_handle_cancel(al_handle *h)
{
    if (!h || h->cancelled)
        return;
    h->cancelled = true;
    if (h->in_heap)
        h->loop->timers_cancelled++;
    if (h->drop && h->refs > 1) {
        /* Still queued: release what the callback would have consumed. */
        h->drop(h->arg);
    }
}

bool al_handle_cancelled(const al_handle *h)
{
    return h && h->cancelled;
}

double al_handle_when(const al_handle *h)
{
    return h ? h->when : NAN;
}

void al__handle_release(al_handle *h)
{
    if (h)
        handle_release(h);
}

void al_handle_unref(al_handle *h)
{
    if (!h)
        return;
    al_loop *loop = h->loop;
    handle_release(h);
    al__loop_unref(loop);
}

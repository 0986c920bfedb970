/* gather: asyncio's _GatheringFuture, a future subtype.
 *
 * The gather future is the state: it holds one reference to each distinct
 * child, and each child has one done-callback (child_done) on it. The
 * callbacks together hold one reference to the gather future, released by
 * whichever of them reports last, so the gather outlives its children's
 * reports even when every user reference is gone.
 *
 * Cancelling the gather is its class's cancel (gather_cancel, asyncio's
 * _GatheringFuture.cancel): it cancels the children and does not end the
 * gather; the children's reports do. If a child was cancelled that way
 * (cancel_requested), the gather ends with the error AL_ECANCELLED once the
 * last child reported, whatever return_errors says (bpo-32684); with
 * return_errors false the first cancelled child ends it already (R59).
 *
 * child_done has a drop hook, for when it never runs (the loop is closed
 * with it queued or registered): a dropped child counts as reported
 * without a say in the outcome. al_gather_wait's reference to the gather
 * future is a hold of the calling task (task.h). */
#include "combinators_internal.h"
#include "future_internal.h"

#include <asynclib/combinators.h>
#include <asynclib/error.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct gather_future {
    al_future fut; /* first: a gather is a future */
    bool return_errors;
    bool cancel_requested; /* a cancel of the gather reached a child */
    size_t n;              /* arguments */
    size_t nuniq;          /* distinct children */
    size_t nfinished;      /* children that reported (or were dropped) */
    al_future **children;  /* n entries (borrowed: the references are uniq's) */
    al_future **uniq;      /* nuniq entries, one reference each */
} gather_future;

/* The result as stored in the outer future: the public part first. */
typedef struct gather_value {
    al_gather_result pub;
    size_t nrefs;
    al_future **refs; /* keeps the children (and so values) alive */
} gather_value;

static void gather_value_free(void *p)
{
    gather_value *v = p;
    for (size_t i = 0; i < v->nrefs; i++)
        al_future_unref(v->refs[i]);
    free(v);
}

static gather_value *gather_value_new(size_t n, al_future *const *children, al_future *const *uniq,
                                      size_t nuniq)
{
    size_t size =
        sizeof(gather_value) + n * (sizeof(int) + sizeof(void *)) + nuniq * sizeof(al_future *);
    gather_value *v = calloc(1, size);
    if (!v)
        return NULL;
    v->pub.n = n;
    v->pub.values = (void **)(v + 1);
    v->refs = (al_future **)(v->pub.values + n);
    v->pub.status = (int *)(v->refs + nuniq);
    for (size_t i = 0; i < n; i++) {
        al_future *c = children[i];
        v->pub.status[i] = al_future_result(c, &v->pub.values[i]);
    }
    for (size_t i = 0; i < nuniq; i++)
        v->refs[i] = al_future_ref(uniq[i]);
    v->nrefs = nuniq;
    return v;
}

/* ---- the class --------------------------------------------------------------- */

/* asyncio's _GatheringFuture.cancel: a done gather refuses (its outcome
 * stands, and unlike a plain future's cancel this does not count as
 * retrieving its error); otherwise every child is cancelled with message,
 * and 1 is returned if at least one of them took the request. The gather
 * itself stays pending: it ends when the children report. */
static int gather_cancel(al_future *f, const char *message)
{
    gather_future *g = (gather_future *)f;
    if (f->state != AL_PENDING)
        return 0;
    bool any = false;
    for (size_t i = 0; i < g->nuniq; i++) {
        if (al_future_cancel(g->uniq[i], message) == 1)
            any = true;
    }
    if (any)
        g->cancel_requested = true;
    return any;
}

static void gather_destroy(al_future *f)
{
    gather_future *g = (gather_future *)f;
    for (size_t i = 0; i < g->nuniq; i++)
        al_future_unref(g->uniq[i]);
}

static const al_future_class gather_class = {
    .cancel = gather_cancel,
    .destroy = gather_destroy,
    .obj = AL_OBJ_HEAP, /* sized by its children */
};

/* ---- the children's reports ---------------------------------------------------- */

static void gather_end_cancelled(gather_future *g, al_future *child)
{
    /* asyncio sets CancelledError as the gather's exception (R59): an error,
     * not a cancelled future; the message is the child's. */
    al__future_finish(&g->fut, AL_ERROR, AL_ECANCELLED, NULL, NULL,
                      al_future_cancel_message(child));
}

static void child_reported(gather_future *g)
{
    if (++g->nfinished == g->nuniq)
        al_future_unref(&g->fut); /* the children's reference */
}

static int child_done(al_future *f, void *arg)
{
    gather_future *g = arg;
    al_future *outer = &g->fut;
    bool last = g->nfinished + 1 == g->nuniq;
    if (outer->state != AL_PENDING) {
        if (!al_future_cancelled(f))
            (void)al_future_error(f); /* retrieved: the gather saw it */
    } else if (!g->return_errors && al_future_cancelled(f)) {
        (void)al_future_error(f);
        gather_end_cancelled(g, f);
    } else if (!g->return_errors && al_future_error(f) < 0) {
        al__future_finish(outer, AL_ERROR, al_future_error(f), NULL, NULL, NULL);
    } else if (last && g->cancel_requested) {
        /* A cancel reached the children: it wins over return_errors. */
        gather_end_cancelled(g, f);
    } else if (last) {
        gather_value *v = gather_value_new(g->n, g->children, g->uniq, g->nuniq);
        if (v)
            al__future_finish(outer, AL_RESULT, 0, v, gather_value_free, NULL);
        else
            al__future_finish(outer, AL_ERROR, -ENOMEM, NULL, NULL, NULL);
    }
    child_reported(g);
    return 0;
}

/* child_done will never run (the loop closed): the child counts as reported
 * without a say in the outcome; once every child is accounted for while the
 * gather is still pending, nothing can complete it any more. */
static void child_dropped(void *arg)
{
    child_reported(arg);
}

/* Distinct children in first-occurrence order: a small open-addressing set. */
static size_t dedup(al_future *const *fs, size_t n, al_future **uniq)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    al_future *stack_set[16];
    al_future **set = cap == 16 ? stack_set : calloc(cap, sizeof *set);
    if (!set)
        return SIZE_MAX;
    if (set == stack_set)
        memset(stack_set, 0, sizeof stack_set);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t h = (uintptr_t)fs[i];
        h ^= h >> 17;
        h *= 0x9E3779B97F4A7C15u;
        size_t j = (size_t)(h >> 7) & (cap - 1);
        while (set[j] && set[j] != fs[i])
            j = (j + 1) & (cap - 1);
        if (!set[j]) {
            set[j] = fs[i];
            uniq[k++] = fs[i];
        }
    }
    if (set != stack_set)
        free(set);
    return k;
}

int al_gather(al_loop *loop, al_future *const *fs, size_t n, bool return_errors, al_future **out)
{
    if (!loop || !out)
        return -EINVAL;
    int rc = al__check_futures(loop, fs, n);
    if (rc == 0)
        rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    gather_future *g = al__obj_alloc(AL_OBJ_HEAP, sizeof *g + 2 * n * sizeof(al_future *));
    if (!g)
        return -ENOMEM;
    al__future_init(&g->fut, loop, &gather_class);
    if (n == 0) {
        gather_value *v = gather_value_new(0, NULL, NULL, 0);
        if (!v) {
            al_future_unref(&g->fut);
            return -ENOMEM;
        }
        al__future_finish(&g->fut, AL_RESULT, 0, v, gather_value_free, NULL);
        *out = &g->fut;
        return 0;
    }
    g->children = (al_future **)(g + 1);
    al_future **uniq = g->children + n;
    memcpy(g->children, fs, n * sizeof *fs);
    g->n = n;
    g->return_errors = return_errors;
    size_t nuniq = dedup(fs, n, uniq);
    if (nuniq == SIZE_MAX) {
        al_future_unref(&g->fut);
        return -ENOMEM;
    }
    /* Register everything first so a failure leaves nothing behind. */
    size_t i = 0;
    for (; i < nuniq; i++) {
        rc = al__future_add_done_callback_ex(uniq[i], child_done, g, child_dropped);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        while (i-- > 0)
            al_future_remove_done_callback(uniq[i], child_done, g);
        al_future_unref(&g->fut);
        return rc;
    }
    for (i = 0; i < nuniq; i++)
        al_future_ref(uniq[i]);
    g->uniq = uniq;
    g->nuniq = nuniq;
    al_future_ref(&g->fut); /* the children's, until the last one reports */
    *out = &g->fut;
    return 0;
}

/* al_gather_wait's frame keeps its reference to the gather across the
 * await: a hold (task.h). */
static void release_gather(void *arg)
{
    al_future_unref(arg);
}

int al_gather_wait(al_future *const *fs, size_t n, bool return_errors, al_future **out)
{
    al_task *self = al_current_task();
    if (!self)
        return AL_ENOTINTASK;
    al_future *g;
    int rc = al_gather(al_future_loop(al_task_future(self)), fs, n, return_errors, &g);
    if (rc < 0)
        return rc;
    bool held = al_task_hold(self, release_gather, g) == 0; /* else unguarded (task.h) */
    /* A cancellation of the calling task goes to the gather (its fut_waiter),
     * which passes it on to the children and ends when they report. */
    rc = al_await(g);
    if (held)
        al_task_unhold(self, release_gather, g);
    if (out)
        *out = g;
    else
        al_future_unref(g);
    return rc;
}

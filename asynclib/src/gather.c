/* gather: asyncio's _GatherFuture over a plain future.
 *
 * A shared state watches each distinct child once (a done-callback per
 * child) and completes the outer future; a done-callback on the outer
 * future forwards its cancellation to the children. The state is
 * reference-counted: one reference for the children still to report, one
 * for the outer callback, so it outlives whichever runs last.
 *
 * Both callbacks have drop hooks, for when they never run (the loop is
 * closed with them queued or registered): a dropped child counts as
 * reported, and once every child is accounted for while the outer future
 * is still pending, nothing can complete it any more: its callback is
 * taken back and the state released. al_gather_wait keeps the gather
 * future on a callback of the calling task (see guard_dropped). */
#include "combinators_internal.h"
#include "future_internal.h"

#include <asynclib/combinators.h>
#include <asynclib/error.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct gather_state {
    int refs;
    bool return_errors;
    al_future *outer;
    size_t n;     /* arguments */
    size_t nuniq; /* distinct children */
    size_t nfinished;
    al_future **children; /* n entries, one reference per distinct child */
    al_future **uniq;     /* nuniq entries (borrowed from children) */
} gather_state;

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

static void state_unref(gather_state *st)
{
    if (--st->refs > 0)
        return;
    for (size_t i = 0; i < st->nuniq; i++)
        al_future_unref(st->uniq[i]);
    al_future_unref(st->outer);
    free(st);
}

static int child_done(al_future *f, void *arg)
{
    gather_state *st = arg;
    al_future *outer = st->outer;
    st->nfinished++;
    bool last = st->nfinished == st->nuniq;
    if (al_future_done(outer)) {
        if (!al_future_cancelled(f))
            (void)al_future_error(f); /* retrieved: the gather saw it */
    } else if (!st->return_errors && al_future_cancelled(f)) {
        /* asyncio sets CancelledError as the gather's exception (R59). */
        (void)al_future_error(f);
        al__future_finish(outer, AL_ERROR, AL_ECANCELLED, NULL, NULL, NULL);
    } else if (!st->return_errors && al_future_error(f) < 0) {
        al_future_set_error(outer, al_future_error(f));
    } else if (last) {
        gather_value *v = gather_value_new(st->n, st->children, st->uniq, st->nuniq);
        if (v)
            al_future_set_result(outer, v, gather_value_free);
        else
            al_future_set_error(outer, -ENOMEM);
    }
    if (last)
        state_unref(st);
    return 0;
}

static int outer_done(al_future *outer, void *arg);

/* child_done will never run (the loop closed): the child counts as done
 * without a say in the outcome. */
static void child_dropped(void *arg)
{
    gather_state *st = arg;
    if (++st->nfinished < st->nuniq)
        return;
    if (!al_future_done(st->outer)) {
        /* No child can complete the outer future any more: its callback
         * would only forward a cancellation to children that are done. */
        int removed = al_future_remove_done_callback(st->outer, outer_done, st);
        st->refs -= removed; /* never the last: the children's is still held */
    }
    state_unref(st);
}

static void outer_dropped(void *arg)
{
    state_unref(arg);
}

static int outer_done(al_future *outer, void *arg)
{
    gather_state *st = arg;
    if (al_future_cancelled(outer)) {
        const char *msg = al_future_cancel_message(outer);
        for (size_t i = 0; i < st->nuniq; i++)
            al_future_cancel(st->uniq[i], msg);
    }
    state_unref(st);
    return 0;
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
    if (rc < 0)
        return rc;
    al_future *outer;
    rc = al_future_new(loop, &outer);
    if (rc < 0)
        return rc;
    if (n == 0) {
        gather_value *v = gather_value_new(0, NULL, NULL, 0);
        if (!v) {
            al_future_unref(outer);
            return -ENOMEM;
        }
        al_future_set_result(outer, v, gather_value_free);
        *out = outer;
        return 0;
    }
    gather_state *st = calloc(1, sizeof *st + 2 * n * sizeof(al_future *));
    if (!st) {
        al_future_unref(outer);
        return -ENOMEM;
    }
    st->children = (al_future **)(st + 1);
    st->uniq = st->children + n;
    memcpy(st->children, fs, n * sizeof *fs);
    st->n = n;
    st->return_errors = return_errors;
    st->nuniq = dedup(fs, n, st->uniq);
    if (st->nuniq == SIZE_MAX) {
        free(st);
        al_future_unref(outer);
        return -ENOMEM;
    }
    /* Register everything first so a failure leaves nothing behind. */
    size_t i = 0;
    for (; i < st->nuniq; i++) {
        rc = al__future_add_done_callback_ex(st->uniq[i], child_done, st, child_dropped);
        if (rc < 0)
            break;
    }
    if (rc == 0)
        rc = al__future_add_done_callback_ex(outer, outer_done, st, outer_dropped);
    if (rc < 0) {
        while (i-- > 0)
            al_future_remove_done_callback(st->uniq[i], child_done, st);
        free(st);
        al_future_unref(outer);
        return rc;
    }
    for (i = 0; i < st->nuniq; i++)
        al_future_ref(st->uniq[i]);
    st->outer = al_future_ref(outer);
    st->refs = 2;
    *out = outer;
    return 0;
}

/* The reference to the gather future that al_gather_wait's frame holds
 * while it waits is carried by a done-callback on the calling task: if the
 * loop is closed meanwhile, the task's stack is dropped without unwinding,
 * the task ends, and the callback's drop hook releases the reference. The
 * callback never runs otherwise (the task cannot end while the frame
 * waits; the frame takes it back first). */
static int guard_done(al_future *f, void *arg)
{
    (void)f;
    al_future_unref(arg);
    return 0;
}

static void guard_dropped(void *arg)
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
    al_future *tf = al_task_future(self);
    /* Out of memory: wait unguarded (only a close mid-wait would leak). */
    bool guarded = al__future_add_done_callback_ex(tf, guard_done, g, guard_dropped) == 0;
    rc = al_await(g);
    if (rc == AL_ECANCELLED && al_future_cancelled(g)) {
        /* Our cancellation went to the gather: as asyncio, the awaiting task
         * resumes only once the children have finished cancelling. */
        const char *msg = al_future_cancel_message(g);
        for (size_t i = 0; i < n; i++)
            al_future_cancel(fs[i], msg);
        for (size_t i = 0; i < n; i++) {
            while (!al_future_done(fs[i])) {
                if (al_wait(&fs[i], 1, AL_FOREVER, AL_ALL_COMPLETED, NULL, NULL, NULL, NULL) ==
                    AL_ENOTINTASK)
                    break;
            }
        }
    }
    if (guarded)
        al_future_remove_done_callback(tf, guard_done, g); /* the reference is ours again */
    if (out)
        *out = g;
    else
        al_future_unref(g);
    return rc;
}

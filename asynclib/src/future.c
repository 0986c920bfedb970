/* Future: asyncio's futures.Future. Done-callbacks are queued with
 * call_soon, never run inline, so completing a future never re-enters the
 * code that completed it. */
#include "future_internal.h"

#include <asynclib/error.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- object cache ---------------------------------------------------------
 * Freed futures and tasks stay in a small per-thread list for reuse, so
 * creating one on a hot path (a sleep, a round trip, a spawn) does not call
 * malloc. A thread's list is released when it exits. Off under ASan, which
 * must see every free to catch a use after it. */
#if defined(__SANITIZE_ADDRESS__)
#define AL_OBJ_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AL_OBJ_CACHE 0
#endif
#endif
#ifndef AL_OBJ_CACHE
#define AL_OBJ_CACHE 1
#endif
#define AL_OBJ_CACHE_MAX 1024

#if AL_OBJ_CACHE
typedef struct obj_cache {
    void *head[AL_OBJ_CLASSES];
    unsigned n[AL_OBJ_CLASSES];
    bool registered;
} obj_cache;

static _Thread_local obj_cache tl_cache;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;

static void cache_drain(void *arg)
{
    obj_cache *c = arg;
    for (int k = 0; k < AL_OBJ_CLASSES; k++) {
        while (c->head[k]) {
            void *p = c->head[k];
            c->head[k] = *(void **)p;
            free(p);
        }
        c->n[k] = 0;
    }
    c->registered = false;
}

static void cache_key_init(void)
{
    pthread_key_create(&cache_key, cache_drain);
}
#endif

void *al__obj_alloc(int cls, size_t size)
{
    if (cls == AL_OBJ_HEAP)
        return calloc(1, size);
#if AL_OBJ_CACHE
    obj_cache *c = &tl_cache;
    void *p = c->head[cls];
    if (p) {
        c->head[cls] = *(void **)p;
        c->n[cls]--;
        memset(p, 0, size);
        return p;
    }
#else
    (void)cls;
#endif
    return calloc(1, size);
}

void al__obj_free(int cls, void *p)
{
    if (cls == AL_OBJ_HEAP) {
        free(p);
        return;
    }
#if AL_OBJ_CACHE
    obj_cache *c = &tl_cache;
    if (c->n[cls] < AL_OBJ_CACHE_MAX) {
        if (!c->registered) {
            /* The thread's exit drains the list (the key's destructor). */
            pthread_once(&cache_once, cache_key_init);
            if (pthread_setspecific(cache_key, c) != 0) {
                free(p);
                return;
            }
            c->registered = true;
        }
        *(void **)p = c->head[cls];
        c->head[cls] = p;
        c->n[cls]++;
        return;
    }
#else
    (void)cls;
#endif
    free(p);
}

const al_future_class al__future_plain = {.obj = AL_OBJ_FUTURE};

void al__future_init(al_future *f, al_loop *loop, const al_future_class *cls)
{
    f->loop = loop;
    f->cls = cls;
    f->refs = 1;
    f->state = AL_PENDING;
    f->cbs = f->cb_inline;
    f->cbs_cap = AL_FUTURE_INLINE_CBS;
    al__loop_ref(loop);
}

int al_future_new(al_loop *loop, al_future **out)
{
    if (!loop || !out)
        return -EINVAL;
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    al_future *f = al__obj_alloc(AL_OBJ_FUTURE, sizeof *f);
    if (!f)
        return -ENOMEM;
    al__future_init(f, loop, &al__future_plain);
    *out = f;
    return 0;
}

al_future *al_future_ref(al_future *f)
{
    if (f)
        f->refs++;
    return f;
}

void al_future_unref(al_future *f)
{
    if (f && --f->refs == 0)
        al__future_free(f);
}

/* ---- futures holding state through drop hooks ------------------------------ */

static void held_link(al_future *f)
{
    al_loop *loop = f->loop;
    if (f->held)
        return;
    f->held = true;
    f->held_prev = NULL;
    f->held_next = loop->held_futures;
    if (loop->held_futures)
        loop->held_futures->held_prev = f;
    loop->held_futures = f;
}

static void held_unlink(al_future *f)
{
    if (!f->held)
        return;
    if (f->held_prev)
        f->held_prev->held_next = f->held_next;
    else
        f->loop->held_futures = f->held_next;
    if (f->held_next)
        f->held_next->held_prev = f->held_prev;
    f->held_prev = f->held_next = NULL;
    f->held = false;
}

/* Takes up to n callbacks with a drop hook out of f's list into out. */
static size_t take_droppable(al_future *f, al_done_cb *out, size_t n)
{
    size_t taken = 0, kept = 0;
    for (size_t i = 0; i < f->ncbs; i++) {
        if (f->cbs[i].drop && taken < n)
            out[taken++] = f->cbs[i];
        else
            f->cbs[kept++] = f->cbs[i];
    }
    f->ncbs = kept;
    return taken;
}

/* A callback with a drop hook registered on a future that never completes
 * holds state that often holds the future in turn (a gather's children, a
 * shield's inner future): nothing would ever release either. Once the
 * loop closes, such a callback can never run: it is dropped. Plain
 * callbacks stay (they are reported if the future completes later). */
void al__futures_on_close(al_loop *loop)
{
    al_future *f;
    while ((f = loop->held_futures)) {
        held_unlink(f);
        al__future_ref(f);
        al_done_cb batch[16];
        size_t n;
        /* In batches: a drop hook may remove callbacks from f itself. */
        while (f->state == AL_PENDING && (n = take_droppable(f, batch, 16)) > 0) {
            for (size_t i = 0; i < n; i++)
                batch[i].drop(batch[i].arg);
        }
        al__future_unref(f);
    }
}

static void report_unretrieved(al_future *f)
{
    if (f->cls->unretrieved)
        f->cls->unretrieved(f);
    else
        al__report(f->loop, "Future exception was never retrieved", f->error, f, NULL);
}

void al__future_free(al_future *f)
{
    held_unlink(f);
    al_loop *loop = f->loop;
    const al_future_class *cls = f->cls;
    if (f->state == AL_ERROR && !f->retrieved) {
        f->refs = 1; /* the handler may look at it */
        report_unretrieved(f);
    }
    if (cls->destroy)
        cls->destroy(f);
    if (f->dtor)
        f->dtor(f->value);
    if (f->cancel_msg)
        free(f->cancel_msg);
    /* Callbacks still registered on a pending future will never run. */
    size_t n = f->ncbs;
    f->ncbs = 0;
    for (size_t i = 0; i < n; i++) {
        if (f->cbs[i].drop)
            f->cbs[i].drop(f->cbs[i].arg);
    }
    if (f->cbs != f->cb_inline)
        free(f->cbs);
    al__obj_free(cls->obj, f);
    al__loop_unref(loop);
}

void al__future_reset(al_future *f)
{
    free(f->cancel_msg);
    f->cancel_msg = NULL;
    f->state = AL_PENDING;
    f->error = 0;
    f->value = NULL;
    f->dtor = NULL;
    f->retrieved = false;
    f->ncbs = 0;
}

int al_future_reset(al_future *f)
{
    if (!f || f->cls != &al__future_plain)
        return -EINVAL;
    if (f->state == AL_PENDING)
        return AL_EINVALIDSTATE;
    if (f->refs != 1)
        return -EBUSY;
    int rc = al__loop_check(f->loop);
    if (rc < 0)
        return rc;
    if (f->state == AL_ERROR && !f->retrieved)
        report_unretrieved(f);
    if (f->dtor)
        f->dtor(f->value);
    al__future_reset(f);
    return 0;
}

al_loop *al_future_loop(const al_future *f)
{
    return f ? f->loop : NULL;
}

bool al_future_done(const al_future *f)
{
    return f && f->state != AL_PENDING;
}

bool al_future_cancelled(const al_future *f)
{
    return f && f->state == AL_CANCELLED;
}

void al__future_finish(al_future *f, int state, int error, void *value, al_value_dtor dtor,
                       const char *cancel_msg)
{
    f->state = (unsigned char)state;
    f->error = error;
    f->value = value;
    f->dtor = dtor;
    if (cancel_msg)
        f->cancel_msg = strdup(cancel_msg);
    held_unlink(f);
    /* Take the list first: callbacks added from now on are scheduled by
     * add_done_callback itself. */
    al_done_cb *cbs = f->cbs;
    size_t n = f->ncbs;
    f->ncbs = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = al__call_soon_done(f->loop, cbs[i].fn, f, cbs[i].arg, cbs[i].drop);
        if (rc == -ENOMEM) {
            /* No handle: this one and the rest (in order) wait in cbs on
             * the loop's late list, retried from the next iteration on
             * (a task awaiting f is woken late, never lost). */
            memmove(cbs, cbs + i, (n - i) * sizeof *cbs);
            f->nlate = n - i;
            f->late_next = f->loop->late_futures;
            f->loop->late_futures = al_future_ref(f);
            return;
        }
        if (rc < 0) {
            al__report(f->loop, "Could not schedule a done-callback", rc, f, NULL);
            if (cbs[i].drop)
                cbs[i].drop(cbs[i].arg);
        }
    }
}

void al__futures_retry_late(al_loop *loop)
{
    al_future *list = loop->late_futures;
    loop->late_futures = NULL;
    al_future **tail = &loop->late_futures;
    while (list) {
        al_future *f = list;
        list = f->late_next;
        f->late_next = NULL;
        size_t i = 0;
        while (i < f->nlate &&
               al__call_soon_done(loop, f->cbs[i].fn, f, f->cbs[i].arg, f->cbs[i].drop) == 0)
            i++;
        memmove(f->cbs, f->cbs + i, (f->nlate - i) * sizeof *f->cbs);
        f->nlate -= i;
        if (f->nlate > 0 && !loop->closed) {
            *tail = f;
            tail = &f->late_next;
            continue;
        }
        /* Queued, or the loop closed: what is left will never run. */
        for (i = 0; i < f->nlate; i++)
            if (f->cbs[i].drop)
                f->cbs[i].drop(f->cbs[i].arg);
        f->nlate = 0;
        al_future_unref(f);
    }
}

int al_future_set_result(al_future *f, void *value, al_value_dtor dtor)
{
    if (!f || f->cls->completes_itself)
        return -EINVAL;
    if (f->state != AL_PENDING)
        return AL_EINVALIDSTATE;
    al__future_finish(f, AL_RESULT, 0, value, dtor, NULL);
    return 0;
}

int al_future_set_error(al_future *f, int error)
{
    if (!f || f->cls->completes_itself || error >= 0 || error == AL_ECANCELLED)
        return -EINVAL;
    if (f->state != AL_PENDING)
        return AL_EINVALIDSTATE;
    al__future_finish(f, AL_ERROR, error, NULL, NULL, NULL);
    return 0;
}

int al_future_cancel(al_future *f, const char *message)
{
    if (!f)
        return -EINVAL;
    if (f->cls->cancel)
        return f->cls->cancel(f, message);
    return al__future_cancel_plain(f, message);
}

int al__future_cancel_plain(al_future *f, const char *message)
{
    /* As asyncio's cancel(): even on a done future it counts as looking at
     * the outcome, so an error is no longer reported as never retrieved. */
    f->retrieved = true;
    if (f->state != AL_PENDING)
        return 0;
    al__future_finish(f, AL_CANCELLED, AL_ECANCELLED, NULL, NULL, message);
    return 1;
}

int al_future_error(al_future *f)
{
    if (!f)
        return -EINVAL;
    switch (f->state) {
    case AL_PENDING:
        return AL_EINVALIDSTATE;
    case AL_RESULT:
        return 0;
    default:
        f->retrieved = true;
        return f->error;
    }
}

int al_future_result(al_future *f, void **value)
{
    int rc = al_future_error(f);
    if (value)
        *value = rc == 0 ? f->value : NULL;
    return rc;
}

int al_future_take_result(al_future *f, void **value)
{
    int rc = al_future_result(f, value);
    if (rc == 0) {
        f->value = NULL;
        f->dtor = NULL;
    }
    return rc;
}

const char *al_future_cancel_message(const al_future *f)
{
    return f ? f->cancel_msg : NULL;
}

int al_future_add_done_callback(al_future *f, al_done_fn fn, void *arg)
{
    return al__future_add_done_callback_ex(f, fn, arg, NULL);
}

int al__future_add_done_callback_ex(al_future *f, al_done_fn fn, void *arg, al_drop_fn drop)
{
    if (!f || !fn)
        return -EINVAL;
    if (f->state != AL_PENDING)
        return al__call_soon_done(f->loop, fn, f, arg, drop);
    int rc = al__future_add_cb_ex(f, fn, arg, drop);
    if (rc == 0 && drop && !f->loop->closed)
        held_link(f);
    return rc;
}

int al__future_add_cb_slow(al_future *f, al_done_fn fn, void *arg, al_drop_fn drop)
{
    size_t cap = f->cbs_cap * 2;
    al_done_cb *cbs = malloc(cap * sizeof *cbs);
    if (!cbs)
        return -ENOMEM;
    memcpy(cbs, f->cbs, f->ncbs * sizeof *cbs);
    if (f->cbs != f->cb_inline)
        free(f->cbs);
    f->cbs = cbs;
    f->cbs_cap = cap;
    f->cbs[f->ncbs++] = (al_done_cb){fn, arg, drop};
    return 0;
}

/* A removed callback's drop hook is not called: the caller took it back on
 * purpose and releases what arg holds itself. */
int al_future_remove_done_callback(al_future *f, al_done_fn fn, void *arg)
{
    if (!f || !fn)
        return -EINVAL;
    size_t kept = 0;
    for (size_t i = 0; i < f->ncbs; i++) {
        if (f->cbs[i].fn != fn || f->cbs[i].arg != arg)
            f->cbs[kept++] = f->cbs[i];
    }
    int removed = (int)(f->ncbs - kept);
    f->ncbs = kept;
    return removed;
}

static int stop_loop_cb(al_future *f, void *arg)
{
    (void)arg;
    return al_loop_stop(f->loop);
}

/* Validate, then act (asyncio checks closed and running first): a refused
 * call must not leave its stop callback on f, or a done f would stop the
 * loop that is running. */
int al_loop_run_until_done(al_loop *loop, al_future *f, int *status)
{
    if (!loop || !f)
        return -EINVAL;
    if (f->loop != loop)
        return AL_EWRONGLOOP;
    int rc = al__loop_can_run(loop);
    if (rc < 0)
        return rc;
    al_future_ref(f);
    rc = al_future_add_done_callback(f, stop_loop_cb, NULL);
    if (rc == 0) {
        rc = al_loop_run_forever(loop);
        al_future_remove_done_callback(f, stop_loop_cb, NULL);
    }
    if (rc == 0 && f->state == AL_PENDING)
        rc = AL_ESTOPPED;
    if (rc == 0 && status)
        *status = al_future_error(f);
    al_future_unref(f);
    return rc;
}

int al_loop_run_until_complete(al_loop *loop, al_future *f)
{
    int status = 0;
    int rc = al_loop_run_until_done(loop, f, &status);
    return rc < 0 ? rc : status;
}

/* shield: an outer future that mirrors the inner one, and whose
 * cancellation stays its own (asyncio.shield). A reference-counted link is
 * shared by the two done-callbacks. Their drop hooks (the loop closed
 * before they ran) release it too: a dropped inner callback means outer
 * can no longer be completed, so outer's callback is taken back. */
#include "future_internal.h"

#include <asynclib/combinators.h>
#include <asynclib/error.h>

#include <errno.h>
#include <stdlib.h>

typedef struct shield_link {
    int refs;
    al_future *inner, *outer;
} shield_link;

static void link_unref(shield_link *l)
{
    if (--l->refs > 0)
        return;
    al_future_unref(l->inner);
    al_future_unref(l->outer);
    free(l);
}

static int inner_done(al_future *inner, void *arg)
{
    shield_link *l = arg;
    al_future *outer = l->outer;
    if (al_future_cancelled(outer)) {
        if (!al_future_cancelled(inner))
            (void)al_future_error(inner); /* seen: no "never retrieved" report */
    } else if (al_future_cancelled(inner)) {
        al_future_cancel(outer, al_future_cancel_message(inner));
    } else {
        void *value;
        int rc = al_future_result(inner, &value);
        if (rc < 0)
            al_future_set_error(outer, rc);
        else
            al_future_set_result(outer, value, NULL); /* borrowed from inner */
    }
    link_unref(l);
    return 0;
}

static int outer_done(al_future *outer, void *arg);

static void inner_dropped(void *arg)
{
    shield_link *l = arg;
    if (!al_future_done(l->outer)) {
        int removed = al_future_remove_done_callback(l->outer, outer_done, l);
        while (removed-- > 0)
            l->refs--; /* ours below is still held */
    }
    link_unref(l);
}

static void outer_dropped(void *arg)
{
    shield_link *l = arg;
    (void)outer_done(l->outer, l); /* it queues nothing: safe on a closed loop */
}

static int outer_done(al_future *outer, void *arg)
{
    (void)outer;
    shield_link *l = arg;
    if (!al_future_done(l->inner)) {
        int removed = al_future_remove_done_callback(l->inner, inner_done, l);
        while (removed-- > 0)
            l->refs--; /* ours below is still held */
    }
    link_unref(l);
    return 0;
}

int al_shield(al_future *f, al_future **out)
{
    if (!f || !out)
        return -EINVAL;
    if (al_future_done(f)) {
        *out = al_future_ref(f);
        return 0;
    }
    shield_link *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    int rc = al_future_new(al_future_loop(f), &l->outer);
    if (rc < 0) {
        free(l);
        return rc;
    }
    rc = al__future_add_done_callback_ex(f, inner_done, l, inner_dropped);
    if (rc == 0) {
        rc = al__future_add_done_callback_ex(l->outer, outer_done, l, outer_dropped);
        if (rc < 0)
            al_future_remove_done_callback(f, inner_done, l);
    }
    if (rc < 0) {
        al_future_unref(l->outer);
        free(l);
        return rc;
    }
    l->inner = al_future_ref(f);
    l->refs = 2;
    *out = al_future_ref(l->outer);
    return 0;
}

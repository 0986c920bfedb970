/* Internal: a fair choice of results when more fds are ready than the
 * caller's `max`, for backends that learn all ready fds at once (libev's
 * callbacks) and cannot leave the surplus in the kernel for later.
 *
 * Of the ready fds offered, it keeps the `max` that come first in fd order
 * starting at a cursor (wrapping), and moves the cursor past the last one
 * kept when some had to be left out: with a stable ready set every ready
 * fd is reported within ceil(ready / max) calls. out[0..k) is a max-heap on
 * the distance from the cursor: O(log max) per offer, no memory of its own.
 */
#ifndef SELECTORS_FAIR_H
#define SELECTORS_FAIR_H

#include <selectors/selector.h>

struct sel__fair {
    sel_event *out;
    int max, k;
    int full;       /* an offer was refused or displaced another */
    unsigned start; /* the cursor: fd numbers from here on come first */
};

/* Distance from the cursor in fd order, wrapping (unsigned arithmetic). */
static inline unsigned sel__fair_dist(const struct sel__fair *f, int fd)
{
    return (unsigned)fd - f->start;
}

static inline void sel__fair_begin(struct sel__fair *f, sel_event *out, int max)
{
    f->out = out;
    f->max = max;
    f->k = 0;
    f->full = 0;
}

static inline void sel__fair_offer(struct sel__fair *f, sel_event ev)
{
    sel_event *h = f->out;
    unsigned d = sel__fair_dist(f, ev.fd);
    int i;
    if (f->k < f->max) { /* sift up */
        i = f->k++;
        while (i > 0 && sel__fair_dist(f, h[(i - 1) / 2].fd) < d) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = ev;
        return;
    }
    f->full = 1;
    if (d >= sel__fair_dist(f, h[0].fd))
        return;
    i = 0; /* replace the farthest and sift down */
    for (;;) {
        int c = 2 * i + 1;
        if (c >= f->k)
            break;
        if (c + 1 < f->k && sel__fair_dist(f, h[c + 1].fd) > sel__fair_dist(f, h[c].fd))
            c++;
        if (sel__fair_dist(f, h[c].fd) <= d)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = ev;
}

/* Returns the count; the next call starts after the farthest one kept. */
static inline int sel__fair_end(struct sel__fair *f)
{
    if (f->full)
        f->start = (unsigned)f->out[0].fd + 1;
    f->out = 0;
    return f->k;
}

#endif

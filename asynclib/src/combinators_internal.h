/* Internal helpers shared by the combinators (gather.c, wait.c). */
#ifndef ASYNCLIB_COMBINATORS_INTERNAL_H
#define ASYNCLIB_COMBINATORS_INTERNAL_H

#include <asynclib/error.h>
#include <asynclib/future.h>

#include <errno.h>
#include <stddef.h>

/* The futures fs[0..n) a combinator is given: -EINVAL if fs is NULL while
 * n > 0 or an entry is NULL, AL_EWRONGLOOP if one belongs to another loop,
 * else 0. */
static inline int al__check_futures(al_loop *loop, al_future *const *fs, size_t n)
{
    if (n && !fs)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i])
            return -EINVAL;
        if (al_future_loop(fs[i]) != loop)
            return AL_EWRONGLOOP;
    }
    return 0;
}

#endif

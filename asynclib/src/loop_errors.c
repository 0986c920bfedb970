/* Errors and debug mode: the exception handler and its default, the
 * slow-callback threshold and the debug flag. */
#include "loop_internal.h"

#include <asynclib/error.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

void al_loop_default_exception_handler(al_loop *loop, const al_error_context *ctx)
{
    (void)loop;
    if (!ctx)
        return;
    fprintf(stderr, "asynclib: %s", ctx->message);
    if (ctx->error)
        fprintf(stderr, ": %s (%d)", al_strerror(ctx->error), ctx->error);
    if (ctx->callback)
        fprintf(stderr, " [callback %p arg %p]", (void *)(uintptr_t)ctx->callback,
                ctx->callback_arg);
    fputc('\n', stderr);
}

void al_loop_call_exception_handler(al_loop *loop, const al_error_context *ctx)
{
    if (!loop || !ctx)
        return;
    if (loop->handler)
        loop->handler(loop, ctx, loop->handler_user);
    else
        al_loop_default_exception_handler(loop, ctx);
}

int al_loop_set_exception_handler(al_loop *loop, al_exception_handler_fn fn, void *user)
{
    if (!loop)
        return -EINVAL;
    loop->handler = fn;
    loop->handler_user = fn ? user : NULL;
    return 0;
}

void al__report(al_loop *loop, const char *message, int error, al_future *f, al_task *t)
{
    al_error_context ctx = {.message = message, .error = error, .future = f, .task = t};
    al_loop_call_exception_handler(loop, &ctx);
}

/* ---- debug ------------------------------------------------------------- */

int al_loop_set_debug(al_loop *loop, bool enabled)
{
    if (!loop)
        return -EINVAL;
    loop->debug = enabled;
    return 0;
}

bool al_loop_get_debug(const al_loop *loop)
{
    return loop && loop->debug;
}

int al_loop_set_slow_callback_duration(al_loop *loop, double seconds)
{
    if (!loop || isnan(seconds) || seconds < 0)
        return -EINVAL;
    loop->slow_callback = seconds;
    return 0;
}

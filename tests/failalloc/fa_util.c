#include "fa_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fa_err(fa_run *r, int rc)
{
    if (rc < 0 && r->err == 0)
        r->err = rc;
    return rc;
}

int fa_verdict(const fa_run *r)
{
    if (r->unclean)
        return FA_UNCLEAN;
    if (r->err)
        return r->err;
    return r->wrong ? FA_SILENT : 0;
}

static void on_exception(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop;
    fa_run *r = user;
    /* An error reported without a code still surfaced: the message is
     * the error (counted as -ENOMEM's neighbour, -EIO). */
    fa_err(r, ctx->error < 0 ? ctx->error : -EIO);
}

int fa_run_main(fa_loop_kind kind, al_task_fn fn, fa_run *r)
{
    al_loop *loop = NULL;
    int rc;
    if (kind == FA_IO_LOOP) {
        rc = aio_loop_new(al_test_impl, &loop);
    } else {
        loop = kind == FA_PURE_REAL ? al_loop_new() : al_loop_new_virtual();
        rc = loop ? 0 : -ENOMEM;
    }
    if (rc)
        return fa_err(r, rc);
    al_loop_set_exception_handler(loop, on_exception, r);
    fa_err(r, al_run_on(loop, fn, r, NULL));
    if (al_loop_free(loop) != 0)
        r->unclean = true;
    return fa_verdict(r);
}

int fa_wait(fa_run *r, al_future *f)
{
    if (!f)
        return r->err ? r->err : -EINVAL;
    int rc = al_wait_for(f, FA_WAIT);
    if (rc == AL_ETIMEOUT)
        r->unclean = true;
    return fa_err(r, rc);
}

void fa_set(fa_run *r, al_future *f)
{
    if (f && !al_future_done(f))
        fa_err(r, al_future_set_result(f, NULL, NULL));
}

void fa_drop(al_future **f)
{
    if (*f)
        al_future_unref(*f);
    *f = NULL;
}

al_future *fa_future(fa_run *r)
{
    al_future *f = NULL;
    fa_err(r, al_future_new(al_get_running_loop(), &f));
    return f;
}

void fa_require_backend(void)
{
    static int checked;
    if (checked++)
        return;
    al_loop *loop = NULL;
    int rc = aio_loop_new(al_test_impl, &loop);
    if (rc == 0) {
        al_loop_free(loop);
        return;
    }
    printf("%s backend %s: %s\n", strcmp(al_test_impl, "io_uring") == 0 ? "SKIP:" : "cannot open",
           al_test_impl, aio_strerror(rc));
    fflush(stdout);
    exit(strcmp(al_test_impl, "io_uring") == 0 && rc != SEL_EBACKEND ? 77 : 1);
}

bool fa_pure_row(void)
{
    return strcmp(al_test_impl, "pure") == 0;
}

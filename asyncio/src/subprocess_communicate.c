/* aio_process_communicate, as subprocess.py's Process.communicate: over
 * the pipes' streams (subprocess_streams.c), so it mixes with them. A task
 * feeds stdin (write, drain, close: _feed_stdin), one waits for stdout's
 * end of file and one for stderr's (_read_stream), gathered; then the
 * child is waited for and the readers' buffers are handed out. The
 * readers keep everything until the end, so a cancelled communicate
 * loses no output (asyncio's read() drops the blocks it had read). */
#include "stream_internal.h"
#include "subprocess_internal.h"

#include <asynclib/combinators.h>
#include <asynclib/task.h>

#include <asyncio/error.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* Input goes to the stdin stream a chunk at a time, each drained before
 * the next: the write buffer stays small (no copy of all of input, as
 * asyncio's write(input) makes) unless the communicate is cancelled. */
#define CHUNK (256 * 1024)

typedef struct comm comm;

typedef struct side {
    comm *c;
    int which;
    bool started; /* its body ran (an eager task's, inside al_task_new) */
} side;

/* Shared by the call and its tasks (each holds a reference), so a task
 * that outlives the call (its loop closing) touches nothing freed. */
struct comm {
    unsigned refs;
    const char *in; /* the caller's, read only while the call waits */
    size_t in_len;
    aio__stream *s[3]; /* the pipes' streams (a reference each); NULL: no pipe */
    side sides[3];
};

static void comm_unref(comm *c)
{
    if (--c->refs)
        return;
    for (int i = 0; i < 3; i++)
        if (c->s[i])
            aio__stream_unref(c->s[i]);
    free(c);
}

static int feed(comm *c)
{
    aio_stream_writer *w = &c->s[0]->w;
    size_t off = 0;
    int rc = 0;
    while (off < c->in_len && rc == 0 && !aio_stream_is_closing(w)) {
        size_t n = c->in_len - off < CHUNK ? c->in_len - off : CHUNK;
        if ((rc = aio_stream_write(w, c->in + off, n)) == 0) {
            off += n;
            rc = aio_stream_drain(w);
        }
    }
    if (rc == AL_ECANCELLED) {
        /* as asyncio's write(input): all of it is queued, stdin stays open */
        if (off < c->in_len && !c->s[0]->lost && aio_stream_write(w, c->in + off, c->in_len - off))
            aio__report(c->s[0]->loop, "communicate cancelled: the rest of input was not queued",
                        -ENOMEM);
        return rc;
    }
    if (rc == AL_ELOOPCLOSING)
        return rc;
    /* The child left (asyncio ignores BrokenPipe and ConnectionReset), or
     * stdin had ended already (write_eof: asyncio's write drops the data). */
    if (rc == -EPIPE || rc == -ECONNRESET || rc == AL_EINVALIDSTATE)
        rc = 0;
    aio_stream_close(w);
    return rc;
}

static void comm_release(void *arg)
{
    comm_unref(arg);
}

static int side_task(void *arg, void **result)
{
    (void)result;
    side *sd = arg;
    comm *c = sd->c;
    sd->started = true;
    al_task_unhold(al_current_task(), comm_release, c); /* the reference is the body's now */
    int rc = sd->which == 0 ? feed(c) : aio__reader_wait_eof(&c->s[sd->which]->r);
    comm_unref(c);
    return rc;
}

/* Runs the sides as tasks and gathers them (return_errors: the gather
 * ends once every task has). 0, the first error, or AL_ECANCELLED (the
 * tasks have ended). */
static int run_sides(al_loop *loop, comm *c)
{
    al_future *fs[3];
    size_t n = 0;
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (!c->s[i] || (i > 0 && c->s[i]->r.eof))
            continue;
        c->sides[i] = (side){.c = c, .which = i};
        al_task *t;
        c->refs++;
        if ((rc = al_task_new(loop, side_task, &c->sides[i], NULL, &t)) == 0) {
            /* Released by the task's end if its body never runs (cancelled
             * before its first step). A new task has no done-callback: the
             * hold allocates nothing and cannot fail. An eager task's body
             * has run already: the reference is its own. */
            if (!c->sides[i].started)
                al_task_hold(t, comm_release, c);
            fs[n++] = al_task_future(t);
        } else {
            c->refs--;
        }
    }
    al_future *g = NULL;
    if (rc == 0 && n) {
        rc = al_gather_wait(fs, n, true, &g);
        void *v;
        if (rc == 0 && al_future_result(g, &v) == 0)
            for (size_t i = 0; i < ((al_gather_result *)v)->n && rc == 0; i++)
                rc = ((al_gather_result *)v)->status[i];
        al_future_unref(g);
    }
    for (size_t i = 0; i < n; i++) {
        al_task_cancel(al_future_task(fs[i]), NULL); /* only if it could not be gathered */
        al_future_unref(fs[i]);
    }
    return rc;
}

/* Moves out what stdout's and stderr's readers hold: all or nothing. */
static int take_outputs(comm *c, char **data, size_t *len)
{
    int rc = 0;
    for (int i = 1; i < 3 && rc == 0; i++)
        if (c->s[i])
            rc = aio__reader_detachable(&c->s[i]->r);
    for (int i = 1; i < 3 && rc == 0; i++)
        if (c->s[i])
            data[i] = aio__reader_detach(&c->s[i]->r, &len[i]);
    return rc;
}

int aio_process_communicate(aio_process *p, const void *input, size_t len, char **out,
                            size_t *out_len, char **err, size_t *err_len)
{
    if (!p || (!input && len))
        return -EINVAL;
    if (!al_current_task())
        return AL_ENOTINTASK;
    if (p->communicating)
        return AIO_EFDBUSY;
    comm *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (comm){.refs = 1, .in = input, .in_len = len};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (p->streams[i] || p->fds[i] >= 0)
            if ((rc = aio__process_stream(p, i, &c->s[i])) == 0)
                c->s[i]->refs++;
    if (rc == 0) {
        p->communicating = true;
        rc = run_sides(p->loop, c);
        p->communicating = false;
    }
    c->in_len = 0; /* a task that outlives the call (loop closing) reads no more of it */
    if (rc == 0)
        rc = aio_process_wait(p, NULL);
    char *data[3] = {NULL, NULL, NULL};
    size_t n[3] = {0, 0, 0};
    if (rc == 0)
        rc = take_outputs(c, data, n);
    for (int i = 1; i < 3 && rc == 0; i++)
        if (c->s[i])
            aio_transport_close(p->pipe_t[i]); /* _read_stream's transport.close() */
    comm_unref(c);
    if (rc < 0)
        return rc;
    if (out)
        *out = data[1];
    else
        free(data[1]);
    if (err)
        *err = data[2];
    else
        free(data[2]);
    if (out_len)
        *out_len = n[1];
    if (err_len)
        *err_len = n[2];
    return 0;
}

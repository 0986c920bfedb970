/* StreamReaderProtocol and StreamWriter (streams.py): the protocol feeding
 * the reader and releasing drains, the writer, open_connection and
 * start_server with a task per connection. */
#include "stream_internal.h"

#include <asynclib/combinators.h>
#include <asynclib/task.h>

#include <errno.h>
#include <stdlib.h>

static void settle_all(aio__stream *s, int error)
{
    for (size_t i = 0; i < s->ndrain; i++) {
        al_future *f = s->drainers[i];
        if (al_future_done(f))
            continue;
        if (error)
            al_future_set_error(f, error);
        else
            al_future_set_result(f, NULL, NULL);
    }
}

void aio__stream_unref(aio__stream *s)
{
    if (--s->refs)
        return;
    aio_transport_unref(s->t);
    if (s->closed)
        al_future_unref(s->closed);
    al_future_unref(s->r.spare);
    free(s->drainers);
    free(s->r.buf);
    free(s);
}

/* ---- the protocol ---------------------------------------------------------------- */

static int client_task(void *arg, void **result);
static void client_release(void *arg);

static void made(aio_transport *t, void *user)
{
    aio__stream *s = user;
    if (!s->t) { /* a process's pipe stream holds both from the start */
        s->t = aio_transport_ref(t);
        s->refs++; /* the protocol's, until connection_lost */
    }
    if (!s->fn)
        return;
    s->refs += 2; /* the callback's reader and writer */
    al_task *task;
    if (al_task_new(s->loop, client_task, s, NULL, &task) < 0) {
        s->refs -= 2;
        aio__report(s->loop, "cannot start the client task; connection closed", -ENOMEM);
        aio_transport_abort(t);
        return;
    }
    /* A task dropped before its first step (its loop closed first) never
     * runs its body: the hold releases the callback's handles then. An
     * eager task's body has run already (it cleared fn): they are its. */
    if (s->fn)
        al_task_hold(task, client_release, s); /* a new task's: cannot fail */
    al_task_unref(task);                       /* the loop holds it until done */
}

/* The reader could not keep what arrived (-ENOMEM): the connection ends
 * with that error (connection_lost(-ENOMEM): reads, drains and
 * wait_closed say it), not as a clean end of stream the reader would
 * take for all the data. */
static void read_failed(aio_transport *t, int error)
{
    if (!t->lost)
        t->ops->abort(t, error);
}

static void received(aio_transport *t, const void *data, size_t len, void *user)
{
    if (aio__reader_feed(&((aio__stream *)user)->r, data, len) == -ENOMEM)
        read_failed(t, -ENOMEM);
}

static void *get_buffer(aio_transport *t, size_t *size, void *user)
{
    void *buf = aio__reader_get_buffer(&((aio__stream *)user)->r, t, size);
    if (!buf) /* the loop's read buffer could not be made */
        read_failed(t, -ENOMEM);
    return buf;
}

static void buffer_updated(aio_transport *t, size_t n, void *user)
{
    if (aio__reader_buffer_updated(&((aio__stream *)user)->r, n) == -ENOMEM)
        read_failed(t, -ENOMEM);
}

static bool eof(aio_transport *t, void *user)
{
    (void)t;
    aio_stream_feed_eof(&((aio__stream *)user)->r);
    return true; /* half-closed: the writer may go on (streams.py) */
}

static void lost(aio_transport *t, int error, void *user)
{
    aio__stream *s = user;
    if (!t)        /* the server's transport could not be made: no connection_made */
        s->refs++; /* so the protocol's reference is taken here, to be dropped below */
    s->lost = true;
    s->lost_error = error;
    if (error)
        aio_stream_set_error(&s->r, error);
    else
        aio_stream_feed_eof(&s->r);
    settle_all(s, error);
    if (s->closed && !al_future_done(s->closed)) {
        if (error)
            al_future_set_error(s->closed, error);
        else
            al_future_set_result(s->closed, NULL, NULL);
    }
    aio__stream_unref(s);
}

static void pause_w(aio_transport *t, void *user)
{
    (void)t;
    ((aio__stream *)user)->paused_w = true;
}

static void resume_w(aio_transport *t, void *user)
{
    (void)t;
    aio__stream *s = user;
    s->paused_w = false;
    settle_all(s, 0);
}

static const aio_protocol stream_protocol = {
    .connection_made = made,
    .data_received = received,
    .eof_received = eof,
    .connection_lost = lost,
    .pause_writing = pause_w,
    .resume_writing = resume_w,
    .get_buffer = get_buffer,
    .buffer_updated = buffer_updated,
};
const aio_protocol *const aio__stream_protocol = &stream_protocol;

/* ---- the writer ---------------------------------------------------------------------- */

int aio_stream_writelines(aio_stream_writer *w, const struct iovec *iov, int iovcnt)
{
    if (!w)
        return -EINVAL;
    if (w->s->lost)
        return w->s->lost_error ? w->s->lost_error : -ECONNRESET;
    return aio_transport_writelines(w->s->t, iov, iovcnt);
}

int aio_stream_write(aio_stream_writer *w, const void *data, size_t len)
{
    struct iovec v = {.iov_base = (void *)data, .iov_len = len};
    return aio_stream_writelines(w, &v, 1);
}

static int add_drainer(aio__stream *s, al_future *f)
{
    al_future **v = realloc(s->drainers, (s->ndrain + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    s->drainers = v;
    s->drainers[s->ndrain++] = f;
    return 0;
}

static void remove_drainer(aio__stream *s, al_future *f)
{
    for (size_t i = 0; i < s->ndrain; i++) {
        if (s->drainers[i] == f) {
            s->drainers[i] = s->drainers[--s->ndrain];
            return;
        }
    }
}

int aio_stream_drain(aio_stream_writer *w)
{
    if (!w)
        return -EINVAL;
    aio__stream *s = w->s;
    if (s->r.error)
        return s->r.error;
    int rc;
    if (aio_transport_is_closing(s->t) && !s->lost && (rc = al_sleep(0)) < 0)
        return rc; /* let connection_lost come */
    if (s->lost)
        return s->lost_error ? s->lost_error : -ECONNRESET;
    if (!s->paused_w)
        return 0;
    al_future *f;
    if ((rc = al_future_new(s->loop, &f)) < 0)
        return rc;
    if ((rc = add_drainer(s, f)) < 0) {
        al_future_unref(f);
        return rc;
    }
    s->refs++;
    rc = al_await(f);
    remove_drainer(s, f);
    al_future_unref(f);
    if (rc == 0 && s->lost && s->lost_error)
        rc = s->lost_error;
    aio__stream_unref(s);
    return rc;
}

int aio_stream_write_eof(aio_stream_writer *w)
{
    return w ? aio_transport_write_eof(w->s->t) : -EINVAL;
}

bool aio_stream_can_write_eof(const aio_stream_writer *w)
{
    return w && aio_transport_can_write_eof(w->s->t);
}

void aio_stream_close(aio_stream_writer *w)
{
    if (w)
        aio_transport_close(w->s->t);
}

bool aio_stream_is_closing(const aio_stream_writer *w)
{
    return !w || aio_transport_is_closing(w->s->t);
}

int aio_stream_wait_closed(aio_stream_writer *w)
{
    if (!w)
        return -EINVAL;
    aio__stream *s = w->s;
    if (s->lost)
        return s->lost_error;
    int rc;
    if (!s->closed && (rc = al_future_new(s->loop, &s->closed)) < 0)
        return rc;
    /* shielded: a cancelled waiter leaves the shared future to the others */
    al_future *f;
    if ((rc = al_shield(s->closed, &f)) < 0)
        return rc;
    s->refs++;
    rc = al_await(f);
    al_future_unref(f);
    aio__stream_unref(s);
    return rc;
}

aio_transport *aio_stream_transport(const aio_stream_writer *w)
{
    return w ? w->s->t : NULL;
}

void aio_stream_writer_free(aio_stream_writer *w)
{
    if (!w)
        return;
    aio_transport_close(w->s->t);
    aio__stream_unref(w->s);
}

/* ---- connections ------------------------------------------------------------------------ */

static int open_done(aio__stream *s, int rc, aio_stream_reader **r, aio_stream_writer **w)
{
    if (rc < 0) {
        s->refs--; /* the writer's; the reader's below */
        aio__stream_unref(s);
        return rc;
    }
    *r = &s->r;
    *w = &s->w;
    return 0;
}

int aio_open_connection(al_loop *loop, const char *host, int port, const aio_connect_options *opts,
                        size_t limit, aio_stream_reader **r, aio_stream_writer **w)
{
    if (!loop || !r || !w)
        return -EINVAL;
    aio__stream *s = aio__stream_new(loop, limit, 2);
    if (!s)
        return -ENOMEM;
    int rc = aio_create_connection(loop, &stream_protocol, s, host, port, opts, NULL);
    return open_done(s, rc, r, w);
}

int aio_open_unix_connection(al_loop *loop, const char *path, size_t limit, aio_stream_reader **r,
                             aio_stream_writer **w)
{
    if (!loop || !r || !w)
        return -EINVAL;
    aio__stream *s = aio__stream_new(loop, limit, 2);
    if (!s)
        return -ENOMEM;
    int rc = aio_create_unix_connection(loop, &stream_protocol, s, path, NULL);
    return open_done(s, rc, r, w);
}

/* ---- servers ------------------------------------------------------------------------------ */

typedef struct stream_factory {
    aio_client_fn fn;
    void *arg;
    size_t limit;
    al_loop *loop;
} stream_factory;

/* The callback's reader and writer handles. */
static void client_release(void *arg)
{
    aio__stream *s = arg;
    aio_stream_reader_free(&s->r);
    aio_stream_writer_free(&s->w);
}

static int client_task(void *arg, void **result)
{
    (void)result;
    aio__stream *s = arg;
    aio_client_fn fn = s->fn;
    s->fn = NULL; /* the body runs: made() takes no hold (eager), or takes it back */
    al_task_unhold(al_current_task(), client_release, s);
    int rc = fn(&s->r, &s->w, s->arg);
    if (rc < 0 && rc != AL_ECANCELLED && rc != AL_ELOOPCLOSING)
        aio__report(s->loop, "unhandled error in client_connected_cb", rc);
    client_release(s);
    return 0;
}

static int factory(void *arg, const aio_protocol **proto, void **user)
{
    stream_factory *f = arg;
    aio__stream *s = aio__stream_new(f->loop, f->limit, 0);
    if (!s)
        return -ENOMEM;
    s->fn = f->fn;
    s->arg = f->arg;
    *proto = &stream_protocol;
    *user = s;
    return 0;
}

static int start_server(al_loop *loop, aio_client_fn fn, void *arg, const char *const *hosts,
                        int port, const char *path, const aio_server_options *opts, size_t limit,
                        aio_server **out)
{
    if (!loop || !fn || !out)
        return -EINVAL;
    /* the factory's state lives as long as the server, which frees it */
    stream_factory *f = malloc(sizeof *f);
    if (!f)
        return -ENOMEM;
    *f = (stream_factory){.fn = fn, .arg = arg, .limit = limit, .loop = loop};
    int rc = path ? aio_create_unix_server(loop, factory, f, path, opts, out)
                  : aio_create_server(loop, factory, f, hosts, port, opts, out);
    if (rc < 0) {
        free(f);
        return rc;
    }
    aio__server_own_arg(*out, free);
    return 0;
}

int aio_start_server(al_loop *loop, aio_client_fn fn, void *arg, const char *const *hosts, int port,
                     const aio_server_options *opts, size_t limit, aio_server **out)
{
    return start_server(loop, fn, arg, hosts, port, NULL, opts, limit, out);
}

int aio_start_unix_server(al_loop *loop, aio_client_fn fn, void *arg, const char *path,
                          const aio_server_options *opts, size_t limit, aio_server **out)
{
    if (!path)
        return -EINVAL;
    return start_server(loop, fn, arg, NULL, 0, path, opts, limit, out);
}

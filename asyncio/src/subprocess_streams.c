/* The pipes of a process as streams (asyncio's Process.stdin, .stdout,
 * .stderr): a pipe transport under the stream protocol of streams.c,
 * made on first use from the pipe the process holds. */
#include "pipe_internal.h"
#include "stream_internal.h"
#include "subprocess_internal.h"

#include <errno.h>

int aio__process_stream(aio_process *p, int which, aio__stream **out)
{
    if (!p || !out)
        return -EINVAL;
    if (!p->streams[which]) {
        if (p->fds[which] < 0)
            return -EBADF;
        aio__io *io;
        int rc = aio__io_get(p->loop, &io);
        if (rc)
            return rc;
        /* The process's handle, and the protocol's reference taken now
         * (not in connection_made) along with the transport's: the
         * process may be freed before connection_made runs, and the
         * protocol's callbacks still come (made, then lost). */
        aio__stream *s = aio__stream_new(p->loop, 0, 2);
        if (!s)
            return -ENOMEM;
        aio_transport *t;
        rc = aio__pipe_transport_new(p->loop, p->fds[which], which == 0, aio__stream_protocol, s,
                                     &t);
        p->fds[which] = -1; /* the transport's now (closed if that failed) */
        if (rc) {
            s->refs = 1; /* no protocol call will come */
            aio__stream_unref(s);
            return rc;
        }
        s->t = aio_transport_ref(t);
        p->streams[which] = s;
        p->pipe_t[which] = aio_transport_ref(t);
    }
    *out = p->streams[which];
    return 0;
}

int aio_process_stdin(aio_process *p, aio_stream_writer **w)
{
    aio__stream *s;
    int rc = aio__process_stream(p, 0, &s);
    if (rc == 0)
        *w = &s->w;
    return rc;
}

static int reader(aio_process *p, int which, aio_stream_reader **r)
{
    aio__stream *s;
    int rc = aio__process_stream(p, which, &s);
    if (rc == 0)
        *r = &s->r;
    return rc;
}

int aio_process_stdout(aio_process *p, aio_stream_reader **r)
{
    return reader(p, 1, r);
}

int aio_process_stderr(aio_process *p, aio_stream_reader **r)
{
    return reader(p, 2, r);
}

void aio__process_free_streams(aio_process *p)
{
    for (int i = 0; i < 3; i++) {
        if (!p->streams[i])
            continue;
        aio_transport_close(p->pipe_t[i]); /* stdin: what is buffered goes first */
        aio_transport_unref(p->pipe_t[i]);
        aio__stream_unref(p->streams[i]);
        p->pipe_t[i] = NULL;
        p->streams[i] = NULL;
    }
}

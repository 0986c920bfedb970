/* aio_process_communicate: feed stdin, drain stdout and stderr at once
 * (readers and a writer on the pipes, so neither side can block the
 * other), then wait for the child. */
#include "pipe_internal.h"
#include "subprocess_internal.h"

#include <asynclib/task.h>

#include <asyncio/error.h>
#include <asyncio/fd.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

typedef struct comm comm;

typedef struct pipe_side {
    comm *c;
    int which; /* 0 stdin, 1 stdout, 2 stderr */
    int fd;    /* -1 when not (or no longer) active */
    bool pipe; /* that fd of the child is a pipe */
    char *buf;
    size_t len, cap;
} pipe_side;

struct comm {
    aio_process *p;
    al_future *fut;
    const char *in;
    size_t in_len, in_off;
    pipe_side side[3];
    int active;
    int error;
};

static void side_done(pipe_side *s, int error)
{
    comm *c = s->c;
    if (s->which == 0) {
        aio_loop_remove_writer(c->p->loop, s->fd);
        close(aio_process_take_fd(c->p, 0));
    } else {
        aio_loop_remove_reader(c->p->loop, s->fd);
    }
    s->fd = -1;
    if (error && !c->error)
        c->error = error;
    if (--c->active == 0 || error)
        if (!al_future_done(c->fut))
            al_future_set_result(c->fut, NULL, NULL);
}

static int on_writable(al_loop *loop, void *arg)
{
    (void)loop;
    pipe_side *s = arg;
    comm *c = s->c;
    size_t n = c->in_len - c->in_off;
    struct iovec v = {.iov_base = (void *)(c->in + c->in_off), .iov_len = n > CHUNK ? CHUNK : n};
    ssize_t k = aio__writev_nosigpipe(s->fd, &v, 1);
    if (k > 0)
        c->in_off += (size_t)k;
    if (k < 0 && errno != EAGAIN && errno != EINTR)
        side_done(s, errno == EPIPE ? 0 : -errno); /* EPIPE: the child left */
    else if (c->in_off == c->in_len)
        side_done(s, 0);
    return 0;
}

static int on_readable(al_loop *loop, void *arg)
{
    (void)loop;
    pipe_side *s = arg;
    if (s->cap - s->len < CHUNK + 1) {
        size_t cap = s->cap ? s->cap * 2 : CHUNK * 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return side_done(s, -ENOMEM), 0;
        s->buf = b;
        s->cap = cap;
    }
    ssize_t k = read(s->fd, s->buf + s->len, s->cap - s->len - 1);
    if (k > 0)
        s->len += (size_t)k;
    else if (k == 0)
        side_done(s, 0);
    else if (errno != EAGAIN && errno != EINTR)
        side_done(s, -errno);
    return 0;
}

static void stop_all(comm *c)
{
    for (int i = 0; i < 3; i++)
        if (c->side[i].fd >= 0) {
            if (i == 0)
                aio_loop_remove_writer(c->p->loop, c->side[i].fd);
            else
                aio_loop_remove_reader(c->p->loop, c->side[i].fd);
        }
}

static int start(comm *c)
{
    for (int i = 0; i < 3; i++)
        c->side[i] = (pipe_side){.c = c, .which = i, .fd = c->p->fds[i], .pipe = c->p->fds[i] >= 0};
    for (int i = 0; i < 3; i++) {
        pipe_side *s = &c->side[i];
        if (s->fd < 0)
            continue;
        c->active++;
        int rc = i == 0 ? aio_loop_add_writer(c->p->loop, s->fd, on_writable, s)
                        : aio_loop_add_reader(c->p->loop, s->fd, on_readable, s);
        if (rc) {
            s->fd = -1;
            return rc;
        }
    }
    if (c->side[0].fd >= 0 && c->in_len == 0) {
        aio_loop_remove_writer(c->p->loop, c->side[0].fd);
        close(aio_process_take_fd(c->p, 0));
        c->side[0].fd = -1;
        c->active--;
    }
    return 0;
}

static int give(pipe_side *s, char **out, size_t *len)
{
    if (len)
        *len = s->len;
    if (!out)
        return 0;
    if (s->buf)
        s->buf[s->len] = 0;
    else if (s->pipe && !(s->buf = calloc(1, 1))) /* a pipe that gave nothing: "" */
        return -ENOMEM;
    *out = s->buf;
    s->buf = NULL;
    return 0;
}

int aio_process_communicate(aio_process *p, const void *input, size_t len, char **out,
                            size_t *out_len, char **err, size_t *err_len)
{
    if (!p || (!input && len))
        return -EINVAL;
    if (!al_current_task())
        return AL_ENOTINTASK;
    if (p->communicating || p->streams[0] || p->streams[1] || p->streams[2])
        return AIO_EFDBUSY;
    comm c = {.p = p, .in = input, .in_len = len};
    int rc = al_future_new(p->loop, &c.fut);
    if (rc)
        return rc;
    p->communicating = true;
    rc = start(&c);
    if (!rc && c.active > 0)
        rc = al_await(c.fut);
    stop_all(&c);
    al_future_unref(c.fut);
    p->communicating = false;
    if (!rc)
        rc = c.error;
    if (!rc)
        rc = aio_process_wait(p, NULL);
    if (!rc)
        rc = give(&c.side[1], out, out_len);
    if (!rc && (rc = give(&c.side[2], err, err_len)) && out) {
        free(*out); /* nothing handed out on error */
        *out = NULL;
    }
    for (int i = 1; i < 3; i++)
        free(c.side[i].buf);
    return rc;
}

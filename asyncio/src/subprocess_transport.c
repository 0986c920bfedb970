/* The protocol-level variant (base_subprocess.BaseSubprocessTransport):
 * a process with a pipe transport per pipe, delivering to a subprocess
 * protocol. As _try_finish / _call_connection_lost: connection_lost runs
 * once the child was reaped and every pipe's pipe_connection_lost ran. */
#include "pipe_internal.h"
#include "subprocess_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

typedef struct pipe_ctx {
    aio_subprocess_transport *sub;
    int fd;
} pipe_ctx;

struct aio_subprocess_transport {
    const aio_subprocess_protocol *proto;
    void *user;
    al_loop *loop;
    aio__io *io;
    aio_process *p;
    aio_transport *pipes[3]; /* a reference each, NULL: not a pipe */
    pipe_ctx ctx[3];
    aio__res res;
    al_handle *made_h, *lost_h;
    unsigned refs;
    bool pipe_lost[3];
    bool started, exited, finished, closed, loop_closed;
};

static void sub_free(aio_subprocess_transport *s)
{
    for (int i = 0; i < 3; i++)
        aio_transport_unref(s->pipes[i]);
    aio_process_free(s->p);
    free(s);
}

aio_subprocess_transport *aio_subprocess_transport_ref(aio_subprocess_transport *t)
{
    if (t)
        t->refs++;
    return t;
}

void aio_subprocess_transport_unref(aio_subprocess_transport *t)
{
    if (t && --t->refs == 0)
        sub_free(t);
}

/* ---- the end: connection_lost last ------------------------------------- */

static void run_lost(aio_subprocess_transport *s)
{
    aio__res_remove(s->io, &s->res);
    if (s->started && s->proto->connection_lost)
        s->proto->connection_lost(s, s->loop_closed ? AL_ELOOPCLOSED : 0, s->user);
    aio_subprocess_transport_unref(s); /* its own reference */
}

static int lost_cb(al_loop *loop, void *arg)
{
    (void)loop;
    aio_subprocess_transport *s = arg;
    al_handle_unref(s->lost_h);
    s->lost_h = NULL;
    run_lost(s);
    return 0;
}

static void try_finish(aio_subprocess_transport *s)
{
    if (s->finished || !s->started || !s->exited)
        return;
    for (int i = 0; i < 3; i++)
        if (s->pipes[i] && !s->pipe_lost[i])
            return;
    s->finished = true;
    if (al_call_soon(s->loop, lost_cb, s, &s->lost_h) < 0)
        run_lost(s); /* the loop is closing: now */
}

static void exited(aio_subprocess_transport *s)
{
    if (s->proto->process_exited)
        s->proto->process_exited(s, s->user);
    try_finish(s);
}

static void child_exited(aio_process *p, void *arg)
{
    (void)p;
    aio_subprocess_transport *s = arg;
    s->exited = true;
    if (s->started) /* else connection_made delivers it */
        exited(s);
}

static void run_made(aio_subprocess_transport *s)
{
    s->started = true;
    aio_subprocess_transport_ref(s);
    if (s->proto->connection_made)
        s->proto->connection_made(s, s->user);
    if (s->exited)
        exited(s);
    aio_subprocess_transport_unref(s);
}

static int made_cb(al_loop *loop, void *arg)
{
    (void)loop;
    aio_subprocess_transport *s = arg;
    al_handle_unref(s->made_h);
    s->made_h = NULL;
    run_made(s);
    return 0;
}

/* The loop closes: connection_made if still due, the child reported and
 * killed (process_exited); the pipes end next (they follow on the loop's
 * list), and with the last of them connection_lost(AL_ELOOPCLOSED). */
static void loop_closing(aio__res *r)
{
    aio_subprocess_transport *s =
        (aio_subprocess_transport *)((char *)r - offsetof(aio_subprocess_transport, res));
    aio_subprocess_transport_ref(s);
    s->loop_closed = true;
    s->closed = true;
    if (s->made_h) {
        al_handle_cancel(s->made_h);
        al_handle_unref(s->made_h);
        s->made_h = NULL;
        run_made(s);
    }
    aio__process_loop_closing(s->p);
    if (s->lost_h) {
        al_handle_cancel(s->lost_h);
        al_handle_unref(s->lost_h);
        s->lost_h = NULL;
        run_lost(s);
    } /* else connection_lost comes with the last pipe's end (try_finish) */
    aio_subprocess_transport_unref(s);
}

/* ---- the pipes' protocols ------------------------------------------------ */

static void pipe_data(aio_transport *t, const void *data, size_t len, void *user)
{
    (void)t;
    pipe_ctx *c = user;
    if (c->sub->proto->pipe_data_received)
        c->sub->proto->pipe_data_received(c->sub, c->fd, data, len, c->sub->user);
}

static bool pipe_eof(aio_transport *t, void *user)
{
    (void)t, (void)user;
    return false; /* the pipe closes: pipe_connection_lost follows */
}

static void pipe_lost(aio_transport *t, int error, void *user)
{
    (void)t;
    pipe_ctx *c = user;
    aio_subprocess_transport *s = c->sub;
    s->pipe_lost[c->fd] = true;
    if (s->proto->pipe_connection_lost)
        s->proto->pipe_connection_lost(s, c->fd, error, s->user);
    try_finish(s);
}

static void pipe_pause(aio_transport *t, void *user)
{
    (void)t;
    pipe_ctx *c = user;
    if (c->sub->proto->pause_writing)
        c->sub->proto->pause_writing(c->sub, c->sub->user);
}

static void pipe_resume(aio_transport *t, void *user)
{
    (void)t;
    pipe_ctx *c = user;
    if (c->sub->proto->resume_writing)
        c->sub->proto->resume_writing(c->sub, c->sub->user);
}

static const aio_protocol read_proto = {
    .data_received = pipe_data,
    .eof_received = pipe_eof,
    .connection_lost = pipe_lost,
};

static const aio_protocol write_proto = {
    .connection_lost = pipe_lost,
    .pause_writing = pipe_pause,
    .resume_writing = pipe_resume,
};

/* ---- making one ------------------------------------------------------------ */

static int connect_pipes(aio_subprocess_transport *s)
{
    for (int i = 0; i < 3; i++) {
        int fd = aio_process_take_fd(s->p, i);
        if (fd < 0)
            continue;
        s->ctx[i] = (pipe_ctx){.sub = s, .fd = i};
        int rc = aio__pipe_transport_new(s->loop, fd, i == 0, i == 0 ? &write_proto : &read_proto,
                                         &s->ctx[i], &s->pipes[i]);
        if (rc < 0)
            return rc;
        aio_transport_ref(s->pipes[i]);
    }
    return 0;
}

int aio_subprocess_exec(al_loop *loop, const aio_subprocess_protocol *proto, void *user,
                        const char *const *argv, const aio_subprocess_options *opts,
                        aio_subprocess_transport **out)
{
    if (!proto || !out)
        return -EINVAL;
    aio_subprocess_transport *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    aio_process *p;
    int rc = aio_create_subprocess_exec(loop, argv, opts, &p);
    if (rc) {
        free(s);
        return rc;
    }
    *s = (aio_subprocess_transport){
        .proto = proto, .user = user, .loop = loop, .io = p->io, .p = p, .refs = 1};
    s->res.loop_closing = loop_closing;
    rc = aio__res_add(s->io, &s->res); /* before the pipes: it ends first */
    if (rc == 0)
        rc = connect_pipes(s);
    if (rc == 0)
        rc = al_call_soon(loop, made_cb, s, &s->made_h);
    if (rc) {
        aio__res_remove(s->io, &s->res);
        static const aio_protocol none = {0};
        for (int i = 0; i < 3; i++) {
            if (!s->pipes[i])
                continue;
            aio_transport_set_protocol(s->pipes[i], &none, NULL); /* s goes now */
            aio_transport_abort(s->pipes[i]);
        }
        sub_free(s);
        return rc;
    }
    s->p->on_exit = child_exited;
    s->p->exit_arg = s;
    *out = s;
    return 0;
}

int aio_subprocess_shell(al_loop *loop, const aio_subprocess_protocol *proto, void *user,
                         const char *cmd, const aio_subprocess_options *opts,
                         aio_subprocess_transport **out)
{
    if (!cmd)
        return -EINVAL;
    const char *const argv[] = {"/bin/sh", "-c", cmd, NULL};
    return aio_subprocess_exec(loop, proto, user, argv, opts, out);
}

/* ---- the calls ------------------------------------------------------------------ */

pid_t aio_subprocess_transport_pid(const aio_subprocess_transport *t)
{
    return t ? aio_process_pid(t->p) : -1;
}

bool aio_subprocess_transport_returncode(const aio_subprocess_transport *t, int *status)
{
    return t && aio_process_returncode(t->p, status);
}

aio_transport *aio_subprocess_transport_pipe(const aio_subprocess_transport *t, int fd)
{
    return t && fd >= 0 && fd <= 2 ? t->pipes[fd] : NULL;
}

aio_process *aio_subprocess_transport_process(const aio_subprocess_transport *t)
{
    return t ? t->p : NULL;
}

int aio_subprocess_transport_send_signal(aio_subprocess_transport *t, int sig)
{
    return t ? aio_process_send_signal(t->p, sig) : -EINVAL;
}

int aio_subprocess_transport_terminate(aio_subprocess_transport *t)
{
    return aio_subprocess_transport_send_signal(t, SIGTERM);
}

int aio_subprocess_transport_kill(aio_subprocess_transport *t)
{
    return aio_subprocess_transport_send_signal(t, SIGKILL);
}

void aio_subprocess_transport_close(aio_subprocess_transport *t)
{
    if (!t || t->closed)
        return;
    t->closed = true;
    for (int i = 0; i < 3; i++)
        aio_transport_close(t->pipes[i]);
    aio__process_kill_running(t->p);
}

bool aio_subprocess_transport_is_closing(const aio_subprocess_transport *t)
{
    return !t || t->closed;
}

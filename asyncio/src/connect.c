/* Connecting (base_events.create_connection, staggered.staggered_race):
 * resolve, try the addresses one by one or staggered (happy eyeballs:
 * RFC 8305), and make the transport once one socket is connected. */
#include "transport_internal.h"

#include <asynclib/task.h>
#include <asynclib/timeout.h>

#include <asyncio/dns.h>
#include <asyncio/sock.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* A non-blocking socket for ai, bound to a local address of its family
 * when local is given, connected: the fd or a negative code. */
static int connect_one(al_loop *loop, const struct addrinfo *ai, const struct addrinfo *local)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (local) {
        rc = -EADDRNOTAVAIL; /* no local address of this family */
        for (const struct addrinfo *l = local; l && rc; l = l->ai_next) {
            if (l->ai_family == ai->ai_family)
                rc = bind(fd, l->ai_addr, l->ai_addrlen) == 0 ? 0 : -errno;
        }
    }
    if (rc == 0)
        rc = aio_sock_connect(loop, fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* ---- the staggered race ------------------------------------------------------ */

/* The race lives on the heap, shared by the call and its attempt tasks
 * (each holds a reference until its body ends, or through a task hold if
 * its body never runs): an attempt may outlive the call when the call's
 * wait for it fails (a loop close unwinding the call first, -ENOMEM). Once
 * the call stops waiting (`decided`), an attempt that resumes touches
 * neither the caller's addresses nor its own next one: it ends, closing
 * any socket it got. */
typedef struct race race;
typedef struct attempt {
    race *r;
    size_t i;
    bool started; /* its body ran (an eager task's, inside al_task_new) */
} attempt;

struct race {
    al_loop *loop;
    const struct addrinfo **ai;
    const struct addrinfo *local;
    size_t n;
    double delay;
    attempt *att;
    al_task **tasks;    /* spawned attempts (the call's references) */
    al_future **failed; /* failed[i]: attempt i is over without winning */
    al_future *over;    /* a winner, or every attempt failed */
    int *errs;
    size_t nfailed;
    int winner_fd;
    unsigned refs;
    bool decided; /* the call no longer waits: late attempts just end */
};

static race *race_new(al_loop *loop, size_t n)
{
    size_t m = n ? n : 1;
    race *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    *r = (race){.loop = loop, .n = n, .winner_fd = -1, .refs = 1};
    r->ai = calloc(m, sizeof *r->ai);
    r->errs = calloc(m, sizeof *r->errs);
    r->att = calloc(m, sizeof *r->att);
    r->tasks = calloc(m, sizeof *r->tasks);
    r->failed = calloc(m, sizeof *r->failed);
    if (r->ai && r->errs && r->att && r->tasks && r->failed)
        return r;
    free(r->ai), free(r->errs), free(r->att), free(r->tasks), free(r->failed);
    free(r);
    return NULL;
}

static void race_unref(race *r)
{
    if (--r->refs)
        return;
    for (size_t i = 0; i < r->n; i++)
        al_future_unref(r->failed[i]);
    al_future_unref(r->over);
    free(r->ai), free(r->errs), free(r->att), free(r->tasks), free(r->failed);
    free(r);
}

static void race_release(void *arg)
{
    race_unref(arg);
}

static void settle(al_future *f)
{
    if (f && !al_future_done(f))
        al_future_set_result(f, NULL, NULL);
}

static int attempt_run(void *arg, void **result);

static int spawn(race *r, size_t i)
{
    r->att[i] = (attempt){.r = r, .i = i};
    int rc = al_future_new(r->loop, &r->failed[i]);
    if (rc < 0)
        return rc;
    r->refs++;
    if ((rc = al_task_new(r->loop, attempt_run, &r->att[i], NULL, &r->tasks[i])) < 0) {
        r->refs--;
        al_future_unref(r->failed[i]);
        r->failed[i] = NULL;
    } else if (!r->att[i].started) {
        /* released by the task's end if its body never runs; a new task
         * has no done-callback, so the hold allocates nothing */
        al_task_hold(r->tasks[i], race_release, r);
    }
    return rc;
}

static void attempt_failed(race *r, size_t i, int err)
{
    r->errs[i] = err;
    settle(r->failed[i]);
    if (++r->nfailed == r->n)
        settle(r->over);
}

static void attempt_body(race *r, size_t i)
{
    if (i > 0) {
        /* start after the previous attempt failed or delay passed */
        al_timeout to = AL_TIMEOUT_INIT;
        int rc = al_timeout_enter(&to, r->delay);
        if (rc == 0)
            rc = al_timeout_exit(&to, al_await(r->failed[i - 1]));
        if (rc < 0 && rc != AL_ETIMEOUT) {
            attempt_failed(r, i, rc);
            return;
        }
    }
    if (r->winner_fd >= 0 || r->decided) {
        attempt_failed(r, i, AL_ECANCELLED);
        return;
    }
    int rc = i + 1 < r->n ? spawn(r, i + 1) : 0;
    if (rc < 0) /* the next ones cannot start: they count as failed */
        for (size_t k = i + 1; k < r->n; k++)
            attempt_failed(r, k, rc);
    int fd = connect_one(r->loop, r->ai[i], r->local);
    if (fd >= 0 && r->winner_fd < 0 && !r->decided) {
        r->winner_fd = fd;
        settle(r->over);
    } else {
        if (fd >= 0)
            close(fd);
        attempt_failed(r, i, fd >= 0 ? AL_ECANCELLED : fd);
    }
}

static int attempt_run(void *arg, void **result)
{
    (void)result;
    attempt *a = arg;
    race *r = a->r;
    a->started = true;
    al_task_unhold(al_current_task(), race_release, r); /* the reference is the body's now */
    attempt_body(r, a->i);
    race_unref(r);
    return 0;
}

/* Runs the race; the winner's fd, or < 0 (errors in r->errs). */
static int race_run(race *r)
{
    int rc = al_future_new(r->loop, &r->over);
    if (rc == 0)
        rc = spawn(r, 0);
    if (rc < 0)
        return rc;
    rc = al_await(r->over);
    r->decided = true;
    for (size_t i = 0; i < r->n; i++)
        if (r->tasks[i])
            al_task_cancel(r->tasks[i], NULL);
    /* every attempt ends (closing its socket) before the race does, unless
     * the wait itself fails (loop close, -ENOMEM): then the attempts end
     * later on their own, holding the race */
    for (size_t i = 0; i < r->n; i++) {
        if (r->tasks[i]) {
            al_future *tf = al_task_future(r->tasks[i]);
            while (!al_future_done(tf) && al_await(tf) == AL_ECANCELLED && !al_future_done(tf))
                ;
            al_task_unref(r->tasks[i]);
            r->tasks[i] = NULL;
        }
    }
    if (rc < 0) {
        if (r->winner_fd >= 0)
            close(r->winner_fd);
        return rc;
    }
    return r->winner_fd;
}

/* base_events._interleave_addrinfos: the addresses grouped by family (in
 * the order families first appear), first - 1 of the first family, then
 * one of each family in turn. 0 or -ENOMEM (v unchanged). */
static int interleave(const struct addrinfo **v, size_t n, int first)
{
    const struct addrinfo **out = malloc((n ? n : 1) * sizeof *out);
    bool *used = calloc(n ? n : 1, sizeof *used);
    int *fams = malloc((n ? n : 1) * sizeof *fams);
    if (!out || !used || !fams) {
        free(out);
        free(used);
        free(fams);
        return -ENOMEM;
    }
    size_t nf = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t f = 0;
        while (f < nf && fams[f] != v[i]->ai_family)
            f++;
        if (f == nf)
            fams[nf++] = v[i]->ai_family;
    }
    for (size_t i = 0; i < n && k + 1 < (size_t)first; i++) {
        if (v[i]->ai_family == fams[0]) {
            used[i] = true;
            out[k++] = v[i];
        }
    }
    while (k < n) { /* one round: the next unused address of each family */
        for (size_t f = 0; f < nf; f++) {
            for (size_t i = 0; i < n; i++) {
                if (!used[i] && v[i]->ai_family == fams[f]) {
                    used[i] = true;
                    out[k++] = v[i];
                    break;
                }
            }
        }
    }
    memcpy(v, out, n * sizeof *v);
    free(out);
    free(used);
    free(fams);
    return 0;
}

/* The error of a failed set of attempts: the common one, or AIO_EMULTIPLE. */
static int all_failed(const int *errs, size_t n, const aio_connect_options *o)
{
    for (size_t i = 0; i < n && i < o->errors_max && o->errors; i++)
        o->errors[i] = errs[i];
    if (o->nerrors)
        *o->nerrors = n;
    for (size_t i = 1; i < n; i++)
        if (errs[i] != errs[0])
            return AIO_EMULTIPLE;
    return n ? errs[0] : AIO_EAI_NONAME;
}

/* Sequential or staggered connection to the resolved addresses. */
static int connect_addrs(al_loop *loop, const struct addrinfo *res, const struct addrinfo *local,
                         const aio_connect_options *o)
{
    size_t n = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    race *r = race_new(loop, n);
    if (!r)
        return -ENOMEM;
    r->local = local;
    r->delay = o->happy_eyeballs_delay;
    size_t k = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        r->ai[k++] = ai;
    int first = o->interleave > 0 ? o->interleave : o->interleave == 0 && r->delay > 0 ? 1 : 0;
    int rc = first > 0 ? interleave(r->ai, n, first) : 0;
    if (rc == 0 && o->happy_eyeballs_delay > 0 && n > 0) {
        rc = race_run(r);
        if (rc < 0 && r->nfailed == n)
            rc = all_failed(r->errs, n, o);
    } else if (rc == 0) {
        rc = -1;
        for (size_t i = 0; i < n && rc < 0; i++) {
            rc = connect_one(loop, r->ai[i], local);
            r->errs[i] = rc;
            if (rc == AL_ECANCELLED || rc == AL_ELOOPCLOSING)
                break;
            if (rc < 0 && i + 1 == n)
                rc = all_failed(r->errs, n, o);
        }
        if (n == 0)
            rc = all_failed(r->errs, 0, o);
    }
    race_unref(r);
    return rc;
}

/* ---- the transport ------------------------------------------------------------- */

static int settle_cb(al_loop *loop, void *arg)
{
    (void)loop;
    settle(arg);
    return 0;
}

int aio__transport_await_made(aio_transport *t, aio_transport **out)
{
    al_loop *loop = aio__transport_loop(t);
    al_future *f = NULL;
    al_handle *h = NULL;
    aio_transport_ref(t);
    int rc = al_future_new(loop, &f);
    if (rc == 0) /* queued after the transport's start: runs after connection_made */
        rc = al_call_soon(loop, settle_cb, f, &h);
    if (rc == 0)
        rc = al_await(f);
    if (h) {
        al_handle_cancel(h);
        al_handle_unref(h);
    }
    al_future_unref(f);
    if (rc == 0 && t->lost && t->lost_error < 0)
        rc = t->lost_error; /* it failed at its start (reading could not be
                               set up: -ENOMEM): connection_lost has run */
    if (rc < 0) {
        /* Failed before connection_made ran (no memory to wait, or the
         * task was cancelled first): the caller's protocol is never
         * called, so the state it was given is the caller's again at once
         * (streams free theirs on the error). After connection_made it
         * gets connection_lost. */
        if (!t->started) {
            static const aio_protocol none;
            static const aio_datagram_protocol dnone;
            if (t->dgram)
                t->dproto = &dnone;
            else
                t->proto = &none;
            t->user = NULL;
        }
        aio_transport_abort(t);
    }
    /* connection_lost may have run already (the protocol closed the
     * transport inside connection_made: its end was queued before this
     * wakeup, as in CPython); then the transport is gone with our
     * reference and there is none to hand out */
    if (rc == 0 && out)
        *out = t->lost ? NULL : t;
    aio_transport_unref(t);
    return rc;
}

/* A transport over connected fd; returns once connection_made has run. */
static int finish(al_loop *loop, int fd, const aio_protocol *proto, void *user, aio_transport **out)
{
    aio_transport *t;
    int rc = aio__socket_transport_new(loop, fd, proto, user, NULL, &t);
    if (rc == 0)
        rc = aio__transport_await_made(t, out);
    return rc;
}

static int check_call(al_loop *loop, const aio_protocol *proto)
{
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    if (!proto)
        return -EINVAL;
    if (!al_current_task() || al_get_running_loop() != loop)
        return AL_ENOTINTASK;
    return 0;
}

/* host:port through the layer's DNS (numeric at once, names in the
 * executor), for stream sockets. */
static int resolve(al_loop *loop, const char *host, int port, int family, int flags,
                   struct addrinfo **res)
{
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM, .ai_flags = flags};
    return aio_getaddrinfo(loop, host, serv, &hints, res);
}

static int create_connection(al_loop *loop, const aio_protocol *proto, void *user, const char *host,
                             int port, const aio_connect_options *o, aio_transport **out)
{
    struct addrinfo *res = NULL, *local = NULL;
    int rc = o->addrs ? 0 : resolve(loop, host, port, o->family, 0, &res);
    if (rc == 0 && o->local_host)
        rc = resolve(loop, o->local_host, o->local_port, o->family, AI_PASSIVE, &local);
    if (rc == 0)
        rc = connect_addrs(loop, o->addrs ? o->addrs : res, local, o);
    int one = 1;
    if (rc >= 0 && o->keep_alive && setsockopt(rc, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one)) {
        int fd = rc;
        rc = -errno;
        close(fd);
    }
    if (res)
        freeaddrinfo(res);
    if (local)
        freeaddrinfo(local);
    return rc < 0 ? rc : finish(loop, rc, proto, user, out);
}

int aio_create_connection(al_loop *loop, const aio_protocol *proto, void *user, const char *host,
                          int port, const aio_connect_options *opts, aio_transport **out)
{
    aio_connect_options o = opts ? *opts : (aio_connect_options){0};
    int rc = check_call(loop, proto);
    if (rc < 0)
        return rc;
    if ((!host && !o.addrs) || port < 0 || port > 65535 || o.local_port < 0 ||
        o.local_port > 65535 || !(o.happy_eyeballs_delay >= 0) || !(o.timeout >= 0))
        return -EINVAL;
    if (o.nerrors)
        *o.nerrors = 0;
    if (o.timeout == 0)
        return create_connection(loop, proto, user, host, port, &o, out);
    al_timeout to = AL_TIMEOUT_INIT;
    if ((rc = al_timeout_enter(&to, o.timeout)) < 0)
        return rc;
    return al_timeout_exit(&to, create_connection(loop, proto, user, host, port, &o, out));
}

int aio_create_unix_connection(al_loop *loop, const aio_protocol *proto, void *user,
                               const char *path, aio_transport **out)
{
    int rc = check_call(loop, proto);
    if (rc < 0)
        return rc;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (!path || !*path || strlen(path) >= sizeof sun.sun_path)
        return -EINVAL;
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if ((rc = aio_sock_connect(loop, fd, (struct sockaddr *)&sun, sizeof sun)) < 0) {
        close(fd);
        return rc;
    }
    return finish(loop, fd, proto, user, out);
}

int aio_connect_accepted_socket(al_loop *loop, const aio_protocol *proto, void *user, int fd,
                                aio_transport **out)
{
    if (fd < 0)
        return -EBADF;
    int rc = check_call(loop, proto);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return finish(loop, fd, proto, user, out);
}

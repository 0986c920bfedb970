/* Servers (base_events.Server, BaseSelectorEventLoop._accept_connection):
 * listening sockets, accepting in batches with a pause on fd exhaustion,
 * the connections' count for wait_closed, close / close_clients /
 * abort_clients, serve_forever. */
#include "transport_internal.h"

#include <asynclib/task.h>

#include <asyncio/dns.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct aio_server {
    al_loop *loop;
    aio__io *io;
    aio__res res;
    aio_protocol_factory factory;
    void *arg;
    void (*arg_free)(void *);
    int *fds; /* listening sockets; NULL once closed */
    size_t nfds;
    char *unix_path; /* to remove on close, or NULL */
    dev_t unix_dev;
    ino_t unix_ino;
    int max_accepts;
    double retry_delay;
    unsigned refs;      /* the caller's, one per connection, one while on the list */
    bool serving;       /* readers on the listening sockets */
    bool accept_paused; /* after EMFILE & co. */
    size_t nclients;
    al_future **waiters; /* wait_closed */
    size_t nwaiters;
    al_future *forever; /* serve_forever's, or NULL */
    al_handle *retry;   /* resumes accepting after a pause */
};

static void server_unref(aio_server *s)
{
    if (--s->refs)
        return;
    if (s->arg_free)
        s->arg_free(s->arg);
    free(s->waiters);
    free(s->unix_path);
    free(s);
}

void aio__server_own_arg(aio_server *s, void (*fn)(void *))
{
    s->arg_free = fn;
}

/* ---- accepting --------------------------------------------------------------- */

static int accept_ready(al_loop *loop, void *arg);

/* Watches (on) or stops watching the listening sockets. Turning off
 * cannot fail; turning on can (-ENOMEM: the fd's record), and then no
 * socket is left watched. */
static int set_accepting(aio_server *s, bool on)
{
    for (size_t i = 0; i < s->nfds; i++) {
        int rc = aio__set_interest(s->io, s->fds[i], AIO_READ, on ? accept_ready : NULL, s);
        if (rc < 0 && on) {
            while (i-- > 0)
                aio__set_interest(s->io, s->fds[i], AIO_READ, NULL, NULL);
            return rc;
        }
    }
    return 0;
}

static void pause_accepting(aio_server *s, int err);

static int resume_accepting(al_loop *loop, void *arg)
{
    (void)loop;
    aio_server *s = arg;
    al_handle_unref(s->retry);
    s->retry = NULL;
    s->accept_paused = false;
    int rc = s->serving && s->fds ? set_accepting(s, true) : 0;
    if (rc < 0)
        pause_accepting(s, -rc); /* reported; tried again after the delay */
    return 0;
}

static bool out_of_resources(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static void pause_accepting(aio_server *s, int err)
{
    aio__report(s->loop, "socket.accept() out of system resource; pausing accept", -err);
    set_accepting(s, false);
    s->accept_paused = true;
    if (al_call_later(s->loop, s->retry_delay, resume_accepting, s, &s->retry) < 0) {
        /* cannot wait: accept again at once (if even that fails, the
         * server stops accepting; the error was reported) */
        s->accept_paused = false;
        if (s->serving && s->fds && set_accepting(s, true) < 0)
            aio__report(s->loop, "cannot watch the listening sockets; not accepting", -ENOMEM);
    }
}

static void accept_one(aio_server *s, int fd)
{
    const aio_protocol *proto = NULL;
    void *user = NULL;
    int rc = s->factory(s->arg, &proto, &user);
    if (rc == 0 && !proto)
        rc = -EINVAL;
    if (rc < 0) {
        close(fd);
        aio__report(s->loop, "protocol factory failed; connection closed", rc);
        return;
    }
    rc = aio__socket_transport_new(s->loop, fd, proto, user, s, NULL);
    if (rc < 0) {
        aio__report(s->loop, "cannot make a transport for an accepted connection", rc);
        if (proto->connection_lost) /* the factory's state is released there */
            proto->connection_lost(NULL, rc, user);
    }
}

static int accept_ready(al_loop *loop, void *arg)
{
    (void)loop;
    aio_server *s = arg;
    s->refs++;
    for (int i = 0; i < s->max_accepts && s->serving && !s->accept_paused; i++) {
        int fd = -1;
        for (size_t k = 0; k < s->nfds && fd < 0; k++) {
            fd = accept4(s->fds[k], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0 && out_of_resources(errno)) {
                pause_accepting(s, errno);
                break;
            }
            if (fd < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED && errno != EPROTO)
                aio__report(s->loop, "socket.accept() failed", -errno);
        }
        if (fd < 0)
            break; /* nothing pending on any socket */
        accept_one(s, fd);
    }
    server_unref(s);
    return 0;
}

/* ---- the connections ------------------------------------------------------------ */

static void wake_waiters(aio_server *s)
{
    for (size_t i = 0; i < s->nwaiters; i++) {
        if (!al_future_done(s->waiters[i]))
            al_future_set_result(s->waiters[i], NULL, NULL);
    }
}

void aio__server_attach(aio_server *s)
{
    s->refs++;
    s->nclients++;
}

void aio__server_detach(aio_server *s)
{
    if (--s->nclients == 0 && !s->fds)
        wake_waiters(s);
    server_unref(s);
}

static void each_client(aio_server *s, void (*fn)(aio_transport *))
{
    s->refs++;
    aio__each_transport(s->io, s, fn);
    server_unref(s);
}

void aio_server_close_clients(aio_server *s)
{
    if (s)
        each_client(s, aio_transport_close);
}

void aio_server_abort_clients(aio_server *s)
{
    if (s)
        each_client(s, aio_transport_abort);
}

/* ---- closing --------------------------------------------------------------------- */

static void remove_unix_path(aio_server *s)
{
    struct stat st;
    if (s->unix_path && stat(s->unix_path, &st) == 0 && st.st_dev == s->unix_dev &&
        st.st_ino == s->unix_ino)
        unlink(s->unix_path);
}

static void close_sockets(aio_server *s)
{
    set_accepting(s, false);
    aio__flush(s->io); /* io_uring's poll would keep the socket listening */
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    remove_unix_path(s);
    free(s->fds);
    s->fds = NULL;
    s->nfds = 0;
    s->serving = false;
    if (s->retry) {
        al_handle_cancel(s->retry);
        al_handle_unref(s->retry);
        s->retry = NULL;
    }
}

void aio_server_close(aio_server *s)
{
    if (!s || !s->fds)
        return;
    close_sockets(s);
    aio__res_remove(s->io, &s->res);
    if (s->forever && !al_future_done(s->forever))
        al_future_cancel(s->forever, "server closed");
    if (s->nclients == 0)
        wake_waiters(s);
    server_unref(s); /* the list's */
}

static void loop_closing(aio__res *r)
{
    aio_server *s = (aio_server *)((char *)r - offsetof(aio_server, res));
    close_sockets(s);
    server_unref(s);
}

void aio_server_free(aio_server *s)
{
    if (!s)
        return;
    aio_server_close(s);
    server_unref(s);
}

/* ---- serving --------------------------------------------------------------------- */

int aio_server_start_serving(aio_server *s)
{
    if (!s)
        return -EINVAL;
    if (!s->fds)
        return AIO_ESERVERCLOSED;
    if (s->serving)
        return 0;
    if (!s->accept_paused) {
        int rc = set_accepting(s, true);
        if (rc < 0)
            return rc;
    }
    s->serving = true;
    return 0;
}

bool aio_server_is_serving(const aio_server *s)
{
    return s && s->serving;
}

/* Adds f to the wait_closed waiters. */
static int add_waiter(aio_server *s, al_future *f)
{
    al_future **v = realloc(s->waiters, (s->nwaiters + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    s->waiters = v;
    s->waiters[s->nwaiters++] = f;
    return 0;
}

static void remove_waiter(aio_server *s, al_future *f)
{
    for (size_t i = 0; i < s->nwaiters; i++) {
        if (s->waiters[i] == f) {
            s->waiters[i] = s->waiters[--s->nwaiters];
            return;
        }
    }
}

int aio_server_wait_closed(aio_server *s)
{
    if (!s)
        return -EINVAL;
    if (!s->fds && s->nclients == 0)
        return 0;
    al_future *f;
    int rc = al_future_new(s->loop, &f);
    if (rc < 0)
        return rc;
    if ((rc = add_waiter(s, f)) < 0) {
        al_future_unref(f);
        return rc;
    }
    s->refs++;
    rc = al_await(f);
    remove_waiter(s, f);
    al_future_unref(f);
    server_unref(s);
    return rc;
}

int aio_server_serve_forever(aio_server *s)
{
    if (!s)
        return -EINVAL;
    if (s->forever)
        return AL_EINVALIDSTATE;
    int rc = aio_server_start_serving(s);
    if (rc < 0)
        return rc;
    if ((rc = al_future_new(s->loop, &s->forever)) < 0)
        return rc;
    s->refs++;
    rc = al_await(s->forever);
    al_future_unref(s->forever);
    s->forever = NULL;
    if (rc == AL_ECANCELLED && s->fds) {
        /* cancelled from outside: close and wait for the connections, as
         * asyncio does (the task stays cancelled) */
        aio_server_close(s);
        aio_server_wait_closed(s);
    }
    server_unref(s);
    return rc == 0 ? AL_ECANCELLED : rc;
}

/* ---- information ------------------------------------------------------------------ */

size_t aio_server_connections(const aio_server *s)
{
    return s ? s->nclients : 0;
}

size_t aio_server_sockets(const aio_server *s, int *fds, size_t max)
{
    if (!s)
        return 0;
    for (size_t i = 0; fds && i < s->nfds && i < max; i++)
        fds[i] = s->fds[i];
    return s->nfds;
}

int aio_server_sockname(const aio_server *s, size_t i, struct sockaddr_storage *addr,
                        socklen_t *len)
{
    if (!s || !addr || !len)
        return -EINVAL;
    if (i >= s->nfds)
        return -ENOENT;
    socklen_t l = *len;
    if (getsockname(s->fds[i], (struct sockaddr *)addr, &l) < 0)
        return -errno;
    *len = l;
    return 0;
}

int aio_server_port(const aio_server *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = aio_server_sockname(s, 0, &ss, &len);
    if (rc < 0)
        return rc;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

al_loop *aio_server_loop(const aio_server *s)
{
    return s ? s->loop : NULL;
}

/* ---- creating ---------------------------------------------------------------------- */

static int server_new(al_loop *loop, aio_protocol_factory factory, void *arg,
                      const aio_server_options *o, aio_server **out)
{
    if (!loop || !factory || !out)
        return -EINVAL;
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    aio_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->io = io;
    s->factory = factory;
    s->arg = arg;
    int backlog = o->backlog > 0 ? o->backlog : 100;
    s->max_accepts = o->max_accepts > 0 ? o->max_accepts : backlog;
    s->retry_delay = o->accept_retry_delay > 0 ? o->accept_retry_delay : 1.0;
    s->refs = 1;
    s->res.loop_closing = loop_closing;
    *out = s;
    return 0;
}

static int listen_on(aio_server *s, int family, const struct sockaddr *addr, socklen_t len,
                     const aio_server_options *o)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (family != AF_UNIX && !o->no_reuse_address)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (o->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (o->keep_alive && setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0)
        goto fail;
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, addr, len) < 0 || listen(fd, o->backlog > 0 ? o->backlog : 100) < 0)
        goto fail;
    int *v = realloc(s->fds, (s->nfds + 1) * sizeof *v);
    if (!v) {
        close(fd);
        return -ENOMEM;
    }
    s->fds = v;
    s->fds[s->nfds++] = fd;
    return 0;
fail:;
    int err = -errno;
    close(fd);
    return err;
}

/* The server is made: on the loop's list, serving unless start_later. */
static int server_finish(aio_server *s, const aio_server_options *o)
{
    int rc = aio__res_add(s->io, &s->res);
    if (rc < 0)
        return rc;
    if (!o->start_later && (rc = aio_server_start_serving(s)) < 0) {
        aio__res_remove(s->io, &s->res);
        return rc;
    }
    s->refs++; /* the list's, dropped by close */
    return 0;
}

static void server_discard(aio_server *s)
{
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    free(s->fds);
    s->fds = NULL;
    server_unref(s);
}

/* The passive addresses of host:port: through the layer's DNS inside a
 * task on the loop, a blocking getaddrinfo outside one (create_server is
 * callable from plain code, where there is no task to suspend). */
static int resolve(al_loop *loop, const char *host, int port, int family, struct addrinfo **res)
{
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints = {
        .ai_family = family, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    if (al_current_task() && al_get_running_loop() == loop)
        return aio_getaddrinfo(loop, host, serv, &hints, res);
    return aio_eai_code(getaddrinfo(host, serv, &hints, res), errno);
}

static int listen_host(aio_server *s, const char *host, int port, const aio_server_options *o)
{
    struct addrinfo *res = NULL;
    int rc = resolve(s->loop, host, port, o->family, &res);
    for (struct addrinfo *ai = res; rc == 0 && ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET6 && host == NULL) {
            /* all interfaces: an IPv6 socket where the kernel has IPv6 */
            int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (probe < 0)
                continue;
            close(probe);
        }
        rc = listen_on(s, ai->ai_family, ai->ai_addr, ai->ai_addrlen, o);
    }
    if (res)
        freeaddrinfo(res);
    return rc;
}

int aio_create_server(al_loop *loop, aio_protocol_factory factory, void *arg,
                      const char *const *hosts, int port, const aio_server_options *opts,
                      aio_server **out)
{
    aio_server_options o = opts ? *opts : (aio_server_options){0};
    if (port < 0 || port > 65535 || o.backlog < 0)
        return -EINVAL;
    aio_server *s;
    int rc = server_new(loop, factory, arg, &o, &s);
    if (rc < 0)
        return rc;
    if (!hosts)
        rc = listen_host(s, NULL, port, &o);
    for (size_t i = 0; hosts && hosts[i] && rc == 0; i++)
        rc = listen_host(s, hosts[i], port, &o);
    if (rc == 0 && s->nfds == 0)
        rc = AIO_EAI_NONAME;
    if (rc == 0)
        rc = server_finish(s, &o);
    if (rc < 0) {
        server_discard(s);
        return rc;
    }
    *out = s;
    return 0;
}

int aio_create_unix_server(al_loop *loop, aio_protocol_factory factory, void *arg, const char *path,
                           const aio_server_options *opts, aio_server **out)
{
    aio_server_options o = opts ? *opts : (aio_server_options){0};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (!path || !*path || strlen(path) >= sizeof sun.sun_path || o.backlog < 0)
        return -EINVAL;
    strcpy(sun.sun_path, path);
    aio_server *s;
    int rc = server_new(loop, factory, arg, &o, &s);
    if (rc < 0)
        return rc;
    struct stat st;
    if (path[0] != '\0' && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path); /* a stale socket file, as asyncio removes it */
    rc = listen_on(s, AF_UNIX, (struct sockaddr *)&sun, sizeof sun, &o);
    if (rc == 0 && stat(path, &st) == 0 && !o.keep_unix_socket) {
        s->unix_dev = st.st_dev;
        s->unix_ino = st.st_ino;
        if (!(s->unix_path = strdup(path)))
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = server_finish(s, &o);
    if (rc < 0) {
        if (s->nfds)
            unlink(path);
        server_discard(s);
        return rc;
    }
    *out = s;
    return 0;
}

int aio_create_server_sock(al_loop *loop, aio_protocol_factory factory, void *arg, int sock,
                           const aio_server_options *opts, aio_server **out)
{
    aio_server_options o = opts ? *opts : (aio_server_options){0};
    if (sock < 0)
        return -EBADF;
    if (o.backlog < 0)
        return -EINVAL;
    int type, fl, ka;
    socklen_t len = sizeof type, kalen = sizeof ka;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        getsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &ka, &kalen) < 0)
        return -errno;
    if (type != SOCK_STREAM)
        return -EINVAL; /* asyncio: "A Stream Socket was expected" */
    if ((fl = fcntl(sock, F_GETFL)) < 0)
        return -errno;
    aio_server *s;
    int rc = server_new(loop, factory, arg, &o, &s);
    if (rc < 0)
        return rc;
    int *v = malloc(sizeof *v);
    int one = 1;
    if (!v)
        rc = -ENOMEM;
    else if (o.keep_alive && setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0)
        rc = -errno;
    else if (listen(sock, o.backlog > 0 ? o.backlog : 100) < 0)
        rc = -errno;
    else if (fcntl(sock, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(sock, F_SETFD, FD_CLOEXEC) < 0)
        rc = -errno;
    if (rc == 0) {
        s->fds = v;
        s->fds[s->nfds++] = sock;
        if ((rc = server_finish(s, &o)) < 0)
            s->nfds = 0; /* the socket stays the caller's */
    }
    if (rc < 0) {
        if (!s->fds)
            free(v);
        fcntl(sock, F_SETFL, fl);
        setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &ka, sizeof ka);
        server_discard(s);
        return rc;
    }
    *out = s;
    return 0;
}

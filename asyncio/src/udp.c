/* The selector datagram transport (selector_events._SelectorDatagramTransport)
 * and create_datagram_endpoint: one datagram per read into the loop's
 * shared buffer, sends tried at once, queued (with their address) when the
 * socket would block, errors to error_received. */
#include "transport_internal.h"

#include <asynclib/task.h>

#include <asyncio/dns.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct dgram {
    struct dgram *next;
    size_t len;
    socklen_t addrlen; /* 0: the connected peer */
    struct sockaddr_storage addr;
    unsigned char data[];
} dgram;

enum { CONNECTED = 1 }; /* the base's kflags */

typedef struct udp_transport {
    aio_transport base;
    socklen_t peerlen; /* connected: the peer's address */
    struct sockaddr_storage peer;
} udp_transport;

/* The write state while datagrams wait (q.size: their bytes). */
typedef struct udp_wq {
    aio__wq q;
    dgram *head, *tail;
} udp_wq;

static udp_transport *ut_of(aio_transport *t)
{
    return (udp_transport *)t;
}

static udp_wq *wq_of(aio_transport *t)
{
    return (udp_wq *)t->wq;
}

static dgram *queue_head(aio_transport *t)
{
    udp_wq *w = wq_of(t);
    return w ? w->head : NULL;
}

static bool connected(const aio_transport *t)
{
    return (t->kflags & CONNECTED) != 0;
}

static void report(aio_transport *t, int error)
{
    if (t->dproto->error_received)
        t->dproto->error_received(t, error, t->user);
}

static void drop_queue(aio_transport *t)
{
    udp_wq *w = wq_of(t);
    if (!w)
        return;
    while (w->head) {
        dgram *d = w->head;
        w->head = d->next;
        free(d);
    }
    w->tail = NULL;
    aio__wq_drained(t, sizeof(udp_wq));
}

static void ut_abort(aio_transport *t, int error)
{
    if (t->lost)
        return;
    drop_queue(t);
    aio__transport_set_writer(t, NULL);
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    t->closing = true;
    aio__transport_lost(t, error);
}

static void ut_close(aio_transport *t)
{
    t->closing = true;
    aio__set_interest(t->io, t->fd, AIO_READ, NULL, NULL);
    if (!queue_head(t))
        aio__transport_lost(t, 0);
}

static int read_ready(al_loop *loop, void *arg)
{
    (void)loop;
    aio_transport *t = arg;
    if (t->closing || !t->reading)
        return 0;
    size_t size;
    void *buf = aio__read_buffer(t->io, &size);
    if (!buf)
        return 0;
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(t->fd, buf, size, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
    aio_transport_ref(t);
    if (n >= 0 && t->dproto->datagram_received)
        t->dproto->datagram_received(t, buf, (size_t)n, (struct sockaddr *)&from, fromlen, t->user);
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        report(t, -errno); /* ECONNREFUSED after an ICMP error: the endpoint stays */
    aio_transport_unref(t);
    return 0;
}

static int ut_set_reading(aio_transport *t, bool on)
{
    int rc = aio__set_interest(t->io, t->fd, AIO_READ, on ? read_ready : NULL, t);
    return rc < 0 ? rc : 0;
}

static ssize_t send_one(aio_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                        socklen_t addrlen)
{
    if (connected(t) || !addr)
        return send(t->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return sendto(t->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, addr, addrlen);
}

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ENOBUFS;
}

static bool same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr_storage *b,
                      socklen_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static int write_ready(al_loop *loop, void *arg);

static int ut_sendto(aio_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                     socklen_t addrlen)
{
    udp_transport *u = ut_of(t);
    if (addr && (addrlen == 0 || addrlen > sizeof(struct sockaddr_storage)))
        return -EINVAL;
    if (connected(t) && addr && !same_addr(addr, addrlen, &u->peer, u->peerlen))
        return -EISCONN; /* asyncio: "Invalid address: must be None or <peer>" */
    if (!connected(t) && !addr)
        return -EDESTADDRREQ;
    if (t->closing)
        return 0; /* dropped */
    if (!queue_head(t)) {
        if (send_one(t, data, len, addr, addrlen) >= 0)
            return 0;
        if (!would_block(errno)) {
            report(t, -errno);
            return 0;
        }
    }
    udp_wq *w = (udp_wq *)aio__wq_get(t);
    dgram *d = w ? malloc(sizeof *d + len) : NULL;
    if (!d) {
        if (w && !w->head)
            aio__wq_drained(t, sizeof(udp_wq));
        return -ENOMEM;
    }
    int rc = aio__transport_set_writer(t, write_ready);
    if (rc < 0) { /* it could never be sent: refused, nothing queued */
        free(d);
        if (!w->head)
            aio__wq_drained(t, sizeof(udp_wq));
        return rc;
    }
    d->next = NULL;
    d->len = len;
    d->addrlen = addr ? addrlen : 0;
    if (addr)
        memcpy(&d->addr, addr, addrlen);
    if (len)
        memcpy(d->data, data, len);
    if (w->tail)
        w->tail->next = d;
    else
        w->head = d;
    w->tail = d;
    w->q.size += len;
    aio__transport_flow(t);
    return 0;
}

static int write_ready(al_loop *loop, void *arg)
{
    (void)loop;
    aio_transport *t = arg;
    aio_transport_ref(t);
    udp_wq *w;
    while ((w = wq_of(t)) && w->head && !t->lost) {
        dgram *d = w->head;
        ssize_t n = send_one(t, d->data, d->len, d->addrlen ? (struct sockaddr *)&d->addr : NULL,
                             d->addrlen);
        if (n < 0 && would_block(errno))
            break;
        w->head = d->next;
        if (!w->head)
            w->tail = NULL;
        w->q.size -= d->len;
        free(d);
        if (n < 0)
            report(t, -errno);
    }
    if (!t->lost) {
        aio__transport_flow(t);
        if (!queue_head(t)) {
            drop_queue(t);
            aio__transport_set_writer(t, NULL);
            if (t->closing)
                aio__transport_lost(t, 0);
        }
    }
    aio_transport_unref(t);
    return 0;
}

static void ut_free(aio_transport *t)
{
    drop_queue(t);
    free(wq_of(t));
    free(t);
}

static const aio__transport_ops udp_ops = {
    .wq_size = sizeof(udp_wq),
    .set_reading = ut_set_reading,
    .close = ut_close,
    .abort = ut_abort,
    .sendto = ut_sendto,
    .free = ut_free,
};

/* ---- create_datagram_endpoint --------------------------------------------------------- */

/* host:port for datagram sockets through the layer's DNS. */
static int resolve(al_loop *loop, const char *host, int port, int family, int flags,
                   struct addrinfo **res)
{
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM, .ai_flags = flags};
    return aio_getaddrinfo(loop, host, serv, &hints, res);
}

/* The socket, bound and/or connected as asked: the fd or a negative code. */
static int endpoint_socket(al_loop *loop, const aio_datagram_options *o, udp_transport *u)
{
    struct addrinfo *local = NULL, *remote = NULL;
    int rc = 0, family = o->family;
    if (o->remote_host)
        rc = resolve(loop, o->remote_host, o->remote_port, family, 0, &remote);
    if (rc == 0 && remote)
        family = remote->ai_family;
    if (rc == 0 && (o->local_host || o->local_port))
        rc = resolve(loop, o->local_host, o->local_port, family, AI_PASSIVE, &local);
    if (rc == 0 && local)
        family = local->ai_family;
    int fd = -1;
    if (rc == 0 && (fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        rc = -errno;
    int one = 1;
    if (rc == 0 && o->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one))
        rc = -errno;
    if (rc == 0 && o->allow_broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one))
        rc = -errno;
    if (rc == 0 && local && bind(fd, local->ai_addr, local->ai_addrlen) < 0)
        rc = -errno;
    if (rc == 0 && remote) {
        if (connect(fd, remote->ai_addr, remote->ai_addrlen) < 0) {
            rc = -errno;
        } else {
            u->base.kflags |= CONNECTED;
            u->peerlen = remote->ai_addrlen;
            memcpy(&u->peer, remote->ai_addr, remote->ai_addrlen);
        }
    }
    if (local)
        freeaddrinfo(local);
    if (remote)
        freeaddrinfo(remote);
    if (rc < 0 && fd >= 0)
        close(fd);
    return rc < 0 ? rc : fd;
}

/* A Unix datagram socket bound to local_path and/or connected to
 * remote_path (family=AF_UNIX): a socket file left at local_path is
 * replaced, as asyncio removes it. */
static int unix_socket(const aio_datagram_options *o, udp_transport *u)
{
    struct sockaddr_un local = {.sun_family = AF_UNIX}, remote = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (o->local_path) {
        strcpy(local.sun_path, o->local_path);
        struct stat st;
        if (stat(o->local_path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(o->local_path);
        if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0)
            rc = -errno;
    }
    if (rc == 0 && o->remote_path) {
        strcpy(remote.sun_path, o->remote_path);
        if (connect(fd, (struct sockaddr *)&remote, sizeof remote) < 0) {
            rc = -errno;
        } else {
            u->base.kflags |= CONNECTED;
            u->peerlen = sizeof remote;
            memcpy(&u->peer, &remote, sizeof remote);
        }
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

static bool path_ok(const char *path)
{
    return !path || (*path && strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path));
}

/* The transport over fd (owned from here on); returns once
 * connection_made has run. */
static int endpoint_start(al_loop *loop, udp_transport *u, int fd,
                          const aio_datagram_protocol *proto, void *user, aio_transport **out)
{
    aio_transport *t = &u->base;
    int rc;
    if ((rc = aio__transport_init(t, &udp_ops, loop, fd, NULL, proto, user, NULL)) < 0 ||
        (rc = aio__transport_start(t)) < 0) {
        aio__transport_discard(t);
        close(fd);
        free(u);
        return rc;
    }
    return aio__transport_await_made(t, out);
}

int aio_create_datagram_endpoint(al_loop *loop, const aio_datagram_protocol *proto, void *user,
                                 const aio_datagram_options *opts, aio_transport **out)
{
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    if (!proto || !opts)
        return -EINVAL;
    bool inet = opts->local_host || opts->local_port || opts->remote_host;
    bool unix_ = opts->local_path || opts->remote_path;
    if (inet == unix_ || opts->local_port < 0 || opts->local_port > 65535 ||
        opts->remote_port < 0 || opts->remote_port > 65535 || !path_ok(opts->local_path) ||
        !path_ok(opts->remote_path) || (unix_ && opts->family && opts->family != AF_UNIX) ||
        (unix_ && (opts->reuse_port || opts->allow_broadcast)))
        return -EINVAL;
    if (!al_current_task() || al_get_running_loop() != loop)
        return AL_ENOTINTASK;
    udp_transport *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    int fd = unix_ ? unix_socket(opts, u) : endpoint_socket(loop, opts, u);
    if (fd < 0) {
        free(u);
        return fd;
    }
    return endpoint_start(loop, u, fd, proto, user, out);
}

int aio_create_datagram_endpoint_sock(al_loop *loop, const aio_datagram_protocol *proto, void *user,
                                      int sock, aio_transport **out)
{
    aio__io *io;
    int rc = aio__io_get(loop, &io);
    if (rc < 0)
        return rc;
    if (sock < 0)
        return -EBADF;
    if (!proto)
        return -EINVAL;
    if (!al_current_task() || al_get_running_loop() != loop)
        return AL_ENOTINTASK;
    int type, fl;
    socklen_t len = sizeof type;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -errno;
    if (type != SOCK_DGRAM)
        return -EINVAL; /* asyncio: "A datagram socket was expected" */
    if ((fl = fcntl(sock, F_GETFL)) < 0)
        return -errno;
    /* the transport's from here on */
    udp_transport *u = calloc(1, sizeof *u);
    if (!u || fcntl(sock, F_SETFL, fl | O_NONBLOCK) < 0) {
        rc = u ? -errno : -ENOMEM;
        free(u);
        close(sock);
        return rc;
    }
    u->peerlen = sizeof u->peer;
    if (getpeername(sock, (struct sockaddr *)&u->peer, &u->peerlen) == 0)
        u->base.kflags |= CONNECTED; /* sendto without an address goes there */
    return endpoint_start(loop, u, sock, proto, user, out);
}

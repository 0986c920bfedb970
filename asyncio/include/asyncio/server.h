/* Servers and connections: asyncio's create_server, create_unix_server,
 * Server, create_connection, create_unix_connection and
 * connect_accepted_socket.
 *
 * A server listens on one socket per resolved address; each accepted
 * connection gets a transport (transport.h) and a protocol from the
 * server's factory. Accepting happens in batches (at most max_accepts per
 * loop iteration); when the process or system runs out of fds (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM) the server stops accepting for
 * accept_retry_delay seconds, reports the error to the loop's exception
 * handler, and then resumes (the pending connections wait in the
 * backlog), rather than spinning.
 *
 * Lifetime: *out of the create calls is the caller's reference; release
 * it with aio_server_free (which closes the server first if needed). The
 * connections keep the server's memory alive until they are gone. Closing
 * the loop closes the listening sockets of every server still open.
 *
 * Threads: the loop's thread only. The calls marked "task" suspend the
 * calling task and must be called from a task on the server's loop.
 */
#ifndef ASYNCIO_SERVER_H
#define ASYNCIO_SERVER_H

#include <asynclib/loop.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <asyncio/export.h>
#include <asyncio/protocol.h>
#include <asyncio/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aio_server aio_server;

/* Zeroed options mean asyncio's defaults. */
typedef struct aio_server_options {
    int family;                /* AF_UNSPEC (0): every family the hosts resolve to */
    int backlog;               /* listen() backlog; 0: 100 */
    bool reuse_port;           /* SO_REUSEPORT */
    bool no_reuse_address;     /* SO_REUSEADDR is set unless this is true */
    bool start_later;          /* start_serving=False: listen, accept only after
                                  aio_server_start_serving / serve_forever */
    bool keep_unix_socket;     /* cleanup_socket=False: leave the path on close */
    bool keep_alive;           /* SO_KEEPALIVE on the listening sockets, which the
                                  accepted connections inherit (asyncio's keep_alive) */
    int max_accepts;           /* accepts per iteration; 0: the backlog */
    double accept_retry_delay; /* pause after EMFILE & co., seconds; 0: 1.0 */
} aio_server_options;

/* Listens on port (0: the kernel picks one, per socket; see
 * aio_server_sockname) of every address of the hosts (a NULL-terminated
 * list of names or numeric addresses; NULL: all interfaces, IPv4 and
 * IPv6), with SO_REUSEADDR (unless opts says not), IPV6_V6ONLY on IPv6
 * sockets, non-blocking close-on-exec sockets. A name that is not numeric
 * is resolved in the loop's executor when called from a task (blocking
 * otherwise). Serves at once unless opts->start_later. opts may be NULL.
 * 0 with *out set, or a negative code and nothing left open: -EINVAL
 * (NULL loop, factory or out, port out of 0..65535), -EADDRINUSE,
 * AIO_EAI_* (resolution), -EMFILE, -ENOMEM, AL_ENOTIOLOOP,
 * AL_ELOOPCLOSED. */
AIO_API int aio_create_server(al_loop *loop, aio_protocol_factory factory, void *arg,
                              const char *const *hosts, int port, const aio_server_options *opts,
                              aio_server **out);

/* The same on a Unix stream socket at path (a socket file left at path is
 * replaced, any other file gives -EADDRINUSE). On close the path is
 * removed unless it was replaced meanwhile or opts->keep_unix_socket. */
AIO_API int aio_create_unix_server(al_loop *loop, aio_protocol_factory factory, void *arg,
                                   const char *path, const aio_server_options *opts,
                                   aio_server **out);

/* The same on sock, a bound stream socket made elsewhere (asyncio's
 * create_server(sock=...)): it is made non-blocking and close-on-exec and
 * listen()ed with opts->backlog (already listening is fine). On success
 * the server owns sock (closed with the server); on failure it is left as
 * it was, the caller's. opts->family, reuse_port, no_reuse_address and
 * keep_unix_socket do not apply (the socket is already bound; a Unix
 * path is not removed); keep_alive does. -EBADF (sock < 0), -ENOTSOCK,
 * -EINVAL (not SOCK_STREAM, or the arguments of aio_create_server),
 * the errors of listen (-EDESTADDRREQ...), -ENOMEM. */
AIO_API int aio_create_server_sock(al_loop *loop, aio_protocol_factory factory, void *arg, int sock,
                                   const aio_server_options *opts, aio_server **out);

/* Starts accepting (idempotent). AIO_ESERVERCLOSED when closed, -ENOMEM
 * (not serving; nothing changed). */
AIO_API int aio_server_start_serving(aio_server *s);
/* Task: starts serving and waits until cancelled, then closes the server
 * and waits for its connections (wait_closed) before returning
 * AL_ECANCELLED. Also returns AL_ECANCELLED when aio_server_close ends it.
 * AL_EINVALIDSTATE when another serve_forever runs, AIO_ESERVERCLOSED when
 * closed. */
AIO_API int aio_server_serve_forever(aio_server *s);
/* Stops listening: the listening sockets are closed (the Unix path
 * removed), the connections stay open. Idempotent. */
AIO_API void aio_server_close(aio_server *s);
/* Closes (flushing) / aborts every connection of the server. */
AIO_API void aio_server_close_clients(aio_server *s);
AIO_API void aio_server_abort_clients(aio_server *s);
/* Task: returns once the server is closed and its last connection gone
 * (at once if so already). 0, AL_ECANCELLED. */
AIO_API int aio_server_wait_closed(aio_server *s);
AIO_API bool aio_server_is_serving(const aio_server *s);
/* Connections currently open. */
AIO_API size_t aio_server_connections(const aio_server *s);
/* The listening sockets (borrowed): copies up to max fds into fds and
 * returns how many there are (0 once closed). */
AIO_API size_t aio_server_sockets(const aio_server *s, int *fds, size_t max);
/* The address socket i listens on (the bound port for port 0). 0,
 * -ENOENT (no socket i), -EINVAL. */
AIO_API int aio_server_sockname(const aio_server *s, size_t i, struct sockaddr_storage *addr,
                                socklen_t *len);
/* The port of the first listening socket, or a negative code. */
AIO_API int aio_server_port(const aio_server *s);
AIO_API al_loop *aio_server_loop(const aio_server *s);
/* Closes the server if open and drops the caller's reference; NULL does
 * nothing. */
AIO_API void aio_server_free(aio_server *s);

/* ---- connecting ---------------------------------------------------------------- */

struct addrinfo;

typedef struct aio_connect_options {
    int family;                   /* AF_UNSPEC (0): any */
    const struct addrinfo *addrs; /* addresses to try, in this order, instead of
                                     resolving host (host may be NULL); the
                                     caller's, borrowed for the call */
    const char *local_host;       /* bind to this address first (NULL: no bind) */
    int local_port;               /* with local_host */
    double happy_eyeballs_delay;  /* > 0: staggered attempts (RFC 8305) this far
                                     apart; 0: one by one */
    int interleave;               /* reorder the addresses by family first
                                     (_interleave_addrinfos): n > 0 takes n of the
                                     first family first, then one of each family
                                     in turn; 0: asyncio's default (1 with happy
                                     eyeballs, none without); < 0: never */
    bool keep_alive;              /* SO_KEEPALIVE on the connected socket */
    double timeout;               /* > 0: the whole call, through a timeout scope
                                     (AL_ETIMEOUT); 0: none */
    int *errors;                  /* when all attempts fail: their errors (may be NULL) */
    size_t errors_max;            /* room in errors */
    size_t *nerrors;              /* how many attempts failed (may be NULL) */
} aio_connect_options;

/* Task: resolves host and port (as aio_create_server; no AI_ADDRCONFIG,
 * so loopback names resolve on a machine without a network), connects to
 * the addresses (in order, or staggered: the first to connect wins, the
 * others are cancelled and closed), and makes a transport with the given
 * protocol. Returns once connection_made has run: 0 with *out the
 * transport (borrowed: it lives until connection_lost; take a reference
 * to keep it longer), or NULL when connection_lost has already run before
 * the call returns (the protocol closed the transport inside
 * connection_made: its end comes first, as in CPython; the protocol got
 * made and lost, once each). When every attempt fails: their common error, or
 * AIO_EMULTIPLE when they differ (each in opts->errors). Other errors:
 * -EINVAL, AIO_EAI_*, AL_ETIMEOUT, AL_ECANCELLED, AL_ENOTINTASK, -ENOMEM.
 * On an error proto is never called (user is the caller's again), unless
 * connection_made had run: after a cancel from inside it connection_lost
 * follows, once; when reading could not be set up right after it
 * (-ENOMEM), connection_lost(error) has run before the call returns. */
AIO_API int aio_create_connection(al_loop *loop, const aio_protocol *proto, void *user,
                                  const char *host, int port, const aio_connect_options *opts,
                                  aio_transport **out);

/* Task: the same over a Unix stream socket connected to path. Errors:
 * -EINVAL (NULL proto; path NULL, empty or longer than sun_path), AIO_ENOTIOLOOP,
 * AL_ENOTINTASK (not called from a task of loop), the connect's error
 * (-ENOENT: no socket file, -ECONNREFUSED: nobody listening...),
 * -ENOMEM, AL_ECANCELLED. Nothing is left open on an error. */
AIO_API int aio_create_unix_connection(al_loop *loop, const aio_protocol *proto, void *user,
                                       const char *path, aio_transport **out);

/* Task: a transport over fd, a connected stream socket made elsewhere
 * (the transport owns it from here on, also on failure: it is closed).
 * Returns once connection_made has run, *out as for
 * aio_create_connection. Errors: -EBADF (fd < 0: nothing closed), -EINVAL
 * (NULL proto), AIO_ENOTIOLOOP, AL_ENOTINTASK, -ENOMEM, AL_ECANCELLED. */
AIO_API int aio_connect_accepted_socket(al_loop *loop, const aio_protocol *proto, void *user,
                                        int fd, aio_transport **out);

/* ---- datagrams ------------------------------------------------------------------- */

typedef struct aio_datagram_options {
    int family;              /* AF_UNSPEC (0): from the addresses */
    const char *local_host;  /* bind here (NULL: no bind unless local_port) */
    int local_port;          /* 0: the kernel picks */
    const char *remote_host; /* connect here (NULL: unconnected) */
    int remote_port;
    bool reuse_port;      /* SO_REUSEPORT */
    bool allow_broadcast; /* SO_BROADCAST */
    /* A Unix datagram endpoint (family=AF_UNIX) instead of the above:
     * bound to local_path (a socket file there is replaced; the file is
     * left on close, as asyncio leaves it) and/or connected to
     * remote_path. Not with the host/port fields. */
    const char *local_path;
    const char *remote_path;
} aio_datagram_options;

/* Task: a UDP endpoint (create_datagram_endpoint): a socket bound to the
 * local address and/or connected to the remote one (numeric addresses or
 * names, as aio_create_connection), with a datagram transport driving
 * proto. Returns once connection_made has run, with *out (borrowed, as
 * aio_create_connection's). Send with aio_transport_sendto; its write
 * buffer has its own watermarks (aio_transport_set_write_buffer_limits).
 * Errors: -EINVAL (no address at all, NULL proto, host/port fields
 * with Unix paths, a path too long, reuse_port or allow_broadcast or a
 * family other than AF_UNIX with paths), AIO_EAI_*, the errors of
 * socket/bind/connect (-EADDRINUSE, -ECONNREFUSED for a Unix
 * remote_path nobody bound...), AL_ENOTINTASK. */
AIO_API int aio_create_datagram_endpoint(al_loop *loop, const aio_datagram_protocol *proto,
                                         void *user, const aio_datagram_options *opts,
                                         aio_transport **out);

/* Task: the same over sock, a datagram socket made elsewhere
 * (create_datagram_endpoint(sock=...)), of any family, bound and/or
 * connected or not (connected: sendto without an address goes to its
 * peer). The refusals (-EBADF for sock < 0, -ENOTSOCK, -EINVAL: not
 * SOCK_DGRAM or NULL proto, AL_ENOTINTASK) leave sock as it was, the
 * caller's; past them the endpoint owns it (made non-blocking, closed
 * with the endpoint, also when this fails: -ENOMEM, AL_ECANCELLED). */
AIO_API int aio_create_datagram_endpoint_sock(al_loop *loop, const aio_datagram_protocol *proto,
                                              void *user, int sock, aio_transport **out);

#ifdef __cplusplus
}
#endif
#endif

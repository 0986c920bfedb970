/* Servers and connections over the three families for the transport,
 * server and stream tests. */
#ifndef NET_UTIL_H
#define NET_UTIL_H

#include "sm_proto.h"

/* The loopback host of family f ("127.0.0.1", "::1"), NULL for Unix. */
const char *nu_host(ac_family f);
/* A fresh Unix socket path (not created). */
const char *nu_path(char *buf, size_t size);

/* A server of family f on loopback (port 0 / a fresh path in path[108])
 * with factory; asserts success. */
aio_server *nu_serve(ac_family f, aio_protocol_factory factory, void *arg,
                     const aio_server_options *o, char *path);
/* Task: connects a client of family f to s (path for Unix) with the
 * protocol; the result of the create call. */
int nu_connect(ac_family f, aio_server *s, const char *path, const aio_protocol *proto, void *user,
               aio_transport **out);

/* Task: closes t, waits for its connection_lost(0) and checks the
 * protocol's order in s, then closes the peer's socket and releases s:
 * the end of a "transport + peer socket" case. */
void nu_close_pair(sm *s, aio_transport *t, int peer);

/* Task: closes srv (if not yet), waits for wait_closed and for cl's
 * connection_lost(0), checks that cl and every protocol of pool ended in
 * order and cleanly, frees srv and releases cl and pool: the end of a
 * "server + one client" case. */
void nu_end_server(aio_server *srv, sm *cl, sm_pool *pool);

/* A loopback address of family f (AC_INET or AC_INET6) and port in *ss,
 * as one addrinfo (malloc'd, pointing into ss; free it). */
struct addrinfo *nu_addr(ac_family f, int port, struct sockaddr_storage *ss);
/* A loopback port of family f where nothing listens (bound, then closed). */
int nu_closed_port(ac_family f);

/* Skips the IPv6 case (printing why) when ::1 cannot be bound. */
#define NU_NEED_FAMILY(f)                                                                          \
    do {                                                                                           \
        if ((f) == AC_INET6 && !ac_have_ipv6()) {                                                  \
            printf("IPv6 not available: case not run\n");                                          \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif

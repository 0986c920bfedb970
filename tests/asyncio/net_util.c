#include "net_util.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *nu_host(ac_family f)
{
    return f == AC_INET ? "127.0.0.1" : f == AC_INET6 ? "::1" : NULL;
}

const char *nu_path(char *buf, size_t size)
{
    static int counter;
    snprintf(buf, size, "/tmp/aio-net-%d-%d.sock", (int)getpid(), counter++);
    unlink(buf);
    return buf;
}

aio_server *nu_serve(ac_family f, aio_protocol_factory factory, void *arg,
                     const aio_server_options *o, char *path)
{
    aio_server *s = NULL;
    int rc;
    if (f == AC_UNIX) {
        nu_path(path, 108);
        rc = aio_create_unix_server(ac_loop(), factory, arg, path, o, &s);
    } else {
        const char *hosts[] = {nu_host(f), NULL};
        rc = aio_create_server(ac_loop(), factory, arg, hosts, 0, o, &s);
    }
    ck_assert_msg(rc == 0, "create_server(%s): %s", ac_family_name[f], aio_strerror(rc));
    return s;
}

int nu_connect(ac_family f, aio_server *s, const char *path, const aio_protocol *proto, void *user,
               aio_transport **out)
{
    if (f == AC_UNIX)
        return aio_create_unix_connection(ac_loop(), proto, user, path, out);
    return aio_create_connection(ac_loop(), proto, user, nu_host(f), aio_server_port(s), NULL, out);
}

struct addrinfo *nu_addr(ac_family f, int port, struct sockaddr_storage *ss)
{
    struct addrinfo *ai = calloc(1, sizeof *ai);
    ck_assert_ptr_nonnull(ai);
    memset(ss, 0, sizeof *ss);
    if (f == AC_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ai->ai_addrlen = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        ai->ai_addrlen = sizeof *a;
    }
    ai->ai_family = ss->ss_family;
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_addr = (struct sockaddr *)ss;
    return ai;
}

int nu_closed_port(ac_family f)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    int l = ac_listener(f, &a, &len);
    close(l);
    return ntohs(((struct sockaddr_in *)&a)->sin_port);
}

void nu_close_pair(sm *s, aio_transport *t, int peer)
{
    aio_transport_close(t);
    ck_assert_int_eq(sm_wait_lost(s), 0);
    sm_check_closed(s, 0);
    close(peer);
    sm_fini(s);
}

void nu_end_server(aio_server *srv, sm *cl, sm_pool *pool)
{
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    ck_assert_int_eq(sm_wait_lost(cl), 0);
    sm_check_closed(cl, 0);
    for (size_t i = 0; i < pool->used; i++)
        sm_check_closed(&pool->slots[i], 0);
    aio_server_free(srv);
    sm_fini(cl);
    sm_pool_fini(pool);
}

#include "net_util.h"

#include <stdio.h>
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

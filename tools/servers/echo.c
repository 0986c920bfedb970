/* asyncio-echo: the TCP echo server, written on each level of the I/O
 * layer so that they can be compared (see --help). */
#include "conn_server.h"

#include <string.h>

static const char *const apis[] = {"sockets", NULL};
static const srv_desc desc; /* defined below: serve() needs it */

static int serve(const srv_options *o)
{
    static const conn_handler echo = {0}; /* no feed: bytes go back as read */
    if (strcmp(o->api, "sockets") == 0)
        return conn_server_run(&desc, o, &echo, NULL);
    return 2;
}

static const srv_desc desc = {
    .name = "asyncio-echo",
    .summary = "TCP echo server on the asynclib I/O layer (every byte sent back until EOF)",
    .default_port = 8888,
    .apis = apis,
    .extra_help = "                   sockets: a task per connection over aio_sock_recv_into /\n"
                  "                   aio_sock_sendall, a task accepting with aio_sock_accept\n",
    .example = "asyncio-echo --port 8888 --selector epoll --api sockets",
    .serve = serve,
};

int main(int argc, char **argv)
{
    return srv_main(&desc, argc, argv);
}

/* asyncio-echo: the TCP echo server, written on each level of the I/O
 * layer so that they can be compared (see --help). */
#include "conn_server.h"

#include <string.h>

int echo_serve_streams(const srv_desc *d, const srv_options *o); /* echo_streams.c */

static const char *const apis[] = {"protocol", "buffered", "streams", "sockets", NULL};
static const srv_desc desc; /* defined below: serve() needs it */

static int serve(const srv_options *o)
{
    static const conn_handler echo = {0}; /* no feed: bytes go back as read */
    if (strcmp(o->api, "streams") == 0)
        return echo_serve_streams(&desc, o);
    return conn_server_run_api(&desc, o, &echo, NULL);
}

static const srv_desc desc = {
    .name = "asyncio-echo",
    .summary = "TCP echo server on the asynclib I/O layer (every byte sent back until EOF)",
    .default_port = 8888,
    .apis = apis,
    .extra_help =
        "                   protocol: aio_create_server, data_received writes back\n"
        "                   buffered: the same with a buffered protocol (get_buffer)\n"
        "                   streams:  aio_start_server, a task per connection with\n"
        "                             aio_stream_read / write / drain\n"
        "                   sockets:  a task per connection over aio_sock_recv_into /\n"
        "                             aio_sock_sendall, a task accepting (aio_sock_accept)\n",
    .example = "asyncio-echo --port 8888 --selector epoll --api protocol",
    .serve = serve,
};

int main(int argc, char **argv)
{
    return srv_main(&desc, argc, argv);
}

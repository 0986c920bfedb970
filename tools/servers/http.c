/* asyncio-http: an HTTP/1.1 keep-alive server answering GET / with
 * "Hello, World!" on the I/O layer: conn_server's connections, http_conn's
 * request handling (libhttp-parser). */
#include "conn_server.h"
#include "http_conn.h"

static void conn_init(void *state, void *shared)
{
    (void)shared;
    http_conn_init(state, NULL);
}

static int feed(void *state, char *data, size_t len, bytebuf *out, void *shared)
{
    (void)shared;
    int r = http_conn_feed(state, data, len, out);
    return r < 0 ? r : r == HTTP_CONN_CLOSE ? CONN_CLOSE : CONN_OPEN;
}

static const conn_handler handler = {sizeof(http_conn), conn_init, feed, NULL, NULL};
static const srv_desc desc; /* defined below: serve() needs it */

static int serve(const srv_options *o)
{
    return conn_server_run_api(&desc, o, &handler, NULL);
}

static const srv_desc desc = {
    .name = "asyncio-http",
    .summary = "HTTP/1.1 server on the asynclib I/O layer: GET / answers 'Hello, World!'",
    .apis = conn_server_apis,
    .default_port = 8080,
    .extra_help =
        "\nKeep-alive, pipelined requests answered in order, 'Connection: close' honoured;\n"
        "another path 404, another method 405; a malformed request 400, a request head\n"
        "over 8 KiB 431, a body over 1 MiB 413, an HTTP version other than 1.x 505,\n"
        "then the connection is closed.\n",
    .example = "asyncio-http --port 8080 & wrk -t1 -c64 -d5s http://127.0.0.1:8080/",
    .serve = serve,
};

int main(int argc, char **argv)
{
    return srv_main(&desc, argc, argv);
}

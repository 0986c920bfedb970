/* echo_streams: a TCP echo server (aio_start_server: a task per connection
 * with a reader and a writer) and a client (aio_open_connection: write,
 * drain, readexactly, close, wait_closed) on 127.0.0.1, a port the kernel
 * picks. Bounded by al_wait_for; exits 0 only if the echo matches. */
#include "check.h"

#include <asyncio/asyncio.h>

#include <stdint.h>
#include <string.h>

static const char msg[] = "hello through streams\n";

static int echo(aio_stream_reader *r, aio_stream_writer *w, void *arg) /* its own task */
{
    (void)arg;
    char buf[4096];
    ssize_t n;
    while ((n = aio_stream_read(r, buf, sizeof buf)) > 0) { /* 0: end of stream */
        CHECK(aio_stream_write(w, buf, (size_t)n));
        CHECK(aio_stream_drain(w)); /* backpressure */
    }
    return (int)n; /* the writer is closed when this returns */
}

static int client(void *arg, void **result)
{
    (void)result;
    int port = (int)(intptr_t)arg;
    aio_stream_reader *r;
    aio_stream_writer *w;
    char buf[sizeof msg];
    CHECK(aio_open_connection(al_get_running_loop(), "127.0.0.1", port, NULL, 0, &r, &w));
    int rc = aio_stream_write(w, msg, strlen(msg));
    if (rc == 0)
        rc = aio_stream_drain(w);
    if (rc == 0)
        rc = aio_stream_readexactly(r, buf, strlen(msg), NULL);
    aio_stream_close(w);
    int closed = aio_stream_wait_closed(w);
    aio_stream_reader_free(r);
    aio_stream_writer_free(w);
    CHECK(rc);
    CHECK(closed);
    return memcmp(buf, msg, strlen(msg)) == 0 ? 0 : AL_EFAILED;
}

static int main_task(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = al_get_running_loop();
    const char *hosts[] = {"127.0.0.1", NULL};
    aio_server *srv;
    al_task *cl = NULL;
    CHECK(aio_start_server(loop, echo, NULL, hosts, 0, NULL, 0, &srv));
    int port = aio_server_port(srv), rc = port < 0 ? port : 0;
    if (rc == 0)
        rc = al_task_new(loop, client, (void *)(intptr_t)port, NULL, &cl);
    if (rc == 0)
        rc = al_wait_for(al_task_future(cl), 10.0); /* bounded: 10 s at most */
    if (cl)
        al_task_unref(cl);
    aio_server_close(srv);
    if (rc == 0)
        rc = aio_server_wait_closed(srv); /* the connection's task is done */
    aio_server_free(srv);
    CHECK(rc);
    printf("echo_streams: %zu bytes echoed on 127.0.0.1:%d (%s)\n", strlen(msg), port,
           aio_loop_backend(loop));
    return 0;
}

int main(void)
{
    return example_exit("echo_streams", aio_run(main_task, NULL, NULL, NULL));
}

/* tcp_echo: a TCP echo server and its clients with the socket coroutines
 * (aio_sock_accept, aio_sock_recv_into, aio_sock_sendall, aio_sock_connect)
 * on an I/O loop (aio_run). The server listens on 127.0.0.1 (a port the
 * kernel picks), runs one task per connection; three clients send lines
 * and check the echo; then the server task is cancelled. */
#include "check.h"

#include <asyncio/asyncio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static int echo_client_conn(void *arg, void **result) /* one task per connection */
{
    (void)result;
    int fd = (int)(intptr_t)arg;
    al_loop *loop = al_get_running_loop();
    char buf[4096];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = aio_sock_recv_into(loop, fd, buf, sizeof buf)) > 0)
        rc = aio_sock_sendall(loop, fd, buf, (size_t)n, NULL);
    close(fd);
    return rc < 0 ? rc : n < 0 ? (int)n : 0; /* n: 0 the peer closed, < 0 an error */
}

static int server(void *arg, void **result) /* accepts until cancelled */
{
    (void)result;
    int listener = (int)(intptr_t)arg;
    al_loop *loop = al_get_running_loop();
    for (;;) {
        int fd = aio_sock_accept(loop, listener, NULL, NULL);
        if (fd == AL_ECANCELLED)
            return 0;
        CHECK(fd);
        int rc = al_task_new(loop, echo_client_conn, (void *)(intptr_t)fd, NULL, NULL);
        if (rc < 0)
            close(fd); /* the task that would have closed it does not exist */
        CHECK(rc);
    }
}

static int client(void *arg, void **result)
{
    (void)result;
    const struct sockaddr_in *addr = arg;
    al_loop *loop = al_get_running_loop();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    CHECK(aio_sock_connect(loop, fd, (const struct sockaddr *)addr, sizeof *addr));
    const char *lines[] = {"hello\n", "asyncio in C\n", "bye\n"};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(lines[i]), got = 0;
        char buf[64];
        CHECK(aio_sock_sendall(loop, fd, lines[i], len, NULL));
        while (got < len) {
            ssize_t n = aio_sock_recv_into(loop, fd, buf + got, len - got);
            CHECK(n == 0 ? AL_EINCOMPLETE : (int)n);
            got += (size_t)n;
        }
        if (memcmp(buf, lines[i], len) != 0)
            return AL_EFAILED;
    }
    close(fd);
    return 0;
}

static int main_task(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = al_get_running_loop();
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, len) < 0 ||
        listen(listener, 16) < 0 || getsockname(listener, (struct sockaddr *)&addr, &len) < 0)
        return AL_EFAILED;
    al_task *srv, *clients[3];
    CHECK(al_task_new(loop, server, (void *)(intptr_t)listener, NULL, &srv));
    for (int i = 0; i < 3; i++)
        CHECK(al_task_new(loop, client, &addr, NULL, &clients[i]));
    for (int i = 0; i < 3; i++) {
        CHECK(al_await(al_task_future(clients[i])));
        al_task_unref(clients[i]);
    }
    al_task_cancel(srv, NULL);
    CHECK(al_await(al_task_future(srv)));
    al_task_unref(srv);
    close(listener);
    printf("tcp_echo: 3 clients echoed on 127.0.0.1:%d (%s)\n", ntohs(addr.sin_port),
           aio_loop_backend(loop));
    return 0;
}

int main(void)
{
    return example_exit("tcp_echo", aio_run(main_task, NULL, NULL, NULL));
}

/* An out-of-tree program built against the installed asynclib package:
 * a task sleeps 10 ms on a real-clock loop, the default selector is opened
 * and closed, and a task on an I/O loop exchanges bytes over a socketpair
 * with the socket coroutines. Exit status 0 means the three layers work
 * when installed. */
#include <asynclib/asynclib.h>
#include <asyncio/asyncio.h>
#include <selectors/selectors.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sleeper(void *arg, void **result)
{
    (void)arg;
    al_loop *loop = al_get_running_loop();
    double t0 = al_loop_time(loop);
    int rc = al_sleep(0.01);
    if (rc != 0)
        return rc;
    *result = (void *)(intptr_t)((al_loop_time(loop) - t0) >= 0.009);
    return 0;
}

static int ping(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = al_get_running_loop();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return AL_EFAILED;
    char buf[8] = "";
    int rc = aio_sock_sendall(loop, sv[0], "ping", 4, NULL);
    ssize_t n = rc < 0 ? rc : aio_sock_recv_into(loop, sv[1], buf, sizeof buf);
    close(sv[0]);
    close(sv[1]);
    if (n < 0)
        return (int)n;
    return n == 4 && memcmp(buf, "ping", 4) == 0 ? 0 : AL_EFAILED;
}

int main(void)
{
    void *slept = NULL;
    int rc = al_run(sleeper, NULL, &slept);
    if (rc != 0 || !slept) {
        fprintf(stderr, "consumer: al_run: %s\n", rc ? al_strerror(rc) : "woke up early");
        return 1;
    }
    sel_selector *sel;
    rc = sel_open(&sel, NULL);
    if (rc != 0) {
        fprintf(stderr, "consumer: sel_open: error %d\n", rc);
        return 1;
    }
    printf("consumer: slept 10 ms on asynclib, opened selector '%s'\n", sel_name(sel));
    sel_free(sel);
    rc = aio_run(ping, NULL, NULL, NULL);
    if (rc != 0) {
        fprintf(stderr, "consumer: aio_run: %s\n", aio_strerror(rc));
        return 1;
    }
    printf("consumer: ping over a socketpair on an I/O loop\n");
    return 0;
}

#include "aio_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

const char *const ac_family_name[AC_NFAMILIES] = {"IPv4", "IPv6", "Unix"};

void ac_require_backend(void)
{
    static int checked;
    if (checked)
        return;
    checked = 1;
    al_loop *loop = NULL;
    int rc = aio_loop_new(al_test_impl, &loop);
    if (rc == 0) {
        al_loop_free(loop);
        return;
    }
    if (strcmp(al_test_impl, "io_uring") == 0 && rc != SEL_EBACKEND) {
        printf("SKIP: backend io_uring unavailable here: %s\n", aio_strerror(rc));
        fflush(stdout);
        exit(AIO_TEST_SKIP);
    }
    printf("cannot open backend '%s': %s\n", al_test_impl, aio_strerror(rc));
    exit(1);
}

al_loop *ac_loop_new(void)
{
    al_loop *loop = NULL;
    int rc = aio_loop_new(al_test_impl, &loop);
    ck_assert_msg(rc == 0, "aio_loop_new(%s): %s", al_test_impl, aio_strerror(rc));
    return loop;
}

void ac_run_main(al_task_fn fn, void *arg)
{
    al_loop *loop = ac_loop_new();
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, fn, arg, NULL, &t), 0);
    int rc = al_loop_run_until_complete(loop, al_task_future(t));
    ck_assert_msg(rc == 0, "main task: %d (%s)", rc, aio_strerror(rc));
    al_task_unref(t);
    ck_assert_int_eq(al_loop_free(loop), 0);
}

al_loop *ac_loop(void)
{
    al_loop *loop = al_get_running_loop();
    ck_assert_ptr_nonnull(loop);
    return loop;
}

al_task *ac_spawn(al_task_fn fn, void *arg)
{
    al_task *t = NULL;
    ck_assert_int_eq(al_task_new(ac_loop(), fn, arg, NULL, &t), 0);
    return t;
}

int ac_join(al_task *t)
{
    al_await(al_task_future(t));
    int rc = al_future_error(al_task_future(t));
    al_task_unref(t);
    return rc;
}

int ac_join_value(al_task *t)
{
    void *v = NULL;
    ck_assert_int_eq(al_await(al_task_future(t)), 0);
    ck_assert_int_eq(al_future_result(al_task_future(t), &v), 0);
    al_task_unref(t);
    return AC_PV(v);
}

void ac_set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    ck_assert_int_ge(fl, 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK), 0);
}

static const int domain_of[AC_NFAMILIES] = {AF_INET, AF_INET6, AF_UNIX};

bool ac_have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int ac_socket(ac_family f)
{
    int fd = socket(domain_of[f], SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_msg(fd >= 0, "socket(%s): %s", ac_family_name[f], strerror(errno));
    return fd;
}

int ac_listener(ac_family f, struct sockaddr_storage *addr, socklen_t *len)
{
    int fd = ac_socket(f);
    memset(addr, 0, sizeof *addr);
    if (f == AC_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)addr;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *a;
    } else if (f == AC_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        *len = sizeof *a;
    } else {
        static int counter;
        struct sockaddr_un *a = (struct sockaddr_un *)addr;
        a->sun_family = AF_UNIX;
        snprintf(a->sun_path, sizeof a->sun_path, "/tmp/aio-test-%d-%d.sock", (int)getpid(),
                 counter++);
        unlink(a->sun_path);
        *len = sizeof *a;
    }
    ck_assert_msg(bind(fd, (struct sockaddr *)addr, *len) == 0, "bind(%s): %s", ac_family_name[f],
                  strerror(errno));
    ck_assert_int_eq(listen(fd, 64), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, len), 0);
    return fd;
}

void ac_pair(ac_family f, int *a, int *b)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int l = ac_listener(f, &addr, &len);
    int c = socket(domain_of[f], SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c, 0);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, len), 0);
    ac_set_nonblock(l, false);
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(s, 0);
    ac_close(l);
    ac_set_nonblock(c, true);
    ac_set_nonblock(s, true);
    *a = c;
    *b = s;
}

void ac_socketpair(int *a, int *b)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    *a = sv[0];
    *b = sv[1];
}

void ac_close(int fd)
{
    if (fd < 0)
        return;
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) == 0 && a.sun_family == AF_UNIX &&
        len > offsetof(struct sockaddr_un, sun_path) && a.sun_path[0] == '/') {
        int type = 0;
        socklen_t tl = sizeof type;
        int acc = 0;
        socklen_t al = sizeof acc;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) == 0 && acc)
            unlink(a.sun_path);
    }
    close(fd);
}

int ac_open_fds(void)
{
    int n = al_test_open_fds();
    ck_assert_int_ge(n, 0);
    return n;
}

void ac_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

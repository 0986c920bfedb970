/* Scenario 7, the socket coroutines and the DNS: sendall of 256 KiB
 * against recv_into over a socketpair, sendfile of a file, aio_sock_recv,
 * getaddrinfo (numeric, and "localhost" through the executor) and
 * getnameinfo; every allocation failing in turn. */
#include "fa_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define BULK (256 * 1024)
#define FILE_LEN 10000

typedef struct sock_st {
    fa_run run;
    int sv[2];
    char *out, *in;
    size_t got;
    bool bulk_ok, file_ok, recv_ok, dns_ok;
} sock_st;

static int sender(void *arg, void **result)
{
    (void)result;
    sock_st *st = arg;
    int rc =
        fa_err(&st->run, aio_sock_sendall(al_get_running_loop(), st->sv[0], st->out, BULK, NULL));
    if (rc < 0)
        shutdown(st->sv[0], SHUT_WR); /* the receiver sees the end */
    return rc;
}

/* Task: receives exactly n bytes into buf (false on an error or EOF). */
static bool recv_n(sock_st *st, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = aio_sock_recv_into(al_get_running_loop(), st->sv[1], buf + got, n - got);
        if (k <= 0) {
            fa_err(&st->run, k < 0 ? (int)k : -ECONNRESET);
            return false;
        }
        got += (size_t)k;
    }
    return true;
}

static void bulk(sock_st *st)
{
    al_task *t = NULL;
    if (fa_err(&st->run, al_task_new(al_get_running_loop(), sender, st, NULL, &t)))
        return;
    bool ok = recv_n(st, st->in, BULK);
    if (!ok) /* unblock the sender: it fails on the closed peer */
        shutdown(st->sv[1], SHUT_RD);
    al_await(al_task_future(t));
    int rc = al_future_error(al_task_future(t));
    al_task_unref(t);
    st->bulk_ok = ok && rc == 0 && memcmp(st->in, st->out, BULK) == 0;
}

static void file(sock_st *st)
{
    int fd = memfd_create("failalloc", MFD_CLOEXEC);
    if (fd < 0 || write(fd, st->out, FILE_LEN) != FILE_LEN) {
        st->run.unclean = true;
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t sent = 0;
    if (fa_err(&st->run, aio_sock_sendfile(al_get_running_loop(), st->sv[0], fd, 0, 0, &sent)) ==
            0 &&
        sent == FILE_LEN && recv_n(st, st->in, FILE_LEN))
        st->file_ok = memcmp(st->in, st->out, FILE_LEN) == 0;
    close(fd);
}

static void recv_alloc(sock_st *st)
{
    if (send(st->sv[0], "abc", 3, 0) != 3) {
        st->run.unclean = true;
        return;
    }
    void *data = NULL;
    ssize_t n = aio_sock_recv(al_get_running_loop(), st->sv[1], 16, &data);
    if (fa_err(&st->run, n < 0 ? (int)n : 0) == 0)
        st->recv_ok = n == 3 && memcmp(data, "abc", 3) == 0;
    free(data);
}

static void dns(sock_st *st)
{
    al_loop *loop = al_get_running_loop();
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    bool ok = true;
    static const char *const hosts[] = {"127.0.0.1", "localhost"};
    for (int i = 0; i < 2 && ok; i++) {
        ok = fa_err(&st->run, aio_getaddrinfo(loop, hosts[i], "80", &hints, &res)) == 0 && res &&
             res->ai_family == AF_INET;
        if (res)
            freeaddrinfo(res);
        res = NULL;
    }
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char host[64], serv[16];
    if (ok)
        ok = fa_err(&st->run,
                    aio_getnameinfo(loop, (struct sockaddr *)&sin, sizeof sin, host, sizeof host,
                                    serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV)) == 0 &&
             strcmp(host, "127.0.0.1") == 0 && strcmp(serv, "80") == 0;
    st->dns_ok = ok;
}

static int sock_main(void *arg, void **result)
{
    (void)result;
    sock_st *st = arg;
    bulk(st);
    if (!st->run.err)
        file(st);
    if (!st->run.err)
        recv_alloc(st);
    if (!st->run.err)
        dns(st);
    return 0;
}

static int sock_scenario(void *arg)
{
    sock_st *st = arg;
    st->run = (fa_run){0};
    st->bulk_ok = st->file_ok = st->recv_ok = st->dns_ok = false;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, st->sv) != 0)
        return FA_UNCLEAN;
    int rc = fa_run_main(FA_IO_LOOP, sock_main, &st->run);
    close(st->sv[0]);
    close(st->sv[1]);
    if (rc == 0 && !(st->bulk_ok && st->file_ok && st->recv_ok && st->dns_ok))
        return FA_SILENT;
    return rc;
}

START_TEST(sock_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "sock/%s", al_test_impl);
    sock_st st;
    st.out = malloc(BULK);
    st.in = malloc(BULK);
    ck_assert(st.out && st.in);
    for (size_t i = 0; i < BULK; i++)
        st.out[i] = (char)(i * 7 + i / 251);
    failalloc_sweep(name, sock_scenario, &st, 1);
    free(st.out);
    free(st.in);
}
END_TEST

AL_TEST_SUITE(failalloc_sock)
{
    Suite *s = suite_create("failalloc_sock");
    if (!fa_pure_row()) {
        fa_require_backend();
        TCase *tc = al_tcase("sock");
        tcase_add_test(tc, sock_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

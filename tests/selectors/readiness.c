/* Readiness of pipes, socketpairs, TCP and UDP sockets, regular files;
 * write readiness; peer close and reset; modify between read and write. */
#include "sel_test.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static int tag_a, tag_b;

START_TEST(pipe_read)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, &tag_a), 0);
    ck_assert_int_eq(sel_count(sel), 1);
    ck_assert_uint_eq(st_events(sel, 0, p[0]), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);

    sel_event out[4];
    int n = sel_select(sel, 5, out, 4);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(out[0].fd, p[0]);
    ck_assert_uint_eq(out[0].events, SEL_READ);
    ck_assert_ptr_eq(out[0].data, &tag_a);
    ck_assert_uint_eq(sel_event_check(sel, &out[0]), SEL_READ);

    /* Level-triggered: still ready until read. */
    ck_assert_uint_eq(st_events(sel, 0, p[0]), SEL_READ);
    ck_assert_uint_eq(st_events(sel, 1, p[0]), SEL_READ);
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    ck_assert_uint_eq(st_events(sel, 0, p[0]), 0);
    ck_assert_uint_eq(st_events(sel, 0.01, p[0]), 0);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(pipe_write)
{
    sel_selector *sel = st_open();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    st_nonblock(p[1]);
    ck_assert_int_eq(sel_register(sel, p[1], SEL_WRITE, NULL), 0);
    ck_assert_uint_eq(st_events(sel, 1, p[1]), SEL_WRITE);
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    while (write(p[1], buf, sizeof buf) > 0)
        ;
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_uint_eq(st_events(sel, 0, p[1]), 0);
    ck_assert_uint_eq(st_events(sel, 0.01, p[1]), 0);
    /* Drain: writable again (a pipe needs a page free). */
    st_nonblock(p[0]);
    while (read(p[0], buf, sizeof buf) > 0)
        ;
    ck_assert_uint_eq(st_events(sel, 1, p[1]), SEL_WRITE);
    sel_free(sel);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(socketpair_read_write)
{
    sel_selector *sel = st_open();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(sel_register(sel, sv[0], SEL_READ | SEL_WRITE, &tag_a), 0);
    ck_assert_int_eq(sel_register(sel, sv[1], SEL_READ, &tag_b), 0);
    sel_event out[4];
    int n = sel_select(sel, 1, out, 4);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(out[0].fd, sv[0]);
    ck_assert_uint_eq(out[0].events, SEL_WRITE);
    ck_assert_int_eq(write(sv[1], "hi", 2), 2);
    ck_assert_int_eq(write(sv[0], "yo", 2), 2);
    n = sel_select(sel, 1, out, 4);
    ck_assert_int_eq(n, 2);
    const sel_event *e0 = st_find(out, n, sv[0]), *e1 = st_find(out, n, sv[1]);
    ck_assert_ptr_nonnull(e0);
    ck_assert_ptr_nonnull(e1);
    ck_assert_uint_eq(e0->events, SEL_READ | SEL_WRITE);
    ck_assert_ptr_eq(e0->data, &tag_a);
    ck_assert_uint_eq(e1->events, SEL_READ);
    ck_assert_ptr_eq(e1->data, &tag_b);
    sel_free(sel);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(tcp_accept_connect)
{
    sel_selector *sel = st_open();
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(l, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    ck_assert_int_eq(sel_register(sel, l, SEL_READ, NULL), 0);
    ck_assert_uint_eq(st_events(sel, 0, l), 0);

    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = connect(c, (struct sockaddr *)&a, sizeof a);
    ck_assert(rc == 0 || errno == EINPROGRESS);
    ck_assert_int_eq(sel_register(sel, c, SEL_WRITE, NULL), 0);
    ck_assert_uint_eq(st_events(sel, 5, c) & SEL_WRITE, SEL_WRITE);
    int err = -1;
    len = sizeof err;
    ck_assert_int_eq(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(st_events(sel, 5, l), SEL_READ);
    int s = accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    ck_assert_uint_eq(st_events(sel, 0, l), 0);

    ck_assert_int_eq(sel_modify(sel, c, SEL_READ, NULL), 0);
    ck_assert_uint_eq(st_events(sel, 0, c), 0);
    ck_assert_int_eq(send(s, "ping", 4, 0), 4);
    ck_assert_uint_eq(st_events(sel, 5, c), SEL_READ);
    sel_free(sel);
    close(s);
    close(c);
    close(l);
}
END_TEST

START_TEST(udp_datagram)
{
    sel_selector *sel = st_open();
    int r = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int w = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(r, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(r, (struct sockaddr *)&a, &len), 0);
    ck_assert_int_eq(sel_register(sel, r, SEL_READ, NULL), 0);
    ck_assert_int_eq(sel_register(sel, w, SEL_WRITE, NULL), 0);
    ck_assert_uint_eq(st_events(sel, 1, w), SEL_WRITE);
    ck_assert_uint_eq(st_events(sel, 0, r), 0);
    ck_assert_int_eq(sendto(w, "d", 1, 0, (struct sockaddr *)&a, sizeof a), 1);
    ck_assert_uint_eq(st_events(sel, 5, r), SEL_READ);
    char c;
    ck_assert_int_eq(recv(r, &c, 1, 0), 1);
    ck_assert_uint_eq(st_events(sel, 0, r), 0);
    sel_free(sel);
    close(r);
    close(w);
}
END_TEST

START_TEST(peer_close)
{
    sel_selector *sel = st_open();
    int sv[2], p[2], q[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(pipe(q), 0);
    signal(SIGPIPE, SIG_IGN);
    ck_assert_int_eq(sel_register(sel, sv[0], SEL_READ, NULL), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, NULL), 0);  /* reader of p */
    ck_assert_int_eq(sel_register(sel, q[1], SEL_WRITE, NULL), 0); /* writer of q */
    ck_assert_uint_eq(st_events(sel, 0, sv[0]), 0);
    ck_assert_uint_eq(st_events(sel, 0, p[0]), 0);

    close(sv[1]);
    close(p[1]);
    close(q[0]);
    ck_assert_uint_eq(st_events(sel, 5, sv[0]), SEL_READ);
    ck_assert_uint_eq(st_events(sel, 5, p[0]), SEL_READ);
    ck_assert_uint_eq(st_events(sel, 5, q[1]), SEL_WRITE);
    char c;
    ck_assert_int_eq(read(sv[0], &c, 1), 0);
    ck_assert_int_eq(read(p[0], &c, 1), 0);
    ck_assert_int_eq(write(q[1], "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    /* Still reported: EOF and errors are level-triggered too. */
    ck_assert_uint_eq(st_events(sel, 1, sv[0]), SEL_READ);
    ck_assert_uint_eq(st_events(sel, 1, q[1]), SEL_WRITE);
    sel_free(sel);
    close(sv[0]);
    close(p[0]);
    close(q[1]);
}
END_TEST

START_TEST(peer_reset)
{
    sel_selector *sel = st_open();
    int c, s;
    st_tcp_pair(&c, &s);
    ck_assert_int_eq(sel_register(sel, c, SEL_READ, NULL), 0);
    ck_assert_uint_eq(st_events(sel, 0, c), 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(s); /* RST */
    ck_assert_uint_eq(st_events(sel, 5, c), SEL_READ);
    char b;
    ck_assert_int_eq(recv(c, &b, 1, 0), -1);
    ck_assert_int_eq(errno, ECONNRESET);

    /* A write-only registration sees the error too. */
    int c2, s2;
    st_tcp_pair(&c2, &s2);
    ck_assert_int_eq(sel_register(sel, c2, SEL_WRITE, NULL), 0);
    ck_assert_int_eq(setsockopt(s2, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(s2);
    ck_assert_uint_eq(st_events(sel, 5, c2), SEL_WRITE);
    sel_free(sel);
    close(c);
    close(c2);
}
END_TEST

START_TEST(modify_read_write)
{
    sel_selector *sel = st_open();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(sel_register(sel, sv[0], SEL_READ, &tag_a), 0);
    ck_assert_uint_eq(st_events(sel, 0, sv[0]), 0);
    ck_assert_int_eq(sel_modify(sel, sv[0], SEL_WRITE, &tag_b), 0);
    sel_event out[4];
    int n = sel_select(sel, 1, out, 4);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(out[0].events, SEL_WRITE);
    ck_assert_ptr_eq(out[0].data, &tag_b);
    unsigned ev;
    void *data;
    ck_assert_int_eq(sel_get(sel, sv[0], &ev, &data), 0);
    ck_assert_uint_eq(ev, SEL_WRITE);
    ck_assert_ptr_eq(data, &tag_b);

    ck_assert_int_eq(sel_modify(sel, sv[0], SEL_READ, &tag_a), 0);
    ck_assert_uint_eq(st_events(sel, 0, sv[0]), 0);
    ck_assert_uint_eq(st_events(sel, 0.01, sv[0]), 0);
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    ck_assert_uint_eq(st_events(sel, 1, sv[0]), SEL_READ);
    ck_assert_int_eq(sel_modify(sel, sv[0], SEL_READ | SEL_WRITE, &tag_a), 0);
    ck_assert_uint_eq(st_events(sel, 1, sv[0]), SEL_READ | SEL_WRITE);
    /* Same mask, new data only. */
    ck_assert_int_eq(sel_modify(sel, sv[0], SEL_READ | SEL_WRITE, &tag_b), 0);
    n = sel_select(sel, 1, out, 4);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_eq(out[0].data, &tag_b);
    sel_free(sel);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(regular_file)
{
    sel_selector *sel = st_open();
    char path[] = "/tmp/sel-test-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(sel_register(sel, fd, SEL_READ | SEL_WRITE, &tag_a), 0);
    sel_event out[4];
    double t0 = st_now();
    int n = sel_select(sel, 5, out, 4);
    ck_assert_double_lt(st_now() - t0, 2.0);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(out[0].events, SEL_READ | SEL_WRITE);
    ck_assert_ptr_eq(out[0].data, &tag_a);
    ck_assert_int_eq(sel_modify(sel, fd, SEL_READ, &tag_b), 0);
    ck_assert_uint_eq(st_events(sel, 5, fd), SEL_READ);
    /* Alongside a pollable fd. */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(sel_register(sel, p[0], SEL_READ, NULL), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    n = sel_select(sel, 5, out, 4);
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_nonnull(st_find(out, n, p[0]));
    ck_assert_int_eq(sel_unregister(sel, fd), 0);
    ck_assert_uint_eq(st_events(sel, 1, p[0]), SEL_READ);
    ck_assert_int_eq(sel_unregister(sel, p[0]), 0);
    ck_assert_uint_eq(st_events(sel, 0, fd), 0);
    sel_free(sel);
    close(fd);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(eventfd_wakeup)
{
    sel_selector *sel = st_open();
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ck_assert_int_ge(efd, 0);
    ck_assert_int_eq(sel_register(sel, efd, SEL_READ, &tag_a), 0);
    ck_assert_uint_eq(st_events(sel, 0, efd), 0);
    uint64_t one = 1;
    ck_assert_int_eq(write(efd, &one, sizeof one), sizeof one);
    ck_assert_uint_eq(st_events(sel, 5, efd), SEL_READ);
    ck_assert_int_eq(read(efd, &one, sizeof one), sizeof one);
    ck_assert_uint_eq(st_events(sel, 0, efd), 0);
    sel_free(sel);
    close(efd);
}
END_TEST

START_TEST(max_results)
{
    sel_selector *sel = st_open();
    int p[3][2];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pipe(p[i]), 0);
        ck_assert_int_eq(write(p[i][1], "x", 1), 1);
        ck_assert_int_eq(sel_register(sel, p[i][0], SEL_READ, NULL), 0);
    }
    sel_event out[8];
    ck_assert_int_eq(sel_select(sel, 1, out, 1), 1);
    ck_assert_int_eq(sel_select(sel, 1, out, 8), 3);
    ck_assert_int_eq(sel_select(sel, 0, out, 0), 0);
    ck_assert_int_eq(sel_select(sel, 1, out, 8), 3);
    sel_free(sel);
    for (int i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}
END_TEST

AL_TEST_SUITE(sel_readiness)
{
    st_require_impl();
    Suite *s = suite_create("sel_readiness");
    TCase *tc = al_tcase("readiness");
    tcase_add_test(tc, pipe_read);
    tcase_add_test(tc, pipe_write);
    tcase_add_test(tc, socketpair_read_write);
    tcase_add_test(tc, tcp_accept_connect);
    tcase_add_test(tc, udp_datagram);
    tcase_add_test(tc, peer_close);
    tcase_add_test(tc, peer_reset);
    tcase_add_test(tc, modify_read_write);
    tcase_add_test(tc, regular_file);
    tcase_add_test(tc, eventfd_wakeup);
    tcase_add_test(tc, max_results);
    suite_add_tcase(s, tc);
    return s;
}

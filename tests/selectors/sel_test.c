#include "sel_test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void st_require_impl(void)
{
    static int checked;
    if (checked)
        return;
    checked = 1;
    sel_selector *sel = NULL;
    int rc = sel_open(&sel, al_test_impl);
    if (rc == 0) {
        sel_free(sel);
        return;
    }
    if (strcmp(al_test_impl, "io_uring") == 0 && rc != SEL_EBACKEND) {
        printf("SKIP: backend io_uring unavailable here: sel_open: %s\n", sel_strerror(rc));
        fflush(stdout);
        exit(SEL_TEST_SKIP);
    }
    printf("cannot open backend '%s': %s\n", al_test_impl, sel_strerror(rc));
    exit(1);
}

sel_selector *st_open(void)
{
    sel_selector *sel = NULL;
    int rc = sel_open(&sel, al_test_impl);
    ck_assert_msg(rc == 0, "sel_open(%s): %s", al_test_impl, sel_strerror(rc));
    ck_assert_str_eq(sel_name(sel), st_name());
    return sel;
}

const char *st_name(void)
{
    static char name[32];
    if (!st_is("libev"))
        return al_test_impl;
    if (!name[0]) {
        sel_selector *sel = NULL;
        int rc = sel_open(&sel, "libev");
        ck_assert_msg(rc == 0, "sel_open(libev): %s", sel_strerror(rc));
        ck_assert_msg(strncmp(sel_name(sel), "libev:", 6) == 0, "libev runs %s", sel_name(sel));
        snprintf(name, sizeof name, "%s", sel_name(sel));
        sel_free(sel);
    }
    return name;
}

int st_is(const char *name)
{
    return strcmp(al_test_impl, name) == 0;
}

const sel_event *st_find(const sel_event *out, int n, int fd)
{
    for (int i = 0; i < n; i++)
        if (out[i].fd == fd)
            return &out[i];
    return NULL;
}

unsigned st_events(sel_selector *sel, double timeout, int fd)
{
    sel_event out[64];
    int n = sel_select(sel, timeout, out, 64);
    ck_assert_msg(n >= 0, "sel_select: %s", strerror(-n));
    for (int i = 0; i < n; i++) {
        ck_assert_msg(out[i].events != 0, "empty result for fd %d", out[i].fd);
        ck_assert_msg((out[i].events & ~(SEL_READ | SEL_WRITE)) == 0, "bad bits");
        for (int j = i + 1; j < n; j++)
            ck_assert_msg(out[i].fd != out[j].fd, "fd %d reported twice", out[i].fd);
    }
    const sel_event *e = st_find(out, n, fd);
    return e ? e->events : 0;
}

double st_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void st_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    ck_assert_int_ge(fl, 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

void st_tcp_pair(int *c, int *s)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(l, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    *c = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*c, 0);
    ck_assert_int_eq(connect(*c, (struct sockaddr *)&a, sizeof a), 0);
    *s = accept(l, NULL, NULL);
    ck_assert_int_ge(*s, 0);
    close(l);
    st_nonblock(*c);
    st_nonblock(*s);
}

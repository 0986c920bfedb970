/* DNS: localhost through the executor, numeric hosts without it, errors
 * as AIO_EAI_* codes with their text, cancellation and close with lookups
 * queued. No network: only localhost, numeric addresses and lookups the C
 * library refuses by itself. */
#include "aio_conf.h"

#include <arpa/inet.h>
#include <asynclib/executor.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int set_flag_cb(al_loop *loop, void *arg)
{
    (void)loop;
    *(int *)arg = 1;
    return 0;
}

static bool has_addr(const struct addrinfo *ai, int family, const char *text, int port)
{
    for (; ai; ai = ai->ai_next) {
        char buf[INET6_ADDRSTRLEN];
        int p;
        if (ai->ai_family != family)
            continue;
        if (family == AF_INET) {
            const struct sockaddr_in *a = (const void *)ai->ai_addr;
            inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
            p = ntohs(a->sin_port);
        } else {
            const struct sockaddr_in6 *a = (const void *)ai->ai_addr;
            inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
            p = ntohs(a->sin6_port);
        }
        if (strcmp(buf, text) == 0 && p == port)
            return true;
    }
    return false;
}

/* The C library can resolve "localhost" on this machine (a minimal chroot
 * has no /etc/hosts); otherwise the case says so and checks nothing. */
static bool localhost_resolves(void)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo("localhost", "80", &hints, &res) != 0) {
        printf("skip: this machine cannot resolve localhost (no /etc/hosts?)\n");
        return false;
    }
    freeaddrinfo(res);
    return true;
}

static int localhost_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    ck_assert_int_eq(aio_getaddrinfo(loop, "localhost", "80", &hints, &res), 0);
    ck_assert(has_addr(res, AF_INET, "127.0.0.1", 80));
    freeaddrinfo(res);
    /* Reverse, through the resolver. */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    ck_assert_int_eq(aio_getnameinfo(loop, (struct sockaddr *)&a, sizeof a, host, sizeof host, serv,
                                     sizeof serv, NI_NUMERICSERV),
                     0);
    ck_assert_msg(host[0] != '\0', "no name for 127.0.0.1");
    ck_assert_str_eq(serv, "80");
    /* Too small a buffer. */
    char tiny[2];
    ck_assert_int_eq(aio_getnameinfo(loop, (struct sockaddr *)&a, sizeof a, tiny, sizeof tiny, NULL,
                                     0, NI_NUMERICHOST | NI_NUMERICSERV),
                     AIO_EAI_OVERFLOW);
    return 0;
}

START_TEST(test_localhost)
{
    if (!localhost_resolves())
        return;
    ac_run_main(localhost_main, NULL);
}
END_TEST

/* Numeric hosts: answered at once, no iteration, no executor (it is shut
 * down first: a lookup that needed it would fail). */
static int numeric_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    ck_assert_int_eq(al_loop_shutdown_default_executor(loop, 1.0), 0);
    int flag = 0;
    ck_assert_int_eq(al_call_soon(loop, set_flag_cb, &flag, NULL), 0);
    struct addrinfo *res;
    ck_assert_int_eq(aio_getaddrinfo(loop, "127.0.0.1", "8080", NULL, &res), 0);
    ck_assert(has_addr(res, AF_INET, "127.0.0.1", 8080));
    freeaddrinfo(res);
    ck_assert_int_eq(aio_getaddrinfo(loop, "::1", "443", NULL, &res), 0);
    ck_assert(has_addr(res, AF_INET6, "::1", 443));
    freeaddrinfo(res);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_family = AF_INET};
    ck_assert_int_eq(aio_getaddrinfo(loop, NULL, "0", &hints, &res), 0);
    ck_assert(has_addr(res, AF_INET, "0.0.0.0", 0));
    freeaddrinfo(res);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(7)};
    a6.sin6_addr = in6addr_loopback;
    char host[64], serv[16];
    ck_assert_int_eq(aio_getnameinfo(loop, (struct sockaddr *)&a6, sizeof a6, host, sizeof host,
                                     serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV),
                     0);
    ck_assert_str_eq(host, "::1");
    ck_assert_str_eq(serv, "7");
    ck_assert_int_eq(flag, 0); /* nothing suspended */
    /* A name needs the executor, which is shut down: refused, clearly. */
    ck_assert_int_eq(aio_getaddrinfo(loop, "localhost", NULL, NULL, &res), AL_EINVALIDSTATE);
    ck_assert_ptr_null(res);
    return 0;
}

START_TEST(test_numeric_hosts_skip_the_resolver)
{
    ac_run_main(numeric_main, NULL);
}
END_TEST

static int errors_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    struct addrinfo *res = NULL;
    /* A name where only numbers are allowed: refused by the library itself. */
    struct addrinfo numeric = {.ai_flags = AI_NUMERICHOST};
    int rc = aio_getaddrinfo(loop, "localhost", NULL, &numeric, &res);
    ck_assert_int_eq(rc, AIO_EAI_NONAME);
    ck_assert_ptr_null(res);
    ck_assert_str_eq(aio_err_name(rc), "AIO_EAI_NONAME");
    ck_assert_str_eq(aio_strerror(rc), "name or service not known");
    /* An unknown service name. */
    rc = aio_getaddrinfo(loop, "127.0.0.1", "no-such-service-xyz", NULL, &res);
    ck_assert_msg(rc == AIO_EAI_SERVICE || rc == AIO_EAI_NONAME, "%s", aio_strerror(rc));
    /* A family that does not exist. */
    struct addrinfo badfam = {.ai_family = 12345};
    rc = aio_getaddrinfo(loop, "localhost", NULL, &badfam, &res);
    ck_assert_int_eq(rc, AIO_EAI_FAMILY);
    ck_assert_int_eq(aio_getaddrinfo(loop, NULL, NULL, NULL, &res), -EINVAL);
    ck_assert_int_eq(aio_eai_code(EAI_SYSTEM, EMFILE), -EMFILE);
    ck_assert_int_eq(aio_eai_code(EAI_MEMORY, 0), -ENOMEM);
    return 0;
}

START_TEST(test_errors_mapped)
{
    ac_run_main(errors_main, NULL);
}
END_TEST

static int slow_job(void *arg, void **result)
{
    (void)arg, (void)result;
    ac_sleep_ms(200);
    return 0;
}

typedef struct lookup {
    int rc;
    struct addrinfo *res;
} lookup;

static int lookup_task(void *arg, void **result)
{
    (void)result;
    lookup *l = arg;
    l->rc = aio_getaddrinfo(ac_loop(), "localhost", "80", NULL, &l->res);
    return 0;
}

/* A lookup cancelled while queued behind a busy executor returns at once
 * and leaves nothing behind; a later one works. */
static int cancel_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = ac_loop();
    al_future *busy;
    ck_assert_int_eq(al_loop_run_in_executor(loop, slow_job, NULL, NULL, &busy), 0);
    lookup l = {0};
    al_task *t = ac_spawn(lookup_task, &l);
    ck_assert_int_eq(al_sleep(0.01), 0);
    ck_assert(!al_future_done(al_task_future(t)));
    al_task_cancel(t, NULL);
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert_int_eq(l.rc, AL_ECANCELLED);
    ck_assert_ptr_null(l.res);
    ck_assert_int_eq(al_await(busy), 0);
    al_future_unref(busy);
    lookup again = {0};
    t = ac_spawn(lookup_task, &again);
    ck_assert_int_eq(ac_join(t), 0);
    ck_assert_int_eq(again.rc, 0);
    freeaddrinfo(again.res);
    return 0;
}

START_TEST(test_cancel_queued_lookup)
{
    if (!localhost_resolves())
        return;
    al_loop *loop = ac_loop_new();
    ck_assert_int_eq(al_loop_set_executor_workers(loop, 1), 0);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, cancel_main, NULL, NULL, &t), 0);
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    al_task_unref(t);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

static void quiet(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop, (void)ctx, (void)user;
}

/* The loop closes with lookups queued and one under way: the tasks unwind,
 * nothing leaks (LeakSanitizer, Memcheck). */
START_TEST(test_close_with_lookups_in_flight)
{
    al_loop *loop = ac_loop_new();
    al_loop_set_exception_handler(loop, quiet, NULL);
    ck_assert_int_eq(al_loop_set_executor_workers(loop, 1), 0);
    lookup l[3] = {{0}};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(al_task_new(loop, lookup_task, &l[i], NULL, NULL), 0);
    al_loop_stop(loop);
    ck_assert_int_eq(al_loop_run_forever(loop), 0);
    ck_assert_int_eq(al_loop_free(loop), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(l[i].rc, AL_ELOOPCLOSING);
        ck_assert_ptr_null(l[i].res);
    }
    /* Let a lookup under way finish on its thread before the leak check. */
    ac_sleep_ms(100);
}
END_TEST

AL_TEST_SUITE(suite_dns)
{
    ac_require_backend();
    Suite *s = suite_create("dns");
    TCase *tc = al_tcase("dns");
    tcase_add_test(tc, test_localhost);
    tcase_add_test(tc, test_numeric_hosts_skip_the_resolver);
    tcase_add_test(tc, test_errors_mapped);
    tcase_add_test(tc, test_cancel_queued_lookup);
    tcase_add_test(tc, test_close_with_lookups_in_flight);
    suite_add_tcase(s, tc);
    return s;
}

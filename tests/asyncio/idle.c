/* Many idle connections: a server holds up to 10 000 (RLIMIT_NOFILE
 * raised to its hard limit; fewer when that limit, select's FD_SETSIZE or
 * Valgrind's speed says so, printed), every one of them set up (protocol
 * order checked), while a newcomer is still served; the heap used per
 * idle connection is printed. */
#include "net_util.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <unistd.h>

typedef struct idle_case {
    int n;
} idle_case;

typedef struct target {
    sm_pool *pool;
    size_t n;
} target;

static bool accepted(void *arg)
{
    target *t = arg;
    return t->pool->used >= t->n;
}

static int idle_main(void *arg, void **result)
{
    (void)result;
    idle_case *c = arg;
    al_loop *loop = ac_loop();
    sm_pool pool;
    sm_pool_init(&pool, loop, (size_t)c->n + 1);
    pool.echo = true;
    aio_server_options o = {.backlog = 1024};
    char path[108];
    aio_server *srv = nu_serve(AC_INET, sm_pool_factory, &pool, &o, path);
    int port = aio_server_port(srv);
    int *fds = malloc((size_t)c->n * sizeof *fds);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t heap0 = mallinfo2().uordblks;
    for (int i = 0; i < c->n; i++) {
        fds[i] = ac_socket(AC_INET);
        int rc = aio_sock_connect(loop, fds[i], (struct sockaddr *)&a, sizeof a);
        ck_assert_msg(rc == 0, "connection %d: %s", i, aio_strerror(rc));
        if (i % 500 == 499) { /* let the server keep up with the backlog */
            target t = {&pool, (size_t)i + 1};
            ck_assert(sm_until(accepted, &t, 30));
        }
    }
    target all = {&pool, (size_t)c->n};
    ck_assert(sm_until(accepted, &all, 30));
    al_sleep(0.05);
    size_t heap1 = mallinfo2().uordblks;
    /* the sm records and futures of the test's protocol are the test's */
    double per = ((double)heap1 - (double)heap0) / c->n;
    if (AC_UNDER_VALGRIND()) /* its allocator is not glibc's: mallinfo2 sees nothing */
        printf("%s: %d idle connections (heap per connection not measured under Valgrind)\n",
               al_test_impl, c->n);
    else
        printf("%s: %d idle connections, %.0f heap bytes each (transport, fd record, handle,"
               " the test protocol's record and 2 futures)\n",
               al_test_impl, c->n, per);
    /* a newcomer is served while they idle */
    sm cl;
    sm_init(&cl, loop);
    ck_assert_int_eq(nu_connect(AC_INET, srv, path, &sm_protocol, &cl, NULL), 0);
    ck_assert_int_eq(aio_transport_write(cl.t, "still served", 12), 0);
    ck_assert_int_eq(sm_wait_data(&cl, 12), 0);
    ck_assert(memcmp(cl.data, "still served", 12) == 0);
    aio_transport_close(cl.t);
    ck_assert_int_eq(sm_wait_lost(&cl), 0);
    sm_check_closed(&cl, 0);
    for (int i = 0; i < c->n; i++)
        close(fds[i]);
    aio_server_close(srv);
    ck_assert_int_eq(aio_server_wait_closed(srv), 0);
    for (size_t i = 0; i < pool.used; i++) {
        sm_check_closed(&pool.slots[i], 0);
        ck_assert_int_eq(pool.slots[i].neof, 1);
    }
    aio_server_free(srv);
    sm_fini(&cl);
    sm_pool_fini(&pool);
    free(fds);
    return 0;
}

START_TEST(test_idle_connections)
{
    int n = 10000;
    const char *why = NULL;
    long nofile = al_test_nofile(2 * n + 200);
    if (2 * n + 200 > nofile) {
        n = (int)(nofile - 200) / 2;
        why = "RLIMIT_NOFILE";
    }
    if (strcmp(al_test_impl, "select") == 0 && 2 * n + 100 > FD_SETSIZE) {
        n = (FD_SETSIZE - 100) / 2;
        why = "select's FD_SETSIZE";
    }
    if (AC_UNDER_VALGRIND() && n > 500) {
        n = 500;
        why = "Valgrind";
    }
    if (why)
        printf("idle connections scaled down to %d (%s)\n", n, why);
    idle_case c = {.n = n};
    ac_run_main(idle_main, &c);
}
END_TEST

AL_TEST_SUITE(suite_idle)
{
    ac_require_backend();
    return al_suite("idle", 120, AL_TESTS(test_idle_connections));
}

/* After fork(): the child's use of the parent's loop fails with
 * AIO_EFORKED (the selector and the eventfd are the parent's), a new loop
 * in the child works, and the parent's loop is unaffected. */
#include "aio_conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int count_cb(al_loop *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
    return 0;
}

typedef struct reports {
    int count, last;
} reports;

static void record(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop;
    reports *r = user;
    r->count++;
    r->last = ctx->error;
}

static int ping(void *arg, void **result)
{
    (void)arg, (void)result;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        return -errno;
    al_loop *loop = al_get_running_loop();
    char buf[4];
    int rc = aio_sock_sendall(loop, sv[0], "ping", 4, NULL);
    if (rc == 0)
        rc = aio_sock_recv_into(loop, sv[1], buf, sizeof buf) == 4 ? 0 : AL_EFAILED;
    close(sv[0]);
    close(sv[1]);
    return rc;
}

/* Exit status of the child: 0, or the number of the first failed check. */
static int child(al_loop *parent_loop, int fd)
{
    int n = 0;
    if (aio_loop_add_reader(parent_loop, fd, count_cb, &n) != AIO_EFORKED)
        return 1;
    if (aio_loop_remove_reader(parent_loop, fd) != AIO_EFORKED)
        return 2;
    if (aio_loop_fd(parent_loop) != AIO_EFORKED)
        return 3;
    reports r = {0};
    al_loop_set_exception_handler(parent_loop, record, &r);
    if (al_call_soon(parent_loop, count_cb, &n, NULL) != 0)
        return 4;
    /* Running it: one iteration, the wait refuses and stops the loop. */
    if (al_loop_run_forever(parent_loop) != 0)
        return 5;
    if (r.count < 1 || r.last != AIO_EFORKED || n != 1)
        return 6;
    if (strcmp(aio_strerror(AIO_EFORKED),
               "event loop belongs to the parent process (used after fork)"))
        return 7;
    if (al_loop_free(parent_loop) != 0)
        return 8;
    /* A new loop in the child works. */
    if (aio_run(ping, NULL, NULL, al_test_impl) != 0)
        return 9;
    return 0;
}

START_TEST(test_fork_child_refuses_parent_loop)
{
    al_loop *loop = ac_loop_new();
    int a, b, n = 0;
    ac_socketpair(&a, &b);
    ck_assert_int_eq(aio_loop_add_reader(loop, a, count_cb, &n), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(child(loop, a));
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_msg(WEXITSTATUS(status) == 0, "child failed check %d", WEXITSTATUS(status));
    /* The parent's loop is unaffected: its reader still fires. */
    ck_assert_int_eq(write(b, "x", 1), 1);
    for (int i = 0; i < 100 && n == 0; i++)
        ck_assert_int_eq(aio_loop_run_nowait(loop), 0);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(aio_loop_remove_reader(loop, a), 1);
    close(a);
    close(b);
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

AL_TEST_SUITE(suite_fork)
{
    ac_require_backend();
    Suite *s = suite_create("fork");
    TCase *tc = al_tcase("fork");
    tcase_add_test(tc, test_fork_child_refuses_parent_loop);
    suite_add_tcase(s, tc);
    return s;
}

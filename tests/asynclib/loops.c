/* The table of loop implementations the asynclib conformance suite runs on:
 * the two pure loops, and the I/O loop (asyncio/) on every selector
 * backend, which proves that the pure layer's contract holds unchanged on
 * a loop whose wait is a selector. */
#include "al_conf.h"

#include <asyncio/asyncio.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct conf_factory {
    const char *name;
    al_loop *(*create)(void);
    int is_virtual;
} conf_factory;

static al_loop *io_loop(const char *backend)
{
    al_loop *loop = NULL;
    int rc = aio_loop_new(backend, &loop);
    ck_assert_msg(rc == 0, "aio_loop_new(%s): %s", backend, aio_strerror(rc));
    return loop;
}

static al_loop *io_select(void)
{
    return io_loop("select");
}

static al_loop *io_poll(void)
{
    return io_loop("poll");
}

static al_loop *io_epoll(void)
{
    return io_loop("epoll");
}

static al_loop *io_libev(void)
{
    return io_loop("libev");
}

static al_loop *io_uring(void)
{
    return io_loop("io_uring");
}

static const conf_factory factories[] = {
    {"real", al_loop_new, 0},  {"virtual", al_loop_new_virtual, 1},
    {"select", io_select, 0},  {"poll", io_poll, 0},
    {"epoll", io_epoll, 0},    {"libev", io_libev, 0},
    {"io_uring", io_uring, 0},
};

static const conf_factory *factory(void)
{
    for (size_t i = 0; i < sizeof factories / sizeof factories[0]; i++)
        if (strcmp(factories[i].name, al_test_impl) == 0)
            return &factories[i];
    return NULL;
}

al_loop *conf_loop_new(void)
{
    const conf_factory *f = factory();
    ck_assert_msg(f != NULL, "unknown loop implementation '%s'", al_test_impl);
    al_loop *loop = f->create();
    ck_assert_ptr_nonnull(loop);
    return loop;
}

int conf_is_virtual(void)
{
    const conf_factory *f = factory();
    return f && f->is_virtual;
}

int conf_run_task(al_loop *loop, al_task_fn fn, void *arg, void **result)
{
    al_task *t;
    int rc = al_task_new(loop, fn, arg, NULL, &t);
    ck_assert_int_eq(rc, 0);
    rc = al_loop_run_until_complete(loop, al_task_future(t));
    if (result)
        al_future_result(al_task_future(t), result);
    al_task_unref(t);
    return rc;
}

void conf_run_main(al_task_fn fn, void *arg)
{
    al_loop *loop = conf_loop_new();
    int rc = conf_run_task(loop, fn, arg, NULL);
    ck_assert_msg(rc == 0, "main task: %d (%s)", rc, al_strerror(rc));
    ck_assert_int_eq(al_loop_free(loop), 0);
}

al_loop *conf_cur_loop(void)
{
    al_loop *loop = al_get_running_loop();
    ck_assert_ptr_nonnull(loop);
    return loop;
}

al_task *conf_self(void)
{
    al_task *t = al_current_task();
    ck_assert_ptr_nonnull(t);
    return t;
}

double conf_now(void)
{
    return al_loop_time(conf_cur_loop());
}

void conf_check_elapsed(double t0, double expected)
{
    double dt = conf_now() - t0;
    if (conf_is_virtual())
        ck_assert_msg(fabs(dt - expected) < 1e-6, "elapsed %.6f, expected %.6f", dt, expected);
    else
        ck_assert_msg(dt >= expected - 0.01 && dt < expected + 0.5, "elapsed %.6f, expected %.6f",
                      dt, expected);
}

al_task *conf_spawn(al_task_fn fn, void *arg)
{
    al_task *t = NULL;
    ck_assert_int_eq(al_task_new(conf_cur_loop(), fn, arg, NULL, &t), 0);
    return t;
}

void conf_s0(void)
{
    ck_assert_int_eq(al_sleep(0), 0);
}

bool conf_done(al_task *t)
{
    return al_future_done(al_task_future(t));
}

int conf_join_value(al_task *t, void **value)
{
    al_await(al_task_future(t));
    int rc = al_future_result(al_task_future(t), value);
    al_task_unref(t);
    return rc;
}

int conf_join(al_task *t)
{
    return conf_join_value(t, NULL);
}

int conf_cancel_cb(al_loop *loop, void *arg)
{
    (void)loop;
    al_task_cancel(arg, NULL);
    return 0;
}

int conf_count_cb(al_loop *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
    return 0;
}

int conf_noop(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}

int conf_await_arg(void *arg, void **result)
{
    (void)result;
    return al_await(arg);
}

void conf_quiet_handler(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop, (void)ctx, (void)user;
}

void conf_record_handler(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop;
    conf_reports *r = user;
    r->count++;
    r->last_error = ctx->error;
    snprintf(r->last_message, sizeof r->last_message, "%s", ctx->message);
}

void conf_log_add(conf_log *log, int v)
{
    if (log->n < (int)(sizeof log->v / sizeof log->v[0]))
        log->v[log->n++] = v;
}

void conf_log_expect(const conf_log *log, int n, const int *values)
{
    char got[512] = "", want[512] = "";
    for (int i = 0; i < log->n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%d ", log->v[i]);
    for (int i = 0; i < n; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%d ", values[i]);
    ck_assert_msg(log->n == n && memcmp(log->v, values, (size_t)n * sizeof *values) == 0,
                  "log is [ %s] but expected [ %s]", got, want);
}

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CONF_UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef CONF_UNDER_VALGRIND
#define CONF_UNDER_VALGRIND() 0
#endif

#if defined(__SANITIZE_THREAD__)
#define CONF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONF_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CONF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONF_ASAN 1
#endif
#endif

bool conf_under_tsan(void)
{
#ifdef CONF_TSAN
    return true;
#else
    return false;
#endif
}

int conf_many(int n)
{
    if (CONF_UNDER_VALGRIND())
        return n / 20 > 1 ? n / 20 : 1;
#ifdef CONF_TSAN
    return n < 2000 ? n : 2000;
#elif defined(CONF_ASAN)
    return n / 3 > 1 ? n / 3 : 1;
#else
    return n;
#endif
}

int conf_loops(int n)
{
    if (strcmp(al_test_impl, "io_uring") == 0)
        return n / 10 > 1 ? n / 10 : 1;
    return n;
}

/* ---- the implementation itself -------------------------------------------- */

START_TEST(test_impl_is_the_named_loop)
{
    al_loop *loop = conf_loop_new();
    const char *backend = aio_loop_backend(loop);
    if (strcmp(al_test_impl, "real") == 0 || strcmp(al_test_impl, "virtual") == 0) {
        ck_assert_str_eq(al_loop_name(loop), al_test_impl);
        ck_assert(!aio_loop_is_io(loop));
        ck_assert_ptr_null(backend);
    } else {
        ck_assert(aio_loop_is_io(loop));
        ck_assert_ptr_nonnull(backend);
        /* libev names its own backend too: "libev:epoll". */
        ck_assert_msg(strncmp(backend, al_test_impl, strlen(al_test_impl)) == 0,
                      "backend %s for %s", backend, al_test_impl);
    }
    ck_assert_int_eq(al_loop_free(loop), 0);
}
END_TEST

/* Runs in the parent before any test: an I/O backend this kernel refuses
 * (io_uring) skips the whole binary (exit 77, CTest's SKIP_RETURN_CODE). */
AL_TEST_SUITE(suite_loops)
{
    if (!factory()) {
        fprintf(stderr, "unknown loop implementation '%s'\n", al_test_impl);
        exit(2);
    }
    if (strcmp(al_test_impl, "io_uring") == 0) {
        al_loop *loop = NULL;
        int rc = aio_loop_new("io_uring", &loop);
        if (rc < 0) {
            printf("SKIP: backend io_uring unavailable here: %s\n", aio_strerror(rc));
            fflush(stdout);
            exit(77);
        }
        al_loop_free(loop);
    }
    Suite *s = suite_create("loops");
    TCase *tc = al_tcase("impl");
    tcase_add_test(tc, test_impl_is_the_named_loop);
    suite_add_tcase(s, tc);
    return s;
}

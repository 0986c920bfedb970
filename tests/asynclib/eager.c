/* Eager tasks: asyncio's test_eager_task_factory.py (rules R125-R128).
 * The first step runs inside al_task_new when the loop runs; a task that
 * never suspends is done when al_task_new returns. */
#include "al_conf.h"

#include <errno.h>
#include <string.h>

/* Runs fn as the main task of an eager loop (the loop-wide setting), or
 * with per-task eager options when per_task is set. */
static int per_task_mode;

static al_task *create(al_task_fn fn, void *arg)
{
    al_task *t = NULL;
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    if (per_task_mode)
        o.eager = AL_EAGER_ON;
    ck_assert_int_eq(al_task_new(conf_cur_loop(), fn, arg, &o, &t), 0);
    return t;
}

static int run_eager(al_task_fn fn, void *arg, void **result)
{
    al_loop *loop = conf_loop_new();
    if (!per_task_mode)
        al_loop_set_eager_tasks(loop, true);
    int rc = conf_run_task(loop, fn, arg, result);
    al_loop_free(loop);
    return rc;
}

#define BOTH_MODES(body)                                                                           \
    do {                                                                                           \
        for (per_task_mode = 0; per_task_mode < 2; per_task_mode++) {                              \
            body;                                                                                  \
        }                                                                                          \
    } while (0)

/* ---- R125 ---------------------------------------------------------------------- */

static int hello(void *arg, void **result)
{
    (void)arg;
    *result = CONF_VP(7);
    return 0;
}

static int eager_completion_main(void *arg, void **result)
{
    (void)arg;
    al_task *t = create(hello, NULL);
    ck_assert(al_future_done(al_task_future(t)));
    ck_assert_uint_eq(al_loop_all_tasks(conf_cur_loop(), NULL, 0), 1); /* only us */
    ck_assert_int_eq(al_await(al_task_future(t)), 0);
    al_future_result(al_task_future(t), result);
    al_task_unref(t);
    return 0;
}

START_TEST(eager_completion)
{
    BOTH_MODES({
        void *v = NULL;
        ck_assert_int_eq(run_eager(eager_completion_main, NULL, &v), 0);
        ck_assert_int_eq(CONF_PV(v), 7);
    });
}
END_TEST

static int set_result_body(void *arg, void **result)
{
    (void)result;
    ck_assert_int_eq(al_future_set_result(arg, CONF_VP(99), NULL), 0);
    return 0;
}

static int await_future_during_eager_main(void *arg, void **result)
{
    (void)arg;
    al_future *f;
    al_future_new(conf_cur_loop(), &f);
    al_task *t = create(set_result_body, f);
    ck_assert(al_future_done(al_task_future(t)));
    ck_assert_int_eq(al_await(f), 0);
    al_future_result(f, result);
    al_future_unref(f);
    al_task_unref(t);
    return 0;
}

START_TEST(eager_await_future_during_step)
{
    BOTH_MODES({
        void *v = NULL;
        ck_assert_int_eq(run_eager(await_future_during_eager_main, NULL, &v), 0);
        ck_assert_int_eq(CONF_PV(v), 99);
    });
}
END_TEST

/* A failing eager task is done with its error at once. */
static int fail_body(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return -EIO;
}

static int eager_error_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task *t = create(fail_body, NULL);
    ck_assert(al_future_done(al_task_future(t)));
    ck_assert_int_eq(al_await(al_task_future(t)), -EIO);
    al_task_unref(t);
    return 0;
}

START_TEST(eager_error)
{
    BOTH_MODES(ck_assert_int_eq(run_eager(eager_error_main, NULL, NULL), 0));
}
END_TEST

/* ---- R126 ---------------------------------------------------------------------- */

static al_task *captured;
static size_t captured_all;

static int block_body(void *arg, void **result)
{
    (void)arg;
    captured = conf_self();
    captured_all = al_loop_all_tasks(conf_cur_loop(), NULL, 0);
    int rc = al_sleep(0.1);
    if (rc < 0)
        return rc; /* cancelled */
    ck_assert_ptr_eq(conf_self(), captured);
    *result = CONF_VP(3);
    return 0;
}

static int block_after_step_main(void *arg, void **result)
{
    (void)arg;
    al_task *me = conf_self();
    captured = NULL;
    al_task *t = create(block_body, NULL);
    ck_assert(!al_future_done(al_task_future(t)));
    ck_assert_ptr_eq(captured, t);      /* current task during the eager step */
    ck_assert_ptr_eq(conf_self(), me);  /* restored afterwards */
    ck_assert_uint_eq(captured_all, 2); /* it was listed during its step */
    ck_assert_uint_eq(al_loop_all_tasks(conf_cur_loop(), NULL, 0), 2); /* and while blocked */
    ck_assert_int_eq(al_await(al_task_future(t)), 0);
    ck_assert_uint_eq(al_loop_all_tasks(conf_cur_loop(), NULL, 0), 1);
    al_future_result(al_task_future(t), result);
    al_task_unref(t);
    return 0;
}

START_TEST(eager_block_after_step)
{
    BOTH_MODES({
        void *v = NULL;
        ck_assert_int_eq(run_eager(block_after_step_main, NULL, &v), 0);
        ck_assert_int_eq(CONF_PV(v), 3);
    });
}
END_TEST

static int all_tasks_body(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task *buf[4];
    captured_all = al_loop_all_tasks(conf_cur_loop(), buf, 4);
    captured = NULL;
    for (size_t i = 0; i < captured_all && i < 4; i++)
        if (buf[i] == conf_self())
            captured = buf[i];
    return 0;
}

static int all_tasks_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task *t = create(all_tasks_body, NULL);
    ck_assert_ptr_eq(captured, t); /* in all_tasks during the eager step */
    al_task *buf[4];
    size_t n = al_loop_all_tasks(conf_cur_loop(), buf, 4);
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_ne(buf[i], t); /* not after eager completion */
    al_task_unref(t);
    return 0;
}

START_TEST(eager_all_tasks)
{
    BOTH_MODES(ck_assert_int_eq(run_eager(all_tasks_main, NULL, NULL), 0));
}
END_TEST

/* ---- R127 ---------------------------------------------------------------------- */

static int cancel_after_completion_main(void *arg, void **result)
{
    (void)arg;
    al_task *t = create(hello, NULL);
    ck_assert_int_eq(al_task_cancel(t, NULL), 0);
    ck_assert_int_eq(al_await(al_task_future(t)), 0);
    ck_assert(!al_future_cancelled(al_task_future(t)));
    al_future_result(al_task_future(t), result);
    al_task_unref(t);
    return 0;
}

START_TEST(eager_cancel_after_completion)
{
    BOTH_MODES({
        void *v = NULL;
        ck_assert_int_eq(run_eager(cancel_after_completion_main, NULL, &v), 0);
        ck_assert_int_eq(CONF_PV(v), 7);
    });
}
END_TEST

static int cancel_after_block_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task *t = create(block_body, NULL);
    ck_assert_int_eq(al_task_cancel(t, "cancellation message"), 1);
    ck_assert_int_gt(al_task_cancelling(t), 0);
    int rc = al_await(al_task_future(t));
    ck_assert(al_future_cancelled(al_task_future(t)));
    al_task_unref(t);
    return rc;
}

START_TEST(eager_cancel_after_block)
{
    BOTH_MODES({
        al_loop *loop = conf_loop_new();
        if (!per_task_mode)
            al_loop_set_eager_tasks(loop, true);
        al_task *t;
        ck_assert_int_eq(al_task_new(loop, cancel_after_block_main, NULL, NULL, &t), 0);
        ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), AL_ECANCELLED);
        ck_assert_str_eq(al_future_cancel_message(al_task_future(t)), "cancellation message");
        al_task_unref(t);
        al_loop_free(loop);
    });
}
END_TEST

/* ---- R128: a width-5 depth-4 tree (781 tasks) ---------------------------------- */

static int tree_tasks;

static int tree(void *arg, void **result)
{
    (void)result;
    int depth = CONF_PV(arg);
    tree_tasks++;
    if (depth == 0)
        return 0;
    al_task *kids[5];
    for (int i = 0; i < 5; i++)
        kids[i] = create(tree, CONF_VP(depth - 1));
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(al_await(al_task_future(kids[i])), 0);
        al_task_unref(kids[i]);
    }
    return 0;
}

static int tree_main(void *arg, void **result)
{
    (void)result;
    int eager = CONF_PV(arg);
    tree_tasks = 0;
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.eager = eager ? AL_EAGER_ON : AL_EAGER_OFF;
    per_task_mode = eager;
    al_task *root;
    ck_assert_int_eq(al_task_new(conf_cur_loop(), tree, CONF_VP(4), &o, &root), 0);
    if (eager) {
        /* The whole tree ran inside al_task_new: nothing was scheduled. */
        ck_assert(al_future_done(al_task_future(root)));
        ck_assert_int_eq(tree_tasks, 781);
    } else {
        ck_assert_int_eq(tree_tasks, 0);
        ck_assert_int_eq(al_await(al_task_future(root)), 0);
        ck_assert_int_eq(tree_tasks, 781);
    }
    al_task_unref(root);
    return 0;
}

START_TEST(eager_task_counting_tree)
{
    al_loop *loop = conf_loop_new();
    ck_assert_int_eq(conf_run_task(loop, tree_main, CONF_VP(1), NULL), 0);
    ck_assert_int_eq(conf_run_task(loop, tree_main, CONF_VP(0), NULL), 0);
    per_task_mode = 0;
    al_loop_free(loop);
}
END_TEST

/* Eager start needs a running loop: otherwise the task starts lazily. */
START_TEST(eager_not_running_is_lazy)
{
    al_loop *loop = conf_loop_new();
    al_loop_set_eager_tasks(loop, true);
    al_task *t;
    ck_assert_int_eq(al_task_new(loop, hello, NULL, NULL, &t), 0);
    ck_assert(!al_future_done(al_task_future(t)));
    ck_assert_int_eq(al_loop_run_until_complete(loop, al_task_future(t)), 0);
    al_task_unref(t);
    per_task_mode = 0;
    al_task_unref(NULL);
    ck_assert_int_eq(al_loop_set_eager_tasks(NULL, true), -EINVAL);
    al_loop_free(loop);
}
END_TEST

static int lazy_override_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.eager = AL_EAGER_OFF;
    al_task *t;
    ck_assert_int_eq(al_task_new(conf_cur_loop(), hello, NULL, &o, &t), 0);
    ck_assert(!al_future_done(al_task_future(t)));
    ck_assert_int_eq(al_await(al_task_future(t)), 0);
    al_task_unref(t);
    return 0;
}

START_TEST(eager_lazy_override)
{
    per_task_mode = 0;
    ck_assert_int_eq(run_eager(lazy_override_main, NULL, NULL), 0);
}
END_TEST

/* An eager task created from a plain callback (not from a task). */
static al_task *from_cb;
static int create_in_cb(al_loop *loop, void *arg)
{
    (void)arg;
    al_task_options o = AL_TASK_OPTIONS_DEFAULT;
    o.eager = AL_EAGER_ON;
    ck_assert_int_eq(al_task_new(loop, hello, NULL, &o, &from_cb), 0);
    ck_assert(al_future_done(al_task_future(from_cb)));
    ck_assert_ptr_null(al_current_task());
    return 0;
}

START_TEST(eager_from_callback)
{
    al_loop *loop = conf_loop_new();
    al_call_soon(loop, create_in_cb, NULL, NULL);
    al_loop_stop(loop);
    al_loop_run_forever(loop);
    ck_assert(al_future_done(al_task_future(from_cb)));
    al_task_unref(from_cb);
    al_loop_free(loop);
}
END_TEST

AL_TEST_SUITE(suite_eager)
{
    Suite *s = suite_create("eager");
    TCase *tc = al_tcase("eager");
    tcase_add_test(tc, eager_completion);
    tcase_add_test(tc, eager_await_future_during_step);
    tcase_add_test(tc, eager_error);
    tcase_add_test(tc, eager_block_after_step);
    tcase_add_test(tc, eager_all_tasks);
    tcase_add_test(tc, eager_cancel_after_completion);
    tcase_add_test(tc, eager_cancel_after_block);
    tcase_add_test(tc, eager_task_counting_tree);
    tcase_add_test(tc, eager_not_running_is_lazy);
    tcase_add_test(tc, eager_lazy_override);
    tcase_add_test(tc, eager_from_callback);
    suite_add_tcase(s, tc);
    return s;
}

/* asynclib-demo: the pure layer at work, no I/O. Two worker tasks each do
 * three jobs, sleeping between them ("fast" 10 ms, "slow" 50 ms); a timer
 * callback cancels the slow one at 70 ms, and it cleans up; meanwhile a
 * blocking call runs on the executor's thread pool. Each event is printed
 * with its loop time, and every return code is checked. */
#include <asynclib/asynclib.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        int check_rc_ = (call);                                                                    \
        if (check_rc_ < 0) {                                                                       \
            fprintf(stderr, "asynclib-demo: %s: %s\n", #call, al_strerror(check_rc_));             \
            return check_rc_;                                                                      \
        }                                                                                          \
    } while (0)

static double t0;

static void say(const char *who, const char *what, long n)
{
    printf("[%6.3f s] %-6s %s", al_loop_time(al_get_running_loop()) - t0, who, what);
    if (n >= 0)
        printf(" %ld", n);
    printf("\n");
}

static int worker(void *arg, void **result)
{
    const char *name = al_task_name(al_current_task());
    long done = 0;
    for (int i = 0; i < 3; i++) {
        int rc = al_sleep(*(const double *)arg);
        if (rc == AL_ECANCELLED) {
            say(name, "cancelled while sleeping: cleaning up; jobs done:", done);
            return rc; /* ends cancelled */
        }
        CHECK(rc);
        say(name, "finished job", ++done);
    }
    *result = (void *)(intptr_t)done;
    return 0;
}

static int blocking_work(void *arg, void **result) /* on a pool thread */
{
    (void)arg;
    usleep(20000); /* stands for a blocking read of a file */
    *result = (void *)(intptr_t)42;
    return 0;
}

static int cancel_later(al_loop *loop, void *arg) /* a timer callback */
{
    (void)loop;
    say("timer", "cancelling the slow worker", -1);
    return al_task_cancel(arg, "too slow") == 1 ? 0 : AL_EINVALIDSTATE;
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = al_get_running_loop();
    t0 = al_loop_time(loop);
    static const double fast = 0.01, slow = 0.05;
    al_task *a, *b;
    al_future *work;
    void *value;
    al_task_options opts = AL_TASK_OPTIONS_DEFAULT;
    opts.name = "fast";
    CHECK(al_task_new(loop, worker, (void *)&fast, &opts, &a));
    opts.name = "slow";
    CHECK(al_task_new(loop, worker, (void *)&slow, &opts, &b));
    CHECK(al_call_later(loop, 0.07, cancel_later, b, NULL));

    CHECK(al_loop_run_in_executor(loop, blocking_work, NULL, NULL, &work));
    CHECK(al_await(work));
    CHECK(al_future_result(work, &value));
    say("main", "the executor returned", (long)(intptr_t)value);
    al_future_unref(work);

    CHECK(al_await(al_task_future(a)));
    CHECK(al_future_result(al_task_future(a), &value));
    say("main", "fast worker finished; jobs done:", (long)(intptr_t)value);
    int rc = al_await(al_task_future(b));
    if (rc != AL_ECANCELLED) /* the timer cancelled it */
        return rc < 0 ? rc : AL_EFAILED;
    printf("[%6.3f s] %-6s slow worker ended: %s (message: %s)\n", al_loop_time(loop) - t0, "main",
           al_strerror(rc), al_future_cancel_message(al_task_future(b)));
    al_task_unref(a);
    al_task_unref(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("asynclib-demo: tasks, a timer and the executor on asynclib's pure loop.\n\n"
               "Usage: asynclib-demo\n\n"
               "Options:\n"
               "  -h, --help   print this help\n\n"
               "Two worker tasks sleep between jobs, a timer cancels the slow one, a\n"
               "blocking call runs on the executor; each event is printed with its loop\n"
               "time. Source: tools/demo.c; more programs in examples/.\n\n"
               "Example:\n"
               "  build/tools/asynclib-demo\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "asynclib-demo: unknown argument '%s' (see --help)\n", argv[1]);
        return 2;
    }
    printf("asynclib-demo: two workers, a timer that cancels one, and the executor\n"
           "(source: tools/demo.c; more in examples/)\n\n");
    int rc = al_run(main_task, NULL, NULL);
    printf("al_run: %s\n", al_strerror(rc));
    return rc == 0 ? 0 : 1;
}

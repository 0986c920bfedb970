/* asynclib-demo: the pure layer at work, no I/O. Three "workers" share a
 * job list through futures; a timer cancels a slow task; blocking work
 * goes to the executor. Prints what happens, in loop time. */
#include <asynclib/asynclib.h>

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static double t0;

static void say(const char *who, const char *what)
{
    printf("[%6.3f s] %-8s %s\n", al_loop_time(al_loop_running()) - t0, who, what);
}

static int worker(void *arg, void **result)
{
    const char *name = al_task_name(al_current_task());
    double pause = *(double *)arg;
    int done = 0;
    for (int i = 0; i < 3; i++) {
        int rc = al_sleep(pause);
        if (rc == AL_ECANCELLED) {
            say(name, "cancelled while sleeping: cleaning up");
            return rc;
        }
        done++;
        say(name, "finished a job");
    }
    *result = (void *)(intptr_t)done;
    return 0;
}

static int blocking_work(void *arg, void **result)
{
    (void)arg;
    usleep(20000); /* pretend to read a file */
    *result = (void *)(intptr_t)42;
    return 0;
}

static int cancel_later(al_loop *loop, void *arg)
{
    (void)loop;
    say("timer", "cancelling the slow worker");
    al_task_cancel(arg, "too slow");
    return 0;
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = al_loop_running();
    t0 = al_loop_time(loop);
    static double fast = 0.01, slow = 0.05;
    al_task *a, *b;
    al_task_options opts = AL_TASK_OPTIONS_DEFAULT;
    opts.name = "fast";
    al_task_new(loop, worker, &fast, &opts, &a);
    opts.name = "slow";
    al_task_new(loop, worker, &slow, &opts, &b);
    al_call_later(loop, 0.07, cancel_later, b, NULL);

    al_future *work;
    al_loop_run_in_executor(loop, blocking_work, NULL, NULL, &work);
    al_await(work);
    void *answer;
    al_future_result(work, &answer);
    printf("[%6.3f s] %-8s executor returned %ld\n", al_loop_time(loop) - t0, "main",
           (long)(intptr_t)answer);
    al_future_unref(work);

    al_await(al_task_future(a));
    void *n;
    al_future_result(al_task_future(a), &n);
    printf("[%6.3f s] %-8s fast worker did %ld jobs\n", al_loop_time(loop) - t0, "main",
           (long)(intptr_t)n);
    int rc = al_await(al_task_future(b));
    printf("[%6.3f s] %-8s slow worker ended: %s (message: %s)\n", al_loop_time(loop) - t0, "main",
           al_strerror(rc), al_future_cancel_message(al_task_future(b)));
    al_task_unref(a);
    al_task_unref(b);
    return 0;
}

int main(void)
{
    int rc = al_run(main_task, NULL, NULL);
    printf("al_run: %s\n", al_strerror(rc));
    return rc == 0 ? 0 : 1;
}

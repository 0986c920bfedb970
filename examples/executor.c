/* executor: blocking calls on the loop's thread pool (run_in_executor).
 * Two blocking jobs run at the same time on pool threads while a ticker
 * task keeps running on the loop; a third, too slow one is given up on
 * with al_wait_for: it is cancelled, finishes on its thread anyway, and
 * its result is discarded. */
#include "check.h"

#include <stdint.h>
#include <time.h>

static int blocking_sleep(void *arg, void **result) /* runs on a pool thread */
{
    long ms = (long)(intptr_t)arg;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) /* EINTR: sleep the rest */
        ;
    *result = arg;
    return 0;
}

static int ticker(void *arg, void **result)
{
    (void)arg;
    long ticks = 0;
    for (;;) {
        int rc = al_sleep(0.01);
        if (rc == AL_ECANCELLED)
            break; /* the main task is done with us */
        CHECK(rc);
        ticks++;
    }
    *result = (void *)(intptr_t)ticks;
    return 0; /* swallows the cancellation: ends with a result */
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = al_get_running_loop();
    double t0 = al_loop_time(loop);
    al_task *tick;
    al_future *jobs[2], *slow;
    void *value;
    CHECK(al_task_new(loop, ticker, NULL, NULL, &tick));
    CHECK(al_loop_run_in_executor(loop, blocking_sleep, (void *)(intptr_t)100, NULL, &jobs[0]));
    CHECK(al_loop_run_in_executor(loop, blocking_sleep, (void *)(intptr_t)100, NULL, &jobs[1]));
    for (int i = 0; i < 2; i++) {
        CHECK(al_await(jobs[i]));
        CHECK(al_future_result(jobs[i], &value));
        al_future_unref(jobs[i]);
    }
    printf("two 100 ms blocking jobs took %.2f s together\n", al_loop_time(loop) - t0);

    CHECK(al_loop_run_in_executor(loop, blocking_sleep, (void *)(intptr_t)300, NULL, &slow));
    int rc = al_wait_for(slow, 0.05);
    al_future_unref(slow);
    printf("300 ms job with a 50 ms timeout: %s\n", al_strerror(rc));
    if (rc != AL_ETIMEOUT)
        return AL_EFAILED;

    if (al_task_cancel(tick, NULL) != 1) /* 1: it was still running */
        return AL_EFAILED;
    CHECK(al_await(al_task_future(tick)));
    CHECK(al_future_result(al_task_future(tick), &value));
    al_task_unref(tick);
    printf("meanwhile the loop ran the ticker %ld times\n", (long)(intptr_t)value);
    return (intptr_t)value > 0 ? 0 : AL_EFAILED;
}

int main(void)
{
    /* al_run also shuts the executor down: it waits for the slow job. */
    return example_exit("executor", al_run(main_task, NULL, NULL));
}

/* gather_wait_as_completed: three ways to wait for several tasks.
 *   gather:        every result, in argument order (asyncio.gather)
 *   wait:          returns when the first is done; the rest keep running
 *                  until cancelled (asyncio.wait, FIRST_COMPLETED)
 *   as_completed:  each future as it completes (asyncio.as_completed) */
#include "check.h"

#include <stdint.h>

enum { N = 3 };
static const double delays[N] = {0.03, 0.01, 0.02}; /* job i returns i */

static int job(void *arg, void **result)
{
    intptr_t i = (intptr_t)arg;
    int rc = al_sleep(delays[i]);
    if (rc != 0)
        return rc; /* AL_ECANCELLED: the wait part cancels the slower jobs */
    *result = (void *)i;
    return 0;
}

/* Starts the N jobs; fs[i] is job i's future (the caller's reference). */
static int start_jobs(al_future *fs[N])
{
    for (intptr_t i = 0; i < N; i++) {
        al_task *t;
        CHECK(al_task_new(al_get_running_loop(), job, (void *)i, NULL, &t));
        fs[i] = al_task_future(t);
    }
    return 0;
}

static void unref_all(al_future *fs[N])
{
    for (int i = 0; i < N; i++)
        al_future_unref(fs[i]);
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_future *fs[N], *gathered, *done[N], *pending[N], *next;
    void *value;

    CHECK(start_jobs(fs));
    CHECK(al_gather_wait(fs, N, false, &gathered));
    CHECK(al_future_result(gathered, &value));
    const al_gather_result *all = value;
    printf("gather:       ");
    for (size_t i = 0; i < all->n; i++)
        printf(" %ld", (long)(intptr_t)all->values[i]); /* 0 1 2: argument order */
    if (all->n != N || all->values[N - 1] != (void *)(intptr_t)(N - 1))
        return AL_EFAILED;
    printf("\n");
    al_future_unref(gathered);
    unref_all(fs);

    size_t ndone, npending;
    CHECK(start_jobs(fs));
    CHECK(al_wait(fs, N, AL_FOREVER, AL_FIRST_COMPLETED, done, &ndone, pending, &npending));
    CHECK(al_future_result(done[0], &value));
    printf("wait:         job %ld first, %zu still pending: cancelling them\n",
           (long)(intptr_t)value, npending);
    for (size_t i = 0; i < npending; i++) {
        /* Pending when wait returned, but it may have finished since (a
         * busy machine runs two timers in one iteration): cancel says 1
         * if it was still pending, 0 if it had already finished. */
        int was_pending = al_future_cancel(pending[i], NULL);
        CHECK(was_pending);
        int status = al_await(pending[i]); /* waits for it to end */
        if (status != (was_pending ? AL_ECANCELLED : 0))
            return AL_EFAILED;
    }
    unref_all(fs);

    al_as_completed *it;
    CHECK(start_jobs(fs));
    CHECK(al_as_completed_new(al_get_running_loop(), fs, N, AL_FOREVER, &it));
    printf("as_completed: ");
    int rc, got = 0;
    while ((rc = al_as_completed_next(it, &next)) == 0 && next) { /* NULL: the end */
        int status = al_future_result(next, &value);
        al_future_unref(next);
        CHECK(status);
        printf(" %ld", (long)(intptr_t)value); /* 1 2 0: completion order */
        got++;
    }
    printf("\n");
    CHECK(rc);
    if (got != N)
        return AL_EFAILED;
    CHECK(al_as_completed_free(it));
    unref_all(fs);
    return 0;
}

int main(void)
{
    return example_exit("gather_wait_as_completed", al_run(main_task, NULL, NULL));
}

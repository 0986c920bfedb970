/* taskgroup_timeout: a TaskGroup inside a timeout scope, as
 *
 *     async with asyncio.timeout(0.1):
 *         async with asyncio.TaskGroup() as tg:
 *             for d in (0.02, 1, 2): tg.create_task(job(d))
 *
 * The fast child finishes; at the deadline the scope cancels the parent,
 * the group cancels the children still running and waits for them, and
 * the scope turns that cancellation into AL_ETIMEOUT. */
#include "check.h"

static const double delays[] = {0.02, 1.0, 2.0};
static int finished, cancelled;

static int job(void *arg, void **result)
{
    (void)result;
    double delay = *(const double *)arg;
    int rc = al_sleep(delay);
    if (rc == AL_ECANCELLED) {
        printf("job %.2f s: cancelled, cleaning up\n", delay);
        cancelled++;
        return rc; /* end cancelled, as asyncio code re-raises */
    }
    CHECK(rc);
    printf("job %.2f s: done\n", delay);
    finished++;
    return 0;
}

/* The body of the group: start the children; any error is the body's. */
static int start_jobs(al_taskgroup *tg)
{
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++)
        CHECK(al_taskgroup_create_task(tg, job, (void *)&delays[i], NULL, NULL));
    return 0;
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = al_get_running_loop();
    double t0 = al_loop_time(loop);

    al_timeout scope = AL_TIMEOUT_INIT;
    CHECK(al_timeout_enter(&scope, 0.1));
    al_taskgroup *tg;
    int rc = al_taskgroup_new(&tg);
    if (rc == 0) {
        rc = al_taskgroup_enter(tg);
        if (rc == 0)
            rc = al_taskgroup_exit(tg, start_jobs(tg)); /* waits for every child */
        if (rc == AL_EGROUP) {
            size_t n;
            const int *errors = al_taskgroup_errors(tg, &n);
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, "child error: %s\n", al_strerror(errors[i]));
        }
        int free_rc = al_taskgroup_free(tg);
        rc = rc != 0 ? rc : free_rc;
    }
    rc = al_timeout_exit(&scope, rc); /* no early return: a scope entered must be exited */

    printf("group ended after %.2f s: %s (%d done, %d cancelled)\n", al_loop_time(loop) - t0,
           al_strerror(rc), finished, cancelled);
    if (rc != AL_ETIMEOUT || finished != 1 || cancelled != 2)
        return AL_EFAILED;
    return 0;
}

int main(void)
{
    return example_exit("taskgroup_timeout", al_run(main_task, NULL, NULL));
}

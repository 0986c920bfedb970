/* An out-of-tree program built against the installed asynclib package:
 * a task sleeps 10 ms on a real-clock loop, then the default selector is
 * opened and closed. Exit status 0 means both layers work when installed. */
#include <asynclib/asynclib.h>
#include <selectors/selectors.h>

#include <stdint.h>
#include <stdio.h>

static int sleeper(void *arg, void **result)
{
    (void)arg;
    al_loop *loop = al_loop_running();
    double t0 = al_loop_time(loop);
    int rc = al_sleep(0.01);
    if (rc != 0)
        return rc;
    *result = (void *)(intptr_t)((al_loop_time(loop) - t0) >= 0.009);
    return 0;
}

int main(void)
{
    void *slept = NULL;
    int rc = al_run(sleeper, NULL, &slept);
    if (rc != 0 || !slept) {
        fprintf(stderr, "consumer: al_run: %s\n", rc ? al_strerror(rc) : "woke up early");
        return 1;
    }
    sel_selector *sel;
    rc = sel_open(&sel, NULL);
    if (rc != 0) {
        fprintf(stderr, "consumer: sel_open: error %d\n", rc);
        return 1;
    }
    printf("consumer: slept 10 ms on asynclib, opened selector '%s'\n", sel_name(sel));
    sel_free(sel);
    return 0;
}

/* Helpers of the allocation-failure sweeps (tests/failalloc): a run's
 * record of what surfaced, and the loop a scenario runs its main task on.
 *
 * Every scenario runs under failalloc_sweep (harness/failalloc.h): it
 * must not call Check; it records the first error any public call
 * returned, any callback's error argument and any error the loop's
 * exception handler got, and whether its results were right, and turns
 * that into the scenario's return code with fa_verdict.
 */
#ifndef FA_UTIL_H
#define FA_UTIL_H

#include "al_test.h"
#include "failalloc.h"

#include <asyncio/asyncio.h>

#include <stdbool.h>

typedef struct fa_run {
    int err;      /* the first error seen, or 0 */
    bool wrong;   /* a result was not what the scenario made */
    bool unclean; /* a callback ran twice / not at all, state left behind */
} fa_run;

/* Records rc when it is an error and none was recorded yet; returns rc. */
int fa_err(fa_run *r, int rc);
/* The scenario's code: FA_UNCLEAN, else the first error, else FA_SILENT
 * for a wrong result, else 0. */
int fa_verdict(const fa_run *r);

/* The loop kinds: the backend under test (al_test_impl), or the pure
 * layer's real / virtual loops. */
typedef enum { FA_IO_LOOP, FA_PURE_REAL, FA_PURE_VIRTUAL } fa_loop_kind;

/* Makes a loop of that kind, routes its exception handler into r, runs
 * fn(arg) as the main task with al_run_on (tasks left are cancelled),
 * frees the loop; returns fa_verdict (FA_UNCLEAN when the loop does not
 * free). arg must start with its fa_run. */
int fa_run_main(fa_loop_kind kind, al_task_fn fn, fa_run *r);

/* Task: waits for f (at most FA_WAIT seconds): 0 once done, or the error
 * of the wait (recorded); a wait that timed out marks the run unclean (an
 * event was lost). NULL f (its creation failed): the recorded error. */
int fa_wait(fa_run *r, al_future *f);
/* Settles f (when not NULL or done yet) with no value; an error of that is
 * recorded. For callbacks. */
void fa_set(fa_run *r, al_future *f);
/* Drops *f (if any) and sets it NULL: a callback coming after the task
 * let go of it (connection_lost after a failed wait) then settles
 * nothing. */
void fa_drop(al_future **f);
/* A new future of the running loop, or NULL with the error recorded. */
al_future *fa_future(fa_run *r);

/* The time bound of every wait of a scenario (a lost event is a bug the
 * sweep reports as unclean, so it is generous: Valgrind is slow). */
#define FA_WAIT 10.0

/* Called by every backend's suite: exits 77 (CTest's skip, with the
 * reason) when the backend cannot be opened here (io_uring refused). */
void fa_require_backend(void);

/* True for the pseudo-backend "pure" (the pure layer's loops only). */
bool fa_pure_row(void);

#endif

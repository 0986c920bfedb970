/* Holds: the one rule for what a task's frame keeps across a suspension.
 *
 * A call that keeps a resource across al_await (a reference, a timer, a
 * group's children, the state of a wait; tomorrow a socket of an aio_
 * call) releases it itself once the await returns, however it returns. A
 * loop close does not change that: it resumes the task with
 * AL_ELOOPCLOSING (task.h) and the frame unwinds through the same code.
 * Only a frame that never returns loses what it kept: a task that ignores
 * the close is dropped without unwinding (and a timeout scope left
 * without its exit ends with its task). For that case, and only for it,
 * the call registers the resource as a hold of the running task before
 * it suspends, and takes the hold back when it resumes:
 *
 *     int held = al__hold(t, release, res) == 0;   // -ENOMEM: go on unguarded
 *     rc = al_await(...);
 *     if (held)
 *         al__unhold(t, release, res);             // res is the frame's again
 *     ... release res as usual ...
 *
 * A task that ends with holds left (its frame never took them back) calls
 * each one's release(arg) as it ends, latest first, then completes.
 * Holds cost no allocation in the common case (they share the task's
 * inline done-callback slots) and nothing at all when the frame unwinds.
 *
 * Loop thread only; t is the running task (or, for al__unhold, a task the
 * hold was registered on).
 */
#ifndef ASYNCLIB_HOLD_H
#define ASYNCLIB_HOLD_H

#include "loop_internal.h"

#include <stdbool.h>

/* Registers release(arg) as a hold of t. 0, or -ENOMEM. */
int al__hold(al_task *t, al_drop_fn release, void *arg);
/* Takes the hold back without calling release: true if it was still
 * registered (the frame owns arg again), false if t already ended and
 * released it. */
bool al__unhold(al_task *t, al_drop_fn release, void *arg);

#endif

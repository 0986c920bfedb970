/* TaskGroup: structured concurrency (asyncio.TaskGroup, CPython 3.13
 * taskgroups.py, with the gh-95289 and gh-116720 fixes).
 *
 *     al_taskgroup *tg;
 *     al_taskgroup_new(&tg);
 *     int rc = al_taskgroup_enter(tg);             // inside the parent task
 *     ... al_taskgroup_create_task(tg, fn, arg, NULL, NULL) ...
 *     rc = al_taskgroup_exit(tg, body_status);     // waits for every child
 *     if (rc == AL_EGROUP) errs = al_taskgroup_errors(tg, &n);
 *     al_taskgroup_free(tg);
 *
 * The first child that fails (an error, not a cancellation) cancels every
 * other child and the parent task (the body), once; exit then waits for
 * all children and returns AL_EGROUP with every error kept, in the order
 * they happened (a non-cancellation error of the body comes last). A
 * cancellation of the parent from outside cancels the children and stays
 * AL_ECANCELLED (unless children failed: AL_EGROUP, and the parent stays
 * cancelled: its next suspension returns AL_ECANCELLED). The group's own
 * cancellation request of the parent is withdrawn (uncancel) on exit, so
 * al_task_cancelling() of the parent is what it was before.
 *
 * Ownership: the group is the caller's (new/free). Children are ordinary
 * tasks of the loop; the group holds a reference to each until it is done;
 * al_taskgroup_create_task's *out is the caller's own reference. A group
 * once entered must be exited before it is freed. If the loop is closed
 * while the parent is between enter and exit, the parent unwinds (task.h):
 * its suspension returns AL_ELOOPCLOSING, and al_taskgroup_exit (with that
 * status, or while it waits) cancels the children, lets go of them (they
 * unwind too) and returns AL_ELOOPCLOSING; the group is then the caller's
 * to free as always. A parent that ignores the close is dropped without
 * unwinding (its exit never runs): the group then lets go of its children
 * by itself and counts as exited (al_taskgroup_size 0). In every case the
 * group stays the caller's and al_taskgroup_free releases it, once: keep
 * a pointer to it outside the parent's stack if the parent may ignore a
 * close (what only the dropped frames pointed to is lost with them).
 *
 * Errors: AL_EINVALIDSTATE for misuse (enter twice; create_task before
 * enter, while shutting down after a failure, or once finished; exit
 * without enter or twice; free while entered and not exited);
 * AL_ENOTINTASK when entered outside a task.
 *
 * Threads: the loop's thread, inside the parent task (create_task may also
 * be called from the children).
 */
#ifndef ASYNCLIB_TASKGROUP_H
#define ASYNCLIB_TASKGROUP_H

#include <asynclib/export.h>
#include <asynclib/task.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct al_taskgroup al_taskgroup;

/* A new group, not entered. -EINVAL, -ENOMEM.
 * No loop parameter, unlike al_queue_new or al_lock_new: those objects
 * belong to a loop from creation, while a group (like an al_timeout scope)
 * belongs to the task that enters it, and takes that task's loop at
 * al_taskgroup_enter. A loop given here could only disagree with it; as
 * asyncio.TaskGroup() takes none. */
AL_API int al_taskgroup_new(al_taskgroup **out);
/* Binds the group to the current task (the parent) and its loop. */
AL_API int al_taskgroup_enter(al_taskgroup *tg);
/* Creates a child task (as al_task_new; opts may be NULL, name and eager
 * are honoured). out may be NULL. An eager child that is already done
 * is accounted for by its done-callback, in the next iteration, like any
 * other (so a failing eager child cannot cancel the parent inside this
 * call; gh-128550). */
AL_API int al_taskgroup_create_task(al_taskgroup *tg, al_task_fn fn, void *arg,
                                    const al_task_options *opts, al_task **out);
/* Leaves the block: body_status is what the body ended with (0, an error,
 * or AL_ECANCELLED). Waits for every child, even if the parent is
 * cancelled meanwhile. Returns 0, AL_ECANCELLED or AL_EGROUP (see above),
 * or AL_EINVALIDSTATE. */
AL_API int al_taskgroup_exit(al_taskgroup *tg, int body_status);
/* The errors kept, in order (borrowed, valid until free or the next
 * create_task); *n receives their number. */
AL_API const int *al_taskgroup_errors(const al_taskgroup *tg, size_t *n);
/* Number of children not yet done. */
AL_API size_t al_taskgroup_size(const al_taskgroup *tg);
/* Releases the group. NULL is ignored. */
AL_API int al_taskgroup_free(al_taskgroup *tg);

#ifdef __cplusplus
}
#endif
#endif

/* Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier: asyncio's
 * locks.py over the shared waiter queue (waiters.h). Each function below
 * mirrors its asyncio counterpart; comments explain the non-obvious steps
 * (all of them about not losing a wake-up when a woken task is cancelled).
 *
 * `busy` counts tasks inside a blocking call on the object: freeing it
 * then would leave them pointing at freed memory. */
#include "waiters.h"

#include <asynclib/error.h>
#include <asynclib/locks.h>
#include <asynclib/task.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

struct al_lock {
    al_loop *loop;
    al_waitq waiters;
    bool locked;
    unsigned busy;
};

struct al_event {
    al_loop *loop;
    al_waitq waiters;
    bool value;
    unsigned busy;
};

struct al_condition {
    al_loop *loop;
    al_lock *lock;
    al_lock own_lock; /* used when no lock was given */
    al_waitq waiters;
    unsigned busy;
};

struct al_semaphore {
    al_loop *loop;
    al_waitq waiters;
    long value;
    long bound; /* < 0: not bounded */
    unsigned busy;
};

enum barrier_state { B_FILLING, B_DRAINING, B_RESETTING, B_BROKEN };

struct al_barrier {
    al_loop *loop;
    al_condition cond; /* its own lock: state changes wake everyone */
    int parties;
    int count;  /* tasks inside wait() past the draining/resetting gate */
    int passed; /* waiters of the round being drained that took their index */
    enum barrier_state state;
    unsigned busy;
};

/* Freeing is refused while a task still uses the object, unless the loop
 * is closed: its parked tasks were dropped and will never resume. */
static bool can_free(al_loop *loop, unsigned busy)
{
    return busy == 0 || al_loop_is_closed(loop);
}

/* ---- Lock ------------------------------------------------------------------ */

static void lock_init(al_lock *l, al_loop *loop)
{
    *l = (al_lock){.loop = loop};
    al__waitq_init(&l->waiters, loop);
}

int al_lock_new(al_loop *loop, al_lock **out)
{
    if (!loop || !out)
        return -EINVAL;
    al_lock *l = malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    lock_init(l, loop);
    *out = l;
    return 0;
}

int al_lock_free(al_lock *lock)
{
    if (!lock)
        return 0;
    if (!can_free(lock->loop, lock->busy))
        return AL_EINVALIDSTATE;
    al__waitq_destroy(&lock->waiters);
    free(lock);
    return 0;
}

/* Lock.acquire without the caller checks. */
static int lock_acquire(al_lock *l)
{
    /* Free and no live waiter: a woken waiter that has not run yet is
     * live, so a newcomer never overtakes it. */
    if (!l->locked && !al__waitq_has_live(&l->waiters)) {
        l->locked = true;
        return 0;
    }
    l->busy++;
    bool woken;
    int rc = al__waitq_wait(&l->waiters, &woken);
    if (rc == 0)
        l->locked = true;
    else if (!l->locked)
        al__waitq_wake_first(&l->waiters); /* pass a wake-up we may hold on */
    l->busy--;
    return rc;
}

int al_lock_acquire(al_lock *lock)
{
    if (!lock)
        return -EINVAL;
    int rc = al__check_task(lock->loop);
    return rc < 0 ? rc : lock_acquire(lock);
}

int al_lock_release(al_lock *lock)
{
    if (!lock)
        return -EINVAL;
    if (!lock->locked)
        return AL_EINVALIDSTATE;
    lock->locked = false;
    al__waitq_wake_first(&lock->waiters);
    return 0;
}

bool al_lock_locked(const al_lock *lock)
{
    return lock && lock->locked;
}

int al_lock_with(al_lock *lock, int (*fn)(void *arg), void *arg)
{
    if (!fn)
        return -EINVAL;
    int rc = al_lock_acquire(lock);
    if (rc < 0)
        return rc;
    rc = fn(arg);
    /* fn may have released it itself: not our error to report over its. */
    if (lock->locked)
        al_lock_release(lock);
    return rc;
}

/* ---- Event ------------------------------------------------------------------ */

int al_event_new(al_loop *loop, al_event **out)
{
    if (!loop || !out)
        return -EINVAL;
    al_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return -ENOMEM;
    ev->loop = loop;
    al__waitq_init(&ev->waiters, loop);
    *out = ev;
    return 0;
}

int al_event_free(al_event *ev)
{
    if (!ev)
        return 0;
    if (!can_free(ev->loop, ev->busy))
        return AL_EINVALIDSTATE;
    al__waitq_destroy(&ev->waiters);
    free(ev);
    return 0;
}

int al_event_wait(al_event *ev)
{
    if (!ev)
        return -EINVAL;
    int rc = al__check_task(ev->loop);
    if (rc < 0 || ev->value)
        return rc;
    ev->busy++;
    bool woken;
    rc = al__waitq_wait(&ev->waiters, &woken);
    ev->busy--;
    return rc;
}

int al_event_set(al_event *ev)
{
    if (!ev)
        return -EINVAL;
    if (!ev->value) {
        ev->value = true;
        al__waitq_wake_n(&ev->waiters, (size_t)-1);
    }
    return 0;
}

int al_event_clear(al_event *ev)
{
    if (!ev)
        return -EINVAL;
    ev->value = false;
    return 0;
}

bool al_event_is_set(const al_event *ev)
{
    return ev && ev->value;
}

/* ---- Condition ---------------------------------------------------------------- */

static void cond_init(al_condition *c, al_loop *loop, al_lock *lock)
{
    *c = (al_condition){.loop = loop};
    lock_init(&c->own_lock, loop);
    c->lock = lock ? lock : &c->own_lock;
    al__waitq_init(&c->waiters, loop);
}

static void cond_destroy(al_condition *c)
{
    al__waitq_destroy(&c->waiters);
    al__waitq_destroy(&c->own_lock.waiters);
}

int al_condition_new(al_loop *loop, al_lock *lock, al_condition **out)
{
    if (!loop || !out)
        return -EINVAL;
    if (lock && lock->loop != loop)
        return AL_EWRONGLOOP;
    al_condition *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    cond_init(c, loop, lock);
    *out = c;
    return 0;
}

int al_condition_free(al_condition *cond)
{
    if (!cond)
        return 0;
    if (!can_free(cond->loop, cond->busy + cond->own_lock.busy))
        return AL_EINVALIDSTATE;
    cond_destroy(cond);
    free(cond);
    return 0;
}

al_lock *al_condition_lock(al_condition *cond)
{
    return cond ? cond->lock : NULL;
}

int al_condition_acquire(al_condition *cond)
{
    return cond ? al_lock_acquire(cond->lock) : -EINVAL;
}

int al_condition_release(al_condition *cond)
{
    return cond ? al_lock_release(cond->lock) : -EINVAL;
}

bool al_condition_locked(const al_condition *cond)
{
    return cond && cond->lock->locked;
}

/* Condition._notify: wakes n waiters still pending (woken ones are
 * skipped, they are already on their way). */
static void cond_notify(al_condition *c, size_t n)
{
    al__waitq_wake_n(&c->waiters, n);
}

/* Condition.wait without the caller checks; the lock is held. */
static int cond_wait(al_condition *c)
{
    c->busy++;
    al_lock_release(c->lock);
    bool woken;
    int rc = al__waitq_wait(&c->waiters, &woken);
    /* The lock is re-acquired however the wait ended; a cancellation
     * meanwhile is remembered and retried past. */
    int err;
    while ((err = lock_acquire(c->lock)) == AL_ECANCELLED)
        rc = AL_ECANCELLED;
    if (err < 0)
        rc = err;
    /* Any error exit may come after we were notified: hand a notification
     * to another waiter rather than lose it (gh-112202). A spurious
     * wake-up is allowed by the condition-variable contract. */
    if (rc < 0 && c->lock->locked)
        cond_notify(c, 1);
    c->busy--;
    return rc;
}

static int cond_check(al_condition *c)
{
    if (!c)
        return -EINVAL;
    int rc = al__check_task(c->loop);
    if (rc < 0)
        return rc;
    return c->lock->locked ? 0 : AL_EINVALIDSTATE;
}

int al_condition_wait(al_condition *cond)
{
    int rc = cond_check(cond);
    return rc < 0 ? rc : cond_wait(cond);
}

int al_condition_wait_for(al_condition *cond, bool (*pred)(void *arg), void *arg)
{
    if (!cond || !pred)
        return -EINVAL;
    int rc = al__check_task(cond->loop);
    if (rc < 0)
        return rc;
    while (!pred(arg)) {
        rc = cond_check(cond);
        if (rc == 0)
            rc = cond_wait(cond);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int al_condition_notify(al_condition *cond, int n)
{
    if (!cond || n < 0)
        return -EINVAL;
    if (!cond->lock->locked)
        return AL_EINVALIDSTATE;
    cond_notify(cond, (size_t)n);
    return 0;
}

int al_condition_notify_all(al_condition *cond)
{
    if (!cond)
        return -EINVAL;
    if (!cond->lock->locked)
        return AL_EINVALIDSTATE;
    cond_notify(cond, (size_t)-1);
    return 0;
}

/* ---- Semaphore ------------------------------------------------------------------ */

static int sem_new(al_loop *loop, long value, long bound, al_semaphore **out)
{
    if (!loop || !out || value < 0)
        return -EINVAL;
    al_semaphore *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->value = value;
    s->bound = bound;
    al__waitq_init(&s->waiters, loop);
    *out = s;
    return 0;
}

int al_semaphore_new(al_loop *loop, long value, al_semaphore **out)
{
    return sem_new(loop, value, -1, out);
}

int al_bounded_semaphore_new(al_loop *loop, long value, al_semaphore **out)
{
    return sem_new(loop, value, value, out);
}

int al_semaphore_free(al_semaphore *sem)
{
    if (!sem)
        return 0;
    if (!can_free(sem->loop, sem->busy))
        return AL_EINVALIDSTATE;
    al__waitq_destroy(&sem->waiters);
    free(sem);
    return 0;
}

bool al_semaphore_locked(const al_semaphore *sem)
{
    return sem && (sem->value == 0 || al__waitq_has_live(&sem->waiters));
}

long al_semaphore_value(const al_semaphore *sem)
{
    return sem ? sem->value : 0;
}

/* Semaphore._wake_up_next: the unit is reserved for the woken waiter. */
static bool sem_wake_next(al_semaphore *s)
{
    if (!al__waitq_wake_next(&s->waiters))
        return false;
    s->value--;
    return true;
}

int al_semaphore_acquire(al_semaphore *sem)
{
    if (!sem)
        return -EINVAL;
    int rc = al__check_task(sem->loop);
    if (rc < 0)
        return rc;
    if (!al_semaphore_locked(sem)) {
        sem->value--;
        return 0;
    }
    sem->busy++;
    bool woken;
    rc = al__waitq_wait(&sem->waiters, &woken);
    if (rc < 0 && woken)
        sem->value++; /* a unit was reserved for us: give it back */
    /* Waiters that queued behind us for FIFO's sake while units were free
     * get them now. */
    while (sem->value > 0 && sem_wake_next(sem))
        ;
    sem->busy--;
    return rc;
}

int al_semaphore_release(al_semaphore *sem)
{
    if (!sem)
        return -EINVAL;
    if (sem->bound >= 0 && sem->value >= sem->bound)
        return -EINVAL;
    if (sem->value == LONG_MAX)
        return -EOVERFLOW;
    sem->value++;
    sem_wake_next(sem);
    return 0;
}

/* ---- Barrier -------------------------------------------------------------------- */

int al_barrier_new(al_loop *loop, int parties, al_barrier **out)
{
    if (!loop || !out || parties < 1)
        return -EINVAL;
    al_barrier *b = malloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    *b = (al_barrier){.loop = loop, .parties = parties, .state = B_FILLING};
    cond_init(&b->cond, loop, NULL);
    *out = b;
    return 0;
}

int al_barrier_free(al_barrier *b)
{
    if (!b)
        return 0;
    if (!can_free(b->loop, b->busy))
        return AL_EINVALIDSTATE;
    cond_destroy(&b->cond);
    free(b);
    return 0;
}

static bool not_draining_or_resetting(void *arg)
{
    al_barrier *b = arg;
    return b->state != B_DRAINING && b->state != B_RESETTING;
}

static bool not_filling(void *arg)
{
    return ((al_barrier *)arg)->state != B_FILLING;
}

/* Barrier._exit: the last task out of a drain or reset refills. */
static void barrier_exit(al_barrier *b)
{
    if (b->count == 0) {
        if (b->state == B_RESETTING || b->state == B_DRAINING)
            b->state = B_FILLING;
        cond_notify(&b->cond, (size_t)-1);
    }
}

/* The body of Barrier.wait, with the condition's lock held.
 *
 * Indices are handed out when the round passes, not on arrival: asyncio
 * takes count on arrival, so after a filling waiter is cancelled the next
 * arrival reuses a live waiter's index (CPython gh-155233). The last
 * arrival, which trips the barrier, takes parties-1; the others take
 * 0, 1, ... as they leave, so the tasks of a round always get distinct
 * indices. No new round fills before this one has drained (count). */
static int barrier_pass(al_barrier *b, int *index)
{
    /* Block while the barrier drains or resets. */
    int rc = al_condition_wait_for(&b->cond, not_draining_or_resetting, b);
    if (rc < 0)
        return rc;
    if (b->state == B_BROKEN)
        return AL_EBROKENBARRIER;
    int i;
    if (++b->count == b->parties) {
        b->state = B_DRAINING; /* we trip it */
        b->passed = 0;
        i = b->parties - 1;
        cond_notify(&b->cond, (size_t)-1);
    } else {
        rc = al_condition_wait_for(&b->cond, not_filling, b);
        if (rc == 0 && (b->state == B_BROKEN || b->state == B_RESETTING))
            rc = AL_EBROKENBARRIER;
        i = rc == 0 ? b->passed++ : -1;
    }
    b->count--;
    barrier_exit(b);
    if (rc == 0 && index)
        *index = i;
    return rc;
}

int al_barrier_wait(al_barrier *b, int *index)
{
    if (!b)
        return -EINVAL;
    int rc = al__check_task(b->loop);
    if (rc < 0)
        return rc;
    b->busy++;
    rc = lock_acquire(b->cond.lock);
    if (rc == 0) {
        rc = barrier_pass(b, index);
        if (b->cond.lock->locked) /* not held only after -ENOMEM */
            al_lock_release(b->cond.lock);
    }
    b->busy--;
    return rc;
}

int al_barrier_reset(al_barrier *b)
{
    if (!b)
        return -EINVAL;
    b->state = b->count > 0 ? B_RESETTING : B_FILLING;
    cond_notify(&b->cond, (size_t)-1);
    return 0;
}

int al_barrier_abort(al_barrier *b)
{
    if (!b)
        return -EINVAL;
    b->state = B_BROKEN;
    cond_notify(&b->cond, (size_t)-1);
    return 0;
}

int al_barrier_parties(const al_barrier *b)
{
    return b ? b->parties : 0;
}

int al_barrier_n_waiting(const al_barrier *b)
{
    return b && b->state == B_FILLING ? b->count : 0;
}

bool al_barrier_broken(const al_barrier *b)
{
    return b && b->state == B_BROKEN;
}

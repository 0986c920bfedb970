/* lock_condition: a Lock guarding a read-modify-write that suspends, and a
 * Condition over the same Lock that tasks wait on until the shared value
 * reaches what they need (asyncio.Lock, asyncio.Condition.wait_for). */
#include "check.h"

#include <stdbool.h>
#include <stdint.h>

enum { DEPOSITORS = 4, DEPOSITS = 5, WAITERS = 3 };
static const long targets[WAITERS] = {5, 12, DEPOSITORS *DEPOSITS};

static al_lock *lock;
static al_condition *changed; /* "balance changed", over lock */
static long balance;

/* Runs with the lock held (al_lock_with): without it, another depositor
 * could run during the sleep and one of the two updates would be lost. */
static int deposit_locked(void *arg)
{
    (void)arg;
    long seen = balance;
    CHECK(al_sleep(0)); /* any suspension: an await, a read from a socket */
    balance = seen + 1;
    return al_condition_notify_all(changed); /* needs the lock held */
}

static int depositor(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (int i = 0; i < DEPOSITS; i++)
        CHECK(al_lock_with(lock, deposit_locked, NULL)); /* releases on any return */
    return 0;
}

static bool reached(void *arg)
{
    return balance >= *(const long *)arg;
}

static int waiter(void *arg, void **result)
{
    (void)result;
    CHECK(al_condition_acquire(changed));
    /* Releases the lock while waiting; however it returns, the lock is held
     * again (except on -ENOMEM), so release it in every case. */
    int rc = al_condition_wait_for(changed, reached, arg);
    if (rc == 0)
        printf("waiter for %ld: balance is %ld\n", *(const long *)arg, balance);
    int release_rc = al_condition_release(changed);
    CHECK(rc);
    CHECK(release_rc);
    return 0;
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = al_get_running_loop();
    al_task *t;
    al_future *fs[WAITERS + DEPOSITORS], *all = NULL;
    CHECK(al_lock_new(loop, &lock));
    CHECK(al_condition_new(loop, lock, &changed)); /* borrows lock */
    for (int i = 0; i < WAITERS + DEPOSITORS; i++) {
        if (i < WAITERS)
            CHECK(al_task_new(loop, waiter, (void *)&targets[i], NULL, &t));
        else
            CHECK(al_task_new(loop, depositor, NULL, NULL, &t));
        fs[i] = al_task_future(t);
    }
    int rc = al_gather_wait(fs, WAITERS + DEPOSITORS, false, &all);
    al_future_unref(all);
    for (int i = 0; i < WAITERS + DEPOSITORS; i++)
        al_future_unref(fs[i]);
    CHECK(rc);
    printf("final balance %ld (expected %d)\n", balance, DEPOSITORS * DEPOSITS);
    CHECK(al_condition_free(changed));
    CHECK(al_lock_free(lock));
    return balance == DEPOSITORS * DEPOSITS ? 0 : AL_EFAILED;
}

int main(void)
{
    return example_exit("lock_condition", al_run(main_task, NULL, NULL));
}

/* The default executor: a lazily grown pool of detached threads.
 *
 * A job has two owners, counted atomically: the loop side (its future,
 * touched only on the loop's thread) and the pool side (the queue, then
 * the worker, then the completion queued back with call_soon_threadsafe).
 * Whoever lets go last frees it, so neither a cancelled future nor a closed
 * loop leaves a worker writing to freed memory. */
#include "deadline.h"
#include "future_internal.h"

#include <asynclib/error.h>
#include <asynclib/executor.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct al_job al_job;

struct al_executor {
    pthread_mutex_t lock;
    pthread_cond_t work;   /* a job was queued, or shutdown */
    pthread_cond_t exited; /* a thread exited */
    al_list queue;         /* jobs no thread has taken yet (al_job.queued) */
    int threads, idle, max;
    bool shutdown;
    /* Where completions go; cleared under lock when the loop closes, so a
     * worker that outlives the loop never touches it. */
    al_loop *loop;
    atomic_int refs; /* the loop + every thread */
};

struct al_job {
    al_link queue_link;    /* in ex->queue while queued (under ex->lock) */
    al_link inflight_link; /* in loop->exec.jobs while fut is set (loop thread) */
    al_loop *loop;
    al_executor *ex;
    al_work_fn fn;
    void *arg;
    void *result;
    al_value_dtor dtor;
    int rc;
    al_future *fut; /* loop side; NULL once it let go */
    bool queued;    /* under ex->lock */
    atomic_int refs;
};

static void executor_release(al_executor *ex)
{
    if (atomic_fetch_sub(&ex->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&ex->lock);
    pthread_cond_destroy(&ex->work);
    pthread_cond_destroy(&ex->exited);
    free(ex);
}

static void job_release(al_job *job)
{
    if (atomic_fetch_sub(&job->refs, 1) != 1)
        return;
    if (job->dtor && job->result)
        job->dtor(job->result); /* a result nobody took */
    free(job);
}

/* ---- loop side ---------------------------------------------------------------- */

static int job_future_done(al_future *f, void *arg);

/* The loop side lets go: the future no longer waits for this job. */
static void job_detach(al_job *job)
{
    al_future *f = job->fut;
    if (!f)
        return;
    job->fut = NULL;
    al_future_remove_done_callback(f, job_future_done, job);
    al__list_remove(&job->loop->exec.jobs, &job->inflight_link);
    al__loop_external_end(job->loop);
    al_future_unref(f);
    job_release(job);
}

/* Withdraws a job that no thread has taken yet; true if it was queued. */
static bool job_unqueue(al_job *job)
{
    al_executor *ex = job->ex;
    pthread_mutex_lock(&ex->lock);
    bool found = job->queued;
    if (found) {
        al__list_remove(&ex->queue, &job->queue_link);
        job->queued = false;
    }
    pthread_mutex_unlock(&ex->lock);
    return found;
}

/* The future finished first: the user cancelled it. */
static int job_future_done(al_future *f, void *arg)
{
    (void)f;
    al_job *job = arg;
    if (job_unqueue(job))
        job_release(job); /* the queue's reference */
    job_detach(job);
    return 0;
}

/* Every outcome releases the stored result exactly once: moved into the
 * future on success, else released here (an error after storing one), or
 * by job_release when nobody wants it any more (cancelled, loop closed). */
static int job_complete(al_loop *loop, void *arg)
{
    (void)loop;
    al_job *job = arg;
    al_future *f = job->fut;
    if (f && f->state == AL_PENDING) {
        /* Not a cancellation: our own done-callback must not see it. */
        al_future_remove_done_callback(f, job_future_done, job);
        if (job->rc >= 0) {
            al__future_finish(f, AL_RESULT, 0, job->result, job->dtor, NULL);
            job->result = NULL;
        } else if (job->rc == AL_ECANCELLED) {
            al__future_finish(f, AL_CANCELLED, AL_ECANCELLED, NULL, NULL, NULL);
        } else {
            al__future_finish(f, AL_ERROR, job->rc, NULL, NULL, NULL);
        }
    }
    job_detach(job);
    job_release(job); /* the pool side's reference; a result left is released */
    return 0;
}

static void job_drop(void *arg)
{
    job_release(arg);
}

/* ---- pool side ------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    al_executor *ex = arg;
    pthread_mutex_lock(&ex->lock);
    for (;;) {
        while (al__list_empty(&ex->queue) && !ex->shutdown) {
            ex->idle++;
            pthread_cond_wait(&ex->work, &ex->lock);
            ex->idle--;
        }
        al_link *taken = al__list_pop_front(&ex->queue);
        if (!taken)
            break; /* shut down and drained */
        al_job *job = AL_CONTAINER(taken, al_job, queue_link);
        job->queued = false;
        pthread_mutex_unlock(&ex->lock);

        job->rc = job->fn(job->arg, &job->result);

        pthread_mutex_lock(&ex->lock);
        if (!ex->loop || al__call_soon_threadsafe(ex->loop, job_complete, job, job_drop) < 0)
            job_release(job); /* the loop is closed: nobody wants it */
    }
    ex->threads--;
    pthread_cond_broadcast(&ex->exited);
    pthread_mutex_unlock(&ex->lock);
    executor_release(ex);
    return NULL;
}

static int default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    n = (n > 0 ? n : 1) + 4;
    return n > 32 ? 32 : (int)n;
}

static al_executor *executor_get(al_loop *loop)
{
    if (loop->exec.pool)
        return loop->exec.pool;
    al_executor *ex = calloc(1, sizeof *ex);
    if (!ex)
        return NULL;
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ex->exited, &attr);
    pthread_condattr_destroy(&attr);
    ex->max = loop->exec.workers > 0 ? loop->exec.workers : default_workers();
    atomic_init(&ex->refs, 1);
    ex->loop = loop;
    loop->exec.pool = ex;
    return ex;
}

/* Undoes executor_get's creation of a pool that got no thread. */
static void executor_forget(al_loop *loop, bool fresh)
{
    al_executor *ex = loop->exec.pool;
    if (!fresh || !ex)
        return;
    loop->exec.pool = NULL;
    executor_release(ex);
}

/* Caller holds ex->lock. A worker starts with every asynchronous signal
 * blocked (it inherits the mask in place at its creation), so that a
 * signal sent to the process goes to the loop's thread (or another thread
 * of the program), never to a worker in the middle of a job: the I/O
 * loop's signal handlers and Ctrl+C then behave as without a pool. Faults
 * (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) stay deliverable to
 * the thread that causes them. */
static int spawn_worker_locked(al_executor *ex)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t block, old;
    sigfillset(&block);
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&block, faults[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    atomic_fetch_add(&ex->refs, 1);
    int rc = pthread_create(&th, &attr, worker_main, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&ex->refs, 1);
        return -rc;
    }
    ex->threads++;
    return 0;
}

int al_loop_run_in_executor(al_loop *loop, al_work_fn fn, void *arg, al_value_dtor result_dtor,
                            al_future **out)
{
    if (!loop || !fn || !out)
        return -EINVAL;
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    if (loop->exec.shut)
        return AL_EINVALIDSTATE;
    /* A refusal leaves no pool behind: al_loop_set_executor_workers still
     * works after a failed first submission. */
    bool fresh = loop->exec.pool == NULL;
    al_executor *ex = executor_get(loop);
    al_job *job = ex ? calloc(1, sizeof *job) : NULL;
    al_future *f = NULL;
    if (!job || al_future_new(loop, &f) < 0 ||
        al_future_add_done_callback(f, job_future_done, job) < 0) {
        al_future_unref(f);
        free(job);
        executor_forget(loop, fresh);
        return -ENOMEM;
    }
    job->loop = loop;
    job->ex = ex;
    job->fn = fn;
    job->arg = arg;
    job->dtor = result_dtor;
    job->fut = al_future_ref(f);
    atomic_init(&job->refs, 2);

    pthread_mutex_lock(&ex->lock);
    rc = 0;
    if (ex->idle == 0 && ex->threads < ex->max)
        rc = spawn_worker_locked(ex);
    if (rc < 0 && ex->threads == 0) {
        pthread_mutex_unlock(&ex->lock);
        al_future_remove_done_callback(f, job_future_done, job);
        al_future_unref(f);
        al_future_unref(f);
        free(job);
        executor_forget(loop, fresh);
        return -EAGAIN;
    }
    al__list_push_back(&ex->queue, &job->queue_link);
    job->queued = true;
    pthread_cond_signal(&ex->work);
    pthread_mutex_unlock(&ex->lock);

    al__list_push_front(&loop->exec.jobs, &job->inflight_link);
    al__loop_external_begin(loop);
    *out = f;
    return 0;
}

int al_loop_set_executor_workers(al_loop *loop, int max_workers)
{
    if (!loop || max_workers < 1)
        return -EINVAL;
    if (loop->exec.pool)
        return AL_EINVALIDSTATE;
    loop->exec.workers = max_workers;
    return 0;
}

/* Stops the pool: queued work is dropped (drop_queued) or left to run. */
static void executor_stop(al_executor *ex, bool drop_queued)
{
    pthread_mutex_lock(&ex->lock);
    ex->shutdown = true;
    if (drop_queued)
        ex->loop = NULL; /* the loop is closing */
    al_list dropped = {0};
    if (drop_queued) {
        dropped = ex->queue;
        ex->queue = (al_list){0};
        AL_LIST_FOREACH (it, &dropped)
            AL_CONTAINER(it, al_job, queue_link)->queued = false;
    }
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    AL_LIST_FOREACH (it, &dropped)
        job_release(AL_CONTAINER(it, al_job, queue_link));
}

void al__executor_shutdown_nowait(al_loop *loop)
{
    while (loop->exec.jobs.head)
        job_detach(AL_CONTAINER(loop->exec.jobs.head, al_job, inflight_link));
    al_executor *ex = loop->exec.pool;
    if (!ex)
        return;
    loop->exec.pool = NULL;
    executor_stop(ex, true);
    executor_release(ex);
}

int al_loop_shutdown_default_executor(al_loop *loop, double timeout)
{
    if (!loop || isnan(timeout))
        return -EINVAL;
    int rc = al__loop_check(loop);
    if (rc < 0)
        return rc;
    loop->exec.shut = true;
    al_executor *ex = loop->exec.pool;
    if (!ex)
        return 0;
    /* The loop keeps its reference: threads that outlive a timeout still
     * deliver their results, until close cuts them off. */
    executor_stop(ex, false);
    struct timespec deadline;
    bool limited = al__deadline_after(CLOCK_MONOTONIC, timeout, &deadline);
    rc = 0;
    pthread_mutex_lock(&ex->lock);
    while (ex->threads > 0 && rc == 0) {
        int err = limited ? pthread_cond_timedwait(&ex->exited, &ex->lock, &deadline)
                          : pthread_cond_wait(&ex->exited, &ex->lock);
        if (err == ETIMEDOUT)
            rc = AL_ETIMEOUT;
        else if (err != 0)
            rc = -err; /* never spin holding the lock */
    }
    pthread_mutex_unlock(&ex->lock);
    return rc;
}

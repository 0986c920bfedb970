/* A cancellation storm against a model.
 *
 * Workers loop over random operations on shared objects (sleep, await a
 * gate future, gather, wait, wait_for, shield, a timeout scope, a
 * TaskGroup, a lock, a semaphore, a condition, a queue, an event) while a
 * seeded driver cancels workers at random, completes or cancels the gates
 * and toggles the event; the loop is stopped and closed at a random
 * moment, so every task is unwound wherever it is. Invariants, checked
 * after the close:
 *   - every task ended, and every worker ran its epilogue (unwound);
 *   - the lock, the semaphore and the condition's lock are free, the
 *     counters of tasks inside them are back to 0;
 *   - condition tokens are conserved; each queue item put is got at most
 *     once, and is got or still queued (none lost, none duplicated);
 *   - on the virtual loop the same seed gives the same outcome (a digest of
 *     every operation's result and the final state, run twice).
 * Both stack modes (loop test index _i). A failure names its seed.
 *
 * Seeds: STORM_SEEDS_VIRTUAL / STORM_SEEDS_REAL per stack mode by default;
 * AL_STORM_SEEDS=N runs N instead, AL_STORM_SEED=S runs only seed S (replay),
 * AL_STORM_VERBOSE=1 prints a line per run. */
#include "al_conf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORM_SEEDS_VIRTUAL 40
#define STORM_SEEDS_REAL 6
#define N_WORKERS 24
#define N_ROUNDS 30
#define N_GATES 4
#define SEM_MAX 2
#define MAX_ITEMS (N_WORKERS * N_ROUNDS + 1)
#define MAX_TASKS (N_WORKERS * N_ROUNDS * 2 + N_WORKERS + 8)

typedef struct storm {
    uint64_t seed;
    al_loop *loop;
    int shared;
    al_task_options opts;
    double scale; /* seconds per time unit */
    /* the objects */
    al_future *gates[N_GATES];
    al_lock *lock;
    al_semaphore *sem;
    al_condition *cond;
    al_queue *queue;
    al_event *event;
    /* the model */
    int active; /* workers between prologue and epilogue */
    int in_lock, in_sem, max_in_sem;
    long tokens, tokens_made, tokens_taken;
    int next_item;
    unsigned char made[MAX_ITEMS], got[MAX_ITEMS];
    int violations;
    char first_violation[160];
    /* every task made, one reference each */
    al_task *tasks[MAX_TASKS];
    int ntasks;
    al_task *workers[N_WORKERS];
    uint64_t digest;
    int ops;
} storm;

typedef struct worker {
    storm *s;
    int id;
    uint64_t rng;
} worker;

static uint64_t next_rand(uint64_t *x)
{
    /* splitmix64 */
    uint64_t z = (*x += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static int rnd(uint64_t *x, int n)
{
    return (int)(next_rand(x) % (uint64_t)n);
}

static void mix(storm *s, int64_t v)
{
    s->digest = (s->digest ^ (uint64_t)v) * 0x100000001B3u;
}

static void violation(storm *s, const char *what)
{
    if (s->violations++ == 0)
        snprintf(s->first_violation, sizeof s->first_violation, "%s", what);
}

/* A delay of 0..3 units (0: one iteration). */
static double delay(worker *w)
{
    return rnd(&w->rng, 4) * w->s->scale;
}

/* ---- children ------------------------------------------------------------------- */

#define UNIT 0.001 /* seconds per time unit of the storm */

/* Sleeps 0..3 units, then succeeds or fails (its argument is its seed). */
static int child_main(void *arg, void **r)
{
    (void)r;
    uint64_t x = (uint64_t)(uintptr_t)arg;
    int rc = al_sleep(rnd(&x, 4) * UNIT);
    if (rc < 0)
        return rc;
    return rnd(&x, 5) == 0 ? -EIO : 0;
}

static al_task *spawn_child(worker *w)
{
    storm *s = w->s;
    if (s->ntasks == MAX_TASKS)
        return NULL;
    al_task *t;
    uintptr_t seed = (uintptr_t)next_rand(&w->rng);
    if (al_task_new(s->loop, child_main, (void *)seed, &s->opts, &t) < 0)
        return NULL;
    s->tasks[s->ntasks++] = t; /* the storm's reference, released at the end */
    return t;
}

/* ---- the operations -------------------------------------------------------------- */

enum {
    OP_SLEEP,
    OP_GATE,
    OP_GATHER,
    OP_WAIT,
    OP_WAIT_FOR,
    OP_SHIELD,
    OP_TIMEOUT,
    OP_GROUP,
    OP_LOCK,
    OP_SEM,
    OP_COND_MAKE,
    OP_COND_TAKE,
    OP_QPUT,
    OP_QGET,
    OP_EVENT,
    N_OPS
};

static int op_lock(worker *w)
{
    storm *s = w->s;
    int rc = al_lock_acquire(s->lock);
    if (rc < 0)
        return rc;
    if (s->in_lock++ != 0)
        violation(s, "two tasks inside the lock");
    rc = al_sleep(delay(w));
    s->in_lock--;
    al_lock_release(s->lock);
    return rc;
}

static int op_sem(worker *w)
{
    storm *s = w->s;
    int rc = al_semaphore_acquire(s->sem);
    if (rc < 0)
        return rc;
    if (++s->in_sem > SEM_MAX)
        violation(s, "semaphore overrun");
    rc = al_sleep(delay(w));
    s->in_sem--;
    al_semaphore_release(s->sem);
    return rc;
}

static int op_cond_make(worker *w)
{
    storm *s = w->s;
    int rc = al_condition_acquire(s->cond);
    if (rc < 0)
        return rc;
    s->tokens++;
    s->tokens_made++;
    al_condition_notify(s->cond, 1);
    al_condition_release(s->cond);
    return 0;
}

static bool has_token(void *arg)
{
    return ((storm *)arg)->tokens > 0;
}

static int op_cond_take(worker *w)
{
    storm *s = w->s;
    int rc = al_condition_acquire(s->cond);
    if (rc < 0)
        return rc;
    rc = al_condition_wait_for(s->cond, has_token, s);
    if (rc == 0) {
        s->tokens--;
        s->tokens_taken++;
    }
    if (al_condition_locked(s->cond))
        al_condition_release(s->cond);
    else if (rc == 0)
        violation(s, "condition wait returned 0 without the lock");
    return rc;
}

static int op_qput(worker *w)
{
    storm *s = w->s;
    if (s->next_item >= MAX_ITEMS)
        return 0;
    int item = s->next_item++;
    int rc = al_queue_put(s->queue, CONF_VP(item + 1));
    if (rc == 0)
        s->made[item] = 1;
    return rc;
}

static int op_qget(worker *w)
{
    storm *s = w->s;
    void *p;
    int rc = al_queue_get(s->queue, &p);
    if (rc == 0) {
        int item = CONF_PV(p) - 1;
        if (item < 0 || item >= MAX_ITEMS || !s->made[item] || s->got[item]++)
            violation(s, "queue item duplicated or never put");
        al_queue_task_done(s->queue);
    }
    return rc;
}

static int op_gather(worker *w)
{
    al_task *a = spawn_child(w), *b = spawn_child(w);
    if (!a || !b)
        return 0;
    al_future *fs[2] = {CONF_F(a), CONF_F(b)};
    int rc = al_gather_wait(fs, 2, rnd(&w->rng, 2), NULL);
    return rc;
}

static int op_wait(worker *w)
{
    al_task *a = spawn_child(w), *b = spawn_child(w);
    if (!a || !b)
        return 0;
    al_future *fs[2] = {CONF_F(a), CONF_F(b)};
    size_t nd = 0, np = 0;
    int rc = al_wait(fs, 2, delay(w) + w->s->scale, AL_FIRST_COMPLETED, NULL, &nd, NULL, &np);
    if ((rc == 0 || rc == AL_ECANCELLED) && nd + np != 2)
        violation(w->s, "wait lost a future");
    return rc;
}

static int op_wait_for(worker *w)
{
    al_task *a = spawn_child(w);
    return a ? al_wait_for(CONF_F(a), delay(w)) : 0;
}

static int op_shield(worker *w)
{
    al_task *a = spawn_child(w);
    if (!a)
        return 0;
    al_future *sh;
    int rc = al_shield(CONF_F(a), &sh);
    if (rc < 0)
        return rc;
    rc = al_await(sh);
    al_future_unref(sh);
    return rc;
}

static int op_gate(worker *w)
{
    storm *s = w->s;
    al_future *g = al_future_ref(s->gates[rnd(&w->rng, N_GATES)]);
    int rc = al_await(g);
    al_future_unref(g);
    return rc;
}

static int op_event(worker *w)
{
    return al_event_wait(w->s->event);
}

static int do_op(worker *w, int op);

/* A scope around another operation (a sleep, the lock or the gate). */
static int op_timeout(worker *w)
{
    al_timeout to = AL_TIMEOUT_INIT;
    int rc = al_timeout_enter(&to, delay(w));
    if (rc < 0)
        return rc;
    static const int inner[] = {OP_SLEEP, OP_LOCK, OP_GATE, OP_QGET};
    rc = do_op(w, inner[rnd(&w->rng, 4)]);
    return al_timeout_exit(&to, rc);
}

static int group_child(void *arg, void **r)
{
    (void)r;
    worker *w = arg;
    static const int ops[] = {OP_SLEEP, OP_LOCK, OP_SEM, OP_QPUT, OP_GATE};
    uint64_t x = next_rand(&w->rng); /* a stream of its own, seeded from the parent's */
    worker me = {.s = w->s, .id = -1, .rng = x};
    return do_op(&me, ops[rnd(&x, 5)]);
}

static int op_group(worker *w)
{
    storm *s = w->s;
    al_taskgroup *tg;
    if (al_taskgroup_new(&tg) < 0)
        return 0;
    int rc = al_taskgroup_enter(tg);
    for (int i = 0; rc == 0 && i < 2; i++) {
        al_task *t;
        if (s->ntasks < MAX_TASKS &&
            al_taskgroup_create_task(tg, group_child, w, &s->opts, &t) == 0)
            s->tasks[s->ntasks++] = t;
    }
    int body = rc == 0 ? al_sleep(delay(w)) : rc;
    if (rc == 0)
        rc = al_taskgroup_exit(tg, body);
    al_taskgroup_free(tg);
    return rc;
}

static int do_op(worker *w, int op)
{
    switch (op) {
    case OP_SLEEP:
        return al_sleep(delay(w));
    case OP_GATE:
        return op_gate(w);
    case OP_GATHER:
        return op_gather(w);
    case OP_WAIT:
        return op_wait(w);
    case OP_WAIT_FOR:
        return op_wait_for(w);
    case OP_SHIELD:
        return op_shield(w);
    case OP_TIMEOUT:
        return op_timeout(w);
    case OP_GROUP:
        return op_group(w);
    case OP_LOCK:
        return op_lock(w);
    case OP_SEM:
        return op_sem(w);
    case OP_COND_MAKE:
        return op_cond_make(w);
    case OP_COND_TAKE:
        return op_cond_take(w);
    case OP_QPUT:
        return op_qput(w);
    case OP_QGET:
        return op_qget(w);
    default:
        return op_event(w);
    }
}

static int worker_main(void *arg, void **r)
{
    (void)r;
    worker *w = arg;
    storm *s = w->s;
    s->active++;
    int rc = 0;
    for (int round = 0; round < N_ROUNDS; round++) {
        int op = rnd(&w->rng, N_OPS);
        rc = do_op(w, op);
        s->ops++;
        mix(s, w->id * 1000 + op);
        mix(s, rc);
        if (rc == AL_ELOOPCLOSING)
            break;
        if (rc == AL_ECANCELLED) {
            if (rnd(&w->rng, 2))
                break;                     /* let it end the worker */
            al_task_uncancel(conf_self()); /* swallow it and go on */
            rc = 0;
        }
    }
    s->active--;
    return rc == AL_ECANCELLED ? rc : 0;
}

/* ---- the driver ------------------------------------------------------------------ */

static int driver_main(void *arg, void **r)
{
    (void)r;
    storm *s = arg;
    uint64_t x = s->seed ^ 0xD1B54A32D192ED03u;
    for (int step = 0; step < 4 * N_WORKERS; step++) {
        int rc = al_sleep(rnd(&x, 3) * s->scale);
        if (rc < 0)
            return rc;
        int g = rnd(&x, N_GATES);
        switch (rnd(&x, 6)) {
        case 0:
        case 1:
            al_task_cancel(s->workers[rnd(&x, N_WORKERS)], "storm");
            break;
        case 2: /* a gate completes, a new one replaces it */
        case 3:
            if (rnd(&x, 2))
                al_future_set_result(s->gates[g], NULL, NULL);
            else
                al_future_cancel(s->gates[g], NULL);
            al_future_unref(s->gates[g]);
            if (al_future_new(s->loop, &s->gates[g]) < 0)
                return -ENOMEM;
            break;
        case 4:
            al_event_set(s->event);
            break;
        default:
            al_event_clear(s->event);
            break;
        }
    }
    return 0;
}

static int stop_cb(al_loop *loop, void *arg)
{
    (void)arg;
    return al_loop_stop(loop);
}

/* ---- one run --------------------------------------------------------------------- */

static int unwind_failures;

static void watch_reports(al_loop *loop, const al_error_context *ctx, void *user)
{
    (void)loop;
    (void)user;
    if (strstr(ctx->message, "ignored loop close") || strstr(ctx->message, "could not be unwound"))
        unwind_failures++;
}

static void storm_setup(storm *s, uint64_t seed, int shared)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->shared = shared;
    s->digest = 0xCBF29CE484222325u;
    s->loop = conf_loop_new();
    s->scale = UNIT;
    s->opts = (al_task_options)AL_TASK_OPTIONS_DEFAULT;
    s->opts.flags = shared ? AL_TASK_SHARED_STACK : 0;
    al_loop_set_exception_handler(s->loop, watch_reports, NULL);
    for (int i = 0; i < N_GATES; i++)
        ck_assert_int_eq(al_future_new(s->loop, &s->gates[i]), 0);
    ck_assert_int_eq(al_lock_new(s->loop, &s->lock), 0);
    ck_assert_int_eq(al_bounded_semaphore_new(s->loop, SEM_MAX, &s->sem), 0);
    ck_assert_int_eq(al_condition_new(s->loop, NULL, &s->cond), 0);
    ck_assert_int_eq(al_queue_new(s->loop, 4, &s->queue), 0);
    ck_assert_int_eq(al_event_new(s->loop, &s->event), 0);
}

/* Runs one seed; returns its digest. Every invariant is asserted here. */
static uint64_t storm_run(uint64_t seed, int shared)
{
    storm *s = calloc(1, sizeof *s);
    worker *ws = calloc(N_WORKERS, sizeof *ws);
    ck_assert(s && ws);
    storm_setup(s, seed, shared);
    unwind_failures = 0;
    uint64_t x = seed;
    for (int i = 0; i < N_WORKERS; i++) {
        ws[i] = (worker){.s = s, .id = i, .rng = next_rand(&x)};
        ck_assert_int_eq(al_task_new(s->loop, worker_main, &ws[i], &s->opts, &s->workers[i]), 0);
    }
    al_task *driver;
    ck_assert_int_eq(al_task_new(s->loop, driver_main, s, &s->opts, &driver), 0);
    /* Stop and close at a random moment: most often mid-storm. */
    double close_at = rnd(&x, 60) * s->scale;
    al_handle *h;
    ck_assert_int_eq(al_call_later(s->loop, close_at, stop_cb, NULL, &h), 0);
    ck_assert_int_eq(al_loop_run_forever(s->loop), 0);
    al_handle_unref(h);
    int pending = (int)al_loop_all_tasks(s->loop, NULL, 0);
    ck_assert_int_eq(al_loop_close(s->loop), 0);

    /* Every task ended; every worker ran its epilogue. */
    char msg[64];
    snprintf(msg, sizeof msg, "seed %llu (%s stack)", (unsigned long long)seed,
             shared ? "shared" : "private");
    for (int i = 0; i < N_WORKERS; i++)
        ck_assert_msg(al_future_done(CONF_F(s->workers[i])), "%s: worker %d not done", msg, i);
    for (int i = 0; i < s->ntasks; i++)
        ck_assert_msg(al_future_done(CONF_F(s->tasks[i])), "%s: task not done", msg);
    ck_assert_msg(al_future_done(CONF_F(driver)), "%s: driver not done", msg);
    ck_assert_msg(s->active == 0, "%s: %d workers never ran their epilogue", msg, s->active);
    ck_assert_msg(unwind_failures == 0, "%s: %d tasks not unwound", msg, unwind_failures);
    ck_assert_msg(s->violations == 0, "%s: %d violations, first: %s", msg, s->violations,
                  s->first_violation);
    /* Locks free, counters back to their start. */
    ck_assert_msg(!al_lock_locked(s->lock) && s->in_lock == 0, "%s: lock still held", msg);
    ck_assert_msg(al_semaphore_value(s->sem) == SEM_MAX && s->in_sem == 0, "%s: semaphore at %ld",
                  msg, al_semaphore_value(s->sem));
    ck_assert_msg(!al_condition_locked(s->cond), "%s: condition lock still held", msg);
    ck_assert_msg(s->tokens == s->tokens_made - s->tokens_taken && s->tokens >= 0,
                  "%s: tokens not conserved", msg);
    /* Queue items: none lost, none duplicated. */
    void *p;
    while (al_queue_get_nowait(s->queue, &p) == 0) {
        int item = CONF_PV(p) - 1;
        ck_assert_msg(item >= 0 && item < MAX_ITEMS && s->made[item] && !s->got[item]++,
                      "%s: queued item %d duplicated or never put", msg, item);
    }
    for (int i = 0; i < s->next_item; i++)
        ck_assert_msg(s->made[i] == s->got[i], "%s: item %d put %d, got %d", msg, i, s->made[i],
                      s->got[i]);

    mix(s, pending);
    mix(s, s->tokens);
    mix(s, s->next_item);
    uint64_t digest = s->digest;
    if (getenv("AL_STORM_VERBOSE"))
        fprintf(stderr,
                "%s: closed at %.3f with %d tasks pending; %d operations, %d tasks, %d items, "
                "%ld tokens made, digest %016llx\n",
                msg, close_at, pending, s->ops, s->ntasks, s->next_item, s->tokens_made,
                (unsigned long long)digest);

    for (int i = 0; i < N_WORKERS; i++)
        al_task_unref(s->workers[i]);
    for (int i = 0; i < s->ntasks; i++)
        al_task_unref(s->tasks[i]);
    al_task_unref(driver);
    ck_assert_int_eq(al_loop_free(s->loop), 0);
    for (int i = 0; i < N_GATES; i++)
        al_future_unref(s->gates[i]);
    ck_assert_int_eq(al_lock_free(s->lock), 0);
    ck_assert_int_eq(al_semaphore_free(s->sem), 0);
    ck_assert_int_eq(al_condition_free(s->cond), 0);
    ck_assert_int_eq(al_queue_free(s->queue), 0);
    ck_assert_int_eq(al_event_free(s->event), 0);
    free(ws);
    free(s);
    return digest;
}

START_TEST(cancel_storm)
{
    const char *one = getenv("AL_STORM_SEED");
    const char *count = getenv("AL_STORM_SEEDS");
    int n = conf_is_virtual() ? STORM_SEEDS_VIRTUAL : STORM_SEEDS_REAL;
    n = count && *count ? atoi(count) : conf_many(n) > 0 ? conf_many(n) : 1;
    uint64_t first = 1;
    if (one && *one) {
        first = strtoull(one, NULL, 10);
        n = 1;
    }
    for (uint64_t seed = first; seed < first + (uint64_t)n; seed++) {
        uint64_t d = storm_run(seed, _i);
        if (conf_is_virtual()) {
            uint64_t again = storm_run(seed, _i);
            ck_assert_msg(d == again, "seed %llu (%s stack): two runs differ",
                          (unsigned long long)seed, _i ? "shared" : "private");
        }
    }
}
END_TEST

AL_TEST_SUITE(suite_cancel_storm)
{
    Suite *s = suite_create("cancel_storm");
    TCase *tc = al_tcase("cancel_storm");
    tcase_add_loop_test(tc, cancel_storm, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

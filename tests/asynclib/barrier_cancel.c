/* Barrier indices stay a permutation of 0..parties-1 when waiters are
 * cancelled while the barrier fills (issue 8, fault 4; CPython gh-155233). */
#include "al_conf.h"

typedef struct party {
    al_barrier *b;
    int index, rc;
} party;

static int party_wait(void *arg, void **result)
{
    (void)result;
    party *p = arg;
    p->rc = al_barrier_wait(p->b, &p->index);
    return 0;
}

#define PARTIES 4
#define ARRIVALS 12

/* ARRIVALS tasks arrive one per iteration. Before arrival i, if bit i of
 * `cancel_mask` is set, the oldest waiter of the filling round is
 * cancelled (the one whose index a later arrival would reuse). Every
 * PARTIES waiters trip the barrier; the tasks of each round must get
 * 0..PARTIES-1, the tripping one PARTIES-1. (Not in arrival order: a
 * cancelled condition waiter passes a wake-up on, and the woken waiter
 * re-waits at the back.) */
static int rounds_main(void *arg, void **result)
{
    (void)result;
    unsigned cancel_mask = (unsigned)CONF_PV(arg);
    al_barrier *b;
    ck_assert_int_eq(al_barrier_new(conf_cur_loop(), PARTIES, &b), 0);
    party p[ARRIVALS];
    al_task *t[ARRIVALS];
    int waiting[PARTIES], live = 0, rounds = 0, cancels = 0;
    for (int i = 0; i < ARRIVALS; i++) {
        if (((cancel_mask >> i) & 1u) && live > 0) {
            int victim = waiting[0];
            al_task_cancel(t[victim], NULL);
            conf_s0();
            conf_s0();
            ck_assert_int_eq(p[victim].rc, AL_ECANCELLED);
            for (int j = 1; j < live; j++)
                waiting[j - 1] = waiting[j];
            live--;
            cancels++;
            ck_assert_int_eq(al_barrier_n_waiting(b), live);
        }
        p[i] = (party){.b = b, .index = -1, .rc = 99};
        t[i] = conf_spawn(party_wait, &p[i]);
        conf_s0();
        waiting[live++] = i;
        if (live < PARTIES)
            continue;
        for (int j = 0; j < 4; j++) /* the round tripped: let it drain */
            conf_s0();
        int seen = 0;
        for (int j = 0; j < PARTIES; j++) {
            party *w = &p[waiting[j]];
            ck_assert_int_eq(w->rc, 0);
            ck_assert(w->index >= 0 && w->index < PARTIES);
            ck_assert_msg(!(seen & (1 << w->index)), "index %d twice (mask %#x)", w->index,
                          cancel_mask);
            seen |= 1 << w->index;
        }
        ck_assert_int_eq(p[waiting[PARTIES - 1]].index, PARTIES - 1); /* the tripper */
        live = 0;
        rounds++;
    }
    ck_assert_int_eq(rounds, (ARRIVALS - cancels) / PARTIES);
    for (int i = 0; i < ARRIVALS; i++) {
        if (!conf_done(t[i]))
            al_task_cancel(t[i], NULL);
        conf_join(t[i]);
    }
    ck_assert_int_eq(al_barrier_free(b), 0);
    return 0;
}

START_TEST(barrier_indices_after_cancel)
{
    static const unsigned masks[] = {0x0, 0x4, 0x8, 0xc, 0x14, 0x22, 0x104, 0x248, 0x2a, 0xe};
    for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++)
        conf_run_main(rounds_main, CONF_VP(masks[m]));
}
END_TEST

/* The reported sequence: Barrier(3); A and B wait; A is cancelled; C and D
 * arrive: B, C, D get {0, 1, 2}, D gets 2. */
static int reported_main(void *arg, void **result)
{
    (void)arg, (void)result;
    al_barrier *b;
    ck_assert_int_eq(al_barrier_new(conf_cur_loop(), 3, &b), 0);
    party p[4];
    al_task *t[4];
    for (int i = 0; i < 4; i++)
        p[i] = (party){.b = b, .index = -1, .rc = 99};
    t[0] = conf_spawn(party_wait, &p[0]);
    t[1] = conf_spawn(party_wait, &p[1]);
    conf_s0();
    conf_s0();
    al_task_cancel(t[0], NULL);
    conf_s0();
    conf_s0();
    t[2] = conf_spawn(party_wait, &p[2]);
    t[3] = conf_spawn(party_wait, &p[3]);
    for (int i = 0; i < 4; i++)
        conf_join(t[i]);
    ck_assert_int_eq(p[0].rc, AL_ECANCELLED);
    ck_assert_int_eq(p[1].rc, 0);
    ck_assert_int_eq(p[2].rc, 0);
    ck_assert_int_eq(p[3].rc, 0);
    ck_assert_int_eq((1 << p[1].index) | (1 << p[2].index), 3);
    ck_assert_int_eq(p[3].index, 2);
    ck_assert_int_eq(al_barrier_free(b), 0);
    return 0;
}

START_TEST(barrier_reported_sequence)
{
    conf_run_main(reported_main, NULL);
}
END_TEST

AL_TEST_SUITE(suite_barrier_cancel)
{
    Suite *s = suite_create("barrier_cancel");
    TCase *tc = al_tcase("indices");
    tcase_add_test(tc, barrier_indices_after_cancel);
    tcase_add_test(tc, barrier_reported_sequence);
    suite_add_tcase(s, tc);
    return s;
}

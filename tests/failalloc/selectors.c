/* Scenario 6, the selectors: open the backend, register pipe ends for
 * reading and writing, modify, select, unregister, close; every
 * allocation failing in turn (no loop: the selector API directly). A
 * failed call must leave the selector as it was: the scenario checks
 * sel_get / sel_count after each refusal. */
#include "fa_util.h"

#include <selectors/selectors.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define NPIPES 8

typedef struct sel_st {
    fa_run run;
    int fds[NPIPES][2];
} sel_st;

/* The registration of fd is (events, data), or absent when events is 0. */
static bool holds(sel_selector *sel, int fd, unsigned events, void *data)
{
    unsigned ev = 0;
    void *d = NULL;
    int rc = sel_get(sel, fd, &ev, &d);
    return events ? rc == 0 && ev == events && d == data : rc < 0;
}

static void sel_steps(sel_st *st, sel_selector *sel)
{
    fa_run *r = &st->run;
    int n = 0;
    for (int i = 0; i < NPIPES; i++) {
        for (int e = 0; e < 2; e++) {
            int fd = st->fds[i][e];
            unsigned ev = e ? SEL_WRITE : SEL_READ;
            if (fa_err(r, sel_register(sel, fd, ev, &st->fds[i][e])) < 0) {
                if (!holds(sel, fd, 0, NULL) || sel_count(sel) != n)
                    r->unclean = true; /* a refused register changed something */
                return;
            }
            n++;
        }
    }
    for (int i = 0; i < NPIPES; i++) {
        int fd = st->fds[i][0];
        if (fa_err(r, sel_modify(sel, fd, SEL_READ | SEL_WRITE, st)) < 0) {
            if (!holds(sel, fd, SEL_READ, &st->fds[i][0]))
                r->unclean = true;
            return;
        }
    }
    sel_event ev[2 * NPIPES];
    int got = sel_select(sel, 0, ev, 2 * NPIPES);
    if (fa_err(r, got) < 0)
        return;
    if (got < NPIPES) /* every write end is writable */
        r->wrong = true;
    for (int i = 0; i < NPIPES; i++)
        for (int e = 0; e < 2; e++)
            if (fa_err(r, sel_unregister(sel, st->fds[i][e])) < 0)
                return;
    if (sel_count(sel) != 0)
        r->wrong = true;
}

static int sel_scenario(void *arg)
{
    sel_st *st = arg;
    st->run = (fa_run){0};
    sel_selector *sel = NULL;
    if (fa_err(&st->run, sel_open(&sel, al_test_impl)) == 0) {
        sel_steps(st, sel);
        if (sel_close(sel) != 0)
            st->run.unclean = true;
        sel_free(sel);
    }
    return fa_verdict(&st->run);
}

START_TEST(selectors_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "selectors/%s", al_test_impl);
    sel_st st;
    for (int i = 0; i < NPIPES; i++)
        ck_assert_int_eq(pipe2(st.fds[i], O_CLOEXEC | O_NONBLOCK), 0);
    failalloc_sweep(name, sel_scenario, &st, 1);
    for (int i = 0; i < NPIPES; i++) {
        close(st.fds[i][0]);
        close(st.fds[i][1]);
    }
}
END_TEST

AL_TEST_SUITE(failalloc_selectors)
{
    Suite *s = suite_create("failalloc_selectors");
    if (!fa_pure_row()) {
        fa_require_backend();
        TCase *tc = al_tcase("selectors");
        tcase_add_test(tc, selectors_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

/* Helpers of the selectors conformance suite: every test opens the backend
 * under test (al_test_impl) and checks the contract of selector.h. */
#ifndef SEL_TEST_H
#define SEL_TEST_H

#include "al_test.h"

#include <selectors/selectors.h>

/* Exit code that CTest reports as "skipped" (SKIP_RETURN_CODE). */
#define SEL_TEST_SKIP 77

/* Called by every suite: exits with SEL_TEST_SKIP, printing why, if the
 * backend under test cannot be opened here (io_uring refused by the kernel
 * or not built in). */
void st_require_impl(void);

/* Open the backend under test; fails the test on error. */
sel_selector *st_open(void);
/* sel_name of a selector of the backend under test: al_test_impl, except
 * for "libev", which names the libev backend it runs ("libev:epoll"). */
const char *st_name(void);
/* Backend under test is X (exact name). */
int st_is(const char *name);
/* The result for fd in out[0..n), or NULL. */
const sel_event *st_find(const sel_event *out, int n, int fd);
/* sel_select into a local buffer; returns the events of fd (0 if absent),
 * and checks that n >= 0 and that no fd appears twice. */
unsigned st_events(sel_selector *sel, double timeout, int fd);
/* Monotonic seconds. */
double st_now(void);
/* Make fd non-blocking. */
void st_nonblock(int fd);
/* Connected non-blocking TCP pair over 127.0.0.1: *c client, *s accepted. */
void st_tcp_pair(int *c, int *s);

#endif

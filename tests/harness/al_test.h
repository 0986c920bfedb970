/* Test harness: Check suites that register themselves.
 *
 * A conformance suite is written once against a layer's public API; the
 * binary of that layer runs every registered suite against the one
 * implementation named on its command line (al_test_impl), so CTest can
 * instantiate it per implementation: `conformance_asynclib virtual` is the
 * test asynclib/virtual. Check forks each test, with a timeout, so a crash
 * names its test and the run goes on.
 *
 *   AL_TEST_SUITE(loop_core) {
 *       Suite *s = suite_create("loop_core");
 *       ...
 *       return s;
 *   }
 *
 * Command line of every test binary: BINARY [IMPL] [--list-suites].
 * --list-suites prints the registered names without a "suite_" prefix;
 * AL_TEST_SUITE=NAME in the environment runs only that suite.
 */
#ifndef AL_TEST_H
#define AL_TEST_H

#include <check.h>

typedef Suite *(*al_suite_fn)(void);

/* The implementation under test (argv[1]), or "default". */
extern const char *al_test_impl;

void al_test_register(const char *name, al_suite_fn fn);
int al_test_main(int argc, char **argv);

#define AL_TEST_SUITE(fn)                                                                          \
    static Suite *fn(void);                                                                        \
    __attribute__((constructor)) static void al_test_register_##fn(void)                           \
    {                                                                                              \
        al_test_register(#fn, fn);                                                                 \
    }                                                                                              \
    static Suite *fn(void)

/* A TCase with the harness's default timeout (10 s, scaled by Check's
 * CK_TIMEOUT_MULTIPLIER under sanitizers). */
TCase *al_tcase(const char *name);

/* A suite of one TCase, both called name, running tests (a NULL-ended
 * list: AL_TESTS(test_a, test_b)) with a timeout of seconds (0: the
 * default of al_tcase).
 *   AL_TEST_SUITE(suite_idle) { return al_suite("idle", 120, AL_TESTS(test_idle)); } */
Suite *al_suite(const char *name, double seconds, const TTest *const *tests);
#define AL_TESTS(...) ((const TTest *const[]){__VA_ARGS__, NULL})

/* Raises this process's soft RLIMIT_NOFILE to at least n, or to the hard
 * limit when that is lower; returns the soft limit then. */
long al_test_nofile(long n);

/* How many fds this process has open (from /proc/self/fd), or -1. Calls
 * no Check function (usable while an allocation failure is armed). */
int al_test_open_fds(void);

#endif

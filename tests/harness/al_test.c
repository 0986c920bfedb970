#include "al_test.h"

#include <dirent.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define AL_TEST_MAX_SUITES 64

static struct {
    const char *name;
    al_suite_fn fn;
} suites[AL_TEST_MAX_SUITES];
static int nsuites;

const char *al_test_impl = "default";

void al_test_register(const char *name, al_suite_fn fn)
{
    if (nsuites == AL_TEST_MAX_SUITES) {
        fprintf(stderr, "al_test: too many suites, raise AL_TEST_MAX_SUITES\n");
        exit(2);
    }
    suites[nsuites].name = name;
    suites[nsuites].fn = fn;
    nsuites++;
}

TCase *al_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 10);
    return tc;
}

Suite *al_suite(const char *name, double seconds, const TTest *const *tests)
{
    Suite *s = suite_create(name);
    TCase *tc = al_tcase(name);
    if (seconds > 0)
        tcase_set_timeout(tc, seconds);
    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    return s;
}

long al_test_nofile(long n)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if ((long)rl.rlim_cur < n) {
        rl.rlim_cur = (rlim_t)n;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
            rl.rlim_cur = rl.rlim_max;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    return (long)rl.rlim_cur;
}

/* Constructors run in link order, which is not alphabetical: sort so the
 * output reads the same on every build. */
static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The registered name without the conventional "suite_" prefix. */
static const char *short_name(const char *name)
{
    return strncmp(name, "suite_", 6) == 0 ? name + 6 : name;
}

int al_test_main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list-suites") == 0) {
            const char *names[AL_TEST_MAX_SUITES];
            for (int k = 0; k < nsuites; k++)
                names[k] = short_name(suites[k].name);
            qsort(names, nsuites, sizeof names[0], by_name);
            for (int k = 0; k < nsuites; k++)
                printf("%s\n", names[k]);
            return 0;
        }
        al_test_impl = argv[i];
    }
    if (nsuites == 0) {
        fprintf(stderr, "al_test: no suites registered\n");
        return 2;
    }
    const char *only = getenv("AL_TEST_SUITE");
    SRunner *sr = NULL;
    for (int k = 0; k < nsuites; k++) {
        if (only && strcmp(only, short_name(suites[k].name)) != 0)
            continue;
        Suite *s = suites[k].fn();
        if (!sr)
            sr = srunner_create(s);
        else
            srunner_add_suite(sr, s);
    }
    if (!sr) {
        fprintf(stderr, "al_test: no suite named '%s' (see --list-suites)\n", only);
        return 2;
    }
    printf("implementation: %s\n", al_test_impl);
    fflush(stdout);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

int al_test_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

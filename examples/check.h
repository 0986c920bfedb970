/* CHECK(call): every example checks every return code with it. A negative
 * code (an error: see <asynclib/error.h>) is printed with its name and the
 * line, and returned from the calling function, so an error in a task ends
 * the task with that error and al_run() returns it. Expected outcomes
 * (AL_ETIMEOUT, AL_ECANCELLED, AL_EQUEUESHUTDOWN...) are tested explicitly
 * in the examples instead. */
#ifndef EXAMPLES_CHECK_H
#define EXAMPLES_CHECK_H

#include <asynclib/asynclib.h>

#include <stdio.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        int check_rc_ = (call);                                                                    \
        if (check_rc_ < 0) {                                                                       \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, al_strerror(check_rc_)); \
            return check_rc_;                                                                      \
        }                                                                                          \
    } while (0)

/* The end of every example's main(): al_run's status as an exit status. */
static inline int example_exit(const char *name, int rc)
{
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", name, al_strerror(rc));
    return rc == 0 ? 0 : 1;
}

#endif

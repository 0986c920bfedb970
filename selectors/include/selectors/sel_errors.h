/* Error codes of the selectors layer.
 *
 * Every fallible selector call returns 0 (or a count) on success and a
 * negative code on failure: a negated errno value (-EBADF, -ENOMEM, ...)
 * where errno says exactly what happened, else one of the SEL_E* codes
 * below. SEL_E* codes lie in [SEL_ERROR_LAST, SEL_ERROR_FIRST] =
 * [-2099, -2001]: disjoint from negated errno values (> -4096 and, on
 * Linux, > -200) and from asynclib's AL_E* codes (-1001 to -1999).
 *
 * SEL_ERROR_LIST is an X-macro, X(name, value, message), so that other
 * layers (asynclib's al_strerror) can name these codes from this header
 * alone, without linking libselectors.
 */
#ifndef SELECTORS_SEL_ERRORS_H
#define SELECTORS_SEL_ERRORS_H

#include <selectors/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEL_ERROR_LIST(X)                                                                          \
    X(SEL_ECLOSED, -2001, "selector is closed")                                                    \
    X(SEL_EFORKED, -2002, "selector inherited through fork(): call sel_reinit first")              \
    X(SEL_EBACKEND, -2003, "unknown selector backend name")                                        \
    X(SEL_ENOBACKEND, -2004, "selector backend not offered by this build or library")              \
    X(SEL_EFDLIMIT, -2005, "fd number above what the backend can watch (select: FD_SETSIZE)")      \
    X(SEL_ENOFD, -2006, "selector backend has no pollable fd (select, poll, libev)")

enum sel_error {
#define SEL__ERROR_ENUM(name, value, message) name = value,
    SEL_ERROR_LIST(SEL__ERROR_ENUM)
#undef SEL__ERROR_ENUM
};

#define SEL_ERROR_FIRST (-2001)
#define SEL_ERROR_LAST (-2099)

/* Message for a code returned by a selector call: SEL_E* codes, negated
 * errno values and 0 ("success"); "unknown error" otherwise. Never NULL;
 * the string is static. Thread-safe. */
SEL_API const char *sel_strerror(int code);

/* Symbolic name of a code: "SEL_ECLOSED", "EBADF" (for -EBADF), "0" for 0,
 * "UNKNOWN" otherwise. Never NULL; static. Thread-safe. */
SEL_API const char *sel_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif

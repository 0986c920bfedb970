/* Names and messages of the error codes, from the one list in error.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrordesc_np, strerrorname_np (glibc 2.32) */
#endif
#include <asynclib/error.h>

#include <stdbool.h>
#include <string.h>

/* A negated errno value the C library knows, else NULL. */
static const char *errno_text(int code, bool name)
{
    if (code >= 0 || code <= -4096)
        return NULL;
    return name ? strerrorname_np(-code) : strerrordesc_np(-code); /* static, thread-safe */
}

const char *al_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define AL__ERROR_MESSAGE(name, value, message)                                                    \
    case name:                                                                                     \
        return message;
        AL_ERROR_LIST(AL__ERROR_MESSAGE)
#undef AL__ERROR_MESSAGE
    }
    const char *s = errno_text(code, false);
    return s ? s : "unknown error";
}

const char *al_err_name(int code)
{
    switch (code) {
    case 0:
        return "0";
#define AL__ERROR_NAME(name, value, message)                                                       \
    case name:                                                                                     \
        return #name;
        AL_ERROR_LIST(AL__ERROR_NAME)
#undef AL__ERROR_NAME
    }
    const char *s = errno_text(code, true);
    return s ? s : "UNKNOWN";
}

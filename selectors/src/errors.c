/* Names and messages of the selector error codes (sel_errors.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <selectors/sel_errors.h>

#include <string.h>

const char *sel_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define SEL__ERROR_MESSAGE(name, value, message)                                                   \
    case name:                                                                                     \
        return message;
        SEL_ERROR_LIST(SEL__ERROR_MESSAGE)
#undef SEL__ERROR_MESSAGE
    }
    if (code < 0 && code > -4096) {
        const char *s = strerrordesc_np(-code); /* static, thread-safe; NULL if unknown */
        if (s)
            return s;
    }
    return "unknown error";
}

const char *sel_err_name(int code)
{
    switch (code) {
    case 0:
        return "0";
#define SEL__ERROR_NAME(name, value, message)                                                      \
    case name:                                                                                     \
        return #name;
        SEL_ERROR_LIST(SEL__ERROR_NAME)
#undef SEL__ERROR_NAME
    }
    if (code < 0 && code > -4096) {
        const char *s = strerrorname_np(-code);
        if (s)
            return s;
    }
    return "UNKNOWN";
}

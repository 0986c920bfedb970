#include <asyncio/error.h>

#include <selectors/sel_errors.h>

#include <stddef.h>

const char *aio_strerror(int code)
{
    switch (code) {
#define AIO_ERROR_MESSAGE(name, value, message)                                                    \
    case name:                                                                                     \
        return message;
        AIO_ERRORS(AIO_ERROR_MESSAGE)
#undef AIO_ERROR_MESSAGE
    }
    if (code <= SEL_ERROR_FIRST && code >= SEL_ERROR_LAST)
        return sel_strerror(code);
    return al_strerror(code);
}

const char *aio_err_name(int code)
{
    switch (code) {
#define AIO_ERROR_NAME(name, value, message)                                                       \
    case name:                                                                                     \
        return #name;
        AIO_ERRORS(AIO_ERROR_NAME)
#undef AIO_ERROR_NAME
    }
    if (code <= SEL_ERROR_FIRST && code >= SEL_ERROR_LAST)
        return sel_err_name(code);
    return al_err_name(code);
}

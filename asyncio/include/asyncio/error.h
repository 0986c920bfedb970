/* Error codes of the I/O layer.
 *
 * asyncio calls return what every layer returns: 0 (or a non-negative
 * count), a negated errno value (-ECONNREFUSED, -EPIPE, -EMFILE, ...), an
 * AL_E* code of asynclib (AL_ECANCELLED, AL_ELOOPCLOSED, AL_ENOTIOLOOP:
 * an I/O call on a pure loop, ...), a SEL_E* code of the selectors
 * (SEL_EBACKEND: unknown backend name), or one of the AIO_E* codes below for
 * what neither has a name for. They lie in [AIO_ERROR_LAST,
 * AIO_ERROR_FIRST] = [-3099, -3001], apart from asynclib's (-1001 to
 * -1999) and the selectors' (-2001 to -2099). aio_strerror() and
 * aio_err_name() name every code. Thread-safe.
 */
#ifndef ASYNCIO_ERROR_H
#define ASYNCIO_ERROR_H

#include <asynclib/error.h>
#include <selectors/sel_errors.h>

#include <asyncio/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(code, value, message): the one list of asyncio's own codes. */
#define AIO_ERRORS(X)                                                                              \
    X(AIO_EFDBUSY, -3001, "another waiter or callback already uses this fd in this direction")     \
    X(AIO_EFORKED, -3002, "event loop belongs to the parent process (used after fork)")            \
    X(AIO_EBLOCKING, -3003, "socket is in blocking mode (refused in debug mode)")                  \
    X(AIO_ESIGNAL, -3004, "signal cannot be handled (SIGKILL, SIGSTOP or not a signal number)")    \
    X(AIO_ESIGNALOWNER, -3005, "signal is handled by another event loop")                          \
    X(AIO_EMULTIPLE, -3006, "several connection attempts failed with different errors")            \
    X(AIO_ELIMITOVERRUN, -3007, "stream limit reached before the separator was found")             \
    X(AIO_EINCOMPLETE, -3008, "end of stream before the expected data was read")                   \
    X(AIO_ESERVERCLOSED, -3009, "server is closed")                                                \
    X(AIO_EAI_NONAME, -3020, "name or service not known")                                          \
    X(AIO_EAI_AGAIN, -3021, "temporary failure in name resolution")                                \
    X(AIO_EAI_FAIL, -3022, "non-recoverable failure in name resolution")                           \
    X(AIO_EAI_FAMILY, -3023, "address family not supported")                                       \
    X(AIO_EAI_SOCKTYPE, -3024, "socket type not supported")                                        \
    X(AIO_EAI_SERVICE, -3025, "service not supported for this socket type")                        \
    X(AIO_EAI_BADFLAGS, -3026, "bad flags for name resolution")                                    \
    X(AIO_EAI_NODATA, -3027, "no address associated with the name")                                \
    X(AIO_EAI_ADDRFAMILY, -3028, "no address in the requested family for the name")                \
    X(AIO_EAI_OVERFLOW, -3029, "argument buffer overflow in name resolution")

enum aio_error {
#define AIO_ERROR_ENUM(code, value, message) code = value,
    AIO_ERRORS(AIO_ERROR_ENUM)
#undef AIO_ERROR_ENUM
};

#define AIO_ERROR_FIRST (-3001)
#define AIO_ERROR_LAST (-3099)

/* Message for any code a call of this project returns: AIO_E* here, SEL_E*
 * (sel_strerror), else al_strerror(). Never NULL; static. */
AIO_API const char *aio_strerror(int code);

/* The symbolic name of any code: "AIO_EFDBUSY", else sel_err_name's for
 * SEL_E* codes, else al_err_name's ("AL_ECANCELLED", "ECONNRESET", "0",
 * "UNKNOWN"). Never NULL; static. */
AIO_API const char *aio_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif

/* Error codes of the I/O layer.
 *
 * asyncio calls return what every layer returns: 0 (or a non-negative
 * count), a negated errno value (-ECONNREFUSED, -EPIPE, -EMFILE, ...), an
 * AL_E* code of asynclib (AL_ECANCELLED, AL_ELOOPCLOSED, AL_ENOTIOLOOP:
 * an I/O call on a pure loop, ...), a SEL_E* code of the selectors
 * (SEL_EBACKEND: unknown backend name), or one of the AIO_E* codes below for
 * what neither has a name for. They lie in -1199..-1100, apart from
 * asynclib's -10xx. aio_strerror() names all of them. Thread-safe.
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
    X(AIO_EFDBUSY, -1101, "another waiter or callback already uses this fd in this direction")     \
    X(AIO_EFORKED, -1102, "event loop belongs to the parent process (used after fork)")            \
    X(AIO_EBLOCKING, -1103, "socket is in blocking mode (refused in debug mode)")                  \
    X(AIO_ESIGNAL, -1104, "signal cannot be handled (SIGKILL, SIGSTOP or not a signal number)")    \
    X(AIO_ESIGNALOWNER, -1105, "signal is handled by another event loop")                          \
    X(AIO_EAI_NONAME, -1120, "name or service not known")                                          \
    X(AIO_EAI_AGAIN, -1121, "temporary failure in name resolution")                                \
    X(AIO_EAI_FAIL, -1122, "non-recoverable failure in name resolution")                           \
    X(AIO_EAI_FAMILY, -1123, "address family not supported")                                       \
    X(AIO_EAI_SOCKTYPE, -1124, "socket type not supported")                                        \
    X(AIO_EAI_SERVICE, -1125, "service not supported for this socket type")                        \
    X(AIO_EAI_BADFLAGS, -1126, "bad flags for name resolution")                                    \
    X(AIO_EAI_NODATA, -1127, "no address associated with the name")                                \
    X(AIO_EAI_ADDRFAMILY, -1128, "no address in the requested family for the name")                \
    X(AIO_EAI_OVERFLOW, -1129, "argument buffer overflow in name resolution")

enum aio_error {
#define AIO_ERROR_ENUM(code, value, message) code = value,
    AIO_ERRORS(AIO_ERROR_ENUM)
#undef AIO_ERROR_ENUM
};

/* Message for any code a call of this project returns: AIO_E* here, SEL_E*
 * (sel_strerror), else al_strerror(). Never NULL; static. */
AIO_API const char *aio_strerror(int code);

/* The symbolic name of an AIO_E* code ("AIO_EFDBUSY"), or NULL for any
 * other code. */
AIO_API const char *aio_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif

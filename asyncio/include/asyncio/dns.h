/* Name resolution as coroutines (asyncio's loop.getaddrinfo and
 * loop.getnameinfo): the blocking C library calls run on the loop's
 * executor (a pool thread) while the task waits.
 *
 * Numeric hosts never go to the resolver: a host that is an IPv4 or IPv6
 * address (or NULL), with a numeric or NULL service, is converted on the
 * loop's thread at once (AI_NUMERICHOST | AI_NUMERICSERV), without
 * suspending; likewise aio_getnameinfo with NI_NUMERICHOST and
 * NI_NUMERICSERV.
 *
 * Cancellation: the task's call returns AL_ECANCELLED at once; a lookup
 * not yet started is withdrawn, one under way finishes on its thread and
 * its result is released there. Nothing leaks either way, also when the
 * loop closes meanwhile.
 *
 * Errors: the EAI_* codes become AIO_EAI_* (aio_strerror names them);
 * EAI_SYSTEM becomes the negated errno, EAI_MEMORY -ENOMEM. Plus the
 * common ones: -EINVAL, AL_ENOTIOLOOP, AL_ELOOPCLOSED, AIO_EFORKED,
 * AL_ENOTINTASK, AL_ECANCELLED, AL_ELOOPCLOSING, and the executor's
 * (AL_EINVALIDSTATE after its shutdown, -EAGAIN no thread).
 *
 * Threads: the loop's thread, inside a task.
 */
#ifndef ASYNCIO_DNS_H
#define ASYNCIO_DNS_H

#include <asynclib/loop.h>

#include <netdb.h>
#include <sys/socket.h>

#include <asyncio/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* getaddrinfo(host, service, hints): 0 and *res (the caller's list,
 * release it with freeaddrinfo), or a negative code (*res NULL). host and
 * service may be NULL (not both), hints may be NULL; all are copied. */
AIO_API int aio_getaddrinfo(al_loop *loop, const char *host, const char *service,
                            const struct addrinfo *hints, struct addrinfo **res);

/* getnameinfo(sa, salen, ...): 0 with the host name in host[hostlen] and
 * the service in serv[servlen] (either buffer may be NULL with length 0),
 * or a negative code. flags are getnameinfo's NI_* flags. */
AIO_API int aio_getnameinfo(al_loop *loop, const struct sockaddr *sa, socklen_t salen, char *host,
                            size_t hostlen, char *serv, size_t servlen, int flags);

/* The code for an EAI_* value of getaddrinfo/getnameinfo (0 for 0; err is
 * errno, used for EAI_SYSTEM). */
AIO_API int aio_eai_code(int eai, int err);

#ifdef __cplusplus
}
#endif
#endif

/* Readers and writers: callbacks on fd readiness (asyncio's add_reader,
 * add_writer, remove_reader, remove_writer).
 *
 * A reader runs fn(loop, arg) as a ready callback of every iteration in
 * which fd is readable (level-triggered: again and again while data is
 * waiting), until removed; a writer likewise for writability. Errors and
 * hang-ups count as readiness, so the next read or write sees them. Adding
 * a reader to an fd that has one replaces its callback (the old one never
 * runs again, not even if it was due in this iteration) and keeps the
 * writer; the same the other way round.
 *
 * The fd stays the caller's: the loop never closes it. Remove it before
 * closing it. If it is closed while registered the loop does not crash or
 * spin: the callback still runs (the read sees EBADF), and once removed, a
 * new file that gets the same number and is added again is a new
 * registration that never sees the old one's events or callbacks.
 *
 * Threads: the loop's thread only.
 */
#ifndef ASYNCIO_FD_H
#define ASYNCIO_FD_H

#include <asynclib/loop.h>

#include <asyncio/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts (or replaces) the reader of fd. 0, or: -EINVAL (NULL loop or fn),
 * -EBADF (fd negative or not open), AL_ENOTIOLOOP, AL_ELOOPCLOSED,
 * AIO_EFORKED, AIO_EFDBUSY (a task waits in a sock_* call to read fd),
 * AL_EWRONGTHREAD (debug mode), -ENOMEM, the selector's errors (-EINVAL
 * for fd >= FD_SETSIZE on select, -EPERM...). Refused calls change
 * nothing. */
AIO_API int aio_loop_add_reader(al_loop *loop, int fd, al_callback_fn fn, void *arg);
/* The same for writability. */
AIO_API int aio_loop_add_writer(al_loop *loop, int fd, al_callback_fn fn, void *arg);

/* Stops the reader of fd: 1 if there was one, 0 if not (also on a closed
 * loop, as asyncio returns False). A sock_* task waiting on fd is not a
 * reader: 0. Errors: AL_ENOTIOLOOP, AIO_EFORKED, -EINVAL (NULL). */
AIO_API int aio_loop_remove_reader(al_loop *loop, int fd);
/* The same for the writer. */
AIO_API int aio_loop_remove_writer(al_loop *loop, int fd);

#ifdef __cplusplus
}
#endif
#endif

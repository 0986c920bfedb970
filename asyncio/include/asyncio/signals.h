/* Signal handlers that run as loop callbacks (asyncio's
 * add_signal_handler / remove_signal_handler).
 *
 * The process-wide handler installed by aio_loop_add_signal_handler only
 * notes the signal and writes a byte to the loop's self-pipe; the loop
 * reads it and queues fn(loop, arg) as an ordinary callback, so fn may do
 * anything a callback may. Signals that arrive again before fn ran are
 * coalesced (fn runs once), as the kernel coalesces pending signals. The
 * handler is installed with SA_RESTART, so system calls of other code (and
 * of executor threads, which may receive the signal) are restarted rather
 * than failing with EINTR; the loop's own wait just wakes up.
 *
 * One loop at a time handles a given signal (the disposition is the
 * process's). Removing the handler, closing the loop, or fork() (in the
 * child) restores the disposition that was in place before the first add.
 *
 * Threads: the loop's thread only.
 */
#ifndef ASYNCIO_SIGNALS_H
#define ASYNCIO_SIGNALS_H

#include <asynclib/loop.h>

#include <asyncio/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Handles signal sig with fn(loop, arg), replacing the loop's previous
 * callback for sig. 0, or: AIO_ESIGNAL (not a signal number, SIGKILL or
 * SIGSTOP), AIO_ESIGNALOWNER (another loop handles sig), -EINVAL (NULL,
 * or a signal the C library reserves), AL_ENOTIOLOOP, AL_ELOOPCLOSED,
 * AIO_EFORKED, -ENOMEM, -EMFILE. Refused calls change nothing. */
AIO_API int aio_loop_add_signal_handler(al_loop *loop, int sig, al_callback_fn fn, void *arg);

/* Stops handling sig and restores its previous disposition: 1 if the loop
 * had a handler for it, 0 if not (also on a closed loop). AIO_ESIGNAL for
 * an invalid number, AL_ENOTIOLOOP, AIO_EFORKED. */
AIO_API int aio_loop_remove_signal_handler(al_loop *loop, int sig);

#ifdef __cplusplus
}
#endif
#endif

/* The I/O loop: the pure loop whose one blocking step is a selector.
 *
 * aio_loop_new() returns an ordinary al_loop built with
 * al_loop_new_with_ops(): its wait is sel_select(timeout) on the chosen
 * backend, after which every ready fd's callback becomes a ready callback
 * of the same iteration (asyncio's _process_events), through one handle
 * per registered fd and direction (no allocation per event); its wakeup
 * writes to an eventfd registered with the selector (coalesced: one write
 * until the loop has read it). Every al_* call works on it unchanged; the
 * aio_* I/O calls on a pure loop fail with AL_ENOTIOLOOP.
 *
 * Fork: a loop made before fork() belongs to the parent. In the child,
 * aio_* calls on it return AIO_EFORKED and running it stops at once with
 * that error reported (its selector and eventfd are the parent's); close
 * and free it, and make a new loop.
 *
 * Living inside another event system (libuv's uv_backend_fd /
 * uv_backend_timeout): aio_loop_fd() is an fd that polls readable when the
 * loop has something to do, aio_loop_timeout() says how long the host may
 * sleep at most, and aio_loop_run_nowait() runs one iteration without
 * blocking.
 *
 * Threads: as any loop (loop.h): the loop's thread only, except
 * al_call_soon_threadsafe and al_loop_wakeup.
 */
#ifndef ASYNCIO_LOOP_H
#define ASYNCIO_LOOP_H

#include <asynclib/asynclib.h>

#include <stdbool.h>

#include <asyncio/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A new I/O loop on selector backend `backend` (NULL or "": the
 * SELECTORS_BACKEND environment variable, else the default; the names of
 * sel_open). *out receives the caller's loop (release with al_loop_free);
 * unchanged on error. Errors: -EINVAL (out NULL), the errors of sel_open
 * (SEL_EBACKEND unknown name, SEL_ENOBACKEND, -ENOSYS, -EPERM...),
 * -EMFILE, -ENOMEM. */
AIO_API int aio_loop_new(const char *backend, al_loop **out);

/* True when loop is an I/O loop made by aio_loop_new. */
AIO_API bool aio_loop_is_io(const al_loop *loop);

/* The selector backend's name ("epoll", "libev", ...), or NULL if loop is
 * not an I/O loop. Borrowed: valid while the loop lives. */
AIO_API const char *aio_loop_backend(const al_loop *loop);

/* asyncio.run on an I/O loop: al_run_on (task.h) on a new I/O loop on
 * `backend` (as aio_loop_new), which is freed afterwards: fn(arg) runs as
 * the main task, the tasks left are cancelled and awaited, the executor is
 * shut down. Returns the main task's status (*result, may be NULL, gets
 * its result, owned by the caller), the errors of aio_loop_new, or
 * AL_ELOOPRUNNING inside a running loop. Ctrl+C as al_run: the first
 * SIGINT cancels the main task and aio_run returns -EINTR (when SIGINT has
 * its default disposition and is not blocked when aio_run starts). */
AIO_API int aio_run(al_task_fn fn, void *arg, void **result, const char *backend);

/* ---- living inside another loop ---------------------------------------- */

/* An fd that polls readable (POLLIN) whenever the loop has an fd ready or
 * was woken; created on first call, owned by the loop (do not close it).
 * Watch it for reading in the host loop, and call aio_loop_run_nowait()
 * when it is readable or aio_loop_timeout() has passed; ask
 * aio_loop_timeout() before each wait (it also brings the fd up to date
 * with changes made outside aio_loop_run_nowait). It is an epoll set
 * holding the selector's own fd (sel_fd: epoll, io_uring), or on the
 * other backends (select, poll, libev) a mirror of every registration
 * (one epoll_ctl on it per selector change). Readiness may be spurious
 * (the iteration then finds nothing); on io_uring the host's wait may end
 * with EINTR (a completion runs as task work of the thread): retry it.
 * Errors: AL_ENOTIOLOOP,
 * AL_ELOOPCLOSED, AIO_EFORKED, or the errno of epoll_create1 / epoll_ctl
 * / io_uring_enter. Loop thread. */
AIO_API int aio_loop_fd(al_loop *loop);

/* Seconds the host may sleep before the loop needs to run: 0 when
 * callbacks are ready (or a file that cannot be polled is registered), the
 * time to the earliest timer, or -1 when only an event can give it work.
 * NaN for a closed or non-I/O loop. Round up when converting to a host's
 * milliseconds (poll(2): ceil(t * 1000)): truncated, a timer less than
 * 1 ms away makes the host spin until it is due. Loop thread. */
AIO_API double aio_loop_timeout(al_loop *loop);

/* Runs one iteration without blocking: events already pending, due timers
 * and the callbacks ready. 0, or the errors of al_loop_run_once
 * (AL_ELOOPRUNNING, AL_ELOOPCLOSED), AL_ENOTIOLOOP, AIO_EFORKED. */
AIO_API int aio_loop_run_nowait(al_loop *loop);

#ifdef __cplusplus
}
#endif
#endif

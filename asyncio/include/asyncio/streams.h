/* Streams: asyncio's StreamReader / StreamWriter over a transport, and
 * open_connection / start_server (plus their Unix variants).
 *
 * A reader buffers what the transport delivers and hands it out with
 * read, readline, readuntil and readexactly; it pauses the transport when
 * more than 2 * limit bytes wait unread and resumes it once at most limit
 * do (default limit 64 KiB). One read at a time per reader
 * (AL_EINVALIDSTATE for a second concurrent one). A cancelled read
 * (AL_ECANCELLED) consumed nothing: the data stays for the next read.
 * read and readexactly that find nothing buffered let the transport
 * receive straight into the caller's buf (no copy); on a negative return
 * buf's contents are unspecified and its bytes are back in the reader.
 * The reader's buffer is reused while data flows and freed while a read
 * waits on it empty: an idle connection holds none.
 *
 * A writer writes through the transport; drain() waits while the
 * transport's write buffer is above its high watermark (any number of
 * tasks may drain at once: all are released together) and reports the
 * connection's error once it is lost (-ECONNRESET when it ended cleanly
 * under a pending write), never spinning.
 *
 * Errors carry what asyncio's carry: AIO_ELIMITOVERRUN (LimitOverrunError)
 * with the consumed count in *len, AIO_EINCOMPLETE (IncompleteReadError)
 * with the partial data in *data / *len (readexactly: in buf, count in
 * *got; expected is what the caller asked for).
 *
 * Data returned in *data is malloc'd and the caller's to free() (NULL when
 * *len is 0 or on other errors).
 *
 * Ownership: the reader and writer of a connection are two handles on one
 * connection; release each with its _free call (the writer's closes the
 * transport if still open). The handles given to a start_server callback
 * are the library's: valid until the callback returns, after which the
 * writer is closed.
 *
 * Threads: the loop's thread only; "task" calls suspend the calling task.
 */
#ifndef ASYNCIO_STREAMS_H
#define ASYNCIO_STREAMS_H

#include <asynclib/loop.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <asyncio/export.h>
#include <asyncio/server.h>
#include <asyncio/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AIO_STREAM_LIMIT_DEFAULT ((size_t)65536)

typedef struct aio_stream_reader aio_stream_reader;
typedef struct aio_stream_writer aio_stream_writer;

/* A separator of readuntil: len > 0 bytes at data. */
typedef struct aio_sep {
    const void *data;
    size_t len;
} aio_sep;

/* The body run for every connection of aio_start_server, in a task of
 * its own. A negative return (other than AL_ECANCELLED) is reported to the
 * loop's exception handler; the writer is closed afterwards either way. */
typedef int (*aio_client_fn)(aio_stream_reader *r, aio_stream_writer *w, void *arg);

/* ---- connections and servers ----------------------------------------------------- */

/* Task: aio_create_connection (opts as there, may be NULL) with a stream
 * pair; limit 0: the default. 0 with *r and *w set, or the errors of
 * aio_create_connection (*r, *w untouched). */
AIO_API int aio_open_connection(al_loop *loop, const char *host, int port,
                                const aio_connect_options *opts, size_t limit,
                                aio_stream_reader **r, aio_stream_writer **w);
AIO_API int aio_open_unix_connection(al_loop *loop, const char *path, size_t limit,
                                     aio_stream_reader **r, aio_stream_writer **w);

/* aio_create_server / aio_create_unix_server running fn(r, w, arg) in a
 * new task per connection. */
AIO_API int aio_start_server(al_loop *loop, aio_client_fn fn, void *arg, const char *const *hosts,
                             int port, const aio_server_options *opts, size_t limit,
                             aio_server **out);
AIO_API int aio_start_unix_server(al_loop *loop, aio_client_fn fn, void *arg, const char *path,
                                  const aio_server_options *opts, size_t limit, aio_server **out);

/* ---- reader -------------------------------------------------------------------------- */

/* A reader fed by hand (asyncio's StreamReader(limit)): feed it with
 * aio_stream_feed_data / feed_eof / set_error. *out is the caller's
 * (aio_stream_reader_free). -EINVAL (NULL loop or out), -ENOMEM. */
AIO_API int aio_stream_reader_new(al_loop *loop, size_t limit, aio_stream_reader **out);
/* Appends len bytes (copied). -EINVAL after feed_eof (nothing changes),
 * -ENOMEM. Wakes a waiting read. */
AIO_API int aio_stream_feed_data(aio_stream_reader *r, const void *data, size_t len);
/* Marks the end of stream (wakes a waiting read): reads return what is
 * buffered, then end of stream. Idempotent; NULL does nothing. */
AIO_API void aio_stream_feed_eof(aio_stream_reader *r);
/* Makes the waiting read and every later one fail with error (< 0). */
AIO_API void aio_stream_set_error(aio_stream_reader *r, int error);
/* The error set on the reader (the connection's), or 0. */
AIO_API int aio_stream_reader_error(const aio_stream_reader *r);

/* Task: up to n bytes into buf, waiting until at least one is there: the
 * count, 0 at end of stream (or n 0), or a negative code. */
AIO_API ssize_t aio_stream_read(aio_stream_reader *r, void *buf, size_t n);
/* Task: read(-1): everything up to end of stream into *data / *len.
 * -EINVAL (NULL r, data or len), the reader's error, AL_ECANCELLED
 * (everything read so far stays buffered). */
AIO_API int aio_stream_read_all(aio_stream_reader *r, void **data, size_t *len);
/* Task: one line including its '\n' (at end of stream: what is left,
 * possibly empty). A line longer than the limit: AIO_ELIMITOVERRUN, and
 * the line is dropped from the buffer (up to and including its '\n' if
 * seen, else the whole buffer), as asyncio's readline does. */
AIO_API int aio_stream_readline(aio_stream_reader *r, void **data, size_t *len);
/* Task: the data up to and including the first of the separators to end
 * (the earliest end wins). AIO_ELIMITOVERRUN (buffer intact, *len the
 * consumed count), AIO_EINCOMPLETE at end of stream (the buffer moves to
 * *data), -EINVAL for no separator or an empty one. */
AIO_API int aio_stream_readuntil(aio_stream_reader *r, const aio_sep *seps, size_t nseps,
                                 void **data, size_t *len);
/* Task: exactly n bytes into buf (the limit does not apply). 0, or
 * AIO_EINCOMPLETE with *got (may be NULL) bytes in buf at end of stream. */
AIO_API int aio_stream_readexactly(aio_stream_reader *r, void *buf, size_t n, size_t *got);
/* At end of stream and nothing buffered. */
AIO_API bool aio_stream_at_eof(const aio_stream_reader *r);
/* Bytes buffered. */
AIO_API size_t aio_stream_buffered(const aio_stream_reader *r);
AIO_API void aio_stream_reader_free(aio_stream_reader *r);

/* ---- writer -------------------------------------------------------------------------- */

/* As aio_transport_write / writelines; -ECONNRESET once the connection is
 * lost (asyncio raises from the next drain; here both say it). */
AIO_API int aio_stream_write(aio_stream_writer *w, const void *data, size_t len);
AIO_API int aio_stream_writelines(aio_stream_writer *w, const struct iovec *iov, int iovcnt);
/* Task: waits for the write buffer to fall to its low watermark. 0, the
 * connection's error, -ECONNRESET (lost while writing), AL_ECANCELLED. */
AIO_API int aio_stream_drain(aio_stream_writer *w);
/* As aio_transport_write_eof / can_write_eof (-EINVAL for NULL w). */
AIO_API int aio_stream_write_eof(aio_stream_writer *w);
AIO_API bool aio_stream_can_write_eof(const aio_stream_writer *w);
/* As aio_transport_close (what is buffered is still sent; idempotent;
 * NULL does nothing) / aio_transport_is_closing. */
AIO_API void aio_stream_close(aio_stream_writer *w);
AIO_API bool aio_stream_is_closing(const aio_stream_writer *w);
/* Task: waits until the connection is lost: 0, or its error; at once
 * once lost. Any number of tasks may wait: a cancelled one returns
 * AL_ECANCELLED and leaves the others and later calls waiting (the shared
 * closed future is shielded; asyncio's StreamWriter.wait_closed awaits it
 * unshielded, so there one cancel reaches every later waiter). -ENOMEM. */
AIO_API int aio_stream_wait_closed(aio_stream_writer *w);
/* The transport (borrowed; its extra info: aio_transport_peername...). */
AIO_API aio_transport *aio_stream_transport(const aio_stream_writer *w);
AIO_API void aio_stream_writer_free(aio_stream_writer *w);

#ifdef __cplusplus
}
#endif
#endif

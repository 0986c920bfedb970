/* A server of request/response connections: a protocol handler gets the
 * bytes of each read and appends its answers to an output buffer, sent in
 * one write per read (so pipelined requests are answered in one write).
 * Two drivers: the socket coroutines (aio_sock_accept / recv_into /
 * sendall: one task accepts, one task per connection) and transports with
 * protocols (aio_create_server).
 * Graceful shutdown through server_cli's srv_shutdown. asyncio-http and
 * asyncio-redis are this plus their protocol logic (http_conn, resp_db). */
#ifndef SERVERS_CONN_SERVER_H
#define SERVERS_CONN_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "bytebuf.h"
#include "server_cli.h"

enum { CONN_OPEN = 0, CONN_CLOSE = 1 };

typedef struct conn_handler {
    size_t state_size; /* bytes of per-connection state (zeroed, then init) */
    void (*init)(void *state, void *shared);
    /* len > 0 bytes arrived in data (writable, the caller's until return):
     * append the answers to out. CONN_OPEN, CONN_CLOSE (send out, then
     * close), or a negative code (close at once). NULL: every byte read
     * is sent back as it is (the echo server, without a copy). */
    int (*feed)(void *state, char *data, size_t len, bytebuf *out, void *shared);
    void (*fini)(void *state);
    /* Called every 100 ms on the loop while serving (timers such as
     * Redis's active expiry), or NULL. time is al_loop_time's. */
    void (*tick)(void *shared, double time);
} conn_handler;

/* Listens (o), serves with h until shut down, returns the exit status.
 * shared is given to every callback (the database, ...). On the socket
 * coroutines (--api sockets). */
int conn_server_run(const srv_desc *d, const srv_options *o, const conn_handler *h, void *shared);

/* The same on transports and protocols (proto_server.c): aio_create_server
 * with a protocol per connection; use_buffered: a buffered protocol that
 * reads into the server's own buffer (--api buffered), else data_received
 * (--api protocol; handlers that write into the bytes get a copy). A
 * client that does not read its answers is paused (pause_writing pauses
 * reading). Shutdown through aio_server_close / close_clients /
 * wait_closed. */
int conn_server_run_protocol(const srv_desc *d, const srv_options *o, const conn_handler *h,
                             void *shared, bool use_buffered);

/* Either of the two by o->api: "sockets" -> conn_server_run, "buffered" /
 * "protocol" -> conn_server_run_protocol. */
int conn_server_run_api(const srv_desc *d, const srv_options *o, const conn_handler *h,
                        void *shared);

/* The --api names conn_server_run_api knows, the default first (NULL-ended). */
extern const char *const conn_server_apis[];

#endif

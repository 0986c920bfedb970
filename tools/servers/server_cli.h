/* What the three servers share: the command line, the listening socket,
 * --workers processes, and graceful shutdown on SIGINT / SIGTERM.
 *
 * A server describes itself (srv_desc: name, default port, the --api
 * names it accepts, a serve function) and calls srv_main from main().
 * srv_main parses the options, then runs serve(opts) in this process
 * (--workers 1) or in N forked processes (each makes its own loop and its
 * own listening socket with SO_REUSEPORT, so the kernel spreads the
 * connections); the parent forwards SIGINT / SIGTERM to them and exits 0
 * when every worker did.
 *
 * Shutdown inside a worker (srv_shutdown): the first SIGINT or SIGTERM
 * stops accepting; connections still open after --grace seconds are
 * closed; the process exits 0. A second signal closes them at once.
 */
#ifndef SERVERS_SERVER_CLI_H
#define SERVERS_SERVER_CLI_H

#include <asynclib/loop.h>

#include <stdbool.h>

typedef struct srv_options {
    const char *host;     /* --host, default 127.0.0.1 */
    int port;             /* --port (0: any free port, one worker only) */
    const char *selector; /* --selector NAME; NULL: $SELECTORS_BACKEND or the default */
    int workers;          /* --workers N, default 1 */
    double grace;         /* --grace SECONDS before open connections are closed, default 5 */
    const char *api;      /* --api NAME (servers that have several) */
    bool quiet;           /* --quiet: no "listening" line */
} srv_options;

typedef struct srv_desc {
    const char *name;    /* program name */
    const char *summary; /* one line: what it serves */
    int default_port;
    const char *const *apis;            /* NULL-terminated --api names (first: default), or NULL */
    const char *extra_help;             /* more lines for --help, or NULL */
    const char *example;                /* an example command line */
    int (*serve)(const srv_options *o); /* one worker's server: exit status */
} srv_desc;

/* Parses argv and runs the server (see above). Returns main's status: 0,
 * 1 on a runtime error (reported on stderr), 2 on a usage error. */
int srv_main(const srv_desc *d, int argc, char **argv);

/* A listening TCP socket on o->host:o->port (non-blocking, close-on-exec,
 * SO_REUSEADDR, SO_REUSEPORT with several workers, backlog 1024): the fd,
 * or a negative errno / -EAI_* mapped to -EINVAL with a message on
 * stderr. */
int srv_listen(const srv_options *o);

/* Prints "<name>: listening on HOST:PORT (...)" for fd (unless quiet), so
 * scripts can read the port when --port 0. */
void srv_announce(const srv_desc *d, const srv_options *o, int fd, al_loop *loop);

/* Sets TCP_NODELAY (as every peer of the benchmarks does). */
void srv_nodelay(int fd);

/* ---- graceful shutdown ------------------------------------------------- */

/* What a server does when told to stop: stop(arg) stops accepting and
 * closes idle state; close_clients(arg) ends every connection (graceful);
 * clients(arg) says how many are still open. */
typedef struct srv_shutdown_ops {
    void (*stop)(void *arg);
    void (*close_clients)(void *arg);
    size_t (*clients)(void *arg);
} srv_shutdown_ops;

typedef struct srv_shutdown {
    al_loop *loop;
    const srv_shutdown_ops *ops;
    void *arg;
    double grace;
    int signals; /* how many arrived */
    bool done;
} srv_shutdown;

/* Handles SIGINT and SIGTERM on loop: the first calls ops->stop, the next
 * (or --grace later) ops->close_clients. 0 or the error of
 * aio_loop_add_signal_handler. */
int srv_shutdown_init(srv_shutdown *s, al_loop *loop, const srv_options *o,
                      const srv_shutdown_ops *ops, void *arg);

/* Inside a task: waits until a stop was asked for and every connection is
 * gone (polling every 20 ms after the stop), then removes the handlers. */
void srv_shutdown_wait(srv_shutdown *s);

#endif

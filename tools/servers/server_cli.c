/* The servers' shared command line, listening socket, workers and
 * shutdown: see server_cli.h. */
#include "server_cli.h"

#include <asyncio/asyncio.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(const srv_desc *d, FILE *f)
{
    fprintf(f,
            "%s: %s\n\n"
            "usage: %s [--host ADDR] [--port N] [--selector NAME] [--workers N] [--grace S]%s\n\n"
            "  --host ADDR      address to listen on (default 127.0.0.1)\n"
            "  --port N         port (default %d; 0: any free port, printed at start)\n"
            "  --selector NAME  selector backend: select, poll, epoll, libev, io_uring\n"
            "                   (default: $SELECTORS_BACKEND, else the library's default)\n"
            "  --workers N      N processes, one loop each, sharing the port with\n"
            "                   SO_REUSEPORT (default 1)\n"
            "  --grace S        on SIGINT/SIGTERM: stop accepting, close the connections\n"
            "                   still open after S seconds (default 5), exit 0; a second\n"
            "                   signal closes them at once\n"
            "  --quiet          no 'listening on' line\n"
            "  -h, --help       this text\n",
            d->name, d->summary, d->name, d->apis ? " [--api NAME]" : "", d->default_port);
    if (d->apis) {
        fprintf(f, "  --api NAME       which level of the library serves:");
        for (const char *const *a = d->apis; *a; a++)
            fprintf(f, " %s", *a);
        fprintf(f, " (default %s)\n", d->apis[0]);
    }
    if (d->extra_help)
        fprintf(f, "%s", d->extra_help);
    fprintf(f, "\nexample:\n  %s\n", d->example);
}

static int parse(const srv_desc *d, int argc, char **argv, srv_options *o)
{
    static const struct option longopts[] = {{"host", required_argument, 0, 'H'},
                                             {"port", required_argument, 0, 'p'},
                                             {"selector", required_argument, 0, 's'},
                                             {"workers", required_argument, 0, 'w'},
                                             {"grace", required_argument, 0, 'g'},
                                             {"api", required_argument, 0, 'a'},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    *o = (srv_options){"127.0.0.1", d->default_port, NULL, 1, 5.0, NULL, false};
    if (d->apis)
        o->api = d->apis[0];
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'H':
            o->host = optarg;
            break;
        case 'p': {
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v > 65535) {
                fprintf(stderr, "%s: --port wants 0..65535, got '%s'\n", d->name, optarg);
                return 2;
            }
            o->port = (int)v;
            break;
        }
        case 's':
            o->selector = optarg;
            break;
        case 'w': {
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 256) {
                fprintf(stderr, "%s: --workers wants 1..256, got '%s'\n", d->name, optarg);
                return 2;
            }
            o->workers = (int)v;
            break;
        }
        case 'g': {
            double v = strtod(optarg, &end);
            if (*end || end == optarg || !(v >= 0 && v <= 3600)) {
                fprintf(stderr, "%s: --grace wants 0..3600 seconds, got '%s'\n", d->name, optarg);
                return 2;
            }
            o->grace = v;
            break;
        }
        case 'a': {
            bool ok = false;
            for (const char *const *a = d->apis; a && *a && !ok; a++)
                ok = strcmp(*a, optarg) == 0;
            if (!ok) {
                fprintf(stderr, "%s: unknown --api '%s' (see --help)\n", d->name, optarg);
                return 2;
            }
            o->api = optarg;
            break;
        }
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(d, stdout);
            return 1;
        case ':':
            fprintf(stderr, "%s: %s needs a value (see --help)\n", d->name, argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", d->name, argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", d->name, argv[optind]);
        return 2;
    }
    if (o->workers > 1 && o->port == 0) {
        fprintf(stderr, "%s: --workers > 1 needs a --port (each worker listens on it)\n", d->name);
        return 2;
    }
    return 0;
}

int srv_listen(const srv_options *o)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char port[8];
    snprintf(port, sizeof port, "%d", o->port);
    int r = getaddrinfo(o->host, port, &hints, &res);
    if (r != 0) {
        fprintf(stderr, "cannot resolve '%s': %s\n", o->host, gai_strerror(r));
        return -EINVAL;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (o->workers > 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        fprintf(stderr, "cannot listen on %s:%d: %s\n", o->host, o->port, strerror(e));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -e;
    }
    freeaddrinfo(res);
    return fd;
}

void srv_announce(const srv_desc *d, const srv_options *o, int fd, al_loop *loop)
{
    if (o->quiet)
        return;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[64] = "?", port[8] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    printf("%s: listening on %s:%s (%s%s%sselector %s, pid %d)\n", d->name, host, port,
           o->api ? "api " : "", o->api ? o->api : "", o->api ? ", " : "", aio_loop_backend(loop),
           (int)getpid());
    fflush(stdout);
}

void srv_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- shutdown --------------------------------------------------------- */

static int on_grace(al_loop *loop, void *arg)
{
    (void)loop;
    srv_shutdown *s = arg;
    s->ops->close_clients(s->arg);
    return 0;
}

static int on_signal(al_loop *loop, void *arg)
{
    srv_shutdown *s = arg;
    if (s->signals++ == 0) {
        s->ops->stop(s->arg);
        al_call_later(loop, s->grace, on_grace, s, NULL);
    } else {
        s->ops->close_clients(s->arg);
    }
    return 0;
}

int srv_shutdown_init(srv_shutdown *s, al_loop *loop, const srv_options *o,
                      const srv_shutdown_ops *ops, void *arg)
{
    *s = (srv_shutdown){loop, ops, arg, o->grace, 0, false};
    int r = aio_loop_add_signal_handler(loop, SIGINT, on_signal, s);
    if (r == 0)
        r = aio_loop_add_signal_handler(loop, SIGTERM, on_signal, s);
    return r;
}

void srv_shutdown_wait(srv_shutdown *s)
{
    /* Poll: the stop comes from a signal callback, the last connection's
     * end from a connection; 20 ms is nothing next to the grace period. */
    while (s->signals == 0 || s->ops->clients(s->arg) > 0)
        if (al_sleep(s->signals ? 0.02 : 0.2) != 0)
            break; /* cancelled, or the loop is closing */
    aio_loop_remove_signal_handler(s->loop, SIGINT);
    aio_loop_remove_signal_handler(s->loop, SIGTERM);
    s->done = true;
}

/* ---- workers ---------------------------------------------------------- */

static pid_t g_workers[256];
static int g_nworkers;

static void forward(int sig)
{
    for (int i = 0; i < g_nworkers; i++)
        if (g_workers[i] > 0)
            kill(g_workers[i], sig);
}

static int run_workers(const srv_desc *d, const srv_options *o)
{
    struct sigaction sa = {.sa_handler = forward};
    sigemptyset(&sa.sa_mask);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old); /* no forward before the pids are known */
    for (int i = 0; i < o->workers; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            exit(d->serve(o));
        }
        if (pid < 0) {
            fprintf(stderr, "%s: fork: %s\n", d->name, strerror(errno));
            forward(SIGTERM);
            break;
        }
        g_workers[g_nworkers++] = pid;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int status = g_nworkers == o->workers ? 0 : 1;
    for (int left = g_nworkers; left > 0;) {
        int ws;
        pid_t pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < g_nworkers; i++)
            if (g_workers[i] == pid) {
                g_workers[i] = 0;
                left--;
                if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                    fprintf(stderr, "%s: worker %d ended with %s %d\n", d->name, (int)pid,
                            WIFEXITED(ws) ? "status" : "signal",
                            WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
                    status = 1;
                }
            }
    }
    return status;
}

int srv_main(const srv_desc *d, int argc, char **argv)
{
    srv_options o;
    int r = parse(d, argc, argv, &o);
    if (r == 1)
        return 0;
    if (r != 0)
        return r;
    signal(SIGPIPE, SIG_IGN);
    if (o.workers == 1)
        return d->serve(&o);
    return run_workers(d, &o);
}

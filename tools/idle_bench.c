/* asyncio-idle-bench: user-space memory per idle TCP connection of this
 * library's protocol echo server, with peers (libuv, CPython asyncio...)
 * measured in the same run the same way.
 *
 * Each server runs as its own process on 127.0.0.1. The bench opens 100
 * warm-up connections, reads the server's VmRSS, opens CONNS more (each
 * exchanges one byte, so the server has set it up, then stays idle),
 * waits 0.5 s, reads VmRSS again: (after - before) / CONNS is the user
 * memory the server holds per idle connection (kernel socket memory is
 * not in RSS). Lines `idle.NAME.bytes_per_conn VALUE bytes`, then a
 * Markdown table.
 */
#include <asyncio/asyncio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PEERS 8
#define WARMUP 100

static void usage(FILE *f)
{
    fprintf(f, "usage: asyncio-idle-bench [-n CONNS] [-b BACKEND] [--peer NAME=COMMAND]...\n"
               "  Memory per idle TCP connection of the asyncio layer's protocol echo\n"
               "  server (forked from this program, selector BACKEND, default: the\n"
               "  default backend) and of each peer: COMMAND PORT is run by /bin/sh and\n"
               "  must serve a TCP echo on 127.0.0.1:PORT. CONNS defaults to 10000\n"
               "  (RLIMIT_NOFILE is raised to its hard limit; fewer if it is too low).\n"
               "example (peers from shared/bench beside the checkout; libuv's built\n"
               "first: cc -O2 -o /tmp/libuv_echo ../shared/bench/peers/libuv_echo.c -luv):\n"
               "  asyncio-idle-bench -n 10000 -b epoll --peer libuv=/tmp/libuv_echo \\\n"
               "    --peer asyncio='python3 ../shared/bench/peers/asyncio_protocol.py'\n");
}

_Noreturn static void die(const char *what, int err)
{
    fprintf(stderr, "asyncio-idle-bench: %s: %s\n", what, aio_strerror(err));
    exit(1);
}

/* ---- this library's server (in the child) ---------------------------------------- */

static void echo_data(aio_transport *t, const void *data, size_t len, void *user)
{
    (void)user;
    aio_transport_write(t, data, len);
}

static const aio_protocol echo_protocol = {.data_received = echo_data};

static int echo_factory(void *arg, const aio_protocol **proto, void **user)
{
    (void)arg;
    *proto = &echo_protocol;
    *user = NULL;
    return 0;
}

static int serve_main(void *arg, void **result)
{
    (void)result;
    const char *hosts[] = {"127.0.0.1", NULL};
    aio_server_options o = {.backlog = 1024};
    aio_server *s;
    int rc =
        aio_create_server(al_get_running_loop(), echo_factory, NULL, hosts, *(int *)arg, &o, &s);
    if (rc < 0)
        return rc;
    rc = aio_server_serve_forever(s);
    aio_server_free(s);
    return rc;
}

/* ---- the bench ----------------------------------------------------------------------- */

static long rss_bytes(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static struct sockaddr_in addr_of(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = addr_of(0);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("a free port", -errno);
    close(fd);
    return ntohs(a.sin_port);
}

/* One connection that has echoed one byte, or -1. */
static int connect_one(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = addr_of(port);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c = 'x';
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || write(fd, &c, 1) != 1 ||
        read(fd, &c, 1) != 1) {
        close(fd);
        return -1;
    }
    return fd;
}

static pid_t start_server(const char *cmd, const char *backend, int port)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork", -errno);
    if (pid == 0) {
        if (cmd) {
            char line[1024];
            snprintf(line, sizeof line, "exec %s %d", cmd, port);
            execl("/bin/sh", "sh", "-c", line, (char *)NULL);
            _exit(127);
        }
        int rc = aio_run(serve_main, &port, NULL, backend);
        if (rc < 0 && rc != AL_ECANCELLED)
            fprintf(stderr, "asyncio-idle-bench: server: %s\n", aio_strerror(rc));
        _exit(0);
    }
    for (int i = 0; i < 200; i++) { /* until it answers */
        int fd = connect_one(port);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void stop_server(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Bytes per connection, or -1 when the server could not be measured. */
static double measure(const char *name, const char *cmd, const char *backend, int conns)
{
    int port = free_port();
    pid_t pid = start_server(cmd, backend, port);
    if (pid < 0) {
        fprintf(stderr, "asyncio-idle-bench: %s: the server did not answer\n", name);
        return -1;
    }
    int *fds = malloc((size_t)(conns + WARMUP) * sizeof *fds);
    int n = 0;
    double result = -1;
    for (; n < WARMUP; n++)
        if ((fds[n] = connect_one(port)) < 0)
            goto out;
    usleep(300000);
    long before = rss_bytes(pid);
    for (; n < WARMUP + conns; n++)
        if ((fds[n] = connect_one(port)) < 0) {
            fprintf(stderr, "asyncio-idle-bench: %s: connection %d: %s\n", name, n,
                    strerror(errno));
            goto out;
        }
    usleep(500000);
    long after = rss_bytes(pid);
    result = (double)(after - before) / conns;
    printf("idle.%s.bytes_per_conn %.0f bytes\n", name, result);
    fflush(stdout);
out:
    while (n-- > 0)
        close(fds[n]);
    free(fds);
    stop_server(pid);
    return result;
}

int main(int argc, char **argv)
{
    int conns = 10000;
    const char *backend = NULL;
    const char *names[MAX_PEERS + 1] = {"asynclib"}, *cmds[MAX_PEERS + 1] = {NULL};
    char *owned[MAX_PEERS] = {NULL};
    int npeers = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            conns = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc) {
            backend = argv[++i];
        } else if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc && npeers <= MAX_PEERS) {
            char *spec = owned[npeers - 1] = strdup(argv[++i]);
            char *eq = strchr(spec, '=');
            if (!eq || eq == spec || !eq[1]) {
                fprintf(stderr, "asyncio-idle-bench: --peer wants NAME=COMMAND\n");
                return 2;
            }
            *eq = '\0';
            names[npeers] = spec;
            cmds[npeers++] = eq + 1;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (conns <= 0) {
        fprintf(stderr, "asyncio-idle-bench: -n wants a positive count\n");
        return 2;
    }
    al_loop *probe;
    int rc = aio_loop_new(backend, &probe);
    if (rc < 0) {
        fprintf(stderr, "asyncio-idle-bench: backend '%s': %s\n", backend ? backend : "",
                aio_strerror(rc));
        return 2;
    }
    const char *bname = aio_loop_backend(probe);
    printf("# backend %s\n", bname);
    al_loop_free(probe);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)conns + WARMUP + 64 > rl.rlim_cur) {
        conns = (int)rl.rlim_cur - WARMUP - 64;
        printf("# RLIMIT_NOFILE %ld: %d connections\n", (long)rl.rlim_cur, conns);
    }
    signal(SIGPIPE, SIG_IGN);
    double v[MAX_PEERS + 1];
    for (int i = 0; i < npeers; i++)
        v[i] = measure(names[i], cmds[i], backend, conns);
    printf("\n| server | idle connections | bytes per connection |\n|---|---|---|\n");
    for (int i = 0; i < npeers; i++) {
        if (v[i] < 0)
            printf("| %s | %d | failed |\n", names[i], conns);
        else
            printf("| %s | %d | %.0f |\n", names[i], conns, v[i]);
    }
    for (int i = 0; i < MAX_PEERS; i++)
        free(owned[i]);
    return 0;
}

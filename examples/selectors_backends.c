/* selectors_backends: the selectors layer on its own (no asynclib), the C
 * form of Python's `selectors` module. For each backend named on the
 * command line (default: poll and epoll): a socketpair, both ends
 * registered for reading, and 1000 ping-pong round trips driven by
 * sel_select. `selectors_backends libev io_uring` tries others; an unknown
 * name fails with the list of the backends available here. On an error the
 * program prints it and exits 1 (the exit releases what is left). */
#include <selectors/selectors.h>

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* Selectors calls return negated errno values or SEL_E* codes, which
 * sel_strerror names; for libc calls, pass `call == 0 ? 0 : -errno`. */
#define CHECK(call)                                                                                \
    do {                                                                                           \
        int check_rc_ = (call);                                                                    \
        if (check_rc_ < 0) {                                                                       \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                          \
                    sel_strerror(check_rc_));                                                      \
            return check_rc_;                                                                      \
        }                                                                                          \
    } while (0)

enum { TRIPS = 1000 };

/* One byte bounces between the ends: each end that reads it writes it back.
 * A registration's data points at that end's count of bytes read. */
static int ping_pong(sel_selector *sel, int first_fd, const long *first_count)
{
    char byte = 'x';
    CHECK(write(first_fd, &byte, 1) == 1 ? 0 : -errno);
    while (*first_count < TRIPS) {
        sel_event ev[2];
        int n = sel_select(sel, 1.0, ev, 2); /* waits at most 1 s */
        CHECK(n);
        CHECK(n > 0 ? 0 : -ETIMEDOUT); /* the byte is always somewhere */
        for (int i = 0; i < n; i++) {
            CHECK(read(ev[i].fd, &byte, 1) == 1 ? 0 : -errno);
            ++*(long *)ev[i].data;
            CHECK(write(ev[i].fd, &byte, 1) == 1 ? 0 : -errno);
        }
    }
    return 0;
}

static int run(const char *name)
{
    sel_selector *sel;
    int rc = sel_open(&sel, name);
    if (rc == SEL_EBACKEND || rc == SEL_ENOBACKEND) { /* not a backend, or not built in */
        const char *names[32];
        int n = sel_backends(names, 32);
        fprintf(stderr, "selectors_backends: no backend '%s'; available:", name);
        for (int i = 0; i < n && i < 32; i++)
            fprintf(stderr, " %s", names[i]);
        fprintf(stderr, "\n");
    }
    CHECK(rc);

    int sv[2];
    long count[2] = {0, 0};
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0 ? 0 : -errno);
    CHECK(sel_register(sel, sv[0], SEL_READ, &count[0]));
    CHECK(sel_register(sel, sv[1], SEL_READ, &count[1]));
    CHECK(ping_pong(sel, sv[0], &count[0]));
    printf("%-8s (%s): %ld round trips\n", name, sel_name(sel), count[0]);
    CHECK(sel_unregister(sel, sv[0])); /* unregister before close */
    CHECK(sel_unregister(sel, sv[1]));
    CHECK(close(sv[0]) == 0 ? 0 : -errno);
    CHECK(close(sv[1]) == 0 ? 0 : -errno);
    sel_free(sel);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *defaults[] = {"poll", "epoll"};
    const char *const *names = argc > 1 ? (const char *const *)argv + 1 : defaults;
    int n = argc > 1 ? argc - 1 : 2;
    for (int i = 0; i < n; i++)
        if (run(names[i]) != 0)
            return 1;
    return 0;
}

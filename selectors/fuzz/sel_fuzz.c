/* libFuzzer target for the selectors: the input drives a sequence of
 * register / modify / unregister / close / dup / reopen (fd reuse) /
 * write / read / close-peer / select(0) / reinit on a small pool of pipes,
 * socketpairs and eventfds, on a backend chosen by the input (or pinned
 * with SEL_FUZZ_BACKEND=name), against a model of the registrations.
 *
 * Checked after every call: each return code against the model; after
 * every select: each reported fd registered, reported once, events not
 * empty and within its mask, its data and sel_event_check consistent; a
 * fd known to be readable is reported when the call had room left (while
 * no fd was closed before its unregister in this input), and never missed
 * by more consecutive full calls than a fair rotation allows. After every
 * input: unregister everything, sel_free, no fd left open (ppoll over the
 * low fd numbers against a snapshot taken when the input starts); leaks are found by
 * libFuzzer's per-input LeakSanitizer check.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DASYNCLIB_FUZZ=ON
 *   cmake --build build-fuzz --target sel_fuzz
 *   SEL_FUZZ_BACKEND=epoll build-fuzz/selectors/fuzz/sel_fuzz -max_len=128 -max_total_time=60
 * SEL_FUZZ_LIST=1 prints the backends offered here and exits;
 * SEL_FUZZ_TRACE=1 prints every op of an input (to read a crash file);
 * SEL_FUZZ_REUSE=1 keeps one selector per backend for all inputs (each
 * input starts from it empty: a long-lived selector, and no ring or loop
 * setup per input, which makes io_uring and libev several times faster; a
 * crash may then depend on earlier inputs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <selectors/selectors.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define NSLOT 6
#define NDUP 3
#define MAXFD 64 /* fd numbers checked for leaks and held in the model */
#define MAXOUT 8

#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "sel_fuzz [%s] %s:%d: %s: ", fz.backend, __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { K_NONE, K_PIPE, K_SOCK, K_EVENTFD };

struct slot {
    int kind;
    int fd;      /* the end that gets registered; -1 once closed */
    int peer;    /* pipe write end, other socket; -1 for eventfd or closed */
    int num;     /* fd's number when it was closed (for reuse), else -1 */
    int pending; /* model: fd is readable (data, eventfd count or EOF) */
    int eof;     /* the peer is closed: readable for good */
    int unknown; /* fd is a dup of some file: its readiness is not modelled */
};

struct mreg {
    int registered;
    unsigned mask;
    void *data;
    int current; /* the registered file is the one open under this number */
    int missed;  /* consecutive full selects that left it out while ready */
};

static struct {
    const char *backend;
    const char *names[16];
    int nnames;
    const char *pinned;
    int trace; /* SEL_FUZZ_TRACE=1: print every op (to read a crash input) */
    int reuse; /* SEL_FUZZ_REUSE=1: one selector per backend for all inputs */
    sel_selector *kept[16];
    unsigned char open_at_start[MAXFD];
    /* Per input. */
    sel_selector *sel;
    struct slot slots[NSLOT];
    int dups[NDUP];
    struct mreg reg[MAXFD];
    int tainted; /* an fd was closed while registered: stale kernel state */
    const uint8_t *in;
    size_t len, pos;
} fz;

static char tags[MAXFD][2];

static int next(void)
{
    return fz.pos < fz.len ? fz.in[fz.pos++] : -1;
}

/* An argument byte: 0 past the end of the input. */
static int arg(void)
{
    int b = next();
    return b < 0 ? 0 : b;
}

/* Which low fd numbers are open: one ppoll, POLLNVAL for closed ones. */
static void open_fds(unsigned char *open)
{
    struct pollfd p[MAXFD];
    for (int i = 0; i < MAXFD; i++)
        p[i] = (struct pollfd){.fd = i, .events = 0};
    struct timespec zero = {0, 0};
    ppoll(p, MAXFD, &zero, NULL);
    for (int i = 0; i < MAXFD; i++)
        open[i] = !(p[i].revents & POLLNVAL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN); /* writes to a peer whose reader is closed: EPIPE */
    fz.nnames = sel_backends(fz.names, 16);
    if (fz.nnames > 16)
        fz.nnames = 16;
    if (getenv("SEL_FUZZ_LIST")) { /* the backends offered here, one a line (for CI) */
        for (int i = 0; i < fz.nnames; i++)
            printf("%s\n", fz.names[i]);
        exit(0);
    }
    fz.trace = getenv("SEL_FUZZ_TRACE") != NULL;
    fz.reuse = getenv("SEL_FUZZ_REUSE") != NULL;
    fz.pinned = getenv("SEL_FUZZ_BACKEND");
    if (fz.pinned && !*fz.pinned)
        fz.pinned = NULL;
    fz.backend = "init";
    if (fz.pinned) {
        sel_selector *sel;
        int rc = sel_open(&sel, fz.pinned);
        FZ_CHECK(rc == 0, "SEL_FUZZ_BACKEND=%s: %s", fz.pinned, sel_strerror(rc));
        sel_free(sel);
    }
    return 0;
}

static struct slot *slot_of(int b)
{
    return &fz.slots[(unsigned)b % NSLOT];
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A new file of `kind`: *fd the end to watch, *peer the other (or -1). */
static int make_file(int kind, int *fd, int *peer)
{
    int p[2];
    if (kind == K_PIPE) {
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
            return -1;
    } else if (kind == K_SOCK) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p) < 0)
            return -1;
    } else {
        p[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (p[0] < 0)
            return -1;
        p[1] = -1;
    }
    if (p[0] >= MAXFD || p[1] >= MAXFD) {
        close(p[0]);
        if (p[1] >= 0)
            close(p[1]);
        return -1;
    }
    *fd = p[0];
    *peer = p[1];
    return 0;
}

/* The number an op on slot s addresses: its open fd, else the number it
 * had when closed (registration calls on closed numbers are legal). */
static int slot_num(const struct slot *s)
{
    return s->fd >= 0 ? s->fd : s->num;
}

static int is_open(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

static void op_open(int b)
{
    struct slot *s = slot_of(b);
    if (s->kind != K_NONE)
        return;
    int kind = (b >> 4) % 3 + 1, fd, peer;
    if (make_file(kind, &fd, &peer) < 0)
        return;
    *s = (struct slot){.kind = kind, .fd = fd, .peer = peer, .num = -1};
    if (!fz.reg[fd].registered)
        fz.reg[fd].current = 1;
}

static unsigned mask_of(int b)
{
    /* Mostly valid masks; sometimes empty or with an unknown bit. */
    unsigned m = (unsigned)(b >> 3) & 7u;
    return m == 0 || m > 3 ? ((b & 1) ? 4u : 0u) : m;
}

static void op_register(int b, int c)
{
    struct slot *s = slot_of(b);
    int fd = slot_num(s);
    if (fd < 0)
        return;
    unsigned mask = mask_of(c);
    void *data = &tags[fd][c & 1];
    struct mreg *r = &fz.reg[fd];
    int want;
    if (mask == 0 || mask > 3)
        want = -EINVAL;
    else if (r->registered)
        want = -EEXIST;
    else if (!is_open(fd))
        want = -EBADF;
    else
        want = 0;
    int rc = sel_register(fz.sel, fd, mask, data);
    FZ_CHECK(rc == want, "register(%d, %u): %s, want %s", fd, mask, sel_err_name(rc),
             sel_err_name(want));
    if (rc == 0)
        *r = (struct mreg){.registered = 1, .mask = mask, .data = data, .current = s->fd == fd};
}

static void op_modify(int b, int c)
{
    int fd = slot_num(slot_of(b));
    if (fd < 0)
        return;
    unsigned mask = mask_of(c);
    void *data = &tags[fd][c & 1];
    struct mreg *r = &fz.reg[fd];
    int want = mask == 0 || mask > 3 ? -EINVAL : r->registered ? 0 : -ENOENT;
    int rc = sel_modify(fz.sel, fd, mask, data);
    FZ_CHECK(rc == want, "modify(%d, %u): %s, want %s", fd, mask, sel_err_name(rc),
             sel_err_name(want));
    if (rc == 0) {
        r->mask = mask;
        r->data = data;
    }
    unsigned ev;
    void *d;
    rc = sel_get(fz.sel, fd, &ev, &d);
    FZ_CHECK(rc == (r->registered ? 0 : -ENOENT), "get(%d): %s", fd, sel_err_name(rc));
    FZ_CHECK(!r->registered || (ev == r->mask && d == r->data), "get(%d): mask %u data %p", fd, ev,
             d);
}

static void op_unregister(int b)
{
    int fd = slot_num(slot_of(b));
    if (fd < 0)
        return;
    struct mreg *r = &fz.reg[fd];
    int rc = sel_unregister(fz.sel, fd);
    FZ_CHECK(rc == (r->registered ? 0 : -ENOENT), "unregister(%d): %s", fd, sel_err_name(rc));
    r->registered = 0;
    r->missed = 0;
    r->current = is_open(fd) && slot_of(b)->fd == fd;
}

/* Every close of a pool fd: closing a registered number (whichever end or
 * dup it is) leaves stale state that the model does not follow. */
static void fz_close(int fd)
{
    close(fd);
    if (fz.reg[fd].registered)
        fz.tainted = 1;
    fz.reg[fd].current = 0;
}

static void op_close(int b)
{
    struct slot *s = slot_of(b);
    if (s->fd < 0)
        return;
    fz_close(s->fd);
    s->num = s->fd;
    s->fd = -1;
    s->pending = 0;
}

static void op_dup(int b)
{
    struct slot *s = slot_of(b);
    int j = (b >> 4) % NDUP, k = 0; /* the first free dup from j on */
    while (k < NDUP && fz.dups[(j + k) % NDUP] >= 0)
        k++;
    int *d = &fz.dups[(j + k) % NDUP];
    if (s->fd < 0 || k == NDUP)
        return;
    *d = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
    if (*d >= MAXFD) {
        close(*d);
        *d = -1;
    }
}

static void op_close_dup(int b)
{
    int *d = &fz.dups[(unsigned)b % NDUP];
    if (*d >= 0)
        fz_close(*d);
    *d = -1;
}

/* A file the dups keep comes back under the number a closed slot had
 * (perhaps the very file it had: a stale kernel registration of it may
 * remain). Not modelled further: no reads, writes or readiness checks. */
static void op_reopen_dup(struct slot *s, int b)
{
    int j = (b >> 4) % NDUP, k = 0; /* the first open dup from j on */
    while (k < NDUP && fz.dups[(j + k) % NDUP] < 0)
        k++;
    int *d = &fz.dups[(j + k) % NDUP];
    if (k == NDUP || dup3(*d, s->num, O_CLOEXEC) < 0)
        return;
    if (s->peer >= 0)
        fz_close(s->peer);
    *s = (struct slot){.kind = s->kind, .fd = s->num, .peer = -1, .num = -1, .unknown = 1};
    fz.reg[s->fd].current = 0;
}

/* A new file under the number a closed slot had (fd reuse), if free. */
static void op_reopen(int b)
{
    struct slot *s = slot_of(b);
    if (s->fd >= 0 || s->num < 0 || is_open(s->num))
        return;
    if (b & 0x80) {
        op_reopen_dup(s, b);
        return;
    }
    int fd, peer, kind = (b >> 4) % 3 + 1;
    if (make_file(kind, &fd, &peer) < 0)
        return;
    if (peer == s->num) { /* the free number went to the peer: move it */
        int moved = fcntl(peer, F_DUPFD_CLOEXEC, s->num + 1);
        close(peer);
        if (moved < 0 || moved >= MAXFD) {
            close(fd);
            if (moved >= 0)
                close(moved);
            return;
        }
        peer = moved;
    }
    if (fd != s->num) {
        if (dup3(fd, s->num, O_CLOEXEC) < 0) {
            close(fd);
            if (peer >= 0)
                close(peer);
            return;
        }
        set_nonblock(s->num);
        close(fd);
    }
    if (s->peer >= 0)
        fz_close(s->peer);
    *s = (struct slot){.kind = kind, .fd = s->num, .peer = peer, .num = -1};
    /* Still registered (closed without unregister): the registration is
     * stale, the new file's readiness under it is not modelled. */
    fz.reg[s->fd].current = !fz.reg[s->fd].registered;
}

static void op_write(int b)
{
    struct slot *s = slot_of(b);
    if (s->unknown)
        return;
    if (s->kind == K_EVENTFD) {
        if (s->fd < 0)
            return;
        uint64_t one = 1;
        if (write(s->fd, &one, sizeof one) == (ssize_t)sizeof one)
            s->pending = 1;
        return;
    }
    if (s->peer < 0)
        return;
    char buf[64];
    memset(buf, 'x', sizeof buf);
    size_t n = (size_t)(b >> 4) * 4 + 1;
    if (write(s->peer, buf, n) > 0 && s->fd >= 0)
        s->pending = 1;
}

static void op_read(int b)
{
    struct slot *s = slot_of(b);
    if (s->fd < 0 || s->unknown)
        return;
    char buf[256];
    if (s->kind == K_EVENTFD) {
        if (read(s->fd, buf, 8) == 8)
            s->pending = 0;
        return;
    }
    size_t want = (b & 0x80) ? 16 : sizeof buf; /* sometimes a partial read */
    while (read(s->fd, buf, want) > 0 && want == sizeof buf)
        ;
    int avail = 0;
    ioctl(s->fd, FIONREAD, &avail);
    s->pending = s->eof || avail > 0;
}

static void op_close_peer(int b)
{
    struct slot *s = slot_of(b);
    if (s->peer < 0)
        return;
    fz_close(s->peer);
    s->peer = -1;
    s->eof = 1;
    if (s->fd >= 0)
        s->pending = 1;
}

/* Is fd known readable now (registered for reading, file current)? */
static int known_ready(int fd)
{
    const struct mreg *r = &fz.reg[fd];
    if (!r->registered || !r->current || !(r->mask & SEL_READ))
        return 0;
    for (int i = 0; i < NSLOT; i++)
        if (fz.slots[i].fd == fd)
            return fz.slots[i].pending;
    return 0;
}

static void op_select(int b)
{
    int max = (b >> 4) % MAXOUT + 1;
    sel_event out[MAXOUT];
    int n = sel_select(fz.sel, 0, out, max);
    FZ_CHECK(n >= 0 && n <= max, "select(max %d): %s", max, sel_err_name(n));
    unsigned char seen[MAXFD];
    memset(seen, 0, sizeof seen);
    if (fz.trace) {
        fprintf(stderr, "  select(max %d) = %d:", max, n);
        for (int i = 0; i < n && n > 0; i++)
            fprintf(stderr, " %d/%u", out[i].fd, out[i].events);
        fputc('\n', stderr);
    }
    for (int i = 0; i < n; i++) {
        int fd = out[i].fd;
        FZ_CHECK(fd >= 0 && fd < MAXFD, "reported fd %d", fd);
        const struct mreg *r = &fz.reg[fd];
        FZ_CHECK(r->registered, "unregistered fd %d reported", fd);
        FZ_CHECK(!seen[fd], "fd %d reported twice", fd);
        seen[fd] = 1;
        FZ_CHECK(out[i].events != 0 && (out[i].events & ~r->mask) == 0, "fd %d: events %u, mask %u",
                 fd, out[i].events, r->mask);
        FZ_CHECK(out[i].data == r->data, "fd %d: wrong data", fd);
        sel_event copy = out[i];
        FZ_CHECK(sel_event_check(fz.sel, &copy) == out[i].events && copy.data == r->data,
                 "fd %d: sel_event_check disagrees", fd);
    }
    int nreg = sel_count(fz.sel);
    int bound = 2 * ((nreg + max - 1) / max) + 2;
    for (int fd = 0; fd < MAXFD; fd++) {
        struct mreg *r = &fz.reg[fd];
        if (!known_ready(fd) || seen[fd]) {
            r->missed = 0;
            continue;
        }
        FZ_CHECK(n == max || fz.tainted, "readable fd %d not reported (%d results, max %d)", fd, n,
                 max);
        r->missed++;
        FZ_CHECK(r->missed <= bound, "fd %d starved: left out of %d full selects (bound %d)", fd,
                 r->missed, bound);
    }
}

/* Bad arguments: an error, nothing changed. */
static void op_misuse(int b)
{
    sel_event out[2];
    int count = sel_count(fz.sel);
    switch (b % 6) {
    case 0:
        FZ_CHECK(sel_select(fz.sel, NAN, out, 2) == -EINVAL, "NaN timeout");
        break;
    case 1:
        FZ_CHECK(sel_select(fz.sel, 0, NULL, 2) == -EINVAL, "NULL out");
        break;
    case 2:
        FZ_CHECK(sel_register(fz.sel, -1 - (b >> 3), SEL_READ, NULL) == -EBADF, "negative fd");
        break;
    case 3:
        FZ_CHECK(sel_select(fz.sel, 0, out, -1 - b) == -EINVAL, "negative max");
        break;
    case 4:
        FZ_CHECK(sel_select(fz.sel, INFINITY, out, 0) == 0, "max 0");
        break;
    default:
        FZ_CHECK(sel_reinit(fz.sel) == 0, "reinit in the opener");
        break;
    }
    FZ_CHECK(sel_count(fz.sel) == count, "misuse changed the count");
}

static void cleanup(void)
{
    for (int fd = 0; fd < MAXFD; fd++) {
        if (!fz.reg[fd].registered)
            continue;
        int rc = sel_unregister(fz.sel, fd);
        FZ_CHECK(rc == 0, "final unregister(%d): %s", fd, sel_err_name(rc));
    }
    FZ_CHECK(sel_count(fz.sel) == 0, "count %d after unregistering all", sel_count(fz.sel));
    if (!fz.reuse)
        sel_free(fz.sel);
    fz.sel = NULL;
    for (int i = 0; i < NSLOT; i++) {
        if (fz.slots[i].fd >= 0)
            close(fz.slots[i].fd);
        if (fz.slots[i].peer >= 0)
            close(fz.slots[i].peer);
    }
    for (int i = 0; i < NDUP; i++)
        if (fz.dups[i] >= 0)
            close(fz.dups[i]);
    unsigned char now[MAXFD];
    open_fds(now);
    if (memcmp(now, fz.open_at_start, sizeof now) == 0)
        return;
    for (int fd = 0; fd < MAXFD; fd++) {
        char path[64], what[256] = "";
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (now[fd] != fz.open_at_start[fd] && readlink(path, what, sizeof what - 1) < 0)
            what[0] = 0;
        FZ_CHECK(now[fd] == fz.open_at_start[fd], "fd %d %s after the input (%s)", fd,
                 now[fd] ? "left open" : "closed", what);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || fz.nnames == 0)
        return 0;
    memset(fz.reg, 0, sizeof fz.reg);
    for (int i = 0; i < NSLOT; i++)
        fz.slots[i] = (struct slot){.kind = K_NONE, .fd = -1, .peer = -1, .num = -1};
    for (int i = 0; i < NDUP; i++)
        fz.dups[i] = -1;
    fz.tainted = 0;
    fz.in = data;
    fz.len = size;
    fz.pos = 0;
    int pick = fz.pinned ? 0 : next() % fz.nnames;
    fz.backend = fz.pinned ? fz.pinned : fz.names[pick];
    /* The fds open before the input (libFuzzer's own change between
     * inputs), the kept selector's included when reusing: none may be
     * left open or closed by it. */
    if (fz.reuse && !fz.kept[pick]) {
        int rc = sel_open(&fz.kept[pick], fz.backend);
        FZ_CHECK(rc == 0, "sel_open: %s", sel_strerror(rc));
    }
    open_fds(fz.open_at_start);
    if (fz.reuse) {
        fz.sel = fz.kept[pick];
    } else {
        int rc = sel_open(&fz.sel, fz.backend);
        FZ_CHECK(rc == 0, "sel_open: %s", sel_strerror(rc));
    }
    int op;
    while ((op = next()) >= 0) {
        int b = arg();
        if (fz.trace) {
            const struct slot *t = slot_of(b);
            int n = slot_num(t);
            fprintf(stderr, "op %d arg 0x%02x slot %d: kind %d fd %d peer %d num %d pending %d%s\n",
                    op % 14, b, b % NSLOT, t->kind, t->fd, t->peer, t->num, t->pending,
                    n >= 0 && fz.reg[n].registered ? " registered" : "");
        }
        switch (op % 14) {
        case 0:
            op_open(b);
            break;
        case 1:
            op_register(b, arg());
            break;
        case 2:
            op_modify(b, arg());
            break;
        case 3:
            op_unregister(b);
            break;
        case 4:
            op_close(b);
            break;
        case 5:
            op_dup(b);
            break;
        case 6:
            op_close_dup(b);
            break;
        case 7:
            op_reopen(b);
            break;
        case 8:
            op_write(b);
            break;
        case 9:
            op_read(b);
            break;
        case 10:
            op_close_peer(b);
            break;
        case 11:
        case 12:
            op_select(b);
            break;
        default:
            op_misuse(b);
            break;
        }
    }
    op_select(0xff);
    cleanup();
    return 0;
}

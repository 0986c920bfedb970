/* Scenario 8, transport extras over a socketpair: connect_accepted_socket
 * on both ends (the receiver with a buffered protocol: get_buffer /
 * buffer_updated), write buffer limits, pause / resume reading,
 * writelines, the transport's sendfile of a file, close; every allocation
 * failing in turn. */
#include "fa_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define HEAD 8192
#define FILE_LEN 10000
#define TOTAL (HEAD + FILE_LEN)

typedef struct ex_st {
    fa_run run;
    const char *data; /* TOTAL bytes: HEAD written, then the file's */
    int file;         /* a memfd holding data + HEAD */
    int made, lost;
    char chunk[4096]; /* get_buffer's */
    size_t got;
    bool bad;
    al_future *data_f, *lost_f[2];
} ex_st;

static void made(aio_transport *t, void *user)
{
    (void)t;
    ((ex_st *)user)->made++;
}

static void lost(ex_st *st, int i, int error)
{
    st->lost++;
    fa_err(&st->run, error);
    fa_set(&st->run, st->data_f);
    fa_set(&st->run, st->lost_f[i]);
}

static void lost_a(aio_transport *t, int error, void *user)
{
    (void)t;
    lost(user, 0, error);
}

static void lost_b(aio_transport *t, int error, void *user)
{
    (void)t;
    lost(user, 1, error);
}

static void *get_buffer(aio_transport *t, size_t *size, void *user)
{
    (void)t;
    ex_st *st = user;
    *size = sizeof st->chunk;
    return st->chunk;
}

static void buffer_updated(aio_transport *t, size_t n, void *user)
{
    (void)t;
    ex_st *st = user;
    if (st->got + n > TOTAL || memcmp(st->chunk, st->data + st->got, n) != 0)
        st->bad = true;
    else
        st->got += n;
    if (st->got == TOTAL)
        fa_set(&st->run, st->data_f);
}

static const aio_protocol proto_a = {.connection_made = made, .connection_lost = lost_a};
static const aio_protocol proto_b = {.connection_made = made,
                                     .connection_lost = lost_b,
                                     .get_buffer = get_buffer,
                                     .buffer_updated = buffer_updated};

/* Task: closes t (if made), waits for its connection_lost, drops our
 * reference. */
static void close_wait(ex_st *st, aio_transport *t, al_future *f)
{
    if (!t)
        return;
    aio_transport_close(t);
    fa_wait(&st->run, f);
    aio_transport_unref(t);
}

static int ex_main(void *arg, void **result)
{
    (void)result;
    ex_st *st = arg;
    fa_run *r = &st->run;
    al_loop *loop = al_get_running_loop();
    aio_transport *ta = NULL, *tb = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        r->unclean = true;
        return 0;
    }
    st->data_f = fa_future(r);
    st->lost_f[0] = fa_future(r);
    st->lost_f[1] = fa_future(r);
    if (!st->data_f || !st->lost_f[0] || !st->lost_f[1]) {
        close(sv[0]);
        close(sv[1]);
        goto out;
    }
    /* the transports own the fds from here on, also when they fail */
    if (fa_err(r, aio_connect_accepted_socket(loop, &proto_b, st, sv[1], &tb)) < 0) {
        close(sv[0]);
        goto out;
    }
    aio_transport_ref(tb);
    if (fa_err(r, aio_connect_accepted_socket(loop, &proto_a, st, sv[0], &ta)) < 0)
        goto out;
    aio_transport_ref(ta);
    if (fa_err(r, aio_transport_set_write_buffer_limits(ta, 1024, 256)) < 0 ||
        fa_err(r, aio_transport_pause_reading(tb)) < 0 ||
        fa_err(r, aio_transport_resume_reading(tb)) < 0)
        goto out;
    struct iovec iov[2] = {{(void *)st->data, HEAD / 2}, {(void *)(st->data + HEAD / 2), HEAD / 2}};
    size_t sent = 0;
    if (fa_err(r, aio_transport_writelines(ta, iov, 2)) == 0 &&
        fa_err(r, aio_transport_sendfile(ta, st->file, 0, FILE_LEN, &sent)) == 0)
        fa_wait(r, st->data_f);
out:
    close_wait(st, ta, st->lost_f[0]);
    close_wait(st, tb, st->lost_f[1]);
    fa_drop(&st->data_f);
    fa_drop(&st->lost_f[0]);
    fa_drop(&st->lost_f[1]);
    return 0;
}

static int ex_scenario(void *arg)
{
    ex_st *proto = arg;
    ex_st st = {.data = proto->data, .file = proto->file};
    int rc = fa_run_main(FA_IO_LOOP, ex_main, &st.run);
    if (st.lost != st.made)
        return FA_UNCLEAN;
    if (st.bad || (rc == 0 && st.got != TOTAL))
        return FA_SILENT; /* a byte lost, reordered or changed */
    return rc;
}

START_TEST(extras_sweep)
{
    char name[64];
    snprintf(name, sizeof name, "extras/%s", al_test_impl);
    char *data = malloc(TOTAL);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < TOTAL; i++)
        data[i] = (char)(i * 31 + i / 97);
    ex_st st = {.data = data, .file = memfd_create("failalloc", MFD_CLOEXEC)};
    ck_assert_int_ge(st.file, 0);
    ck_assert_int_eq(write(st.file, data + HEAD, FILE_LEN), FILE_LEN);
    failalloc_sweep(name, ex_scenario, &st, 1);
    close(st.file);
    free(data);
}
END_TEST

AL_TEST_SUITE(failalloc_extras)
{
    Suite *s = suite_create("failalloc_extras");
    if (!fa_pure_row()) {
        fa_require_backend();
        TCase *tc = al_tcase("extras");
        tcase_add_test(tc, extras_sweep);
        suite_add_tcase(s, tc);
    }
    return s;
}

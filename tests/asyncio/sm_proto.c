#include "sm_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void settle(al_future *f)
{
    if (f && !al_future_done(f))
        al_future_set_result(f, NULL, NULL);
}

static void made(aio_transport *t, void *user)
{
    sm *s = user;
    if (s->state != SM_INITIAL)
        s->violations++;
    s->state = SM_CONNECTED;
    s->nmade++;
    s->t = aio_transport_ref(t);
    if (s->pause_in_made)
        aio_transport_pause_reading(t);
    settle(s->made_f);
}

static void got(sm *s, aio_transport *t, const void *data, size_t len)
{
    if (s->state != SM_CONNECTED || len == 0)
        s->violations++;
    s->ndata++;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + len)
            cap *= 2;
        s->data = realloc(s->data, cap);
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, len);
    s->len += len;
    if (s->echo)
        aio_transport_write(t, data, len);
    if (s->close_on_data)
        aio_transport_close(t);
    if (s->len >= s->want)
        settle(s->data_f);
}

static void received(aio_transport *t, const void *data, size_t len, void *user)
{
    got(user, t, data, len);
}

static bool eof(aio_transport *t, void *user)
{
    (void)t;
    sm *s = user;
    if (s->state != SM_CONNECTED)
        s->violations++;
    s->state = SM_EOF;
    s->neof++;
    return s->keep_open;
}

static void lost(aio_transport *t, int error, void *user)
{
    sm *s = user;
    if (s->state != SM_CONNECTED && s->state != SM_EOF)
        s->violations++;
    if (t != s->t)
        s->violations++;
    s->state = SM_CLOSED;
    s->nlost++;
    s->lost_error = error;
    settle(s->lost_f);
    settle(s->data_f);
}

static void pause_w(aio_transport *t, void *user)
{
    (void)t;
    sm *s = user;
    if (s->npause != s->nresume)
        s->violations++;
    s->npause++;
}

static void resume_w(aio_transport *t, void *user)
{
    (void)t;
    sm *s = user;
    if (s->npause != s->nresume + 1)
        s->violations++;
    s->nresume++;
}

static void *get_buffer(aio_transport *t, size_t *size, void *user)
{
    (void)t;
    sm *s = user;
    if (!s->buf)
        s->buf = malloc(s->buf_size);
    *size = s->buf_size;
    return s->buf;
}

static void updated(aio_transport *t, size_t n, void *user)
{
    sm *s = user;
    got(s, t, s->buf, n);
}

const aio_protocol sm_protocol = {
    .connection_made = made,
    .data_received = received,
    .eof_received = eof,
    .connection_lost = lost,
    .pause_writing = pause_w,
    .resume_writing = resume_w,
};

const aio_protocol sm_buffered_protocol = {
    .connection_made = made,
    .eof_received = eof,
    .connection_lost = lost,
    .pause_writing = pause_w,
    .resume_writing = resume_w,
    .get_buffer = get_buffer,
    .buffer_updated = updated,
};

void sm_init(sm *s, al_loop *loop)
{
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(al_future_new(loop, &s->lost_f), 0);
    ck_assert_int_eq(al_future_new(loop, &s->made_f), 0);
}

void sm_fini(sm *s)
{
    al_future_unref(s->lost_f);
    al_future_unref(s->made_f);
    al_future_unref(s->data_f);
    aio_transport_unref(s->t);
    free(s->data);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

int sm_wait_data(sm *s, size_t n)
{
    if (s->len >= n || s->nlost)
        return 0;
    al_future_unref(s->data_f);
    ck_assert_int_eq(al_future_new(ac_loop(), &s->data_f), 0);
    s->want = n;
    return al_await(s->data_f);
}

int sm_wait_lost(sm *s)
{
    return al_await(s->lost_f);
}

void sm_check_closed(const sm *s, int error)
{
    ck_assert_int_eq(s->violations, 0);
    ck_assert_int_eq(s->nmade, 1);
    ck_assert_int_eq(s->nlost, 1);
    ck_assert_int_eq(s->state, SM_CLOSED);
    ck_assert_msg(s->lost_error == error, "connection_lost(%d: %s), expected %d", s->lost_error,
                  aio_strerror(s->lost_error), error);
}

int sm_pool_factory(void *arg, const aio_protocol **proto, void **user)
{
    sm_pool *p = arg;
    if (p->used == p->n)
        return -ENOSPC;
    sm *s = &p->slots[p->used++];
    sm_init(s, p->loop);
    s->echo = p->echo;
    s->keep_open = p->keep_open;
    *proto = &sm_protocol;
    *user = s;
    return 0;
}

void sm_pool_init(sm_pool *p, al_loop *loop, size_t n)
{
    memset(p, 0, sizeof *p);
    p->slots = calloc(n, sizeof *p->slots);
    p->n = n;
    p->loop = loop;
}

void sm_pool_fini(sm_pool *p)
{
    for (size_t i = 0; i < p->used; i++)
        sm_fini(&p->slots[i]);
    free(p->slots);
}

bool sm_until(bool (*cond)(void *), void *arg, double seconds)
{
    double end = al_loop_time(ac_loop()) + seconds;
    while (!cond(arg)) {
        if (al_loop_time(ac_loop()) > end)
            return false;
        al_sleep(0.001);
    }
    return true;
}

/* A state-machine protocol for the transport tests (asyncio's MyBaseProto):
 * every callback checks the order INITIAL -> connection_made ->
 * data_received* -> eof_received? -> connection_lost, and records what it
 * got. Violations are counted, never asserted inside the callback;
 * sm_check() asserts them from the test. */
#ifndef SM_PROTO_H
#define SM_PROTO_H

#include "aio_conf.h"

enum { SM_INITIAL, SM_CONNECTED, SM_EOF, SM_CLOSED };

typedef struct sm {
    int state;
    int violations;
    int nmade, neof, nlost, npause, nresume, ndata;
    int lost_error;
    char *data; /* everything received (malloc'd) */
    size_t len, cap;
    aio_transport *t; /* a reference, taken in connection_made */
    /* behaviour */
    bool keep_open;     /* eof_received's return value */
    bool echo;          /* write back what arrives */
    bool pause_in_made; /* pause_reading inside connection_made */
    bool close_on_data; /* close from inside data_received */
    size_t buf_size;    /* buffered protocol: get_buffer's size */
    char *buf;          /* its buffer */
    al_future *lost_f;  /* settled by connection_lost (made by sm_init) */
    al_future *made_f;  /* settled by connection_made */
    al_future *data_f;  /* settled when len reaches want */
    size_t want;
} sm;

extern const aio_protocol sm_protocol;
extern const aio_protocol sm_buffered_protocol;

/* Zeroes s and makes its futures on loop. */
void sm_init(sm *s, al_loop *loop);
/* Releases what s holds (futures, data, the transport reference). */
void sm_fini(sm *s);
/* Task: waits until s received at least n bytes or was lost. */
int sm_wait_data(sm *s, size_t n);
/* Task: waits for connection_lost. */
int sm_wait_lost(sm *s);
/* Asserts the order held and connection_lost ran once. */
void sm_check_closed(const sm *s, int error);

/* A factory handing out slots of a pool of sm (tests of servers). */
typedef struct sm_pool {
    sm *slots;
    size_t n, used;
    al_loop *loop;
    bool echo, keep_open;
} sm_pool;
int sm_pool_factory(void *arg, const aio_protocol **proto, void **user);
void sm_pool_init(sm_pool *p, al_loop *loop, size_t n);
void sm_pool_fini(sm_pool *p);

/* Task: waits until cond(arg) holds, polling once per iteration, for at
 * most `seconds`; returns whether it held. */
bool sm_until(bool (*cond)(void *), void *arg, double seconds);

#endif

/* getaddrinfo / getnameinfo on the executor, cancellable without leaks.
 *
 * A request lives on the heap with two references: the task waiting for
 * it and the pool side. The executor job carries no pointer of its own
 * (only its loop, as a key never dereferenced): it takes the oldest
 * request of that loop from a process-wide queue, so a job withdrawn or
 * dropped when the loop closes holds nothing, and a cancelled request
 * still queued is taken out by its task. The answer goes back as the job's
 * result (the executor releases it if nobody takes it); a done-callback on
 * the loop's thread hands it to the task if it still waits. The loop keeps
 * the jobs' futures in a list and lets go of them at close. */
#include "io_internal.h"

#include <asyncio/dns.h>

#include <asynclib/executor.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct dns_req {
    struct dns_req *next; /* in the queue */
    atomic_int refs;
    bool queued;     /* under g_lock */
    bool waiting;    /* loop thread: the task still waits on fut */
    const void *key; /* the loop, as a key */
    al_future *fut;
    /* getaddrinfo */
    bool reverse;
    char *host, *service;
    struct addrinfo hints;
    bool has_hints;
    struct addrinfo *res;
    /* getnameinfo */
    struct sockaddr_storage sa;
    socklen_t salen;
    int flags;
    char name[NI_MAXHOST], serv[NI_MAXSERV];
    /* outcome */
    int rc;
} dns_req;

/* The executor futures of a loop's lookups (aio__io.dns). */
struct aio__dns {
    al_future **jobs;
    size_t n, cap;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static dns_req *g_head;

int aio_eai_code(int eai, int err)
{
    switch (eai) {
    case 0:
        return 0;
    case EAI_NONAME:
        return AIO_EAI_NONAME;
    case EAI_AGAIN:
        return AIO_EAI_AGAIN;
    case EAI_FAIL:
        return AIO_EAI_FAIL;
    case EAI_FAMILY:
        return AIO_EAI_FAMILY;
    case EAI_SOCKTYPE:
        return AIO_EAI_SOCKTYPE;
    case EAI_SERVICE:
        return AIO_EAI_SERVICE;
    case EAI_BADFLAGS:
        return AIO_EAI_BADFLAGS;
#ifdef EAI_NODATA
    case EAI_NODATA:
        return AIO_EAI_NODATA;
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
        return AIO_EAI_ADDRFAMILY;
#endif
    case EAI_OVERFLOW:
        return AIO_EAI_OVERFLOW;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return err > 0 ? -err : AL_EFAILED;
    }
    return AL_EFAILED;
}

static void req_unref(dns_req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->res)
        freeaddrinfo(r->res);
    free(r->host);
    free(r->service);
    free(r);
}

static void resolve(dns_req *r)
{
    if (r->reverse) {
        int eai = getnameinfo((struct sockaddr *)&r->sa, r->salen, r->name, sizeof r->name, r->serv,
                              sizeof r->serv, r->flags);
        r->rc = aio_eai_code(eai, errno);
    } else {
        int eai = getaddrinfo(r->host, r->service, r->has_hints ? &r->hints : NULL, &r->res);
        r->rc = aio_eai_code(eai, errno);
    }
}

/* Takes r out of the queue if it is there; true if it was. Caller holds
 * g_lock. */
static bool unqueue_locked(dns_req *r)
{
    if (!r->queued)
        return false;
    dns_req **p = &g_head;
    while (*p != r)
        p = &(*p)->next;
    *p = r->next;
    r->queued = false;
    return true;
}

static bool unqueue(dns_req *r)
{
    pthread_mutex_lock(&g_lock);
    bool found = unqueue_locked(r);
    pthread_mutex_unlock(&g_lock);
    return found;
}

/* Pool thread: answer the oldest request of the job's loop. */
static int dns_work(void *key, void **result)
{
    pthread_mutex_lock(&g_lock);
    dns_req *r = g_head;
    while (r && r->key != key)
        r = r->next;
    if (r)
        unqueue_locked(r);
    pthread_mutex_unlock(&g_lock);
    if (!r)
        return 0; /* its request was withdrawn */
    resolve(r);
    *result = r; /* the pool side's reference goes with it */
    return 0;
}

/* The job's result destructor: NULL when its request had been withdrawn
 * (cancelled, or the job could not be tracked) before the job ran. */
static void req_release(void *r)
{
    if (r)
        req_unref(r);
}

static void jobs_forget(aio__io *io, al_future *f)
{
    struct aio__dns *d = io->dns;
    for (size_t i = 0; i < d->n; i++) {
        if (d->jobs[i] == f) {
            d->jobs[i] = d->jobs[--d->n];
            break;
        }
    }
    al_future_unref(f);
}

/* Loop thread: a job ended; its request (if it took one) is answered. */
static int dns_job_done(al_future *f, void *arg)
{
    void *v = NULL;
    if (al_future_take_result(f, &v) == 0 && v) {
        dns_req *r = v;
        if (r->waiting && !al_future_done(r->fut))
            al_future_set_result(r->fut, NULL, NULL);
        req_unref(r);
    }
    jobs_forget(arg, f);
    return 0;
}

static int jobs_add(aio__io *io, al_future *f)
{
    if (!io->dns && !(io->dns = calloc(1, sizeof *io->dns)))
        return -ENOMEM;
    struct aio__dns *d = io->dns;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        al_future **v = realloc(d->jobs, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        d->jobs = v;
        d->cap = cap;
    }
    int rc = al_future_add_done_callback(f, dns_job_done, io);
    if (rc < 0)
        return rc;
    d->jobs[d->n++] = f;
    return 0;
}

void aio__dns_close(aio__io *io)
{
    struct aio__dns *d = io->dns;
    if (d) {
        for (size_t i = 0; i < d->n; i++) {
            al_future_remove_done_callback(d->jobs[i], dns_job_done, io);
            al_future_unref(d->jobs[i]);
        }
        free(d->jobs);
        free(d);
        io->dns = NULL;
    }
    /* Requests of this loop no job will take any more. */
    pthread_mutex_lock(&g_lock);
    for (dns_req **p = &g_head; *p;) {
        dns_req *r = *p;
        if (r->key == io->loop) {
            *p = r->next;
            r->queued = false;
            req_unref(r);
        } else {
            p = &r->next;
        }
    }
    pthread_mutex_unlock(&g_lock);
}

/* Queues r, submits a job and waits. On return the caller holds its own
 * reference and, when 0, the answer in r. */
static int run_request(aio__io *io, dns_req *r)
{
    al_loop *loop = io->loop;
    atomic_init(&r->refs, 1); /* the caller's */
    int rc = al_future_new(loop, &r->fut);
    if (rc < 0)
        return rc;
    r->key = loop;
    atomic_store(&r->refs, 2); /* and the pool side's, once queued */
    pthread_mutex_lock(&g_lock);
    dns_req **p = &g_head;
    while (*p)
        p = &(*p)->next;
    *p = r;
    r->queued = true;
    pthread_mutex_unlock(&g_lock);
    al_future *job;
    rc = al_loop_run_in_executor(loop, dns_work, loop, req_release, &job);
    if (rc == 0 && (rc = jobs_add(io, job)) < 0)
        al_future_unref(job); /* the job finds r and its result is released */
    if (rc < 0) {
        if (unqueue(r))
            atomic_fetch_sub(&r->refs, 1); /* no pool side */
        al_future_unref(r->fut);
        return rc;
    }
    r->waiting = true;
    rc = al_await(r->fut);
    r->waiting = false;
    al_future_unref(r->fut);
    r->fut = NULL;
    if (rc < 0) {
        if (unqueue(r))
            req_unref(r); /* the pool side's: no job will take it now */
        return rc;
    }
    return r->rc;
}

static int dns_begin(al_loop *loop, aio__io **io)
{
    int rc = aio__io_get(loop, io);
    if (rc < 0)
        return rc;
    if (!al_current_task() || al_get_running_loop() != loop)
        return AL_ENOTINTASK;
    return 0;
}

static bool numeric_host(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return !host || inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static bool numeric_service(const char *service)
{
    if (!service)
        return true;
    char *end;
    long port = strtol(service, &end, 10);
    return *service && !*end && port >= 0 && port <= 65535;
}

int aio_getaddrinfo(al_loop *loop, const char *host, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res)
{
    if (!res || (!host && !service))
        return -EINVAL;
    *res = NULL;
    aio__io *io;
    int rc = dns_begin(loop, &io);
    if (rc < 0)
        return rc;
    if (numeric_host(host) && numeric_service(service)) {
        /* No resolver: the C library only parses. */
        struct addrinfo h = hints ? *hints : (struct addrinfo){.ai_family = AF_UNSPEC};
        h.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
        int eai = getaddrinfo(host, service, &h, res);
        return aio_eai_code(eai, errno);
    }
    dns_req *r = calloc(1, sizeof *r);
    if (!r || (host && !(r->host = strdup(host))) || (service && !(r->service = strdup(service)))) {
        if (r) {
            free(r->host);
            free(r);
        }
        return -ENOMEM;
    }
    if (hints) {
        r->hints = (struct addrinfo){.ai_flags = hints->ai_flags,
                                     .ai_family = hints->ai_family,
                                     .ai_socktype = hints->ai_socktype,
                                     .ai_protocol = hints->ai_protocol};
        r->has_hints = true;
    }
    rc = run_request(io, r);
    if (rc == 0) {
        *res = r->res;
        r->res = NULL;
    }
    req_unref(r);
    return rc;
}

static int copy_out(char *dst, size_t len, const char *src)
{
    if (!dst || !len)
        return 0;
    size_t n = strlen(src);
    if (n >= len)
        return AIO_EAI_OVERFLOW;
    memcpy(dst, src, n + 1);
    return 0;
}

int aio_getnameinfo(al_loop *loop, const struct sockaddr *sa, socklen_t salen, char *host,
                    size_t hostlen, char *serv, size_t servlen, int flags)
{
    if (!sa || salen <= 0 || salen > (socklen_t)sizeof(struct sockaddr_storage) ||
        (!host && hostlen) || (!serv && servlen))
        return -EINVAL;
    aio__io *io;
    int rc = dns_begin(loop, &io);
    if (rc < 0)
        return rc;
    dns_req *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->reverse = true;
    memcpy(&r->sa, sa, salen);
    r->salen = salen;
    r->flags = flags;
    if ((flags & (NI_NUMERICHOST | NI_NUMERICSERV)) == (NI_NUMERICHOST | NI_NUMERICSERV)) {
        resolve(r); /* numeric: no resolver */
        atomic_init(&r->refs, 1);
        rc = r->rc;
    } else {
        rc = run_request(io, r);
    }
    if (rc == 0 && (rc = copy_out(host, hostlen, r->name)) == 0)
        rc = copy_out(serv, servlen, r->serv);
    req_unref(r);
    return rc;
}

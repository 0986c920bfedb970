#include <asynclib/error.h>

#include <string.h>

const char *al_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case AL_ECANCELLED:
        return "cancelled";
    case AL_ETIMEOUT:
        return "timed out";
    case AL_EINVALIDSTATE:
        return "invalid state";
    case AL_ELOOPCLOSED:
        return "event loop is closed";
    case AL_ELOOPRUNNING:
        return "an event loop is already running";
    case AL_ENOTIOLOOP:
        return "not an I/O event loop";
    case AL_EWRONGTHREAD:
        return "called from a thread other than the loop's";
    case AL_ESTOPPED:
        return "event loop stopped before the future completed";
    case AL_ENOTINTASK:
        return "not called from inside a task";
    case AL_EWRONGLOOP:
        return "object belongs to another event loop";
    case AL_EINCOMPLETE:
        return "incomplete read: end of stream before the expected bytes";
    case AL_ELIMITOVERRUN:
        return "buffer limit overrun";
    case AL_EQUEUEEMPTY:
        return "queue is empty";
    case AL_EQUEUEFULL:
        return "queue is full";
    case AL_EQUEUESHUTDOWN:
        return "queue is shut down";
    case AL_EBROKENBARRIER:
        return "barrier is broken";
    case AL_EGROUP:
        return "several errors (see the error list)";
    case AL_EFAILED:
        return "failed";
    }
    if (code < 0 && code > -4096)
        return strerror(-code); /* glibc's table is static and thread-safe */
    return "unknown error";
}

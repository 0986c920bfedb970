/* asynclib: asyncio's pure layer in C. One include for all of it.
 *
 *   loop.h      the event loop: ready queue, timers, thread-safe calls
 *   loop_ops.h  the hook a layer with I/O implements (the "subclass")
 *   future.h    Future: what everything waits on
 *   task.h      Task: a function on its own stack; await, sleep, al_run
 *   executor.h  the default thread pool
 *   locks.h     Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier
 *   queues.h    Queue, LifoQueue, PriorityQueue
 *   combinators.h gather, wait, wait_for, as_completed, shield
 *   timeout.h   timeout scopes (asyncio.timeout)
 *   taskgroup.h TaskGroup
 *   error.h     error codes (one X-macro list), al_strerror, al_err_name
 *   export.h    AL_API: what libasynclib.so exports (the functions above)
 */
#ifndef ASYNCLIB_ASYNCLIB_H
#define ASYNCLIB_ASYNCLIB_H

#include <asynclib/error.h>
#include <asynclib/loop.h>
#include <asynclib/loop_ops.h>
#include <asynclib/future.h>
#include <asynclib/task.h>
#include <asynclib/executor.h>
#include <asynclib/locks.h>
#include <asynclib/queues.h>
#include <asynclib/combinators.h>
#include <asynclib/timeout.h>
#include <asynclib/taskgroup.h>

#endif

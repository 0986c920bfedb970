/* Umbrella header of the I/O layer (prefix aio_): the I/O loop, readers
 * and writers, socket coroutines, signals and DNS, on top of the pure
 * layer (asynclib) and the selectors. Each header states its contract. */
#ifndef ASYNCIO_ASYNCIO_H
#define ASYNCIO_ASYNCIO_H

#include <asynclib/asynclib.h>

#include <asyncio/dns.h>
#include <asyncio/error.h>
#include <asyncio/fd.h>
#include <asyncio/loop.h>
#include <asyncio/server.h>
#include <asyncio/signals.h>
#include <asyncio/sock.h>
#include <asyncio/subprocess.h>
#include <asyncio/streams.h>
#include <asyncio/transport.h>

#endif

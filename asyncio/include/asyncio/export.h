/* AIO_API marks the public functions of libasyncio: the library is built
 * with hidden visibility, so only names declared with AIO_API are exported
 * from libasyncio.so. Consumers need do nothing. */
#ifndef ASYNCIO_EXPORT_H
#define ASYNCIO_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define AIO_API __attribute__((visibility("default")))
#else
#define AIO_API
#endif

#endif

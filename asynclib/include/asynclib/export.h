/* AL_API marks the public functions of libasynclib: the library is built
 * with hidden visibility (cmake/layer.cmake, HIDDEN_VISIBILITY), so only
 * the names declared with AL_API are exported from libasynclib.so; the
 * library's internal functions (al__*) are not. Consumers need do nothing. */
#ifndef ASYNCLIB_EXPORT_H
#define ASYNCLIB_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define AL_API __attribute__((visibility("default")))
#else
#define AL_API
#endif

#endif

/* SEL_API marks the public functions of libselectors: the library is built
 * with hidden visibility, so only names declared with SEL_API are exported
 * from libselectors.so. Consumers need do nothing. */
#ifndef SELECTORS_EXPORT_H
#define SELECTORS_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SEL_API __attribute__((visibility("default")))
#else
#define SEL_API
#endif

#endif

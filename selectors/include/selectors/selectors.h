/* selectors.h (plural): the umbrella header of the selectors layer -- include
 * this one. It includes the layer's public headers: selector.h (singular),
 * the one readiness interface (register / modify / unregister / select)
 * with its contract, and sel_errors.h, the error codes and sel_strerror.
 *
 * The library depends on libc, libev (the default backend) and, when built
 * with it, liburing (the io_uring backend); never on asynclib. Link with
 * `pkg-config --libs selectors` or the CMake target asynclib::selectors. */
#ifndef SELECTORS_SELECTORS_H
#define SELECTORS_SELECTORS_H

#include <selectors/sel_errors.h>
#include <selectors/selector.h>

#endif

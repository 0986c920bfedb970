/* Umbrella header of the selectors layer: one readiness interface
 * (register / modify / unregister / select) with swappable backends.
 * See selector.h for the contract, sel_errors.h for the error codes.
 * Depends on libc only. */
#ifndef SELECTORS_SELECTORS_H
#define SELECTORS_SELECTORS_H

#include <selectors/sel_errors.h>
#include <selectors/selector.h>

#endif

/* SIGINT handling of al_run (asyncio.Runner's Ctrl+C). Private. */
#ifndef ASYNCLIB_INTERRUPT_H
#define ASYNCLIB_INTERRUPT_H

#include "loop_internal.h"

#include <stdbool.h>

typedef struct al_interrupt al_interrupt;

/* Watches SIGINT for the calling thread's al_run: the first one cancels
 * main_task. NULL (nothing installed) when SIGINT is not at its default
 * disposition, is already blocked, or on failure. */
al_interrupt *al__interrupt_start(al_loop *loop, al_task *main_task);
/* Removes the watcher and restores the signal mask; true if a SIGINT
 * cancelled the main task. NULL is accepted (returns false). */
bool al__interrupt_stop(al_interrupt *in);

#endif

/* Helpers of the asyncio conformance suite.
 *
 * Every case runs on the I/O loop of the backend named on the command line
 * (al_test_impl: select, poll, epoll, libev, io_uring), so each case is
 * written once and instantiated per backend (asyncio/epoll, ...). Sockets
 * stay on loopback (127.0.0.1, ::1) and Unix sockets.
 */
#ifndef AIO_CONF_H
#define AIO_CONF_H

#include "al_test.h"

#include <asyncio/asyncio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Exit code CTest reports as skipped. */
#define AIO_TEST_SKIP 77

/* Called by every suite: exits AIO_TEST_SKIP (with the reason) when the
 * backend under test cannot be opened here (io_uring refused). */
void ac_require_backend(void);

/* A new I/O loop on the backend under test; fails the test on error. */
al_loop *ac_loop_new(void);
/* Runs fn(arg) as the main task of a new I/O loop; asserts it returns 0
 * (or prints its error) and that the loop frees cleanly. */
void ac_run_main(al_task_fn fn, void *arg);
/* The running loop (fails outside a loop). */
al_loop *ac_loop(void);
/* A task on the running loop (the caller's reference). */
al_task *ac_spawn(al_task_fn fn, void *arg);
/* Awaits t and returns its status; drops the reference. */
int ac_join(al_task *t);
/* Awaits t, which must end with a result, and returns it as an int (a
 * task body's *result = AC_VP(i)); drops the reference. */
int ac_join_value(al_task *t);

#define AC_VP(i) ((void *)(intptr_t)(i))
#define AC_PV(p) ((int)(intptr_t)(p))

/* Socket families the socket cases run over. */
typedef enum { AC_INET = 0, AC_INET6 = 1, AC_UNIX = 2, AC_NFAMILIES = 3 } ac_family;
extern const char *const ac_family_name[AC_NFAMILIES];

/* True if this machine can bind ::1 (else IPv6 cases print why and pass
 * without checking anything: a skip, said on stdout). */
bool ac_have_ipv6(void);

/* A non-blocking listening socket of family f on loopback (port chosen by
 * the kernel, Unix: a fresh path); its address in *addr / *len. */
int ac_listener(ac_family f, struct sockaddr_storage *addr, socklen_t *len);
/* A non-blocking unconnected stream socket of family f. */
int ac_socket(ac_family f);
/* A connected non-blocking stream pair of family f (blocking connect and
 * accept done outside the loop). */
void ac_pair(ac_family f, int *a, int *b);
/* A non-blocking AF_UNIX SOCK_STREAM socketpair. */
void ac_socketpair(int *a, int *b);
/* Sets O_NONBLOCK on or off. */
void ac_set_nonblock(int fd, bool on);
/* Closes fd if >= 0 and removes a Unix listener's path if any. */
void ac_close(int fd);
/* Number of open fds of this process (leak checks). */
int ac_open_fds(void);
/* Blocks the calling thread for ms milliseconds (at least: a signal does
 * not cut it short). For threads that are not the loop's. */
void ac_sleep_ms(int ms);

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define AC_UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef AC_UNDER_VALGRIND
#define AC_UNDER_VALGRIND() 0
#endif

#endif

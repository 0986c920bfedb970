/* subprocess_lines: a child's stdin and stdout as streams (write + drain,
 * readline as each line comes, exit status), then communicate (all input
 * in, all output back). Exits 0 only if every answer is the expected one. */
#include "check.h"

#include <asyncio/asyncio.h>

#include <stdlib.h>
#include <string.h>

static int dialogue(void *arg, void **result)
{
    (void)arg, (void)result;
    al_loop *loop = al_get_running_loop();
    aio_subprocess_options o = {.stdin_fd = {AIO_STDIO_PIPE, -1},
                                .stdout_fd = {AIO_STDIO_PIPE, -1}};
    aio_process *p;
    CHECK(
        aio_create_subprocess_shell(loop, "while read x; do echo \"> $x\"; done; exit 3", &o, &p));
    aio_stream_writer *in;
    aio_stream_reader *out;
    CHECK(aio_process_stdin(p, &in)); /* borrowed: the process closes them */
    CHECK(aio_process_stdout(p, &out));
    int answered = 0;
    const char *words[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        char line[32], *got;
        size_t len;
        snprintf(line, sizeof line, "%s\n", words[i]);
        CHECK(aio_stream_write(in, line, strlen(line)));
        CHECK(aio_stream_drain(in));                          /* backpressure */
        CHECK(aio_stream_readline(out, (void **)&got, &len)); /* "> one\n" */
        printf("%.*s", (int)len, got);
        answered += len == strlen(line) + 2 && memcmp(got + 2, line, strlen(line)) == 0;
        free(got);
    }
    CHECK(aio_stream_write_eof(in)); /* the child's read sees end of file */
    int status;
    CHECK(aio_process_wait(p, &status)); /* the exit code, or -SIGNAL */
    printf("exit status %d\n", status);
    aio_process_free(p); /* reaped already; releases the streams */

    /* All at once: input in, stdout back (no deadlock on large data). */
    const char *const sort[] = {"sort", NULL};
    CHECK(aio_create_subprocess_exec(loop, sort, &o, &p));
    char *sorted;
    size_t n;
    CHECK(aio_process_communicate(p, "pear\napple\n", 11, &sorted, &n, NULL, NULL));
    printf("%s", sorted);
    int ok = answered == 3 && status == 3 && strcmp(sorted, "apple\npear\n") == 0;
    free(sorted);
    aio_process_free(p);
    return ok ? 0 : -1;
}

int main(void)
{
    return example_exit("subprocess_lines", aio_run(dialogue, NULL, NULL, NULL));
}

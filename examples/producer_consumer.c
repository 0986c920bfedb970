/* producer_consumer: a bounded Queue between producers and consumers
 * (asyncio.Queue). Producers wait while the queue is full; each consumer
 * marks every item it got as done (task_done), so the main task's join
 * returns once all items are processed; shutdown then ends the consumers. */
#include "check.h"

#include <stdint.h>

enum { PRODUCERS = 2, CONSUMERS = 3, ITEMS = 10, MAXSIZE = 4 };

static al_queue *queue;
static long total; /* sum of the processed items */

static int producer(void *arg, void **result)
{
    (void)result;
    long first = (long)(intptr_t)arg;
    for (long i = first; i < first + ITEMS; i++)
        CHECK(al_queue_put(queue, (void *)(intptr_t)i)); /* waits while full */
    return 0;
}

static int consumer(void *arg, void **result)
{
    (void)arg;
    long done = 0;
    for (;;) {
        void *item;
        int rc = al_queue_get(queue, &item);
        if (rc == AL_EQUEUESHUTDOWN)
            break; /* shut down and empty: no more work */
        CHECK(rc);
        rc = al_sleep(0.001); /* "process" the item; others run meanwhile */
        /* Every item got is marked done, even if processing failed or the
         * task was cancelled: else al_queue_join() would wait forever. */
        CHECK(al_queue_task_done(queue));
        CHECK(rc);
        total += (long)(intptr_t)item;
        done++;
    }
    *result = (void *)(intptr_t)done;
    return 0;
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    al_loop *loop = al_get_running_loop();
    al_task *producers[PRODUCERS], *consumers[CONSUMERS];
    CHECK(al_queue_new(loop, MAXSIZE, &queue));
    for (int i = 0; i < CONSUMERS; i++)
        CHECK(al_task_new(loop, consumer, NULL, NULL, &consumers[i]));
    for (int i = 0; i < PRODUCERS; i++)
        CHECK(al_task_new(loop, producer, (void *)(intptr_t)(i * 100), NULL, &producers[i]));

    for (int i = 0; i < PRODUCERS; i++) {
        CHECK(al_await(al_task_future(producers[i])));
        al_task_unref(producers[i]);
    }
    CHECK(al_queue_join(queue)); /* every item put has been marked done */
    printf("all %d items processed, sum %ld\n", PRODUCERS * ITEMS, total);

    CHECK(al_queue_shutdown(queue, false)); /* consumers' get now fails */
    for (int i = 0; i < CONSUMERS; i++) {
        void *n;
        CHECK(al_await(al_task_future(consumers[i])));
        CHECK(al_future_result(al_task_future(consumers[i]), &n));
        printf("consumer %d processed %ld items\n", i, (long)(intptr_t)n);
        al_task_unref(consumers[i]);
    }
    CHECK(al_queue_free(queue));
    long expected = 0;
    for (int p = 0; p < PRODUCERS; p++)
        for (int i = 0; i < ITEMS; i++)
            expected += p * 100 + i;
    return total == expected ? 0 : AL_EFAILED;
}

int main(void)
{
    return example_exit("producer_consumer", al_run(main_task, NULL, NULL));
}

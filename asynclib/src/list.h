/* The one intrusive doubly linked list of the pure layer.
 *
 * An element embeds an al_link; a list is an al_list of head, tail and
 * length. Both are valid when zeroed (calloc'd or {0}): an empty list, an
 * unlinked element, so no init call is needed. Every operation is O(1);
 * AL_CONTAINER gets the element back from its link. Not thread-safe: the
 * owner serialises (the loop's thread, or a lock).
 *
 * Users: the loop's tasks (task.c), a waiter queue and its free nodes
 * (waiters.c), a stack size class's partial regions (stack.c), the
 * executor's queue and the loop's jobs in flight (executor.c). */
#ifndef ASYNCLIB_LIST_H
#define ASYNCLIB_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct al_link al_link;
struct al_link {
    al_link *prev, *next;
};

typedef struct al_list {
    al_link *head, *tail;
    size_t len;
} al_list;

/* The struct of type `type` whose member `member` is the link `link`. */
#define AL_CONTAINER(link, type, member) ((type *)(void *)((char *)(link)-offsetof(type, member)))

/* for (al_link *it = first; it; it = next), safe against removing `it`
 * (the next link is read before the body runs). */
#define AL_LIST_FOREACH(it, list)                                                                  \
    for (al_link *it = (list)->head, *it##_next_ = it ? it->next : NULL; it;                       \
         it = it##_next_, it##_next_ = it ? it->next : NULL)

static inline bool al__list_empty(const al_list *l)
{
    return l->head == NULL;
}

static inline void al__list_push_back(al_list *l, al_link *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    l->len++;
}

static inline void al__list_push_front(al_list *l, al_link *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
    l->len++;
}

/* n must be in l. n is left unlinked (both pointers NULL). */
static inline void al__list_remove(al_list *l, al_link *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
    l->len--;
}

/* The first link, unlinked; NULL if l is empty. */
static inline al_link *al__list_pop_front(al_list *l)
{
    al_link *n = l->head;
    if (n)
        al__list_remove(l, n);
    return n;
}

#endif

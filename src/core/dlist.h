/* dlist.h — intrusive circular doubly linked lists headed by a sentinel, and container_of.
 * Pure; the owner of a list decides which thread touches it. */
#ifndef WEIR_CORE_DLIST_H
#define WEIR_CORE_DLIST_H

#include <stdbool.h>
#include <stddef.h>

struct dlist {
    struct dlist *next, *prev;
};

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void dlist_init(struct dlist *head)
{
    head->next = head->prev = head;
}

static inline bool dlist_empty(const struct dlist *head)
{
    return head->next == head;
}

static inline void dlist_push_front(struct dlist *head, struct dlist *node)
{
    node->next = head->next;
    node->prev = head;
    head->next->prev = node;
    head->next = node;
}

static inline void dlist_push_back(struct dlist *head, struct dlist *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void dlist_remove(struct dlist *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = node;
}

#endif

/* shared.c — see shared.h. A list: a process has a handful of routes and groups. */
#include "pipeline/shared.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct shared_node {
    struct shared_node *next;
    const struct pipeline_shared_type *type;
    const void *key;
    uint32_t refs;
    _Alignas(16) char obj[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_node *nodes;

void *pipeline_shared_get(const struct pipeline_shared_type *t, const void *key)
{
    pthread_mutex_lock(&lock);
    struct shared_node *n;
    for (n = nodes; n; n = n->next)
        if (n->type == t && n->key == key)
            break;
    if (!n) {
        n = calloc(1, sizeof(*n) + t->size);
        if (n && t->init(n->obj, key) != 0) {
            free(n);
            n = NULL;
        }
        if (n) {
            *n = (struct shared_node){.next = nodes, .type = t, .key = key};
            nodes = n;
        }
    }
    if (n)
        n->refs++;
    pthread_mutex_unlock(&lock);
    return n ? n->obj : NULL;
}

void pipeline_shared_put(void *obj)
{
    if (!obj)
        return;
    struct shared_node *node = (struct shared_node *)(void *)((char *)obj - offsetof(struct shared_node, obj));
    pthread_mutex_lock(&lock);
    bool last = --node->refs == 0;
    if (last) {
        for (struct shared_node **p = &nodes; *p; p = &(*p)->next) {
            if (*p == node) {
                *p = node->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    if (last) {
        node->type->fini(node->obj);
        free(node);
    }
}

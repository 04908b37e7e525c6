/* wr_store.c — the one entry of the request path into a waitroom store (wr_store.h): the
 * same call shape whether the backend answers at once (memory) or later (Redis). */
#include "waitroom/wr_store.h"

void wr_store_call(const struct wr_store_ops *ops, void *room, struct wr_call *call)
{
    call->res = (struct wr_result){0};
    call->failed = false;
    call->pending = true;
    if (ops->call_async) {
        ops->call_async(room, call);
        return;
    }
    switch (call->op) {
    case WR_OP_ARRIVE:
        ops->arrive(room, &call->p, call->now, &call->res);
        break;
    case WR_OP_POLL:
        ops->poll(room, &call->p, call->id, call->now, &call->res);
        break;
    case WR_OP_TOUCH:
    case WR_OP_ADOPT:
        ops->touch(room, &call->p, call->id, call->slot, call->now, &call->res);
        break;
    case WR_OP_REVOKE:
        call->res.v = ops->revoke(room, &call->p, call->id, call->slot, call->now)
                          ? WR_ADMITTED : WR_PASS;
        break;
    }
    call->pending = false;
    call->done(call);
}

void wr_store_cancel(const struct wr_store_ops *ops, void *room, struct wr_call *call)
{
    if (call->pending && ops->cancel)
        ops->cancel(room, call);
    call->pending = false;
}

/*
 * struct scep_reply housekeeping: the answer the service hands to the
 * HTTP layer owns its body.
 */
#include <string.h>

#include <scep/message.h>
#include "service/service.h"

void scep_reply_clear(struct scep_reply *r)
{
    if (r == NULL)
        return;
    scep_free(r->body);
    memset(r, 0, sizeof(*r));
    r->msg_type = -1;
    r->fail_info = -1;
}

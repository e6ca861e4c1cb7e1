/*
 * imap_client_int.h - what imap_client.c and imap_cmd.c share and nobody
 * else uses.
 */
#ifndef IMAP_CLIENT_INT_H
#define IMAP_CLIENT_INT_H

#include "imap/imap_client.h"

/* A synchronising literal that waits for "+". */
struct imap_out_hold {
	size_t at;		/* out offset of the literal's first byte */
	size_t cmd_end;		/* out offset just past its command */
	uint32_t tag;
};

void imap_client__set_state(struct imap_client *c,
    enum imap_client_state state);

#endif

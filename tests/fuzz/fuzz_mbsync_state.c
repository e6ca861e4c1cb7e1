/*
 * fuzz_mbsync_state.c - mbsync's sync state parser (maildir_mbsync.h) on
 * any bytes: no crash, no leak, and what it accepts is consistent (every
 * pair complete, flags system letters only).
 */
#include <stdint.h>
#include <stdlib.h>

#include "maildir/maildir_mbsync.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maildir_mbsync_state st;
	struct ms_err err = { 0 };
	uint32_t uv;

	if (maildir_mbsync_state_parse((const char *)data, size, &st,
				       &err) == MS_OK) {
		for (size_t i = 0; i < st.n; i++) {
			CHECK(st.v[i].far_uid > 0 && st.v[i].near_uid > 0);
			CHECK((st.v[i].flags & ~MAILDIR_FLAGS_SYSTEM) == 0);
		}
	} else {
		CHECK(err.msg[0] != '\0');
	}
	maildir_mbsync_state_deinit(&st);
	if (maildir_mbsync_uidvalidity_parse((const char *)data, size, &uv,
					     &err) != MS_OK)
		CHECK(err.msg[0] != '\0');
	return 0;
}

/*
 * fuzz_maildir_name.c - Maildir file-name parsing and the folder path
 * mapping, checked by round trips:
 *   name: parse -> with_flags -> parse gives the same base, separator, flags;
 *   path: forward -> reverse gives the name back, and reverse -> forward
 *         gives the path back (the mapping is a bijection on its domain).
 * The first input byte picks the namespace; the rest is the string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "maildir/maildir_name.h"
#include "maildir/maildir_path.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void
fuzz_name(const char *p, size_t len)
{
	struct maildir_name_info in, in2;
	char out[MAILDIR_NAME_MAX + 1];
	char letters[MAILDIR_FLAGS_STRMAX];
	int n;

	if (maildir_name_parse(p, len, &in) != MS_OK)
		return;
	CHECK(in.base.len <= len && in.unique.len <= in.base.len);
	maildir_flags_format(in.flags, letters);
	CHECK(maildir_flags_parse(letters, strlen(letters), NULL) == in.flags);
	n = maildir_name_with_flags(in.base, in.sep, in.flags, out, sizeof(out));
	if (n < 0)
		return;	/* the base alone is near NAME_MAX */
	CHECK(maildir_name_parse(out, (size_t)n, &in2) == MS_OK);
	CHECK(in2.base.len == in.base.len);
	CHECK(memcmp(in2.base.p, in.base.p, in.base.len) == 0);
	CHECK(in2.flags == in.flags);
	CHECK(in2.sep == (in.sep != 0 ? in.sep : ':'));
	CHECK(in2.has_size == in.has_size && in2.size == in.size);
	CHECK(in2.has_uid == in.has_uid && in2.uid == in.uid);
}

static void
fuzz_path(uint8_t sel, const char *p, size_t len)
{
	static const struct maildir_path_ns nss[] = {
		{ .delim = '/', .prefix = "" },
		{ .delim = '.', .prefix = "INBOX." },
		{ .delim = '.', .prefix = NULL },
		{ .delim = 0, .prefix = NULL },
	};
	/* Every layout, INBOX at the root or as INBOX/. */
	struct maildir_path_ns nsv = nss[sel & 3];
	const struct maildir_path_ns *ns = &nsv;

	nsv.layout = (enum maildir_layout)((sel >> 2) % 3);
	nsv.is_inbox_subfolder = (sel >> 4) & 1;
	struct ms_buf a, b;
	struct ms_err err;

	ms_buf_init(&a, 8192);
	ms_buf_init(&b, 8192);
	if (maildir_path_from_server(ns, p, len, &a, &err) == MS_OK) {
		CHECK(maildir_path_to_server(ns, a.p != NULL ? (char *)a.p : "", a.len,
					     &b, &err) == MS_OK);
		if (len == 5 && strncasecmp(p, "inbox", 5) == 0)
			CHECK(b.len == 5 && memcmp(b.p, "INBOX", 5) == 0);
		else
			CHECK(b.len == len && memcmp(b.p, p, len) == 0);
	}
	ms_buf_reset(&a);
	ms_buf_reset(&b);
	if (maildir_path_to_server(ns, p, len, &a, &err) == MS_OK) {
		CHECK(maildir_path_from_server(ns, (char *)a.p, a.len, &b, &err) == MS_OK);
		CHECK(b.len == len && (len == 0 || memcmp(b.p, p, len) == 0));
	}
	ms_buf_deinit(&a);
	ms_buf_deinit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fuzz_name((const char *)data + 1, size - 1);
	fuzz_path(data[0], (const char *)data + 1, size - 1);
	return 0;
}

/*
 * fuzz_cfg_mbsync.c - feeds arbitrary bytes to the configuration
 * converters, mbsync's (cfg/cfg_mbsync.h), OfflineIMAP's
 * (cfg/cfg_offlineimap.h) and fetchmail's (cfg/cfg_fetchmail.h), which
 * share a writer (cfg/cfg_convert.h) and this corpus; nothing may crash or leak, and what each
 * writes must be a configuration mailsync reads without a syntax error
 * of its own making: every line a comment, a section header, or
 * "key = value", and an [account] for each account it counts.
 */
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg_fetchmail.h"
#include "cfg/cfg_mbsync.h"
#include "cfg/cfg_offlineimap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each line of ini is a comment, a blank, "[account ...]" or "k = v". */
static void
fuzz_check_lines(const char *ini, unsigned n_accounts)
{
	unsigned n = 0;

	for (const char *p = ini; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (len > 0 && p[0] != ';') {
			if (strncmp(p, "[account ", 9) == 0 && p[len - 1] == ']')
				n++;
			else if (memchr(p, '=', len) == NULL ||
				 memchr(p, '\r', len) != NULL)
				abort();
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (n != n_accounts)
		abort();
}

typedef int fuzz_convert_fn(const char *file, const char *text, size_t len,
			    struct cfg_convert_result *res_r);

static void
fuzz_convert(fuzz_convert_fn *convert, const uint8_t *data, size_t size)
{
	struct cfg_convert_result res;
	int rc = convert("f", (const char *)data, size, &res);

	if ((rc == MS_OK) != (res.n_accounts > 0) || res.ini == NULL)
		abort();
	/* A failure always says why. */
	if (rc != MS_OK && res.n_notes == 0)
		abort();
	fuzz_check_lines(res.ini, res.n_accounts);
	cfg_convert_result_free(&res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)cfg_mbsync_looks_like((const char *)data, size);
	(void)cfg_offlineimap_looks_like((const char *)data, size);
	(void)cfg_fetchmail_looks_like((const char *)data, size);
	fuzz_convert(cfg_mbsync_convert, data, size);
	fuzz_convert(cfg_offlineimap_convert, data, size);
	fuzz_convert(cfg_fetchmail_convert, data, size);
	return 0;
}

/*
 * fuzz_cfg.c - feeds arbitrary bytes to the configuration parser and
 * validator with a fixed fake environment; nothing may crash or leak.
 */
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg_int.h"

static const char *
fuzz_cfg_getenv(const char *name, void *arg)
{
	(void)arg;
	if (strcmp(name, "HOME") == 0)
		return "/h";
	if (strcmp(name, "X") == 0)
		return "/x";
	return NULL;
}

static bool
fuzz_cfg_exists(const char *path, void *arg)
{
	(void)path;
	(void)arg;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_env env = { fuzz_cfg_getenv, fuzz_cfg_exists, NULL, 1000 };
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	int rc;

	cfg_report_init(&rep);
	rc = cfg_load_text("f.ini", (const char *)data, size, &env, &cfg, &rep);
	/*
	 * The contract: success yields a config and no problems; failure
	 * yields no config and at least one problem to show the user.
	 */
	if ((rc == 0) != (cfg != NULL) || (rc != 0) != (rep.n > 0))
		abort();
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
	return 0;
}

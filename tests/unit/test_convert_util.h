/*
 * test_convert_util.h - what the converters' unit tests share
 * (test_cfg_mbsync.c, test_cfg_offlineimap.c, test_cfg_fetchmail.c):
 * the result under test, a home in /home/me (where the fixtures' ca_file
 * exists) for cfg_load_text(), and lookups of the result's sections and
 * notes.
 * Included by one test file each.
 */
#ifndef MS_TEST_CONVERT_UTIL_H
#define MS_TEST_CONVERT_UTIL_H

#include <stdio.h>
#include <string.h>

#include "cfg/cfg.h"
#include "cfg/cfg_convert.h"

static struct cfg_convert_result res;

static const char *
env_get(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "HOME") == 0 ? "/home/me" : NULL;
}

static bool
env_exists(const char *path, void *arg)
{
	(void)arg;
	return strcmp(path, "/etc/ssl/certs/ca-certificates.crt") == 0;
}

static const struct cfg_env test_env = { env_get, env_exists, NULL, 1000 };

/* The [account NAME] section of the result, up to the next one. */
static char *
section(const char *name)
{
	static char out[2048];
	char head[128];
	const char *p, *end;

	snprintf(head, sizeof(head), "\n[account %s]\n", name);
	p = strstr(res.ini, head);
	assert_non_null(p);
	p++;
	end = strstr(p + 1, "\n[");
	snprintf(out, sizeof(out), "%.*s", end != NULL ? (int)(end - p) :
		 (int)strlen(p), p);
	return out;
}

/* True when a note on line says text (a part of it). */
static bool
has_note(unsigned line, const char *text)
{
	for (size_t i = 0; i < res.n_notes; i++)
		if (res.notes[i].line == line &&
		    strstr(res.notes[i].text, text) != NULL)
			return true;
	return false;
}

/* The notes come in input line order. */
static void
notes_in_order(void)
{
	for (size_t i = 1; i < res.n_notes; i++)
		assert_true(res.notes[i - 1].line <= res.notes[i].line);
}

/* The result loads as a mailsync configuration, with no complaint and
 * n_accounts accounts. */
static void
result_loads(size_t n_accounts)
{
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	int rc;

	cfg_report_init(&rep);
	rc = cfg_load_text("out.ini", res.ini, strlen(res.ini), &test_env,
			   &cfg, &rep);
	for (size_t i = 0; i < rep.n; i++)
		print_message("%s\n", rep.v[i].text);
	assert_int_equal(rc, MS_OK);
	assert_int_equal(rep.n, 0);
	assert_int_equal(cfg->n_accounts, n_accounts);
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
}

/* mailsyncd given text (another tool's file) as its configuration
 * refuses it with one line, want. */
static void
load_refused(const char *file, const char *text, const char *want)
{
	struct cfg_report rep;
	struct cfg *cfg = NULL;

	cfg_report_init(&rep);
	assert_int_equal(cfg_load_text(file, text, strlen(text), &test_env,
				       &cfg, &rep), MS_ECONFIG);
	assert_null(cfg);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.v[0].text, want);
	cfg_report_deinit(&rep);
}

static int
teardown(void **state)
{
	(void)state;
	cfg_convert_result_free(&res);
	return 0;
}

#endif

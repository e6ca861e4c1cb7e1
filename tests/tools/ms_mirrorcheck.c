/*
 * ms_mirrorcheck.c - test hook for the integration tests: compares an
 * account's Maildir mirror with the store (mirror_check with content
 * hashes), or runs one mirror pass by itself.  Not installed; not for
 * users.  The store must not be open in a running mailsyncd.
 *
 *   ms_mirrorcheck STORE ACCOUNT ROOT [check|check-names|scan|export|folders
 *                  [PATTERN...]]
 *
 * check-names is check without the content hashes: files adopted from
 * mbsync hold its X-TUID header line, which the server's copy has not.
 * PATTERNs are the account's folders = patterns (none: every folder).
 * Prints "mirror ok" or what the pass did; the first difference found
 * goes to stderr.  "folders" prints the account's store folders, one a
 * line: NAME TAB delim=C TAB attrs=HEX TAB uidvalidity=N (C is "-" for
 * none); a folder a reader created in the mirror, not yet on the server,
 * has STORE_FOLDER_CREATE (0x200) in attrs.  Exit 0 on success, 1 on a difference or failure, 2 on
 * usage errors.  The account's mirror settings come from the
 * environment: MS_MAILDIR_INBOX=subfolder (maildir_inbox),
 * MS_MAILDIR_LAYOUT=maildir++ or legacy (maildir_layout) and
 * MS_LOCAL_DELETE=flag (local_delete), as mailsyncd passes them.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror/mirror.h"
#include "store/store.h"

static int
mc_folders(struct store *s, const char *account, struct ms_err *err_r)
{
	struct store_folder *f = NULL;
	size_t n = 0;
	int rc = store_folder_list(s, account, &f, &n, err_r);

	for (size_t i = 0; rc == MS_OK && i < n; i++)
		printf("%s\tdelim=%c\tattrs=%#x\tuidvalidity=%u\n", f[i].name,
		       f[i].delimiter != 0 ? f[i].delimiter : '-', f[i].attrs,
		       f[i].state.uidvalidity);
	free(f);
	return rc;
}

static void
mc_report(const char *path, const char *why, void *arg)
{
	(void)arg;
	printf("reported: %s: %s\n", path, why);
}

int
main(int argc, char **argv)
{
	struct store_params sp = { 0 };
	struct store *s = NULL;
	struct maildir_report rep;
	struct mirror_params p = { 0 };
	struct mirror_stats st = { 0 };
	struct ms_err err = { 0 };
	char ns[STORE_NS_PREFIX_MAX + 1];
	const char *cmd = argc > 4 ? argv[4] : "check";
	int rc;

	if (argc < 4) {
		fputs("usage: ms_mirrorcheck STORE ACCOUNT ROOT "
		      "[check|check-names|scan|export|folders "
		      "[PATTERN...]]\n", stderr);
		return 2;
	}
	sp.dir = argv[1];
	if (store_open(&s, &sp, &err) != MS_OK) {
		fprintf(stderr, "ms_mirrorcheck: %s\n", err.msg);
		return 1;
	}
	maildir_report_init(&rep, mc_report, NULL);
	p.account = argv[2];
	p.root = argv[3];
	p.rep = &rep;
	/* The account's folders = patterns, as mailsyncd passes them. */
	if (argc > 5) {
		p.folders = argv + 5;
		p.nfolders = (size_t)(argc - 5);
	}
	/* The namespace prefix the sync learned, as mailsyncd uses it. */
	if (store_account_ns_get(s, p.account, ns, sizeof(ns), &err) < 0) {
		fprintf(stderr, "ms_mirrorcheck: %s\n", err.msg);
		store_close(&s);
		return 1;
	}
	p.ns_prefix = ns;
	p.is_inbox_subfolder = getenv("MS_MAILDIR_INBOX") != NULL &&
			       strcmp(getenv("MS_MAILDIR_INBOX"), "subfolder") == 0;
	/* maildir_layout: verbatim (the default), maildir++ or legacy. */
	if (getenv("MS_MAILDIR_LAYOUT") != NULL)
		p.layout = strcmp(getenv("MS_MAILDIR_LAYOUT"), "maildir++") == 0 ?
			   MAILDIR_LAYOUT_MAILDIRPP :
			   strcmp(getenv("MS_MAILDIR_LAYOUT"), "legacy") == 0 ?
			   MAILDIR_LAYOUT_LEGACY : MAILDIR_LAYOUT_VERBATIM;
	p.is_deleted_hidden = getenv("MS_LOCAL_DELETE") != NULL &&
			      strcmp(getenv("MS_LOCAL_DELETE"), "flag") == 0;
	bool is_check = strcmp(cmd, "check") == 0 ||
			strcmp(cmd, "check-names") == 0;

	if (is_check)
		rc = mirror_check(s, &p, strcmp(cmd, "check") == 0 ?
				  MIRROR_CHECK_CONTENT : 0, &err);
	else if (strcmp(cmd, "scan") == 0)
		rc = mirror_scan(s, &p, &st, &err);
	else if (strcmp(cmd, "export") == 0)
		rc = mirror_export(s, &p, &st, &err);
	else if (strcmp(cmd, "folders") == 0)
		rc = mc_folders(s, p.account, &err);
	else
		rc = MS_EINVAL;
	if (rc == MS_OK && is_check)
		printf("mirror ok\n");
	else if (rc == MS_OK && strcmp(cmd, "folders") != 0)
		printf("%s: written %llu renamed %llu removed %llu "
		       "adopted %llu flags %llu deletes %llu moves %llu "
		       "created %llu appends %llu\n", cmd,
		       (unsigned long long)st.written,
		       (unsigned long long)st.renamed,
		       (unsigned long long)st.removed,
		       (unsigned long long)st.adopted,
		       (unsigned long long)st.flag_changes,
		       (unsigned long long)st.deletes,
		       (unsigned long long)st.moves,
		       (unsigned long long)st.created,
		       (unsigned long long)st.appends);
	else if (rc != MS_OK)
		fprintf(stderr, "ms_mirrorcheck: %s: %s\n", cmd,
			err.msg[0] ? err.msg : ms_strerror(rc));
	maildir_report_deinit(&rep);
	store_close(&s);
	return rc == MS_OK ? 0 : 1;
}

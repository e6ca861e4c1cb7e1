/*
 * cfg_equal.c - whether two [account] sections configure the same thing,
 * for a reload (SIGHUP, mailsyncctl reload): an account whose settings
 * are equal keeps running; any difference restarts it.  Every member of
 * struct cfg_account that changes what the account does is compared; a
 * new key must be added here too.  Where the section stands in the file
 * (line, maildir_line) does not count.
 */
#include <string.h>

#include "cfg/cfg.h"

static bool
cfg_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
cfg_list_eq(const struct cfg_list *a, const struct cfg_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!cfg_str_eq(a->v[i], b->v[i]))
			return false;
	return true;
}

bool
cfg_account_equal(const struct cfg_account *a, const struct cfg_account *b)
{
	return cfg_str_eq(a->name, b->name) &&
	       a->protocol == b->protocol &&
	       cfg_str_eq(a->host, b->host) &&
	       a->port == b->port &&
	       a->tls == b->tls &&
	       cfg_str_eq(a->ca_file, b->ca_file) &&
	       a->tls_fingerprint.is_set == b->tls_fingerprint.is_set &&
	       memcmp(a->tls_fingerprint.sha256, b->tls_fingerprint.sha256,
		      sizeof(a->tls_fingerprint.sha256)) == 0 &&
	       a->timeout == b->timeout &&
	       cfg_str_eq(a->user, b->user) &&
	       cfg_str_eq(a->password, b->password) &&
	       cfg_str_eq(a->password_cmd, b->password_cmd) &&
	       a->auth == b->auth &&
	       cfg_str_eq(a->oauth_token_cmd, b->oauth_token_cmd) &&
	       cfg_list_eq(&a->folders, &b->folders) &&
	       a->direction == b->direction &&
	       a->local_delete == b->local_delete &&
	       a->maildir_inbox == b->maildir_inbox &&
	       a->maildir_layout == b->maildir_layout &&
	       cfg_str_eq(a->mbsync_state, b->mbsync_state) &&
	       a->idle == b->idle &&
	       cfg_list_eq(&a->idle_folders, &b->idle_folders) &&
	       a->compress == b->compress &&
	       a->poll_interval == b->poll_interval &&
	       a->keep == b->keep &&
	       a->delete_after_days == b->delete_after_days &&
	       cfg_str_eq(a->maildir, b->maildir) &&
	       cfg_str_eq(a->smtp_host, b->smtp_host) &&
	       a->smtp_port == b->smtp_port &&
	       a->smtp_tls == b->smtp_tls &&
	       cfg_list_eq(&a->from, &b->from) &&
	       cfg_str_eq(a->sent_folder, b->sent_folder) &&
	       cfg_str_eq(a->new_mail_cmd, b->new_mail_cmd);
}

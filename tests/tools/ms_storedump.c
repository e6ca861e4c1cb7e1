/*
 * ms_storedump.c - test hook for the integration tests: reads a store
 * and queues local changes into it, as the Maildir mirror and
 * mailsyncctl will later.  Not installed; not for users.
 *
 *   ms_storedump DIR folders
 *   ms_storedump DIR msgs ACCOUNT [FOLDER]
 *                          FOLDER UID FLAGS SYNCED SHA256 SIZE per message
 *   ms_storedump DIR check                   store_check with re-hashing
 *   ms_storedump DIR changes                 pending local changes
 *   ms_storedump DIR flag ACCOUNT FOLDER UID +\Flagged -\Seen ...
 *   ms_storedump DIR delete ACCOUNT FOLDER UID
 *   ms_storedump DIR append ACCOUNT FOLDER FILE
 *   ms_storedump DIR refusals                SEQ KIND FOLDER TEXT per refusal
 *   ms_storedump DIR retry                   forget the refusals (the user's
 *                                            sync asks for it so)
 *   ms_storedump DIR outbox                  ID ACCOUNT STATE ATTEMPTS FLAGS
 *                                            RCPTS DELIVERED REJECTED
 *                                            MESSAGE-ID LAST-ERROR per entry
 *                                            (lists comma-separated)
 *   ms_storedump DIR pop3 ACCOUNT            UIDL SHA256 FETCHED OWED per
 *                                            POP3 record
 *   ms_storedump DIR pop3age ACCOUNT DAYS    makes every POP3 record of the
 *                                            account DAYS days older (tests of
 *                                            delete_after_days)
 *
 * Fields are tab-separated; flags are IMAP names separated by spaces,
 * "-" for none.  Exit 0 on success, 1 on failure, 2 on usage errors.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "sync/sync_flags.h"

static void
dump_flags(uint32_t flags)
{
	char names[SYNC_FLAGS_TEXT_MAX];

	if (sync_flags_to_imap(flags, names, sizeof(names)) < 0 ||
	    names[0] == '\0')
		fputs("-", stdout);
	else
		fputs(names, stdout);
}

static void
dump_hash(const uint8_t *h)
{
	for (int i = 0; i < STORE_HASH_LEN; i++)
		printf("%02x", h[i]);
}

static int
cmd_folders(struct store *s)
{
	struct store_folder *f = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	if (store_folder_list(s, NULL, &f, &n, &err) < 0) {
		fprintf(stderr, "ms_storedump: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\t%s\tuidvalidity=%u\tuidnext=%u\thms=%llu\t"
		       "messages=%u\tlocal=%u\tattrs=0x%x\n", f[i].account,
		       f[i].name, f[i].state.uidvalidity, f[i].state.uidnext,
		       (unsigned long long)f[i].state.highestmodseq,
		       f[i].state.messages, f[i].local_count, f[i].attrs);
	free(f);
	return 0;
}

static int
cmd_msgs(struct store *s, const char *account, const char *folder)
{
	struct store_folder *f = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	if (store_folder_list(s, account, &f, &n, &err) < 0) {
		fprintf(stderr, "ms_storedump: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_msg_iter *it = NULL;
		struct store_msg m;

		if (folder != NULL && strcmp(folder, f[i].name) != 0)
			continue;
		if (store_msg_iter_new(s, f[i].id, 1, &it) < 0) {
			free(f);
			return 1;
		}
		while (store_msg_iter_next(it, &m, NULL) == MS_OK) {
			printf("%s\t%u\t", f[i].name, m.uid);
			dump_flags(m.flags);
			putchar('\t');
			dump_flags(m.synced_flags);
			putchar('\t');
			dump_hash(m.hash);
			printf("\t%llu\n", (unsigned long long)m.size);
		}
		store_msg_iter_free(&it);
	}
	free(f);
	return 0;
}

static int
cmd_changes(struct store *s)
{
	struct store_change *c = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	if (store_change_list(s, 0, 1u << 20, &c, &n, &err) < 0) {
		fprintf(stderr, "ms_storedump: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		printf("%llu\tkind=%d\tfolder=%u\tuid=%u\t",
		       (unsigned long long)c[i].seq, (int)c[i].kind,
		       c[i].folder_id, c[i].uid);
		dump_flags(c[i].flags_add);
		putchar('\t');
		dump_flags(c[i].flags_remove);
		putchar('\t');
		dump_hash(c[i].hash);
		putchar('\n');
	}
	free(c);
	return 0;
}

static int
cmd_refusals(struct store *s)
{
	static const char *const kinds[] = {
		[STORE_REFUSAL_REFUSED] = "refused",
		[STORE_REFUSAL_UNSENDABLE] = "unsendable",
		[STORE_REFUSAL_ALTERED] = "altered",
	};
	struct store_refusal *r = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	if (store_refusal_list(s, 0, &r, &n, &err) < 0) {
		fprintf(stderr, "ms_storedump: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		printf("%llu\t%s\tfolder=%u\t%s\n",
		       (unsigned long long)r[i].seq, kinds[r[i].kind],
		       r[i].folder_id, r[i].text);
	free(r);
	return 0;
}

static int commit(struct store_batch **b);

static int
cmd_retry(struct store *s)
{
	struct store_batch *b = NULL;

	if (store_batch_new(s, &b) < 0 ||
	    store_batch_refusals_clear(b, 0) < 0) {
		store_batch_free(&b);
		return 1;
	}
	return commit(&b);
}

/* Commits b, reporting errors; frees it. */
static int
commit(struct store_batch **b)
{
	struct ms_err err = { 0 };
	int rc = store_batch_commit(*b, &err);

	store_batch_free(b);
	if (rc < 0) {
		fprintf(stderr, "ms_storedump: commit: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static int
cmd_change(struct store *s, const char *what, const char *account,
	   const char *folder, char **args, int nargs)
{
	struct store_folder f;
	struct store_change c = { 0 };
	struct store_batch *b = NULL;
	struct store_msg m;
	struct ms_err err = { 0 };

	if (store_folder_find(s, account, folder, &f, &err) != MS_OK) {
		fprintf(stderr, "ms_storedump: no folder %s %s\n", account,
			folder);
		return 1;
	}
	if (store_batch_new(s, &b) < 0)
		return 1;
	c.folder_id = f.id;
	if (strcmp(what, "append") == 0) {
		struct store_body_writer *w = NULL;
		struct store_body *body = NULL;
		char buf[65536];
		size_t n;
		FILE *fp = fopen(args[0], "rb");

		if (fp == NULL || store_body_writer_new(s, 0, &w, &err) < 0) {
			fprintf(stderr, "ms_storedump: %s\n", args[0]);
			store_batch_free(&b);
			if (fp != NULL)
				fclose(fp);
			return 1;
		}
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
			if (store_body_writer_write(w, buf, n, &err) < 0)
				break;
		fclose(fp);
		if (store_body_writer_finish(&w, &body, &err) < 0) {
			fprintf(stderr, "ms_storedump: %s\n", err.msg);
			store_batch_free(&b);
			return 1;
		}
		c.kind = STORE_CHANGE_APPEND;
		store_body_hash(body, c.hash);
		c.internal_date = (int64_t)time(NULL);
		if (store_batch_change_add(b, &c, body) < 0) {
			store_batch_free(&b);
			return 1;
		}
		return commit(&b);
	}
	c.uid = (uint32_t)strtoul(args[0], NULL, 10);
	if (store_msg_get(s, f.id, c.uid, &m, &err) != MS_OK) {
		fprintf(stderr, "ms_storedump: no UID %u in %s\n", c.uid,
			folder);
		store_batch_free(&b);
		return 1;
	}
	if (strcmp(what, "delete") == 0) {
		c.kind = STORE_CHANGE_DELETE;
	} else {
		c.kind = STORE_CHANGE_FLAGS;
		for (int i = 1; i < nargs; i++) {
			uint32_t bit = sync_flag_from_name(
				ms_slice_from_cstr(args[i] + 1));

			if (bit == 0 || (args[i][0] != '+' &&
					 args[i][0] != '-')) {
				fprintf(stderr, "ms_storedump: bad flag %s\n",
					args[i]);
				store_batch_free(&b);
				return 2;
			}
			if (args[i][0] == '+')
				c.flags_add |= bit;
			else
				c.flags_remove |= bit;
		}
		m.flags = (m.flags | c.flags_add) & ~c.flags_remove;
		if (store_batch_msg_flags(b, f.id, c.uid, m.flags,
					  m.synced_flags, m.modseq) < 0) {
			store_batch_free(&b);
			return 1;
		}
	}
	if (store_batch_change_add(b, &c, NULL) < 0) {
		store_batch_free(&b);
		return 1;
	}
	return commit(&b);
}

/* A "\n"-separated list on one line: "a,b", "-" when empty; with
 * is_pairs, only the part before each tab. */
static void
dump_list(const char *s, bool is_pairs)
{
	bool is_first = true;

	if (s == NULL || *s == '\0') {
		fputs("-", stdout);
		return;
	}
	while (*s != '\0') {
		size_t len = strcspn(s, "\n");
		size_t show = is_pairs ? strcspn(s, "\t\n") : len;

		printf("%s%.*s", is_first ? "" : ",", (int)show, s);
		is_first = false;
		s += len + (s[len] == '\n');
	}
}

static int
cmd_outbox(struct store *s)
{
	static const char *const states[] = { "?", "queued", "failed",
					      "sending", "sent" };
	struct store_outbox *list = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	if (store_outbox_list(s, &list, &n, &err) < 0) {
		fprintf(stderr, "ms_storedump: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_outbox *e = &list[i];

		printf("%llu\t%s\t%s\t%u\t%s%s%s%s\t",
		       (unsigned long long)e->id, e->account,
		       e->state <= STORE_OUTBOX_SENT ? states[e->state] : "?",
		       e->attempts,
		       e->flags & STORE_OUTBOX_POSSIBLY_SENT ? "possibly-sent " :
		       "", e->flags & STORE_OUTBOX_SENT_PENDING ?
		       "copy-pending " : "",
		       e->flags & STORE_OUTBOX_SENT_FILED ? "copy-filed" : "",
		       e->flags == 0 ? "-" : "");
		dump_list(e->rcpts, false);
		putchar('\t');
		dump_list(e->delivered, false);
		putchar('\t');
		dump_list(e->rejected, true);
		printf("\t%s\t%s\n", e->message_id[0] ? e->message_id : "-",
		       e->last_error[0] ? e->last_error : "-");
		store_outbox_deinit(&list[i]);
	}
	free(list);
	return 0;
}

static int
cmd_pop3(struct store *s, const char *account, const char *age_days)
{
	struct store_pop3_entry *v = NULL;
	struct store_batch *b = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;
	int rc = 0;

	if (store_pop3_list(s, account, &v, &n, &err) < 0) {
		fprintf(stderr, "ms_storedump: %s\n", err.msg);
		return 1;
	}
	if (age_days != NULL && store_batch_new(s, &b) < 0) {
		free(v);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (b != NULL) {
			v[i].rec.fetched -= strtoll(age_days, NULL, 10) * 86400;
			if (store_batch_pop3_put(b, account, v[i].uidl,
						 &v[i].rec, NULL) < 0)
				rc = 1;
			continue;
		}
		printf("%s\t", v[i].uidl);
		dump_hash(v[i].rec.hash);
		printf("\t%lld\t%s\n", (long long)v[i].rec.fetched,
		       v[i].rec.is_deleted ? "owed" : "-");
	}
	if (b != NULL && rc == 0 && store_batch_commit(b, &err) < 0) {
		fprintf(stderr, "ms_storedump: %s\n", err.msg);
		rc = 1;
	}
	store_batch_free(&b);
	free(v);
	return rc;
}

int
main(int argc, char **argv)
{
	struct store_params p = { 0 };
	struct store *s = NULL;
	struct ms_err err = { 0 };
	const char *cmd;
	int rc = 2;

	if (argc < 3) {
		fputs("usage: ms_storedump DIR folders|msgs|check|changes|"
		      "refusals|retry|outbox|flag|delete|append ...\n", stderr);
		return 2;
	}
	p.dir = argv[1];
	cmd = argv[2];
	if (store_open(&s, &p, &err) < 0) {
		fprintf(stderr, "ms_storedump: %s\n", err.msg);
		return 1;
	}
	if (strcmp(cmd, "folders") == 0) {
		rc = cmd_folders(s);
	} else if (strcmp(cmd, "msgs") == 0 && argc >= 4) {
		rc = cmd_msgs(s, argv[3], argc >= 5 ? argv[4] : NULL);
	} else if (strcmp(cmd, "changes") == 0) {
		rc = cmd_changes(s);
	} else if (strcmp(cmd, "pop3") == 0 && argc == 4) {
		rc = cmd_pop3(s, argv[3], NULL);
	} else if (strcmp(cmd, "pop3age") == 0 && argc == 5) {
		rc = cmd_pop3(s, argv[3], argv[4]);
	} else if (strcmp(cmd, "refusals") == 0) {
		rc = cmd_refusals(s);
	} else if (strcmp(cmd, "retry") == 0) {
		rc = cmd_retry(s);
	} else if (strcmp(cmd, "outbox") == 0) {
		rc = cmd_outbox(s);
	} else if (strcmp(cmd, "check") == 0) {
		if (store_check(s, STORE_CHECK_HASHES, &err) != MS_OK) {
			printf("store_check: %s\n", err.msg);
			rc = 1;
		} else {
			puts("store_check: ok");
			rc = 0;
		}
	} else if ((strcmp(cmd, "flag") == 0 && argc >= 7) ||
		   (strcmp(cmd, "delete") == 0 && argc == 6) ||
		   (strcmp(cmd, "append") == 0 && argc == 6)) {
		rc = cmd_change(s, cmd, argv[3], argv[4], argv + 5, argc - 5);
	} else {
		fprintf(stderr, "ms_storedump: bad command %s\n", cmd);
	}
	store_close(&s);
	return rc;
}

/*
 * maildir_report.h - what the Maildir code found and left alone, each
 * path reported once.
 */
#ifndef MS_MAILDIR_REPORT_H
#define MS_MAILDIR_REPORT_H

#include <stddef.h>

/*
 * Things in the tree that are neither messages nor folders (a README in
 * cur/, a directory inside new/, a stray file next to cur/).  They are
 * never touched; each path is passed to cb once per maildir_report, however
 * often it is scanned.
 */
typedef void (*maildir_report_cb)(const char *path, const char *why, void *arg);

struct maildir_report {
	maildir_report_cb cb;	/* may be NULL: only remembered */
	void *arg;
	char **slots;		/* open-addressing set of reported paths */
	size_t nslots, nused;
};

void maildir_report_init(struct maildir_report *r, maildir_report_cb cb, void *arg);
void maildir_report_deinit(struct maildir_report *r);
/* Calls cb unless path was reported before; r may be NULL. */
void maildir_report_note(struct maildir_report *r, const char *path,
			 const char *why);

#endif

/*
 * maildir_expect.h - the inotify events the daemon's own Maildir writes
 * are about to raise, so that the mirror watch does not take them for a
 * reader's change and scan the folder after every pushed message.
 *
 * The writer (an export on a pool thread) announces each entry it is
 * about to create, rename or remove in new/ or cur/ before the system
 * call, and withdraws the announcement when the call fails; the watch (on
 * the loop) takes one announcement per event it receives.  An event
 * without one is a reader's: the folder is scanned.  One for one: when a
 * reader renames or removes the file our rename just made, that is a
 * second event of the same name, which finds no announcement left.
 *
 * Bounded: at most MAILDIR_EXPECT_MAX announcements wait (beyond that,
 * an announcement is dropped and its event scans, as without this), and
 * one not taken within its time to live (its event was lost, or
 * folded into another by the kernel) is forgotten, so that it cannot
 * hide a reader's event of the same name later.
 *
 * Thread-safe (a mutex); the owner frees it after every writer and the
 * watch are done with it.
 */
#ifndef MS_MAILDIR_EXPECT_H
#define MS_MAILDIR_EXPECT_H

#include <stdbool.h>

#include "maildir/maildir_write.h"

#define MAILDIR_EXPECT_MAX 256

/*
 * What the announced call does to the name: makes it appear (a rename or
 * link into new/ or cur/: IN_MOVED_TO, IN_CREATE) or go (a rename out of
 * it, an unlink: IN_MOVED_FROM, IN_DELETE).  An event is taken only by an
 * announcement of its own kind, so an announcement whose event never
 * comes (the directory was not watched yet when the file was written)
 * cannot hide a reader's deletion or rename of that file.
 */
enum maildir_expect_kind {
	MAILDIR_EXPECT_COMES,
	MAILDIR_EXPECT_GOES,
};
#define MAILDIR_EXPECT_TTL_MS 5000

struct maildir_expect;

/* ttl_ms: MAILDIR_EXPECT_TTL_MS (tests use less).  NULL when out of
 * memory (then nothing is announced: every event scans). */
struct maildir_expect *maildir_expect_new(unsigned ttl_ms);
/* Sets *ep to NULL; a no-op on NULL. */
void maildir_expect_free(struct maildir_expect **ep);

/*
 * Announces the entry name in sub (new/ or cur/) of the folder at dir, as
 * maildir_dir_open() was given it (root joined with the folder's relative
 * path by maildir__path_join()).  Any thread; a no-op on a NULL e.
 */
void maildir_expect_add(struct maildir_expect *e, const char *dir,
			enum maildir_sub sub, enum maildir_expect_kind kind,
			const char *name);

/* Withdraws one announcement added for a call that then failed. */
void maildir_expect_cancel(struct maildir_expect *e, const char *dir,
			   enum maildir_sub sub, enum maildir_expect_kind kind,
			   const char *name);

/*
 * An event for name in sub of the folder at dir arrived: true when it was
 * announced (the announcement is used up), false when it is someone
 * else's (or e is NULL).
 */
bool maildir_expect_take(struct maildir_expect *e, const char *dir,
			 enum maildir_sub sub, enum maildir_expect_kind kind,
			 const char *name);

/* Announcements waiting (expired ones are dropped first); for tests. */
unsigned maildir_expect_count(struct maildir_expect *e);

#endif

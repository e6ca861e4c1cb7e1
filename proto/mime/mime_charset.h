/*
 * mime_charset.h - the process's charset conversions to UTF-8, opened once
 * per charset and reused.
 *
 * iconv_open() is not cheap: it looks the name up in the gconv cache,
 * allocates the conversion and, the first time a charset is seen (or again
 * after the last conversion of it was closed), loads its gconv module from
 * disk.  Decoding a header summary per message on the event loop opened
 * one per encoded-word run: a module load waited 24 ms on a busy disk.
 * Here each charset's conversion is opened once and kept: a caller takes
 * one, uses it alone, and gives it back.  The table is shared by every
 * thread (the loop and the threadpool both decode), under a mutex that is
 * never held across iconv_open().
 *
 * Labels are resolved as real mail needs (aliases such as ks_c_5601-1987
 * and iso-8859-1 meaning windows-1252); labels that resolve to the same
 * conversion share it.  Unknown charsets are not cached (a stream of
 * invented labels must not crowd out real ones): they cost a failed
 * iconv_open() each time, a lookup in the mapped gconv cache.
 */
#ifndef MS_MIME_CHARSET_H
#define MS_MIME_CHARSET_H

#include <iconv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many charsets are kept; past it conversions are opened
 * and closed per use, as before the cache. */
#define MIME_CHARSET_MAX 64
/* Idle conversions kept per charset (one per thread decoding at once). */
#define MIME_CHARSET_IDLE_MAX 4

/*
 * A conversion from the charset labelled label[0..len) (as written in
 * mail, any case) to UTF-8, in its initial state, for the caller's use
 * alone until mime_charset_put().  False when iconv does not know the
 * charset or the label is longer than 47 bytes.
 */
bool mime_charset_get(const uint8_t *label, size_t len, iconv_t *cd_r);

/* Gives back a conversion got from mime_charset_get() with this label. */
void mime_charset_put(const uint8_t *label, size_t len, iconv_t cd);

/*
 * Opens the conversions of the charsets common in mail, so that their
 * modules are loaded by the thread that calls this (the daemon calls it on
 * its threadpool at start-up) and not by the first message using them.
 */
void mime_charset_warm(void);

/* How many times iconv_open() was called, successful or not. */
uint64_t mime_charset_opens(void);

/* Closes every kept conversion (at exit, for leak checkers; tests). */
void mime_charset_clear(void);

#endif

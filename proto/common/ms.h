/*
 * ms.h - shared vocabulary of every mailsync module: result codes, the
 * error-detail struct, non-owning slices and the bounded byte buffer.
 *
 * This header is libc-only so proto/ cores, the daemon and the client can
 * all include it.
 */
#ifndef MS_H
#define MS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_WUR __attribute__((warn_unused_result))

/*
 * Result codes.  0 or positive is success; MS_AGAIN means "need more input"
 * for incremental parsers.  Negative values are error classes (STYLE.md 5).
 */
enum {
	MS_OK = 0,
	MS_AGAIN = 1,
	MS_EINTERNAL = -1,
	MS_ENOMEM = -2,
	MS_ETOOBIG = -3,	/* a bounded buffer or limit was exceeded */
	MS_ECONN = -4,		/* connect, reset */
	MS_ETIMEDOUT = -5,
	MS_ETLS = -6,
	MS_EPROTO = -7,		/* the peer broke the protocol */
	MS_EIMPL = -8,		/* a needed capability is missing */
	MS_ERESP = -9,		/* NO/BAD/-ERR/4xx/5xx */
	MS_ESTORE = -10,
	MS_ECONFIG = -11,
	MS_ECANCELED = -12,
	MS_EINVAL = -13,	/* a caller passed something invalid */
	MS_EAUTH = -14,		/* authentication refused */
	MS_EIO = -15,		/* local file or process error */
};

/* Returns a static, stable name for a result code ("EPROTO"). */
const char *ms_strerror(int code);

/* Error detail travels in a caller-provided struct (STYLE.md 5). */
struct ms_err {
	int code;
	char msg[256];
};

/* Records code and a printf-style message in err (may be NULL); returns code. */
int ms_err_set(struct ms_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A non-owning view of bytes.  Whoever hands one out says how long it lives. */
struct ms_slice {
	const uint8_t *p;
	size_t len;
};

#define MS_SLICE_LIT(s) ((struct ms_slice){ (const uint8_t *)(s), sizeof(s) - 1 })

struct ms_slice ms_slice_from_cstr(const char *s);
bool ms_slice_eq_cstr(struct ms_slice s, const char *cstr);
/* ASCII case-insensitive comparison, as protocol keywords need. */
bool ms_slice_case_eq_cstr(struct ms_slice s, const char *cstr);

/*
 * A growable byte buffer with a hard cap set at init.  Appending past the
 * cap returns MS_ETOOBIG and leaves the buffer unchanged.  The buffer owns
 * its memory; ms_buf_take() hands it to the caller.  The data is always
 * followed by a NUL byte (not counted in len) so it can be used as a string.
 */
struct ms_buf {
	uint8_t *p;
	size_t len;
	size_t cap;	/* allocated bytes */
	size_t max;	/* hard limit on len */
};

void ms_buf_init(struct ms_buf *b, size_t max);
void ms_buf_deinit(struct ms_buf *b);
void ms_buf_reset(struct ms_buf *b);
int ms_buf_append(struct ms_buf *b, const void *p, size_t len) MS_WUR;
int ms_buf_append_cstr(struct ms_buf *b, const char *s) MS_WUR;
int ms_buf_printf(struct ms_buf *b, const char *fmt, ...) MS_WUR
	__attribute__((format(printf, 2, 3)));
/* Removes the first n bytes (n <= len). */
void ms_buf_consume(struct ms_buf *b, size_t n);
/* Gives the bytes to the caller (free() them) and resets the buffer. */
uint8_t *ms_buf_take(struct ms_buf *b, size_t *len_r);

/*
 * For secrets (STYLE.md 4): ms_buf_wipe() zeroes the whole allocation of b
 * with explicit_bzero (not just len) and resets it.  ms_buf_append_wipe_free()
 * appends tmp[0..len) to b in one append, then wipes tmp[0..tmp_size) and
 * frees tmp, whatever the result.
 */
void ms_buf_wipe(struct ms_buf *b);
int ms_buf_append_wipe_free(struct ms_buf *b, uint8_t *tmp, size_t tmp_size,
	size_t len) MS_WUR;

/* Code point cp (at most 0x10FFFF; the caller checks) as UTF-8 into u;
 * returns its length, 1 to 4. */
size_t ms_utf8_put(uint32_t cp, uint8_t u[4]);

#endif

/*
 * imap_session.c - one IMAP connection from connect to LOGOUT: the state
 * machine of the login (greeting, CAPABILITY, STARTTLS, secret, SASL,
 * ENABLE, COMPRESS) and the routing of responses to pipelined commands.
 *
 * The login steps are commands like any other, kept in the same in-flight
 * table with internal callbacks; sess_advance() looks at what is known
 * (capabilities, TLS, authenticated, ...) and issues the next one, so the
 * order of the steps lives in one function.
 */
#include "session/imap_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sasl_crypto_openssl.h"
#include "log.h"
#include "secret/secret_cmd.h"
#include "session/imap_session_compress.h"

/* Commands in flight; the engine bounds its pipelining well below. */
#define SESS_MAX_IN_FLIGHT 4096u
/* The server's capability list. */
#define SESS_MAX_CAPS 8192u
/* The bounded wait for the LOGOUT answer. */
#define SESS_LOGOUT_WAIT_MS 5000u
/* Fixed buffers for (de)compression: our commands are short; the
 * server's mail is inflated 64 KiB at a time, since ISA-L keeps its
 * history by copying the end of each call's output (with 16 KiB, all of
 * it) and pays a restart per call: 64 KiB inflated the test corpus
 * about 1.2x as fast as 16 KiB (512 against 429 MB/s). */
#define SESS_ZBUF 16384u
#define SESS_ZBUF_IN 65536u
/* The core's output queue: commands, literals, SASL responses. */
#define SESS_MAX_OUTPUT (32u << 20)

struct sess_cmd {
	uint32_t tag;
	bool is_internal;
	struct imap_session_cmd_cbs cbs;
	/* Internal commands: what to do with the tagged response. */
	void (*internal_done)(struct imap_session *s,
			      const struct imap_ev_status *st);
};

/* The refusals of every mechanism tried, reported together. */
#define SESS_REFUSALS_MAX 768

struct imap_session {
	uv_loop_t *loop;
	struct net_conn *conn;
	struct imap_client core;
	bool core_ready;
	unsigned refs;		/* conn + timer + secret job */

	char *account, *host, *user;
	uint16_t port;
	enum net_tls_mode tls;
	unsigned timeout_ms;
	char *secret;		/* wiped; password or token */
	size_t secret_len;
	char *password_cmd, *oauth_token_cmd;
	enum sasl_mech auth;
	bool want_compress;
	struct imap_session_params cb;	/* callbacks and arg only */

	/* What is known. */
	bool greeted;
	char greeting[IMAP_SESSION_GREETING_MAX + 1];	/* its text */
	bool caps_valid;	/* caps below are from the current phase */
	struct ms_buf caps;
	bool tls_done;		/* STARTTLS finished (or not needed) */
	bool want_starttls;	/* STARTTLS OK handled: switch after feed */
	bool authed;
	bool enable_done, compress_done, qresync_enabled;
	bool compress_sent;	/* COMPRESS in flight (behind ENABLE) */
	bool is_ready, is_closing, is_logging_out, is_closed;
	bool is_idling;
	uint32_t idle_tag;

	/* Authentication. */
	enum sasl_mech mech;
	enum sasl_mech authed_mech;	/* what the login used */
	bool sasl_active, in_auth;
	struct sasl_client sasl;
	struct ms_buf sasl_out;
	struct ms_err auth_err;	/* a client-side SASL failure, sent "*" */
	/* auth = auto: the mechanisms the server refused, bit 1 << mech
	 * (SASL_MECH_AUTO's bit: the LOGIN command), and its texts */
	unsigned auth_tried;
	char auth_refusals[SESS_REFUSALS_MAX];
	bool warned_plaintext;	/* tls = none: said once per session */
	struct secret_cmd *job;

	/* Commands in flight, oldest first. */
	struct sess_cmd *cmds;
	size_t ncmds, cmds_cap;

	/* COMPRESS=DEFLATE once active. */
	bool z_active;
	struct imap_zstream z;
	uint8_t *zbuf_in, *zbuf_out;

	uv_timer_t timer;	/* LOGOUT wait */
	bool has_err;
	struct ms_err err;
	uint64_t bytes_in, bytes_out;
};

static void sess_advance(struct imap_session *s);
static void sess_flush(struct imap_session *s);

/* ---- small helpers ---------------------------------------------------- */

static char *
sess_strdup(const char *p)
{
	size_t n;
	char *d;

	if (p == NULL)
		return NULL;
	n = strlen(p);
	if ((d = malloc(n + 1)) != NULL)
		memcpy(d, p, n + 1);
	return d;
}

static void
sess_wipe_free(char **pp)
{
	if (*pp != NULL) {
		explicit_bzero(*pp, strlen(*pp));
		free(*pp);
		*pp = NULL;
	}
}

/* Records the first failure and closes the connection with it. */
static void
sess_fail(struct imap_session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
sess_fail(struct imap_session *s, int code, const char *fmt, ...)
{
	char msg[sizeof(s->err.msg)];
	va_list ap;

	if (s->is_closing || s->is_closed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->is_closing = true;
	s->has_err = true;
	ms_err_set(&s->err, code, "%s:%u: %s", s->host, (unsigned)s->port,
		   msg);
	log_debug("acct=%s imap: %s", s->account, s->err.msg);
	if (s->job != NULL)
		secret_cmd_cancel(s->job);
	net_conn_close(s->conn, code);
}

static void
sess_fail_err(struct imap_session *s, const struct ms_err *err)
{
	sess_fail(s, err->code, "%s", err->msg);
}

static void
sess_unref(struct imap_session *s)
{
	if (--s->refs > 0)
		return;
	ms_buf_wipe(&s->sasl_out);
	ms_buf_deinit(&s->sasl_out);
	ms_buf_deinit(&s->caps);
	if (s->core_ready)
		imap_client_deinit(&s->core);
	imap_zstream_deinit(&s->z);
	free(s->zbuf_in);
	free(s->zbuf_out);
	free(s->cmds);
	free(s->account);
	free(s->host);
	sess_wipe_free(&s->user);
	sess_wipe_free(&s->secret);
	sess_wipe_free(&s->password_cmd);
	sess_wipe_free(&s->oauth_token_cmd);
	free(s);
}

/* ---- traces ----------------------------------------------------------- */

static void
sess_trace(struct imap_session *s, const char *dir, const uint8_t *p,
	   size_t len)
{
	char out[512];
	bool is_client = dir[0] == 'C', is_first = true;

	if (!log_trace_enabled(TRACE_IMAP))
		return;
	while (len > 0) {
		const uint8_t *nl = memchr(p, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : len;

		/*
		 * During a login only the first line we send, when it is a
		 * tagged command (LOGIN, AUTHENTICATE), is shown, masked by
		 * log_redact_line itself; every other line of ours is a SASL
		 * response or a literal and is masked whole.  The server's
		 * challenges hold nothing secret and help debugging.
		 */
		bool is_sasl = s->in_auth && is_client &&
		    !(is_first && n > 2 && p[0] == 'A' && p[1] >= '0' &&
		      p[1] <= '9' && memchr(p, ' ', n) != NULL);

		log_trace(TRACE_IMAP, "acct=%s imap %s %s", s->account, dir,
			  log_redact_line((const char *)p, n, is_sasl, out,
					  sizeof(out)));
		p += n;
		len -= n;
		is_first = false;
	}
}

/* ---- output ----------------------------------------------------------- */

static int
sess_write_cb(const uint8_t *p, size_t len, void *arg)
{
	struct imap_session *s = arg;
	int rc = net_conn_write(s->conn, p, len);

	if (rc == MS_OK)
		s->bytes_out += len;
	return rc;
}

/* Sends what the core has queued. */
static void
sess_flush(struct imap_session *s)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if (s->is_closed || s->conn == NULL)
		return;
	while (imap_client_out_peek(&s->core, &p, &n) == MS_OK && n > 0) {
		sess_trace(s, "C:", p, n);
		if (s->z_active)
			rc = imap_zstream_deflate(&s->z, p, n, s->zbuf_out,
						  SESS_ZBUF, sess_write_cb, s);
		else
			rc = sess_write_cb(p, n, s);
		if (rc != MS_OK) {
			/*
			 * A full output queue means the caller pipelines far
			 * more than the server reads; with compression a
			 * partial write would also break the stream.
			 */
			sess_fail(s, rc, "cannot send: %s (output queue full "
				  "or connection closing)", ms_strerror(rc));
			return;
		}
		imap_client_out_consume(&s->core, n);
	}
}

/* ---- the in-flight table ------------------------------------------------ */

static int
sess_cmd_add(struct imap_session *s, int tag, bool is_internal,
	     const struct imap_session_cmd_cbs *cbs,
	     void (*internal_done)(struct imap_session *,
				   const struct imap_ev_status *))
{
	struct sess_cmd *c;

	if (tag <= 0)
		return tag < 0 ? tag : MS_EINVAL;
	if (s->ncmds >= SESS_MAX_IN_FLIGHT)
		return MS_ETOOBIG;
	if (s->ncmds == s->cmds_cap) {
		size_t cap = s->cmds_cap == 0 ? 16 : s->cmds_cap * 2;
		struct sess_cmd *n = realloc(s->cmds, cap * sizeof(*n));

		if (n == NULL)
			return MS_ENOMEM;
		s->cmds = n;
		s->cmds_cap = cap;
	}
	c = &s->cmds[s->ncmds++];
	memset(c, 0, sizeof(*c));
	c->tag = (uint32_t)tag;
	c->is_internal = is_internal;
	if (cbs != NULL)
		c->cbs = *cbs;
	c->internal_done = internal_done;
	return MS_OK;
}

static bool
sess_cmd_find(const struct imap_session *s, uint32_t tag, size_t *i_r)
{
	for (size_t i = 0; i < s->ncmds; i++) {
		if (s->cmds[i].tag == tag) {
			*i_r = i;
			return true;
		}
	}
	return false;
}

/*
 * After login the read timeout runs only while a command waits for its
 * answer: a logged-in session kept between passes waits quietly for the
 * next one (the server's own autologout or BYE ends it), and IDLE
 * disarms it on its own.
 */
static void
sess_update_wait(struct imap_session *s)
{
	if (s->is_ready && s->conn != NULL && !s->is_idling)
		net_conn_set_idle(s->conn, s->ncmds == 0);
}

static void
sess_cmd_remove(struct imap_session *s, size_t i)
{
	memmove(&s->cmds[i], &s->cmds[i + 1],
		(s->ncmds - i - 1) * sizeof(s->cmds[0]));
	s->ncmds--;
	sess_update_wait(s);
}

/* Sends an internal login-phase command built by build(). */
static void
sess_internal(struct imap_session *s, int tag, const char *what,
	      void (*done)(struct imap_session *,
			   const struct imap_ev_status *))
{
	int rc = sess_cmd_add(s, tag, true, NULL, done);

	if (rc != MS_OK) {
		sess_fail(s, rc, "cannot send %s: %s", what, ms_strerror(rc));
		return;
	}
	sess_flush(s);
}

/* ---- capabilities ----------------------------------------------------- */

static void
sess_caps_learn(struct imap_session *s, struct ms_slice list)
{
	ms_buf_reset(&s->caps);
	if (ms_buf_append(&s->caps, list.p, list.len) != MS_OK) {
		sess_fail(s, MS_ETOOBIG, "capability list over %u bytes",
			  SESS_MAX_CAPS);
		return;
	}
	s->caps_valid = true;
}

static bool
sess_has(const struct imap_session *s, const char *cap)
{
	return imap_list_has((struct ms_slice){ s->caps.p, s->caps.len }, cap);
}

/* Forgets capabilities learnt in a phase that is over (pre-TLS, pre-auth). */
static void
sess_caps_forget(struct imap_session *s)
{
	ms_buf_reset(&s->caps);
	s->caps_valid = false;
	imap_client_set_caps(&s->core, (struct ms_slice){ NULL, 0 });
}

static void
sess_capability_done(struct imap_session *s, const struct imap_ev_status *st)
{
	if (st->status != IMAP_STATUS_OK) {
		sess_fail(s, MS_EPROTO, "CAPABILITY failed: %.*s",
			  (int)st->text.len, (const char *)st->text.p);
		return;
	}
	if (!s->caps_valid) {
		sess_fail(s, MS_EPROTO, "CAPABILITY answered without a "
			  "capability list");
		return;
	}
	sess_advance(s);
}

/* ---- STARTTLS --------------------------------------------------------- */

static void
sess_starttls_done(struct imap_session *s, const struct imap_ev_status *st)
{
	if (st->status != IMAP_STATUS_OK) {
		sess_fail(s, MS_ETLS, "STARTTLS refused by the server (%s "
			  "%.*s); not sending credentials without TLS",
			  st->status == IMAP_STATUS_NO ? "NO" : "BAD",
			  (int)st->text.len, (const char *)st->text.p);
		return;
	}
	/* The switch itself happens in sess_on_data, after this line. */
	s->want_starttls = true;
}

static void
sess_tls_ready_cb(struct net_conn *conn, void *arg)
{
	struct imap_session *s = arg;
	size_t unread = net_conn_discarded_bytes(conn);

	(void)conn;
	if (imap_client_starttls_done(&s->core, unread) != MS_OK) {
		sess_fail(s, MS_ETLS, "the server sent %zu plaintext bytes "
			  "after its STARTTLS reply (discarded unread: a "
			  "response injection attempt or a broken server)",
			  unread);
		return;
	}
	s->tls_done = true;
	/* Never trust what was said before TLS. */
	sess_caps_forget(s);
	sess_advance(s);
}

/* ---- authentication --------------------------------------------------- */

/* The mechanism tried is over (the secret stays for the next one). */
static void
sess_auth_mech_end(struct imap_session *s)
{
	ms_buf_wipe(&s->sasl_out);
	if (s->sasl_active) {
		sasl_client_deinit(&s->sasl);
		s->sasl_active = false;
	}
}

static void
sess_auth_end(struct imap_session *s)
{
	s->in_auth = false;
	sess_auth_mech_end(s);
	sess_wipe_free(&s->secret);
}

static int sess_auth_pick(struct imap_session *s, struct ms_err *err_r);
static void sess_auth_start(struct imap_session *s);

/* The name of the mechanism under way, for messages. */
static const char *
sess_auth_mech_name(const struct imap_session *s)
{
	return s->mech == SASL_MECH_AUTO ? "LOGIN" : sasl_mech_name(s->mech);
}

/* Mechanisms tried after the first one refused, at most: each failed
 * login counts with the server's intrusion guard (fail2ban bans at 5). */
#define SESS_AUTH_FALLBACKS_MAX 2

/*
 * A refusal that says the credentials (or the account) are wrong, not
 * the mechanism (RFC 5530): another mechanism with the same password
 * would only be one more failed login.
 */
static bool
sess_auth_is_final(const struct imap_resp_code *code)
{
	return imap_code_is_any(code, "AUTHENTICATIONFAILED "
				"AUTHORIZATIONFAILED EXPIRED CONTACTADMIN");
}

/*
 * auth = auto and the server refused the mechanism (NO or BAD without a
 * code that blames the credentials, not a failure of ours such as a
 * SCRAM server signature that does not verify, which must never fall
 * back to a weaker mechanism): notes the refusal and starts the next
 * mechanism the server offers, SESS_AUTH_FALLBACKS_MAX times at most.
 * False when there is none left; every refusal is then in
 * s->auth_refusals.
 */
static bool
sess_auth_retry(struct imap_session *s, const struct imap_resp_code *code,
		const struct ms_err *refusal)
{
	size_t len = strlen(s->auth_refusals);
	const char *refused = sess_auth_mech_name(s);
	struct ms_err err;

	snprintf(s->auth_refusals + len, sizeof(s->auth_refusals) - len,
		 "%s%s: %s", len > 0 ? "; " : "", sess_auth_mech_name(s),
		 refusal->msg);
	if (s->auth != SASL_MECH_AUTO || s->auth_err.code != 0 ||
	    s->is_closing || s->is_closed || sess_auth_is_final(code))
		return false;
	s->auth_tried |= 1u << s->mech;
	if (__builtin_popcount(s->auth_tried) > SESS_AUTH_FALLBACKS_MAX)
		return false;
	sess_auth_mech_end(s);
	if (sess_auth_pick(s, &err) != MS_OK)
		return false;
	log_info("acct=%s imap: the server refused %s; trying %s", s->account,
		 refused, sess_auth_mech_name(s));
	sess_auth_start(s);
	return true;
}

static void
sess_auth_done(struct imap_session *s, const struct imap_ev_status *st)
{
	struct ms_err err;

	if (st->status == IMAP_STATUS_OK) {
		if (s->sasl_active &&
		    sasl_client_finish_b64(&s->sasl, NULL, &err) != MS_OK) {
			sess_auth_end(s);
			sess_fail_err(s, &err);
			return;
		}
		sess_auth_end(s);
		s->authed = true;
		s->authed_mech = s->mech;
		log_debug("acct=%s imap: logged in to %s:%u as %s (%s)",
			  s->account, s->host, (unsigned)s->port, s->user,
			  sess_auth_mech_name(s));
		sess_advance(s);
		return;
	}
	if (s->auth_err.code != 0) {
		err = s->auth_err;
	} else if (s->sasl_active) {
		(void)sasl_client_report_failure(&s->sasl, st->text, &err);
	} else {
		ms_err_set(&err, MS_EAUTH, "LOGIN refused: %.*s",
			   (int)st->text.len, (const char *)st->text.p);
	}
	if (sess_auth_retry(s, &st->code, &err))
		return;
	sess_auth_end(s);
	/* One mechanism tried: its error as it is; more: all of them. */
	if (strchr(s->auth_refusals, ';') == NULL)
		sess_fail(s, err.code, "authentication as %s failed: %s",
			  s->user, err.msg);
	else
		sess_fail(s, err.code, "authentication as %s failed: %s",
			  s->user, s->auth_refusals);
}

/* A "+" challenge during AUTHENTICATE. */
static void
sess_auth_challenge(struct imap_session *s, struct ms_slice text)
{
	struct ms_err err;
	int rc;

	if (!s->sasl_active || s->auth_err.code != 0)
		return;
	ms_buf_wipe(&s->sasl_out);
	rc = sasl_client_step_b64(&s->sasl, text, &s->sasl_out, &err);
	if (rc == MS_OK) {
		rc = imap_cmd_sasl_response(&s->core, (struct ms_slice){
			s->sasl_out.p, s->sasl_out.len });
		ms_buf_wipe(&s->sasl_out);
		if (rc != MS_OK) {
			sess_fail(s, rc, "cannot send a SASL response: %s",
				  ms_strerror(rc));
			return;
		}
	} else {
		/* Cancel; the tagged NO/BAD then ends it with this error. */
		s->auth_err = err;
		if (s->auth_err.code == 0)
			s->auth_err.code = rc;
		if ((rc = imap_cmd_sasl_cancel(&s->core)) != MS_OK) {
			sess_fail_err(s, &s->auth_err);
			return;
		}
	}
	sess_flush(s);
}

static void
sess_auth_start(struct imap_session *s)
{
	struct sasl_params sp = {
		.user = ms_slice_from_cstr(s->user),
		.secret = { (const uint8_t *)s->secret, s->secret_len },
		.host = ms_slice_from_cstr(s->host),
		.port = s->port,
		.crypto = sasl_crypto_openssl(),
	};
	struct ms_slice initial = { NULL, 0 };
	struct ms_err err;
	int rc, tag;

	memset(&s->auth_err, 0, sizeof(s->auth_err));
	s->in_auth = true;
	if (s->mech == SASL_MECH_AUTO) {
		/* The LOGIN command, allowed by sess_auth_begin. */
		tag = imap_cmd_login(&s->core, sp.user, sp.secret);
		sess_internal(s, tag, "LOGIN", sess_auth_done);
		return;
	}
	/* The secret stays until the login is over: the server may refuse
	 * this mechanism and take the next (sess_auth_retry). */
	rc = sasl_client_init(&s->sasl, s->mech, &sp, &err);
	s->sasl_active = true;
	if (rc != MS_OK) {
		sess_auth_end(s);
		sess_fail_err(s, &err);
		return;
	}
	if (s->core.caps & (IMAP_CAP_SASL_IR | IMAP_CAP_IMAP4REV2)) {
		rc = sasl_client_initial_b64(&s->sasl, &s->sasl_out, &err);
		if (rc == MS_OK) {
			initial.p = s->sasl_out.p != NULL ? s->sasl_out.p :
			    (const uint8_t *)"";
			initial.len = s->sasl_out.len;
		} else if (rc != MS_AGAIN) {
			sess_auth_end(s);
			sess_fail_err(s, &err);
			return;
		}
	}
	tag = imap_cmd_authenticate(&s->core, sasl_mech_name(s->mech),
				    initial);
	ms_buf_wipe(&s->sasl_out);
	sess_internal(s, tag, "AUTHENTICATE", sess_auth_done);
}

static void
sess_secret_cb(int rc, char *secret, size_t len, const struct ms_err *err,
	       void *arg)
{
	struct imap_session *s = arg;

	s->job = NULL;
	if (s->is_closing || s->is_closed) {
		if (secret != NULL) {
			explicit_bzero(secret, len);
			free(secret);
		}
		sess_unref(s);
		return;
	}
	sess_unref(s);		/* the conn still holds one */
	net_conn_set_idle(s->conn, false);
	if (rc != MS_OK) {
		sess_fail(s, rc, "%s", err != NULL ? err->msg :
			  "secret command failed");
		return;
	}
	s->secret = secret;
	s->secret_len = len;
	sess_auth_start(s);
}

/*
 * Whether a password may go in the clear: over TLS, or with tls = none,
 * which the configuration allows only to a loopback host (a local
 * Dovecot, an SSH tunnel, a bridge such as DavMail): there the user chose
 * plaintext, and refusing every plaintext mechanism would leave no way
 * to log in.  Said once per session.
 */
static bool
sess_plaintext_ok(struct imap_session *s)
{
	return net_conn_is_tls(s->conn) || s->tls == NET_TLS_NONE;
}

/* The mechanism to try next (s->mech; SASL_MECH_AUTO: the LOGIN
 * command), leaving out the ones the server refused. */
static int
sess_auth_pick(struct imap_session *s, struct ms_err *err_r)
{
	struct ms_buf mechs;
	struct ms_slice cur, item;
	bool plain_ok = sess_plaintext_ok(s);
	bool have_token = s->oauth_token_cmd != NULL;
	int rc;

	ms_buf_init(&mechs, SESS_MAX_CAPS);
	cur = (struct ms_slice){ s->caps.p, s->caps.len };
	while (imap_list_next(&cur, &item)) {
		if (item.len > 5 && strncasecmp((const char *)item.p, "AUTH=",
						5) == 0 &&
		    (ms_buf_append(&mechs, item.p + 5, item.len - 5) != MS_OK ||
		     ms_buf_append(&mechs, " ", 1) != MS_OK))
			break;
	}
	rc = sasl_select_next((struct ms_slice){ mechs.p, mechs.len },
			      s->auth, plain_ok, have_token, s->auth_tried,
			      &s->mech, err_r);
	ms_buf_deinit(&mechs);
	if (rc == MS_EIMPL && s->auth == SASL_MECH_AUTO && !have_token &&
	    (s->auth_tried & (1u << SASL_MECH_AUTO)) == 0) {
		/* IMAP LOGIN: last resort, only over TLS (or tls = none),
		 * never if disabled. */
		if (sess_has(s, "LOGINDISABLED")) {
			char msg[sizeof(err_r->msg)];

			snprintf(msg, sizeof(msg), "%s", err_r->msg);
			return ms_err_set(err_r, MS_EIMPL, "%s; LOGIN is "
					  "disabled by the server", msg);
		}
		if (!sasl_may_use_login_command(plain_ok, have_token, err_r))
			return err_r->code;
		s->mech = SASL_MECH_AUTO;	/* means: LOGIN command */
		rc = MS_OK;
	}
	if (rc == MS_OK && !net_conn_is_tls(s->conn) && !s->warned_plaintext &&
	    (s->mech == SASL_MECH_AUTO || sasl_mech_is_plaintext(s->mech))) {
		log_warn("acct=%s imap: tls = none: the %s goes to %s:%u in "
			 "the clear (allowed to a loopback host only)",
			 s->account, have_token ? "token" : "password",
			 s->host, (unsigned)s->port);
		s->warned_plaintext = true;
	}
	return rc;
}

/* Picks how to log in, gets the secret, then starts. */
static void
sess_auth_begin(struct imap_session *s)
{
	struct ms_err err;
	bool have_token = s->oauth_token_cmd != NULL;
	const char *cmd;

	if (sess_auth_pick(s, &err) != MS_OK) {
		sess_fail_err(s, &err);
		return;
	}
	cmd = have_token ? s->oauth_token_cmd : s->password_cmd;
	if (cmd == NULL) {
		if (s->secret == NULL) {
			sess_fail(s, MS_ECONFIG, "no password configured");
			return;
		}
		sess_auth_start(s);
		return;
	}
	{
		struct secret_cmd_params sp = {
			.account = s->account,
			.what = have_token ? "oauth_token_cmd" : "password_cmd",
			.command = cmd,
			.timeout_ms = s->timeout_ms,
		};

		if (secret_cmd_start(s->loop, &sp, sess_secret_cb, s, &s->job,
				     &err) != MS_OK) {
			sess_fail_err(s, &err);
			return;
		}
	}
	s->refs++;
	/* The server waits quietly while the command runs. */
	net_conn_set_idle(s->conn, true);
}

/* ---- after login ------------------------------------------------------ */

static void
sess_enable_done(struct imap_session *s, const struct imap_ev_status *st)
{
	/* A refused ENABLE is not fatal: CONDSTORE is used implicitly. */
	if (st->status != IMAP_STATUS_OK)
		s->qresync_enabled = false;
	s->enable_done = true;
	sess_advance(s);
}

static void
sess_compress_done(struct imap_session *s, const struct imap_ev_status *st)
{
	s->compress_done = true;
	if (st->status == IMAP_STATUS_OK) {
		if (imap_zstream_init(&s->z) != MS_OK ||
		    (s->zbuf_in = malloc(SESS_ZBUF_IN)) == NULL ||
		    (s->zbuf_out = malloc(SESS_ZBUF)) == NULL) {
			sess_fail(s, MS_ENOMEM, "COMPRESS: out of memory");
			return;
		}
		s->z_active = true;
	} else {
		log_info("acct=%s imap: COMPRESS refused: %.*s", s->account,
			 (int)st->text.len, (const char *)st->text.p);
	}
	sess_advance(s);
}

/* Sends COMPRESS if it is wanted, offered and not yet sent; true if sent. */
static bool
sess_compress_begin(struct imap_session *s)
{
	if (s->compress_done || s->compress_sent || !s->want_compress ||
	    !sess_has(s, "COMPRESS=DEFLATE"))
		return false;
	s->compress_sent = true;
	sess_internal(s, imap_cmd_compress_deflate(&s->core), "COMPRESS",
		      sess_compress_done);
	return true;
}

/* Issues the next login step, or reports ready. */
static void
sess_advance(struct imap_session *s)
{
	if (s->is_closing || s->is_closed || s->is_ready || s->ncmds > 0 ||
	    s->job != NULL || s->want_starttls)
		return;
	if (!s->caps_valid) {
		sess_internal(s, imap_cmd_capability(&s->core), "CAPABILITY",
			      sess_capability_done);
		return;
	}
	if (!s->tls_done) {
		if (!sess_has(s, "STARTTLS")) {
			sess_fail(s, MS_ETLS, "the server does not offer "
				  "STARTTLS (tls = starttls); not sending "
				  "credentials without TLS");
			return;
		}
		sess_internal(s, imap_cmd_starttls(&s->core), "STARTTLS",
			      sess_starttls_done);
		return;
	}
	if (!s->authed) {
		sess_auth_begin(s);
		if (s->authed)
			return;
		/* The capabilities change with the login. */
		if (!s->is_closing)
			s->caps_valid = false;
		return;
	}
	if (!s->enable_done && sess_has(s, "QRESYNC") &&
	    sess_has(s, "ENABLE")) {
		s->qresync_enabled = false;
		sess_internal(s, imap_cmd_enable(&s->core, "QRESYNC"),
			      "ENABLE", sess_enable_done);
		/* COMPRESS goes out right behind it, one round trip for
		 * both: the server answers in order, so ENABLE's reply
		 * arrives before compression starts, and a refused
		 * ENABLE changes nothing COMPRESS depends on. */
		sess_compress_begin(s);
		return;
	}
	s->enable_done = true;
	if (sess_compress_begin(s))
		return;
	s->compress_done = true;
	s->is_ready = true;
	sess_update_wait(s);
	log_debug("acct=%s imap: ready on %s:%u (caps 0x%x)", s->account,
		  s->host, (unsigned)s->port, imap_session_caps(s));
	if (s->cb.on_ready_cb != NULL)
		s->cb.on_ready_cb(s, s->cb.arg);
}

/* ---- input ------------------------------------------------------------ */

static void
sess_unsolicited(struct imap_session *s, const struct imap_event *ev)
{
	if (s->cb.on_unsolicited_cb != NULL && !s->is_closing &&
	    !s->is_logging_out)
		s->cb.on_unsolicited_cb(s, ev, s->cb.arg);
}

static void
sess_on_tagged(struct imap_session *s, const struct imap_event *ev)
{
	const struct imap_ev_status *st = &ev->u.status;
	struct sess_cmd c;
	uint32_t tag;
	size_t i;

	if (!imap_client_tag_parse(st->tag, &tag) ||
	    !sess_cmd_find(s, tag, &i)) {
		if (s->is_closing || s->is_logging_out)
			return;
		sess_fail(s, MS_EPROTO, "tagged response for an unknown "
			  "command: %.*s", (int)st->tag.len,
			  (const char *)st->tag.p);
		return;
	}
	c = s->cmds[i];
	sess_cmd_remove(s, i);
	if (c.is_internal) {
		c.internal_done(s, st);
		return;
	}
	if (tag == s->idle_tag) {
		s->idle_tag = 0;
		s->is_idling = false;
		sess_update_wait(s);
	}
	if (s->is_closing || s->is_logging_out) {
		/* Cancelled at the end, as the contract says. */
		s->cmds[s->ncmds] = c;
		s->ncmds++;
		return;
	}
	if (c.cbs.on_done_cb != NULL)
		c.cbs.on_done_cb(s, MS_OK, st, c.cbs.arg);
}

/* The greeting's text, for what it tells of the server (printable ASCII
 * only: it goes into status and logs). */
static void
sess_greeting_keep(struct imap_session *s, struct ms_slice text)
{
	size_t n = 0;

	for (size_t i = 0; i < text.len && n < IMAP_SESSION_GREETING_MAX; i++)
		s->greeting[n++] = text.p[i] >= 0x20 && text.p[i] < 0x7f ?
				   (char)text.p[i] : '?';
	s->greeting[n] = '\0';
}

/* One event from the core. */
static void
sess_on_event(struct imap_session *s, const struct imap_event *ev)
{
	const struct imap_ev_status *st = &ev->u.status;

	switch (ev->type) {
	case IMAP_EV_ERROR:
		sess_fail(s, ev->u.error.code, "protocol error: %s",
			  ev->u.error.msg);
		return;
	case IMAP_EV_GREETING:
		s->greeted = true;
		sess_greeting_keep(s, st->text);
		if (st->status == IMAP_STATUS_BYE) {
			sess_fail(s, MS_ECONN, "the server refused the "
				  "connection: BYE %.*s", (int)st->text.len,
				  (const char *)st->text.p);
			return;
		}
		if (st->status == IMAP_STATUS_PREAUTH) {
			if (s->tls == NET_TLS_STARTTLS) {
				sess_fail(s, MS_ETLS, "the server greeted "
					  "with PREAUTH, so STARTTLS is "
					  "impossible (tls = starttls)");
				return;
			}
			s->authed = true;
		}
		if (st->code.code == IMAP_CODE_CAPABILITY)
			sess_caps_learn(s, st->code.list);
		sess_advance(s);
		return;
	case IMAP_EV_CAPABILITY:
		sess_caps_learn(s, ev->u.list);
		break;		/* a caller's CAPABILITY sees it too */
	case IMAP_EV_TAGGED:
		if (st->code.code == IMAP_CODE_CAPABILITY)
			sess_caps_learn(s, st->code.list);
		sess_on_tagged(s, ev);
		return;
	case IMAP_EV_UNTAGGED_STATUS:
		if (st->status == IMAP_STATUS_BYE) {
			if (s->is_logging_out)
				return;
			sess_fail(s, MS_ECONN, "the server closed the "
				  "session: BYE %.*s", (int)st->text.len,
				  (const char *)st->text.p);
			return;
		}
		if (st->code.code == IMAP_CODE_CAPABILITY)
			sess_caps_learn(s, st->code.list);
		break;
	case IMAP_EV_ENABLED:
		if (imap_list_has(ev->u.list, "QRESYNC"))
			s->qresync_enabled = true;
		break;
	case IMAP_EV_CONTINUATION:
		if (s->in_auth)
			sess_auth_challenge(s, ev->u.text);
		/* Otherwise IDLE's "+ idling": nothing to do. */
		return;
	default:
		break;
	}
	/* Untagged data: the oldest command in flight owns it. */
	if (s->ncmds > 0 && !s->cmds[0].is_internal &&
	    s->cmds[0].tag != s->idle_tag && s->is_ready && !s->is_closing &&
	    !s->is_logging_out) {
		if (s->cmds[0].cbs.on_event_cb != NULL)
			s->cmds[0].cbs.on_event_cb(s, ev, s->cmds[0].cbs.arg);
		return;
	}
	sess_unsolicited(s, ev);
}

/*
 * Feeds plaintext to the core and handles the events.  Stops early (and
 * says how much it used) after the STARTTLS OK, so that the connection
 * discards the rest, and after the COMPRESS OK, whose following bytes
 * are compressed.
 */
static size_t
sess_feed(struct imap_session *s, const uint8_t *p, size_t len)
{
	struct imap_event ev;
	size_t off = 0, n;
	bool was_z = s->z_active;
	int rc;

	while (off < len && !s->is_closing) {
		rc = imap_client_feed(&s->core, p + off, len - off, &n);
		sess_trace(s, "S:", p + off, n);
		off += n;
		/* Counted before the events, so a callback sees them. */
		if (!was_z)
			s->bytes_in += n;
		while (!s->is_closing &&
		       imap_client_next_event(&s->core, &ev) == MS_OK)
			sess_on_event(s, &ev);
		if (s->is_closing)
			return len;
		if (rc < 0) {
			sess_fail(s, rc, "protocol error: %s",
				  s->core.parser.err.msg);
			return len;
		}
		if (s->want_starttls || s->z_active != was_z)
			break;
		/* Nothing used with no event pending: wait for more. */
		if (n == 0)
			break;
	}
	return off;
}

/* Inflates and feeds everything in p. */
static void
sess_feed_compressed(struct imap_session *s, const uint8_t *p, size_t len)
{
	size_t off = 0, used, made, fed;
	bool more = true;

	while ((off < len || more) && !s->is_closing) {
		if (imap_zstream_inflate(&s->z, p + off, len - off, &used,
					 s->zbuf_in, SESS_ZBUF_IN, &made,
					 &more) != MS_OK) {
			sess_fail(s, MS_EPROTO, "COMPRESS: corrupt deflate "
				  "stream from the server");
			return;
		}
		off += used;
		s->bytes_in += used;
		fed = 0;
		while (fed < made && !s->is_closing) {
			size_t n = sess_feed(s, s->zbuf_in + fed, made - fed);

			if (n == 0 && !s->is_closing) {
				/* The core has no reason to refuse input. */
				sess_fail(s, MS_EPROTO,
					  "COMPRESS: input stalled");
				return;
			}
			fed += n;
		}
		if (used == 0 && made == 0)
			break;
	}
}

static size_t
sess_on_data_cb(struct net_conn *conn, const uint8_t *p, size_t len,
		void *arg)
{
	struct imap_session *s = arg;
	size_t off = 0;

	if (s->is_closing)
		return len;
	while (off < len && !s->is_closing) {
		if (s->z_active) {
			sess_feed_compressed(s, p + off, len - off);
			off = len;
			break;
		}
		off += sess_feed(s, p + off, len - off);
		if (s->want_starttls) {
			s->want_starttls = false;
			if (net_conn_starttls(conn) != MS_OK)
				sess_fail(s, MS_ETLS, "cannot start TLS");
			/* The connection drops every byte after off. */
			return off;
		}
		if (!s->z_active)
			break;
	}
	sess_flush(s);
	return s->is_closing ? len : off;
}

/* ---- connection callbacks --------------------------------------------- */

static void
sess_connected_cb(struct net_conn *conn, void *arg)
{
	struct imap_session *s = arg;

	(void)conn;
	log_debug("acct=%s imap: connected to %s:%u (%s)", s->account,
		  s->host, (unsigned)s->port, net_conn_peer_addr(conn));
}

static void
sess_timer_close_cb(uv_handle_t *h)
{
	sess_unref(h->data);
}

static void
sess_close_cb(struct net_conn *conn, int reason, const struct ms_err *err,
	      void *arg)
{
	struct imap_session *s = arg;
	struct ms_err final;
	int code;

	(void)conn;
	s->is_closed = true;
	s->is_closing = true;
	if (s->job != NULL)
		secret_cmd_cancel(s->job);
	/* After close(MS_OK) the caller asked for the end: it is MS_OK. */
	if (s->is_logging_out)
		ms_err_set(&final, MS_OK, "%s:%u: logged out", s->host,
			   (unsigned)s->port);
	else if (s->has_err && s->err.code != MS_OK)
		final = s->err;
	else if (reason == MS_OK)
		ms_err_set(&final, MS_OK, "%s:%u: closed", s->host,
			   (unsigned)s->port);
	else
		final = *err;
	code = final.code;
	s->conn = NULL;
	/* Every command callback fires once: the cancelled ones now. */
	while (s->ncmds > 0) {
		struct sess_cmd c = s->cmds[0];

		sess_cmd_remove(s, 0);
		if (!c.is_internal && c.cbs.on_done_cb != NULL)
			c.cbs.on_done_cb(s, code == MS_OK ? MS_ECANCELED : code,
					 NULL, c.cbs.arg);
	}
	sess_auth_end(s);
	if (s->cb.on_close_cb != NULL)
		s->cb.on_close_cb(s, code, &final, s->cb.arg);
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, sess_timer_close_cb);
	sess_unref(s);		/* the conn's */
}

/* ---- public API ------------------------------------------------------- */

int
imap_session_new(uv_loop_t *loop, const struct imap_session_params *params,
		 struct imap_session **s_r, struct ms_err *err_r)
{
	struct imap_client_params cp;
	struct net_conn_params np;
	struct imap_session *s;
	int nsrc, rc;

	*s_r = NULL;
	if (params->host == NULL || params->host[0] == '\0' ||
	    params->user == NULL || params->user[0] == '\0' ||
	    params->port == 0 || params->on_close_cb == NULL)
		return ms_err_set(err_r, MS_EINVAL, "imap session: host, "
				  "port, user and on_close are required");
	nsrc = (params->password != NULL) + (params->password_cmd != NULL) +
	    (params->oauth_token_cmd != NULL);
	if (nsrc != 1)
		return ms_err_set(err_r, MS_ECONFIG, "%s: exactly one of "
				  "password, password_cmd and oauth_token_cmd "
				  "is needed", params->host);
	if (params->tls != NET_TLS_NONE && params->tls_ctx == NULL)
		return ms_err_set(err_r, MS_EINVAL, "%s: TLS without a TLS "
				  "context", params->host);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	s->loop = loop;
	s->account = sess_strdup(params->account != NULL ? params->account :
				 "-");
	s->host = sess_strdup(params->host);
	s->user = sess_strdup(params->user);
	s->port = params->port;
	s->tls = params->tls;
	s->tls_done = params->tls != NET_TLS_STARTTLS;
	s->timeout_ms = params->timeout_ms;
	s->auth = params->auth;
	s->want_compress = params->want_compress;
	s->cb = *params;
	s->cb.account = s->cb.host = s->cb.user = NULL;
	s->cb.password = s->cb.password_cmd = s->cb.oauth_token_cmd = NULL;
	ms_buf_init(&s->caps, SESS_MAX_CAPS);
	ms_buf_init(&s->sasl_out, 1u << 20);
	if (params->password != NULL) {
		s->secret = sess_strdup(params->password);
		s->secret_len = strlen(params->password);
	}
	s->password_cmd = sess_strdup(params->password_cmd);
	s->oauth_token_cmd = sess_strdup(params->oauth_token_cmd);
	imap_client_params_default(&cp);
	cp.max_output = SESS_MAX_OUTPUT;
	cp.parser.expect_greeting = true;
	s->refs = 1;
	if (s->account == NULL || s->host == NULL || s->user == NULL ||
	    (params->password != NULL && s->secret == NULL) ||
	    (params->password_cmd != NULL && s->password_cmd == NULL) ||
	    (params->oauth_token_cmd != NULL && s->oauth_token_cmd == NULL)) {
		sess_unref(s);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	if ((rc = imap_client_init(&s->core, &cp)) != MS_OK) {
		imap_client_deinit(&s->core);
		sess_unref(s);
		return ms_err_set(err_r, rc, "imap client: %s",
				  ms_strerror(rc));
	}
	s->core_ready = true;

	memset(&np, 0, sizeof(np));
	np.account = s->account;
	np.host = s->host;
	np.port = s->port;
	np.tls = s->tls;
	np.tls_ctx = params->tls_ctx;
	np.connect_timeout_ms = params->timeout_ms;
	np.read_timeout_ms = params->timeout_ms;
	np.on_connected_cb = sess_connected_cb;
	np.on_tls_ready_cb = sess_tls_ready_cb;
	np.on_data_cb = sess_on_data_cb;
	np.on_close_cb = sess_close_cb;
	np.arg = s;
	if ((rc = net_conn_new(loop, &np, &s->conn, err_r)) != MS_OK) {
		sess_unref(s);
		return rc;
	}
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	s->refs++;		/* the timer's, dropped in its close callback */
	*s_r = s;
	return MS_OK;
}

struct imap_client *
imap_session_core(struct imap_session *s)
{
	return &s->core;
}

int
imap_session_submit(struct imap_session *s, int tag,
		    const struct imap_session_cmd_cbs *cbs)
{
	size_t i;

	if (!s->is_ready || s->is_closing || s->is_logging_out ||
	    s->is_idling || tag <= 0 ||
	    (uint32_t)tag >= s->core.next_tag ||
	    sess_cmd_find(s, (uint32_t)tag, &i))
		return MS_EINVAL;
	if (sess_cmd_add(s, tag, false, cbs, NULL) != MS_OK)
		return MS_EINVAL;
	sess_update_wait(s);
	sess_flush(s);
	return MS_OK;
}

bool
imap_session_is_closing(const struct imap_session *s)
{
	return s->is_closing || s->is_logging_out || s->is_closed;
}

unsigned
imap_session_in_flight(const struct imap_session *s)
{
	return (unsigned)s->ncmds;
}

const char *
imap_session_greeting(const struct imap_session *s)
{
	return s->greeting;
}

unsigned
imap_session_caps(const struct imap_session *s)
{
	static const struct {
		const char *name;
		unsigned bit;
	} map[] = {
		{ "IDLE", IMAP_SESSION_CAP_IDLE },
		{ "CONDSTORE", IMAP_SESSION_CAP_CONDSTORE },
		{ "QRESYNC", IMAP_SESSION_CAP_CONDSTORE },
		{ "UIDPLUS", IMAP_SESSION_CAP_UIDPLUS },
		{ "MOVE", IMAP_SESSION_CAP_MOVE },
		{ "LIST-STATUS", IMAP_SESSION_CAP_LIST_STATUS },
		{ "SPECIAL-USE", IMAP_SESSION_CAP_SPECIAL_USE },
		{ "NAMESPACE", IMAP_SESSION_CAP_NAMESPACE },
		{ "ESEARCH", IMAP_SESSION_CAP_ESEARCH },
		{ "LITERAL+", IMAP_SESSION_CAP_LITERAL_PLUS },
		{ "NOTIFY", IMAP_SESSION_CAP_NOTIFY },
		{ "BINARY", IMAP_SESSION_CAP_BINARY },
		{ "UNSELECT", IMAP_SESSION_CAP_UNSELECT },
		{ "STATUS=SIZE", IMAP_SESSION_CAP_STATUS_SIZE },
	};
	unsigned caps = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (sess_has(s, map[i].name))
			caps |= map[i].bit;
	if (s->qresync_enabled)
		caps |= IMAP_SESSION_CAP_QRESYNC;
	if (s->z_active)
		caps |= IMAP_SESSION_CAP_COMPRESS;
	return caps;
}

struct ms_slice
imap_session_capability_list(const struct imap_session *s)
{
	return (struct ms_slice){ s->caps.p, s->caps.len };
}

int
imap_session_idle_start(struct imap_session *s,
			const struct imap_session_cmd_cbs *cbs)
{
	int tag, rc;

	if (!s->is_ready || s->is_closing || s->is_logging_out ||
	    s->is_idling || s->ncmds > 0)
		return MS_EINVAL;
	if (!sess_has(s, "IDLE"))
		return MS_EIMPL;
	if ((tag = imap_cmd_idle(&s->core)) < 0)
		return tag;
	if ((rc = sess_cmd_add(s, tag, false, cbs, NULL)) != MS_OK)
		return rc;
	s->idle_tag = (uint32_t)tag;
	s->is_idling = true;
	net_conn_set_idle(s->conn, true);
	sess_flush(s);
	return MS_OK;
}

int
imap_session_idle_stop(struct imap_session *s)
{
	int rc;

	if (!s->is_idling || s->is_closing || s->is_logging_out)
		return MS_EINVAL;
	if ((rc = imap_cmd_idle_done(&s->core)) != MS_OK)
		return rc;
	/* Still in flight until its tagged OK; the timeout is back. */
	s->is_idling = false;
	net_conn_set_idle(s->conn, false);
	sess_flush(s);
	return MS_OK;
}

static void
sess_logout_timer_cb(uv_timer_t *t)
{
	struct imap_session *s = t->data;

	if (s->conn != NULL)
		net_conn_close(s->conn, MS_OK);
}

static void
sess_logout_done(struct imap_session *s, const struct imap_ev_status *st)
{
	(void)st;
	if (s->conn != NULL)
		net_conn_close(s->conn, MS_OK);
}

void
imap_session_close(struct imap_session *s, int reason)
{
	unsigned wait_ms;
	int tag;

	if (s->is_closing || s->is_closed || s->is_logging_out)
		return;
	if (reason != MS_OK || !s->is_ready) {
		s->is_closing = true;
		s->has_err = true;
		ms_err_set(&s->err, reason, "%s:%u: session closed (%s)",
			   s->host, (unsigned)s->port, ms_strerror(reason));
		if (s->job != NULL)
			secret_cmd_cancel(s->job);
		net_conn_close(s->conn, reason);
		return;
	}
	s->is_logging_out = true;
	if (s->idle_tag != 0 && s->core.state == IMAP_CLIENT_IDLE &&
	    imap_cmd_idle_done(&s->core) != MS_OK)
		log_debug("acct=%s imap: cannot end IDLE before LOGOUT",
			  s->account);
	tag = imap_cmd_logout(&s->core);
	if (tag <= 0 || sess_cmd_add(s, tag, true, NULL, sess_logout_done) !=
	    MS_OK) {
		net_conn_close(s->conn, MS_OK);
		return;
	}
	wait_ms = s->timeout_ms != 0 && s->timeout_ms < SESS_LOGOUT_WAIT_MS ?
	    s->timeout_ms : SESS_LOGOUT_WAIT_MS;
	uv_timer_start(&s->timer, sess_logout_timer_cb, wait_ms, 0);
	sess_flush(s);
}

enum sasl_mech
imap_session_mech(const struct imap_session *s)
{
	return s->authed_mech;
}

uint64_t
imap_session_bytes_in(const struct imap_session *s)
{
	return s->bytes_in;
}

uint64_t
imap_session_bytes_out(const struct imap_session *s)
{
	return s->bytes_out;
}

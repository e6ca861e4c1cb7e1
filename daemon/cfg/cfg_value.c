/*
 * cfg_value.c - typed value parsers for the config file.  Each accepts a
 * whole value or rejects it with a short reason; none guesses.
 */
#include "cfg/cfg_int.h"

#include <arpa/inet.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool
cfg_value_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Letters, digits, '-' and '_': host name labels and account names. */
static bool
cfg_value_is_word(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       cfg_value_is_digit(c) || c == '-' || c == '_';
}

/*
 * Reads decimal digits at *sp into *n_r, failing on overflow past max.
 * Returns the number of digits read (0: none).
 */
static size_t
cfg_value_digits(const char **sp, unsigned long long max,
		 unsigned long long *n_r, bool *overflow_r)
{
	const char *s = *sp;
	unsigned long long n = 0;
	size_t count = 0;

	*overflow_r = false;
	while (cfg_value_is_digit(*s)) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (max - d) / 10)
			*overflow_r = true;
		else
			n = n * 10 + d;
		s++;
		count++;
	}
	*sp = s;
	*n_r = n;
	return count;
}

int
cfg__value_uint(const char *s, unsigned max, unsigned *n_r, char *why,
		size_t whysz)
{
	const char *p = s;
	unsigned long long n;
	bool overflow;

	if (cfg_value_digits(&p, max, &n, &overflow) == 0 || *p != '\0') {
		snprintf(why, whysz, "'%s' is not a whole number", s);
		return MS_EINVAL;
	}
	if (overflow) {
		snprintf(why, whysz, "'%s' is too large (at most %u)", s, max);
		return MS_EINVAL;
	}
	*n_r = (unsigned)n;
	return MS_OK;
}

int
cfg__value_group(const char *s, gid_t *gid_r, char *why, size_t whysz)
{
	struct group *gr;
	unsigned n;
	char num[16];

	if ((gr = getgrnam(s)) != NULL) {
		*gid_r = gr->gr_gid;
		return MS_OK;
	}
	if (cfg__value_uint(s, INT_MAX, &n, num, sizeof(num)) == MS_OK) {
		*gid_r = (gid_t)n;
		return MS_OK;
	}
	snprintf(why, whysz, "no group '%s' on this system (create it, e.g. "
		 "groupadd --system %s, or give a group number)", s, s);
	return MS_EINVAL;
}

int
cfg__value_port(const char *s, uint16_t *port_r, char *why, size_t whysz)
{
	unsigned n;

	if (cfg__value_uint(s, UINT_MAX, &n, why, whysz) != MS_OK) {
		snprintf(why, whysz, "'%s' is not a port number", s);
		return MS_EINVAL;
	}
	if (n < 1 || n > 65535) {
		snprintf(why, whysz, "%s is out of range", s);
		return MS_EINVAL;
	}
	*port_r = (uint16_t)n;
	return MS_OK;
}

int
cfg__value_bool(const char *s, bool *b_r, char *why, size_t whysz)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b_r = true;
			return MS_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b_r = false;
			return MS_OK;
		}
	}
	snprintf(why, whysz, "'%s' is not a boolean", s);
	return MS_EINVAL;
}

int
cfg__value_duration(const char *s, unsigned *secs_r, char *why, size_t whysz)
{
	const char *p = s;
	unsigned long long total = 0, n;
	bool overflow, is_plain = true;

	if (*p == '\0') {
		snprintf(why, whysz, "empty duration");
		return MS_EINVAL;
	}
	/* A sequence of NUMBER UNIT, such as "1h30m"; a bare number is
	 * seconds, so "90" means 90s. */
	while (*p != '\0') {
		unsigned long long mult;

		if (cfg_value_digits(&p, ULLONG_MAX / 2, &n, &overflow) == 0)
			goto bad;
		switch (*p) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		case '\0':
			if (!is_plain)
				goto bad;
			mult = 1;
			p--;	/* no unit to skip */
			break;
		default:
			goto bad;
		}
		p++;
		is_plain = false;
		if (overflow || n > CFG_DURATION_MAX / mult ||
		    total + n * mult > CFG_DURATION_MAX) {
			snprintf(why, whysz, "'%s' is too long (at most 366d)",
				 s);
			return MS_EINVAL;
		}
		total += n * mult;
	}
	if (total == 0) {
		snprintf(why, whysz, "'%s' is zero", s);
		return MS_EINVAL;
	}
	*secs_r = (unsigned)total;
	return MS_OK;
bad:
	snprintf(why, whysz, "'%s' is not a duration", s);
	return MS_EINVAL;
}

int
cfg__value_enum(const char *s, const char *const *names, int *idx_r,
		char *why, size_t whysz)
{
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*idx_r = i;
			return MS_OK;
		}
	}
	snprintf(why, whysz, "'%s' is not a valid choice", s);
	return MS_EINVAL;
}

static bool
cfg_value_is_sep(int c)
{
	return c == ',' || c == ' ' || c == '\t';
}

void
cfg__list_free(struct cfg_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->v[i]);
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

static void
cfg_value_list_push(struct cfg_list *list, const char *p, size_t len)
{
	list->v = cfg__reallocarray(list->v, list->n + 1, sizeof(*list->v));
	list->v[list->n] = cfg__calloc(1, len + 1);
	memcpy(list->v[list->n], p, len);
	list->n++;
}

/* Reads one "quoted item" at *sp (on the opening quote) into a new item. */
static int
cfg_value_list_quoted(const char **sp, struct cfg_list *list, char *why,
		      size_t whysz)
{
	const char *p = *sp + 1;
	char *item = cfg__calloc(1, strlen(p) + 1);
	size_t n = 0;

	while (*p != '"') {
		if (*p == '\0') {
			free(item);
			snprintf(why, whysz, "unterminated '\"'");
			return MS_EINVAL;
		}
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		item[n++] = *p++;
	}
	p++;
	if (*p != '\0' && !cfg_value_is_sep(*p)) {
		free(item);
		snprintf(why, whysz, "text right after a closing '\"'");
		return MS_EINVAL;
	}
	cfg_value_list_push(list, item, n);
	free(item);
	*sp = p;
	return MS_OK;
}

int
cfg__value_list(const char *s, struct cfg_list *list_r, char *why,
		size_t whysz)
{
	struct cfg_list list = { NULL, 0 };
	const char *p = s;
	bool want_item = true;	/* after a comma an item must follow */

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p == ',') {
			if (want_item)
				goto empty;
			want_item = true;
			p++;
			continue;
		}
		if (*p == '"') {
			if (cfg_value_list_quoted(&p, &list, why, whysz) != 0) {
				cfg__list_free(&list);
				return MS_EINVAL;
			}
		} else {
			const char *b = p;

			while (*p != '\0' && !cfg_value_is_sep(*p))
				p++;
			cfg_value_list_push(&list, b, (size_t)(p - b));
		}
		want_item = false;
	}
	if (list.n == 0 || want_item)
		goto empty;
	*list_r = list;
	return MS_OK;
empty:
	cfg__list_free(&list);
	snprintf(why, whysz, "empty item in '%s'", s);
	return MS_EINVAL;
}

bool
cfg__host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

/* Host names: letters, digits, '-', '_' and dot-separated labels of at
 * most 63 bytes, len bytes of s; this also covers dotted IPv4 literals. */
static bool
cfg_value_is_host_name(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			/* Only a final dot may end an empty label. */
			if (label == 0 && (i < len || i == 0))
				return false;
			if (label > 63)
				return false;
			label = 0;
			continue;
		}
		if (!cfg_value_is_word(s[i]))
			return false;
		label++;
	}
	return true;
}

/* "HOST:PORT": the length of HOST, or 0 when s is not of that form. */
static size_t
cfg_value_host_port(const char *s)
{
	const char *colon = strrchr(s, ':');

	if (colon == NULL || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    !cfg_value_is_host_name(s, (size_t)(colon - s)))
		return 0;
	return (size_t)(colon - s);
}

int
cfg__value_host(const char *s, char *why, size_t whysz)
{
	struct in6_addr a6;
	const char *scheme = strstr(s, "://");
	size_t n;

	/* What people paste from a provider's page: a URL, host:port. */
	if (scheme != NULL) {
		const char *h = scheme + 3;

		n = strcspn(h, ":/");
		snprintf(why, whysz, "'%s' is a URL; write the host name alone "
			 "(host = %.*s) and the port, if any, as port = ...",
			 s, (int)n, h);
		return MS_EINVAL;
	}
	if ((n = cfg_value_host_port(s)) > 0) {
		snprintf(why, whysz, "'%s' holds a port; the port has its own "
			 "key: host = %.*s and port = %s", s, (int)n, s,
			 s + n + 1);
		return MS_EINVAL;
	}
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, &a6) == 1)
			return MS_OK;
		snprintf(why, whysz, "'%s' is not an IPv6 address (write it "
			 "without brackets; the port has its own key)", s);
		return MS_EINVAL;
	}
	if (cfg_value_is_host_name(s, strlen(s)))
		return MS_OK;
	snprintf(why, whysz, "'%s' is not a host name", s);
	return MS_EINVAL;
}


static int
cfg_value_hex(int c)
{
	if (cfg_value_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cfg__value_fingerprint(const char *s, struct cfg_fingerprint *fp_r, char *why,
		       size_t whysz)
{
	struct cfg_fingerprint fp = { .is_set = true };
	const char *p = s + 7;
	size_t len;
	bool has_colons;

	if (strncasecmp(s, "sha256:", 7) != 0) {
		snprintf(why, whysz, "'%s' does not start with 'sha256:'", s);
		return MS_EINVAL;
	}
	len = strlen(p);
	/* Either 64 hex digits, or 32 pairs with a colon between each. */
	if (len == 64)
		has_colons = false;
	else if (len == 32 * 3 - 1)
		has_colons = true;
	else
		goto bad;
	for (size_t i = 0; i < 32; i++) {
		int hi = cfg_value_hex(p[0]), lo = cfg_value_hex(p[1]);

		if (hi < 0 || lo < 0)
			goto bad;
		fp.sha256[i] = (uint8_t)(hi << 4 | lo);
		p += 2;
		if (has_colons && i < 31 && *p++ != ':')
			goto bad;
	}
	memcpy(fp.text, "sha256", 6);
	for (size_t i = 0; i < 32; i++)
		snprintf(fp.text + 6 + i * 3, 4, ":%02X", fp.sha256[i]);
	*fp_r = fp;
	return MS_OK;
bad:
	snprintf(why, whysz, "'%s' is not 32 hex bytes after 'sha256:'", s);
	return MS_EINVAL;
}

int
cfg__value_address(const char *s, char *why, size_t whysz)
{
	const char *at = strrchr(s, '@');
	char host_why[8];

	if (at == NULL || at == s || at[1] == '\0')
		goto bad;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' ||
		    c == '(' || c == ')' || c == ',' || c == ';' ||
		    (c == '@' && p != at))
			goto bad;
	}
	if (s[0] == '.' || at[-1] == '.' || strstr(s, "..") != NULL)
		goto bad;
	/* A dotless domain is fine: test@localhost is a real address. */
	if (cfg__value_host(at + 1, host_why, sizeof(host_why)) != MS_OK)
		goto bad;
	return MS_OK;
bad:
	snprintf(why, whysz, "'%s' is not an e-mail address", s);
	return MS_EINVAL;
}

int
cfg__value_account_name(const char *s, char *why, size_t whysz)
{
	size_t len = strlen(s);

	if (len == 0) {
		snprintf(why, whysz, "the account has no name");
		return MS_EINVAL;
	}
	if (len > 64) {
		snprintf(why, whysz, "account name '%s' is longer than 64 "
			 "characters", s);
		return MS_EINVAL;
	}
	if (s[0] == '.' || s[0] == '-')
		goto bad;
	for (const char *p = s; *p != '\0'; p++)
		if (!cfg_value_is_word(*p) && *p != '.')
			goto bad;
	return MS_OK;
bad:
	snprintf(why, whysz, "'%s' is not a valid account name", s);
	return MS_EINVAL;
}

static int
cfg_value_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

unsigned
cfg__edit_distance(const char *a, const char *b)
{
	/* Names are short; longer inputs are simply "far". */
	enum { N = 40 };
	unsigned d[N + 1][N + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > N || lb > N)
		return UINT_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = cfg_value_lower((unsigned char)a[i - 1]);
			int cb = cfg_value_lower((unsigned char)b[j - 1]);
			unsigned best = d[i - 1][j - 1] + (ca != cb);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			/* A swap of two neighbours counts as one edit. */
			if (i > 1 && j > 1 &&
			    ca == cfg_value_lower((unsigned char)b[j - 2]) &&
			    cfg_value_lower((unsigned char)a[i - 2]) == cb &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

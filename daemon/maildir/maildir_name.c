/*
 * maildir_name.c - flag letters and unique file names (see maildir_name.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "maildir/maildir_name.h"

static bool
maildir_name_is_letter(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

size_t
maildir_flags_format(maildir_flags_t flags, char *out)
{
	size_t n = 0;

	/* Bit order is ASCII order: uppercase first, then lowercase. */
	for (unsigned i = 0; i < 52; i++) {
		if (!(flags & ((maildir_flags_t)1 << i)))
			continue;
		out[n++] = i < 26 ? (char)('A' + i) : (char)('a' + i - 26);
	}
	out[n] = '\0';
	return n;
}

static const struct {
	maildir_flags_t bit;
	const char *imap;
} maildir_flag_names[] = {
	{ MAILDIR_FLAG_DRAFT, "\\Draft" },
	{ MAILDIR_FLAG_FLAGGED, "\\Flagged" },
	{ MAILDIR_FLAG_PASSED, "$Forwarded" },
	{ MAILDIR_FLAG_REPLIED, "\\Answered" },
	{ MAILDIR_FLAG_SEEN, "\\Seen" },
	{ MAILDIR_FLAG_TRASHED, "\\Deleted" },
};

maildir_flags_t
maildir_flag_from_imap(const char *flag, size_t len)
{
	struct ms_slice s = { (const uint8_t *)flag, len };

	for (size_t i = 0; i < sizeof(maildir_flag_names) / sizeof(maildir_flag_names[0]); i++)
		if (ms_slice_case_eq_cstr(s, maildir_flag_names[i].imap))
			return maildir_flag_names[i].bit;
	return 0;
}

const char *
maildir_flag_to_imap(maildir_flags_t bit)
{
	for (size_t i = 0; i < sizeof(maildir_flag_names) / sizeof(maildir_flag_names[0]); i++)
		if (maildir_flag_names[i].bit == bit)
			return maildir_flag_names[i].imap;
	return NULL;
}

maildir_flags_t
maildir_flags_parse(const char *s, size_t len, size_t *ignored_r)
{
	maildir_flags_t flags = 0;
	size_t ignored = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (maildir_name_is_letter(c))
			flags |= MAILDIR_FLAG_BIT(c);
		else
			ignored++;
	}
	if (ignored_r != NULL)
		*ignored_r = ignored;
	return flags;
}

/* Parses a decimal field value; false on empty, non-digit or overflow. */
static bool
maildir_name_parse_u64(const char *p, size_t len, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		if (v > (max - (uint64_t)(p[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*v_r = v;
	return true;
}

bool
maildir_parse_u32(const char **pp, const char *end, uint32_t *v_r)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p == end || *p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*v_r = (uint32_t)v;
	*pp = p;
	return true;
}

/* Reads the ",X=value" fields of base after the unique part. */
static void
maildir_name_parse_fields(struct maildir_name_info *info)
{
	const char *p = (const char *)info->base.p;
	size_t len = info->base.len;
	size_t i = info->unique.len;

	while (i < len) {
		size_t start = ++i;	/* skip the ',' */
		size_t end = start;
		uint64_t v;

		while (end < len && p[end] != ',')
			end++;
		if (end - start >= 2 && p[start + 1] == '=') {
			const char *val = p + start + 2;
			size_t vlen = end - start - 2;

			if (p[start] == 'S' &&
			    maildir_name_parse_u64(val, vlen, UINT64_MAX, &v)) {
				info->has_size = true;
				info->size = v;
			} else if (p[start] == 'U' &&
				   maildir_name_parse_u64(val, vlen, UINT32_MAX, &v) &&
				   v != 0) {
				info->has_uid = true;
				info->uid = (uint32_t)v;
			}
		}
		i = end;
	}
}

int
maildir_name_parse(const char *name, size_t len, struct maildir_name_info *info_r)
{
	size_t base_len = len;
	size_t i;

	memset(info_r, 0, sizeof(*info_r));
	if (len == 0 || len > MAILDIR_NAME_MAX || name[0] == '.')
		return MS_EINVAL;
	if (memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL)
		return MS_EINVAL;

	/* The info starts at the last separator that is followed by "2,". */
	for (i = len; i-- > 0;) {
		if ((name[i] == ':' || name[i] == '!') && len - i >= 3 &&
		    name[i + 1] == '2' && name[i + 2] == ',') {
			info_r->sep = name[i];
			info_r->flags = maildir_flags_parse(name + i + 3,
							    len - i - 3, NULL);
			base_len = i;
			break;
		}
	}
	info_r->base.p = (const uint8_t *)name;
	info_r->base.len = base_len;
	info_r->unique = info_r->base;
	for (i = 0; i < base_len; i++) {
		if (name[i] == ',') {
			info_r->unique.len = i;
			break;
		}
	}
	maildir_name_parse_fields(info_r);
	return MS_OK;
}

int
maildir_name_with_flags(struct ms_slice base, char sep, maildir_flags_t flags,
			char *out, size_t outsz)
{
	char letters[MAILDIR_FLAGS_STRMAX];
	size_t n = maildir_flags_format(flags, letters);
	size_t total = base.len + 3 + n;

	if (total > MAILDIR_NAME_MAX || total + 1 > outsz)
		return MS_ETOOBIG;
	memcpy(out, base.p, base.len);
	out[base.len] = sep != 0 ? sep : ':';
	out[base.len + 1] = '2';
	out[base.len + 2] = ',';
	memcpy(out + base.len + 3, letters, n + 1);
	return (int)total;
}

/* Escapes the hostname per the convention: '/' -> \057, ':' -> \072. */
static void
maildir_namegen_set_host(struct maildir_namegen *g, const char *host)
{
	size_t n = 0;

	for (const char *p = host; *p != '\0'; p++) {
		const char *esc = NULL;

		if (*p == '/')
			esc = "\\057";
		else if (*p == ':')
			esc = "\\072";
		else if (*p == ',' || *p == '!')
			/* Our field and info separators; octal too. */
			esc = *p == ',' ? "\\054" : "\\041";
		if (n + (esc != NULL ? 4 : 1) >= sizeof(g->host))
			break;
		if (esc != NULL) {
			memcpy(g->host + n, esc, 4);
			n += 4;
		} else {
			g->host[n++] = *p;
		}
	}
	g->host[n] = '\0';
	if (n == 0)
		memcpy(g->host, "localhost", sizeof("localhost"));
}

/*
 * The process's pid, read once and again only after a fork(): glibc no
 * longer caches getpid(), and a name per exported message made it one
 * system call per message.  The child handler clears it (a child made
 * by posix_spawn()/vfork() runs no handlers, but it makes no names).
 */
static pid_t maildir_name_pid_cache;
static pthread_once_t maildir_name_pid_once = PTHREAD_ONCE_INIT;

static void
maildir_name_pid_forget(void)
{
	__atomic_store_n(&maildir_name_pid_cache, 0, __ATOMIC_RELAXED);
}

static void
maildir_name_pid_register(void)
{
	(void)pthread_atfork(NULL, NULL, maildir_name_pid_forget);
}

static pid_t
maildir_name_pid(void)
{
	pid_t pid;

	pthread_once(&maildir_name_pid_once, maildir_name_pid_register);
	pid = __atomic_load_n(&maildir_name_pid_cache, __ATOMIC_RELAXED);
	if (pid == 0) {
		pid = getpid();
		__atomic_store_n(&maildir_name_pid_cache, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

/* The hostname, read once per process: an export makes a generator for
 * each pushed message, and a name needs it only to differ from another
 * host's. */
static char maildir_name_host[256];
static pthread_once_t maildir_name_host_once = PTHREAD_ONCE_INIT;

static void
maildir_name_host_read(void)
{
	if (gethostname(maildir_name_host, sizeof(maildir_name_host)) != 0)
		maildir_name_host[0] = '\0';
	maildir_name_host[sizeof(maildir_name_host) - 1] = '\0';
}

void
maildir_namegen_init(struct maildir_namegen *g)
{
	memset(g, 0, sizeof(*g));
	pthread_once(&maildir_name_host_once, maildir_name_host_read);
	maildir_namegen_set_host(g, maildir_name_host);
	g->pid = maildir_name_pid();
}

static bool
maildir_name_id_ok(const char *id)
{
	if (id[0] == '\0' || id[0] == '.')
		return false;
	for (const char *p = id; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!maildir_name_is_letter(c) && !(c >= '0' && c <= '9') &&
		    c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* Appends ",U=", ",S=" and ":2," as p asks and copies the result to out. */
static int
maildir_name_finish(struct ms_buf *b, const struct maildir_name_params *p,
		    char *out, size_t outsz)
{
	char letters[MAILDIR_FLAGS_STRMAX];
	int rc = MS_OK;

	if (p->uid != 0)
		rc = ms_buf_printf(b, ",U=%lu", (unsigned long)p->uid);
	if (rc == MS_OK && p->has_size)
		rc = ms_buf_printf(b, ",S=%llu", (unsigned long long)p->size);
	if (rc == MS_OK && p->has_info) {
		maildir_flags_format(p->flags, letters);
		rc = ms_buf_printf(b, ":2,%s", letters);
	}
	if (rc == MS_OK && b->len + 1 > outsz)
		rc = MS_ETOOBIG;
	if (rc == MS_OK) {
		memcpy(out, b->p, b->len + 1);
		rc = (int)b->len;
	}
	ms_buf_deinit(b);
	return rc;
}

int
maildir_name__build(const char *unique, const struct maildir_name_params *p,
		    char *out, size_t outsz)
{
	struct ms_buf b;

	ms_buf_init(&b, MAILDIR_NAME_MAX);
	if (ms_buf_append_cstr(&b, unique) != MS_OK) {
		ms_buf_deinit(&b);
		return MS_ETOOBIG;
	}
	return maildir_name_finish(&b, p, out, outsz);
}

int
maildir_name_new(struct maildir_namegen *g, const struct maildir_name_params *p,
		 char *out, size_t outsz)
{
	struct ms_buf b;
	int rc;

	if (p->id != NULL && !maildir_name_id_ok(p->id))
		return MS_EINVAL;
	if (p->id == NULL && g == NULL)
		return MS_EINVAL;
	ms_buf_init(&b, MAILDIR_NAME_MAX);
	if (p->id != NULL) {
		rc = ms_buf_append_cstr(&b, p->id);
	} else {
		struct timeval tv;
		pid_t pid = maildir_name_pid();

		if (pid != g->pid) {
			/* A fork()ed child: the pid alone keeps names apart. */
			g->pid = pid;
			g->counter = 0;
		}
		gettimeofday(&tv, NULL);
		rc = ms_buf_printf(&b, "%lld.M%06ldP%ldQ%llu.%s",
				   (long long)tv.tv_sec, (long)tv.tv_usec,
				   (long)pid, (unsigned long long)++g->counter,
				   g->host);
	}
	if (rc != MS_OK) {
		ms_buf_deinit(&b);
		return rc;
	}
	return maildir_name_finish(&b, p, out, outsz);
}

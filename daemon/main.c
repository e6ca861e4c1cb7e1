/*
 * main.c - mailsyncd entry point: the command line, loading the
 * configuration, and dispatch.
 *
 * Both modes are thin callers of one orchestration (daemon_loop.h), which
 * runs an account runtime (acct/acct.h) per account: --once makes one
 * pass of each and prints a summary; the foreground mode keeps them
 * running until SIGTERM and serves the control socket (ctl/).
 */
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "daemon_loop.h"
#include "log.h"
#include "ms_version.h"
#include "net/tls_trust.h"

enum {
	EXIT_FAIL = 1,	/* some account failed */
	EXIT_USAGE = 2,	/* usage or configuration error */
};

struct main_opts {
	const char *config;	/* -c; NULL: search */
	bool want_once;
	bool want_check;
	bool is_verbose;
	char **accounts;	/* after --once; points into argv */
	int n_accounts;
};

static void
main_usage(FILE *out)
{
	fputs("usage: mailsyncd [-c FILE] [--once [ACCOUNT...]] [--check-config] "
	      "[-v|--verbose]\n"
	      "       mailsyncd --version | --help\n"
	      "\n"
	      "Keeps IMAP folders and POP3 downloads synchronised into a local\n"
	      "store, mirrored as Maildir folders, and sends queued mail.\n"
	      "Without --once it runs in the foreground until SIGTERM or SIGINT,\n"
	      "syncing each IMAP account every poll_interval on a session kept\n"
	      "logged in and, with idle = yes, each folder the server says\n"
	      "changed (push: NOTIFY, else IDLE on idle_folders), downloading\n"
	      "each POP3 account (keep, delete_after_days), retrying a\n"
	      "failing server with backoff (1 s doubling up to 5 min), at once\n"
	      "after a suspend, and a refused login only 3 times (15, 30,\n"
	      "60 min).  new_mail_cmd runs after new mail arrived.\n"
	      "Mail queued with 'mailsyncctl send' goes out over each account's\n"
	      "SMTP server as soon as it is queued, 4xx retried with backoff for\n"
	      "smtp_queue_lifetime, a copy filed in the Sent folder.\n"
	      "mailsyncctl talks to it over the control socket ([general]\n"
	      "socket); a second mailsyncd on the same socket or store is\n"
	      "refused.  SIGHUP (or mailsyncctl reload) re-reads the config.\n"
	      "\n"
	      "  -c, --config FILE  read FILE instead of searching for the config\n"
	      "      --once         sync every account (or each ACCOUNT) once, "
	      "deliver\n"
	      "                     the outbox, then exit\n"
	      "      --check-config validate the config, print its problems as\n"
	      "                     FILE:LINE: message, exit 0 (valid) or 2\n"
	      "  -v, --verbose      debug logging and a protocol trace "
	      "(credentials redacted)\n"
	      "      --version      print the version and exit\n"
	      "  -h, --help         print this help and exit\n"
	      "\n"
	      "Without -c the config is $MAILSYNC_CONFIG, else\n"
	      "$XDG_CONFIG_HOME/mailsync/config.ini (~/.config/mailsync/config.ini),\n"
	      "else /etc/mailsync/config.ini.\n"
	      "Exit status: 0 success, 1 an account failed or mail was "
	      "refused,\n"
	      "2 usage or configuration error, 75 (--once) mail stays queued.\n"
	      "See mailsyncd(1) and mailsync.conf(5).\n", out);
}

/* Prints a usage error as one line with a hint, and returns the status. */
static int
main_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
main_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mailsyncd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try 'mailsyncd --help')\n", stderr);
	return EXIT_USAGE;
}

/* Parses argv into o.  Returns -1 to go on, or an exit status. */
static int
main_parse_args(int argc, char **argv, struct main_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;	/* our messages, on one line */
	while ((c = getopt_long(argc, argv, ":c:hv", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'o': o->want_once = true; break;
		case 'C': o->want_check = true; break;
		case 'v': o->is_verbose = true; break;
		case 'V':
			printf("mailsyncd %s\n", MS_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			main_usage(stdout);
			return EXIT_SUCCESS;
		case ':':
			return main_usage_error("option '%s' needs an argument",
						argv[optind - 1]);
		default:
			return main_usage_error("unknown option '%s'",
						argv[optind - 1]);
		}
	}
	if (o->want_once && o->want_check)
		return main_usage_error("--once and --check-config cannot be "
					"combined");
	if (optind < argc && !o->want_once)
		return main_usage_error("unexpected argument '%s' (account "
					"names follow --once)", argv[optind]);
	o->accounts = argv + optind;
	o->n_accounts = argc - optind;
	return -1;
}

/* Finds and loads the config; prints every problem.  NULL on failure. */
static struct cfg *
main_load_config(const char *path)
{
	const struct cfg_env *env = cfg_env_system();
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	char *found = NULL;

	cfg_report_init(&rep);
	if (path == NULL && cfg_path_search(env, &found, &rep) == MS_OK)
		path = found;
	if (path != NULL && cfg_load(path, env, &cfg, &rep) != MS_OK)
		cfg = NULL;
	cfg_report_print(&rep, stderr);
	cfg_report_deinit(&rep);
	free(found);
	return cfg;
}

/* Checks that every account named after --once is in the config. */
static int
main_check_accounts(const struct main_opts *o, const struct cfg *cfg)
{
	int status = -1;

	for (int i = 0; i < o->n_accounts; i++) {
		if (cfg_account_find(cfg, o->accounts[i]) != NULL)
			continue;
		fprintf(stderr, "mailsyncd: --once: no account '%s' in %s "
			"(it has:", o->accounts[i], cfg->file);
		for (size_t j = 0; j < cfg->n_accounts; j++)
			fprintf(stderr, " %s", cfg->accounts[j].name);
		fputs(")\n", stderr);
		status = EXIT_USAGE;
	}
	return status;
}

/* Either mode, through the one orchestration (daemon_loop.h). */
static int
main_run(const struct cfg *cfg, const struct main_opts *o)
{
	struct daemon_opts opts = {
		.is_once = o->want_once,
		.names = o->accounts,
		.n_names = (size_t)o->n_accounts,
		.out = stdout,
		.errout = stderr,
		.keep_log_level = o->is_verbose,
	};
	struct daemon_loop *d = NULL;
	struct ms_err err = { 0 };
	int status;

	if (daemon_loop_new(cfg, &opts, &d, &err) < 0) {
		char prefix[64];

		fprintf(stderr, "%smailsyncd: %s\n",
			log_prefix(LOG_LEVEL_ERROR, prefix, sizeof(prefix)),
			err.msg);
		return EXIT_FAIL;
	}
	status = daemon_loop_run(d);
	daemon_loop_free(&d);
	net_tls_trust_clear();
	return status;
}

int
main(int argc, char **argv)
{
	struct main_opts o = { 0 };
	struct cfg *cfg;
	size_t n;
	int status;

	/*
	 * One malloc arena for every thread, set before any thread starts.
	 * glibc gives each thread that allocates an arena of its own, and
	 * memory freed there serves only that thread: the loop's pool
	 * threads (commits, the mirror export) each held 300-500 KB, some
	 * 1.3 MB of a POP3 first download's peak RSS (bench_pop3.sh).  Small
	 * allocations still take no lock (glibc's per-thread cache).
	 */
	(void)mallopt(M_ARENA_MAX, 1);
	if ((status = main_parse_args(argc, argv, &o)) >= 0)
		return status;
	if (o.is_verbose) {
		log_set_level(LOG_LEVEL_DEBUG);
		log_set_trace(TRACE_ALL);
	}
	if ((cfg = main_load_config(o.config)) == NULL)
		return EXIT_USAGE;
	n = cfg->n_accounts;
	if (o.want_check) {
		printf("%s: OK, %zu account%s:", cfg->file, n,
		       n == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++)
			printf(" %s", cfg->accounts[i].name);
		putchar('\n');
		cfg_free(&cfg);
		return EXIT_SUCCESS;
	}
	if ((status = main_check_accounts(&o, cfg)) >= 0) {
		cfg_free(&cfg);
		return status;
	}
	if (!o.is_verbose)
		log_set_level(cfg->log_level);
	log_debug("config=%s accounts=%zu store=%s socket=%s", cfg->file, n,
		  cfg->store, cfg->socket);
	status = main_run(cfg, &o);
	cfg_free(&cfg);
	return status;
}

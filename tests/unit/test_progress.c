/*
 * test_progress.c - the words of a pass's progress (proto/ctl
 * ctl_progress.h), shared by mailsyncctl and mailsyncd, and the
 * terminal's line of an account (daemon/progress_report.h): totals known
 * and unknown, counts past their estimate, the ETA by bytes or messages,
 * sizes and durations, and a buffer too small.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ctl/ctl_progress.h"
#include "progress_report.h"

static const char *
text(const struct ctl_progress *p)
{
	static char out[300];

	return ctl_progress_text(p, out, sizeof(out));
}

static void
test_text_all_known(void **state)
{
	struct ctl_progress p = {
		.folder = "INBOX",
		.folders_done = 3, .folders_total = 9,
		.msgs_done = 1200, .msgs_total = 5000,
		.bytes_done = 12300000, .bytes_total = 80100000,
		.seconds = 6.0, .rate_bps = 2050000,
	};

	(void)state;
	/* (80.1 - 12.3) MB at 2.05 MB/s: 33 s. */
	assert_string_equal(text(&p), "INBOX: 3/9 folders, 1200/5000 "
			    "messages, 12.3 MB of 80.1 MB, 2.0 MB/s, ETA 33s");
	assert_true(ctl_progress_fraction(&p) > 0.153 &&
		    ctl_progress_fraction(&p) < 0.154);
}

static void
test_text_unknown_totals(void **state)
{
	struct ctl_progress p = {
		.folders_done = 0, .folders_total = 0,
		.msgs_done = 40, .bytes_done = 512, .seconds = 1.0,
		.rate_bps = 512,
	};

	(void)state;
	/* No folder, no totals, too early for an ETA. */
	assert_string_equal(text(&p), "0 folders, 40 messages, 512 B, "
			    "512 B/s");
	assert_true(ctl_progress_fraction(&p) < 0);
	assert_true(ctl_progress_eta(&p) < 0);
}

/* The totals are the server's announcement: a count past it shows the
 * total as the count, and the ETA as 0 s. */
static void
test_text_past_estimate(void **state)
{
	struct ctl_progress p = {
		.folder = "",
		.folders_done = 9, .folders_total = 9,
		.msgs_done = 310, .msgs_total = 300,
		.bytes_done = 1500, .bytes_total = 1000,
		.seconds = 10.0, .rate_bps = 150,
	};

	(void)state;
	assert_string_equal(text(&p), "9/9 folders, 310/310 messages, "
			    "1.5 kB of 1.5 kB, 150 B/s, ETA 0s");
	assert_true(ctl_progress_fraction(&p) == 1.0);
}

/* Without byte totals (no STATUS=SIZE) the ETA comes from messages. */
static void
test_eta_by_messages(void **state)
{
	struct ctl_progress p = {
		.msgs_done = 100, .msgs_total = 400,
		.bytes_done = 1000000, .seconds = 30.0, .rate_bps = 33333,
	};
	char out[32];

	(void)state;
	assert_true(ctl_progress_eta(&p) > 89.9 && ctl_progress_eta(&p) <
		    90.1);
	assert_string_equal(ctl_progress_duration(90.0, out, sizeof(out)),
			    "1m30s");
	assert_string_equal(ctl_progress_duration(7805.0, out, sizeof(out)),
			    "2h10m");
	assert_string_equal(ctl_progress_duration(0.4, out, sizeof(out)),
			    "0s");
	assert_string_equal(ctl_progress_size(999, out, sizeof(out)),
			    "999 B");
	assert_string_equal(ctl_progress_size(1000, out, sizeof(out)),
			    "1.0 kB");
	assert_string_equal(ctl_progress_size(3200000000ull, out,
					      sizeof(out)), "3.2 GB");
}

/* A small buffer gets a cut, terminated line. */
static void
test_text_small_buffer(void **state)
{
	struct ctl_progress p = {
		.folder = "Archive/2024", .folders_done = 1,
		.folders_total = 2, .msgs_done = 5, .msgs_total = 10,
	};
	char out[16];

	(void)state;
	assert_string_equal(ctl_progress_text(&p, out, sizeof(out)),
			    "Archive/2024: 1");
	assert_string_equal(ctl_progress_text(&p, out, 1), "");
}

/* The terminal's line: the account, a percentage, the folder last. */
static void
test_report_line(void **state)
{
	struct acct_status st = {
		.progress = {
			.folders_done = 3, .folders_total = 9,
			.msgs_done = 150, .msgs_total = 300,
			.bytes_done = 500000, .bytes_total = 1000000,
			.folder = "Lists/dev", .seconds = 4.0,
		},
		.rate_bps = 125000,
	};
	char out[200];

	(void)state;
	assert_string_equal(progress_report_line("work", &st, out,
						 sizeof(out)),
			    "work  50% 3/9 folders, 150/300 messages, 500.0 kB "
			    "of 1.0 MB, 125.0 kB/s, ETA 4s (Lists/dev)");
	st.progress.folder[0] = '\0';
	st.progress.bytes_total = st.progress.msgs_total = 0;
	st.progress.folders_total = 0;
	assert_string_equal(progress_report_line("work", &st, out,
						 sizeof(out)),
			    "work 3 folders, 150 messages, 500.0 kB, "
			    "125.0 kB/s");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_all_known),
		cmocka_unit_test(test_text_unknown_totals),
		cmocka_unit_test(test_text_past_estimate),
		cmocka_unit_test(test_eta_by_messages),
		cmocka_unit_test(test_text_small_buffer),
		cmocka_unit_test(test_report_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

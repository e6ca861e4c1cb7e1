/*
 * fuzz_sasl.c - arbitrary server challenges against every SASL mechanism.
 *
 * Input: byte 0 picks the mechanism, byte 1 flags (bit 0: use the base64
 * API, bit 1: ask for the initial response first, bit 2: end with a
 * success carrying the last chunk as additional data instead of a
 * failure), then challenges separated by '\n'.  The whole input is also
 * pushed through the strict base64 decoder, whose accepted inputs must
 * encode back to themselves (one encoding per byte string).
 *
 * Checked: no crash, no leak, responses bounded by what went in, error
 * codes from the documented set, and SCRAM never succeeding without the
 * server signature.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl_crypto_openssl.h"
#include "common/base64.h"
#include "sasl/sasl.h"

#define FUZZ_NONCE "rOprNGfwEbeRWgbNEkqO"
#define FUZZ_MAX_CHUNKS 16

/* A fixed client nonce (the RFC 7677 one) so the fuzzer can learn
 * server-first messages that get past the nonce check. */
static int
fuzz_random(uint8_t *out, size_t len, void *arg)
{
	struct ms_buf b;
	int rc = -1;

	ms_buf_init(&b, 64);
	if (ms_base64_decode(&b, FUZZ_NONCE, 20) == MS_OK && b.len == len) {
		memcpy(out, b.p, len);
		rc = 0;
	}
	ms_buf_deinit(&b);
	return rc;
}

static void
fuzz_check_rc(int rc)
{
	switch (rc) {
	case MS_OK: case MS_AGAIN: case MS_EPROTO: case MS_EAUTH:
	case MS_EIMPL: case MS_ETOOBIG: case MS_EINVAL:
		return;
	}
	abort();
}

static void
fuzz_base64(const uint8_t *data, size_t size)
{
	struct ms_buf dec, enc;

	ms_buf_init(&dec, size);
	ms_buf_init(&enc, size + 4);
	if (ms_base64_decode(&dec, data, size) == MS_OK) {
		if (dec.len > ms_base64_decoded_max(size))
			abort();
		if (ms_base64_encode(&enc, dec.p, dec.len) != MS_OK ||
		    enc.len != size || (size > 0 &&
		    memcmp(enc.p, data, size) != 0))
			abort();
	}
	ms_buf_deinit(&dec);
	ms_buf_deinit(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sasl_crypto crypto;
	struct sasl_params params = {
		.user = MS_SLICE_LIT("user"),
		.secret = MS_SLICE_LIT("pencil"),
		.host = MS_SLICE_LIT("imap.example.com"),
		.port = 993,
		.crypto = &crypto,
		/* Small counts keep PBKDF2 cheap; 4096 stays reachable for
		 * the RFC example in the corpus. */
		.scram_min_iter = 1,
		.scram_max_iter = 4096,
	};
	struct sasl_client s;
	struct ms_err err;
	struct ms_buf out;
	struct ms_slice last;
	enum sasl_mech mech;
	bool b64, initial, succeed, failed = false;
	struct ms_slice chunks[FUZZ_MAX_CHUNKS];
	size_t pos = 2, nchunks = 0, nsteps;
	int rc;

	fuzz_base64(data, size);
	if (size < 2)
		return 0;
	crypto = *sasl_crypto_openssl();
	crypto.random_bytes = fuzz_random;
	mech = (enum sasl_mech)(1 + data[0] % SASL_MECH_SCRAM_SHA_256);
	b64 = data[1] & 1;
	initial = data[1] & 2;
	succeed = data[1] & 4;

	ms_buf_init(&out, 8192);
	if (sasl_client_init(&s, mech, &params, &err) != MS_OK)
		abort();
	if (initial) {
		rc = b64 ? sasl_client_initial_b64(&s, &out, &err) :
		    sasl_client_initial(&s, &out, &err);
		fuzz_check_rc(rc);
		if (rc < 0 || out.len > 512)
			abort();	/* nothing from the server yet */
	}
	/* Chunks after the flags; with a success ending the last one is
	 * the success data, not a challenge. */
	while (nchunks < FUZZ_MAX_CHUNKS && pos <= size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl != NULL ? (size_t)(nl - data) : size;

		chunks[nchunks++] = (struct ms_slice){ data + pos, end - pos };
		pos = end + 1;
	}
	nsteps = succeed ? nchunks - 1 : nchunks;
	last = chunks[nchunks - 1];
	for (size_t i = 0; i < nsteps && !failed; i++) {
		struct ms_slice chal = chunks[i];

		ms_buf_wipe(&out);
		rc = b64 ? sasl_client_step_b64(&s, chal, &out, &err) :
		    sasl_client_step(&s, chal, &out, &err);
		fuzz_check_rc(rc);
		/* Responses never grow faster than the challenge (SCRAM
		 * echoes the server nonce), plus a fixed part. */
		if (out.len > 512 + 2 * chal.len)
			abort();
		if (rc < 0) {
			if (err.code != rc || err.msg[0] == '\0')
				abort();
			failed = true;
		}
	}
	if (!failed && succeed) {
		rc = b64 ? sasl_client_finish_b64(&s, &last, &err) :
		    sasl_client_finish(&s, &last, &err);
		fuzz_check_rc(rc);
		if (rc == MS_OK && mech == SASL_MECH_SCRAM_SHA_256 &&
		    !s.server_verified)
			abort();
	} else if (!failed) {
		if (sasl_client_report_failure(&s, last, &err) != MS_EAUTH ||
		    strlen(err.msg) >= sizeof(err.msg))
			abort();
	}
	sasl_client_deinit(&s);
	ms_buf_wipe(&out);
	ms_buf_deinit(&out);
	return 0;
}

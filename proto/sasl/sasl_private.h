/* sasl_private.h - helpers shared by the files of proto/sasl only. */
#ifndef MS_SASL_PRIVATE_H
#define MS_SASL_PRIVATE_H

#include "sasl/sasl.h"

void sasl__set_state(struct sasl_client *s, enum sasl_client_state state);

/* Copies src into dst (NUL-terminated, at most dst_size - 1 bytes) with
 * every byte that is not printable ASCII replaced by '?', so server text
 * can go into an error message and a log line. */
void sasl__sanitize(char *dst, size_t dst_size, struct ms_slice src);

/* Appends user in RFC 5802 saslname form (',' -> =2C, '=' -> =3D). */
int sasl__append_saslname(struct ms_buf *out, const uint8_t *p, size_t len);

/* SASLprep for ASCII only: MS_EIMPL for non-ASCII, MS_EINVAL for
 * control characters. */
int sasl__scram_check_creds(struct ms_slice user, struct ms_slice secret,
    struct ms_err *err_r);

int sasl__scram_initial(struct sasl_client *s, struct ms_buf *out,
    struct ms_err *err_r);
int sasl__scram_server_first(struct sasl_client *s, struct ms_slice msg,
    struct ms_buf *out, struct ms_err *err_r);
int sasl__scram_server_final(struct sasl_client *s, struct ms_slice msg,
    struct ms_err *err_r);

#endif

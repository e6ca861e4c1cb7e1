/*
 * setup_http.c - HTTPS requests for `mailsyncctl setup` (the autoconfig
 * file's GET, autodiscover's POST) through libcurl's multi interface on
 * the libuv loop, as curl's multi-uv example does: curl names the
 * sockets it wants watched (CURLMOPT_SOCKETFUNCTION, one uv_poll_t each)
 * and its next deadline (CURLMOPT_TIMERFUNCTION, one uv_timer_t); both
 * hand control back with curl_multi_socket_action().  Only https, always
 * verified, redirects only to https; the connection goes to an address
 * the caller resolved (CURLOPT_RESOLVE), so --resolver covers the web
 * server too.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup.h"

/* An autoconfig file is a few kilobytes. */
#define SETUP_HTTP_MAX_BODY (256 * 1024)

struct setup_http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	char *ca_file;			/* owned, or NULL */
	unsigned timeout_ms;
	unsigned nopen;			/* the timer and the polls */
	bool is_freeing;
};

/* One watched socket. */
struct setup_http_sock {
	struct setup_http *http;
	curl_socket_t fd;
	uv_poll_t poll;
};

/* One transfer. */
struct setup_http_get {
	struct setup_http *http;
	CURL *easy;
	struct curl_slist *resolve;
	struct curl_slist *headers;	/* a POST's Content-Type, or NULL */
	setup_http_data_cb *data_cb;
	setup_http_done_cb *done_cb;
	void *arg;
	size_t got;
	bool is_stopped;		/* data_cb said stop */
	char errbuf[CURL_ERROR_SIZE];
};

static void
setup_http_closed(struct setup_http *http)
{
	if (--http->nopen == 0 && http->is_freeing) {
		free(http->ca_file);
		free(http);
	}
}

static void
setup_http_finish(struct setup_http *http)
{
	struct setup_http_get *g;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(http->multi, &left)) != NULL) {
		long code = 0;
		int status = MS_OK;
		const char *why = "";

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
				  (char **)&g);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE,
				  &code);
		if (m->data.result != CURLE_OK && !g->is_stopped) {
			status = m->data.result == CURLE_OPERATION_TIMEDOUT ?
			    MS_ETIMEDOUT : m->data.result ==
			    CURLE_PEER_FAILED_VERIFICATION ? MS_ETLS : MS_ECONN;
			why = g->errbuf[0] != '\0' ? g->errbuf :
			    curl_easy_strerror(m->data.result);
		}
		curl_multi_remove_handle(http->multi, g->easy);
		g->done_cb(g->arg, status, code, why);
		curl_easy_cleanup(g->easy);
		curl_slist_free_all(g->resolve);
		curl_slist_free_all(g->headers);
		free(g);
	}
}

static void
setup_http_poll_cb(uv_poll_t *h, int status, int events)
{
	struct setup_http_sock *s = h->data;
	struct setup_http *http = s->http;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(http->multi, s->fd, flags, &running);
	setup_http_finish(http);
}

static void
setup_http_timer_cb(uv_timer_t *t)
{
	struct setup_http *http = t->data;
	int running;

	curl_multi_socket_action(http->multi, CURL_SOCKET_TIMEOUT, 0,
				 &running);
	setup_http_finish(http);
}

static int
setup_http_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
	struct setup_http *http = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&http->timer);
	else
		uv_timer_start(&http->timer, setup_http_timer_cb,
			       (uint64_t)timeout_ms, 0);
	return 0;
}

static void
setup_http_sock_closed_cb(uv_handle_t *h)
{
	struct setup_http_sock *s = h->data;
	struct setup_http *http = s->http;

	free(s);
	setup_http_closed(http);
}

static int
setup_http_socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct setup_http *http = userp;
	struct setup_http_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll,
				 setup_http_sock_closed_cb);
			curl_multi_assign(http->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL || uv_poll_init_socket(http->loop, &s->poll,
						     fd) != 0) {
			free(s);
			return -1;
		}
		s->http = http;
		s->fd = fd;
		s->poll.data = s;
		http->nopen++;
		curl_multi_assign(http->multi, fd, s);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, setup_http_poll_cb);
	return 0;
}

int
setup_http_new(uv_loop_t *loop, const char *ca_file, unsigned timeout_ms,
	       struct setup_http **http_r, struct ms_err *err_r)
{
	struct setup_http *http;

	*http_r = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ms_err_set(err_r, MS_EINTERNAL, "libcurl: init failed");
	http = calloc(1, sizeof(*http));
	if (http == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	http->loop = loop;
	http->timeout_ms = timeout_ms;
	if (ca_file != NULL && (http->ca_file = strdup(ca_file)) == NULL) {
		free(http);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	http->multi = curl_multi_init();
	if (http->multi == NULL) {
		free(http->ca_file);
		free(http);
		return ms_err_set(err_r, MS_EINTERNAL, "libcurl: no multi "
				  "handle");
	}
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION,
			  setup_http_socket_fn);
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION,
			  setup_http_timer_fn);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
	uv_timer_init(loop, &http->timer);
	http->timer.data = http;
	http->nopen = 1;
	*http_r = http;
	return MS_OK;
}

static void
setup_http_timer_closed_cb(uv_handle_t *h)
{
	setup_http_closed(h->data);
}

void
setup_http_free(struct setup_http *http)
{
	if (http == NULL)
		return;
	http->is_freeing = true;
	/* Every transfer has ended (discovery waits for them), so cleanup
	 * only closes idle connections, through CURL_POLL_REMOVE. */
	curl_multi_cleanup(http->multi);
	uv_timer_stop(&http->timer);
	uv_close((uv_handle_t *)&http->timer, setup_http_timer_closed_cb);
}

static size_t
setup_http_write_cb(char *p, size_t size, size_t n, void *userp)
{
	struct setup_http_get *g = userp;
	size_t len = size * n;

	if (len > SETUP_HTTP_MAX_BODY - g->got) {
		snprintf(g->errbuf, sizeof(g->errbuf), "the body is over "
			 "%d KiB", SETUP_HTTP_MAX_BODY / 1024);
		return 0;
	}
	g->got += len;
	if (!g->data_cb(g->arg, (const uint8_t *)p, len)) {
		g->is_stopped = true;
		return 0;
	}
	return len;
}

int
setup_http_url_host(const char *url, char *host, size_t size,
		    struct ms_err *err_r)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL;
	int rc = MS_OK;

	if (u == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		rc = ms_err_set(err_r, MS_EINVAL, "%s: not a URL", url);
	else if (strcmp(scheme, "https") != 0)
		rc = ms_err_set(err_r, MS_EINVAL, "%s: only https is fetched "
				"(the settings must come from a verified "
				"server)", url);
	else if (snprintf(host, size, "%s", h) >= (int)size)
		rc = ms_err_set(err_r, MS_EINVAL, "%s: host too long", url);
	curl_free(scheme);
	curl_free(h);
	curl_url_cleanup(u);
	return rc;
}

/* "host:port:addr,[v6addr]" for CURLOPT_RESOLVE. */
static struct curl_slist *
setup_http_resolve_entry(const char *url, const char *addrs)
{
	CURLU *u = curl_url();
	char *h = NULL, *port = NULL, entry[600];
	struct curl_slist *l = NULL;
	size_t o;

	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK) {
		o = (size_t)snprintf(entry, sizeof(entry), "%s:%s:", h, port);
		for (const char *a = addrs; *a != '\0' && o < sizeof(entry);) {
			size_t n = strcspn(a, " ");
			bool is_v6 = memchr(a, ':', n) != NULL;

			o += (size_t)snprintf(entry + o, sizeof(entry) - o,
					      "%s%s%.*s%s", a == addrs ? "" :
					      ",", is_v6 ? "[" : "", (int)n, a,
					      is_v6 ? "]" : "");
			a += n;
			a += strspn(a, " ");
		}
		if (o < sizeof(entry))
			l = curl_slist_append(NULL, entry);
	}
	curl_free(h);
	curl_free(port);
	curl_url_cleanup(u);
	return l;
}

int
setup_http_fetch(struct setup_http *http, const char *url, const char *addrs,
		 const char *post_xml, setup_http_data_cb *data_cb,
		 setup_http_done_cb *done_cb, void *arg, struct ms_err *err_r)
{
	struct setup_http_get *g = calloc(1, sizeof(*g));

	if (g == NULL || (g->easy = curl_easy_init()) == NULL) {
		free(g);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	g->http = http;
	g->data_cb = data_cb;
	g->done_cb = done_cb;
	g->arg = arg;
	g->resolve = setup_http_resolve_entry(url, addrs);
	if (g->resolve == NULL) {
		curl_easy_cleanup(g->easy);
		free(g);
		return ms_err_set(err_r, MS_EINVAL, "%s: not a URL", url);
	}
	if (post_xml != NULL) {
		g->headers = curl_slist_append(NULL, "Content-Type: text/xml; "
					       "charset=utf-8");
		if (g->headers == NULL) {
			curl_easy_cleanup(g->easy);
			curl_slist_free_all(g->resolve);
			free(g);
			return ms_err_set(err_r, MS_ENOMEM, "out of memory");
		}
		curl_easy_setopt(g->easy, CURLOPT_HTTPHEADER, g->headers);
		curl_easy_setopt(g->easy, CURLOPT_COPYPOSTFIELDS, post_xml);
	}
	curl_easy_setopt(g->easy, CURLOPT_URL, url);
	curl_easy_setopt(g->easy, CURLOPT_RESOLVE, g->resolve);
	curl_easy_setopt(g->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(g->easy, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(g->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(g->easy, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(g->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(g->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(g->easy, CURLOPT_SSLVERSION,
			 (long)CURL_SSLVERSION_TLSv1_2);
	if (http->ca_file != NULL)
		curl_easy_setopt(g->easy, CURLOPT_CAINFO, http->ca_file);
	curl_easy_setopt(g->easy, CURLOPT_TIMEOUT_MS, (long)http->timeout_ms);
	curl_easy_setopt(g->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(g->easy, CURLOPT_USERAGENT, "mailsyncctl-setup");
	curl_easy_setopt(g->easy, CURLOPT_WRITEFUNCTION, setup_http_write_cb);
	curl_easy_setopt(g->easy, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(g->easy, CURLOPT_ERRORBUFFER, g->errbuf);
	curl_easy_setopt(g->easy, CURLOPT_PRIVATE, g);
	if (curl_multi_add_handle(http->multi, g->easy) != CURLM_OK) {
		curl_easy_cleanup(g->easy);
		curl_slist_free_all(g->resolve);
		curl_slist_free_all(g->headers);
		free(g);
		return ms_err_set(err_r, MS_EINTERNAL, "libcurl: cannot add "
				  "the transfer");
	}
	return MS_OK;
}

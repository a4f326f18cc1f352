/*
 * purple-driver: run one libpurple account (normally prpl-mra from the Debian
 * package pidgin-mra) headless, for mrimtap's interop tests.
 *
 * Written for mrimtap; compiled at test time by test/interop/pidgin.ts:
 *   gcc -O1 -o purple-driver purple-driver.c $(pkg-config --cflags --libs purple glib-2.0)
 *
 * Usage:
 *   purple-driver --dir DIR --login EMAIL --password PW --host HOST --port N
 *                 [--protocol prpl-mra] [--plugin-dir DIR]...
 *                 [--socks-host H --socks-port N [--socks-user U] [--socks-pass P]]
 *                 [--resolve NAME=IP]... [--verbose] [--cleanup]
 *
 * --cleanup removes DIR when the driver exits (normally or on SIGTERM).
 *
 * stdout: one JSON object per line, always with "event" and "t" (ms since start).
 * stderr: libpurple debug output (with --verbose) and glib warnings.
 * stdin : one command per line, words separated by single spaces; free text is
 *         passed as lower-case hex of its UTF-8 bytes:
 *           send <to> <hex>      send an IM          -> {"event":"sent",...}
 *           typing <to>          send a typing notification
 *           status <status-id>   e.g. available / away / invisible (see "ready")
 *           authorize <who>      accept a pending authorization request
 *           deny <who>           deny a pending authorization request
 *           info <who>           request user info (anketa)
 *           buddies              emit a "contact-list" event now
 *           logout               disconnect the account (process stays up)
 *           quit                 disconnect and exit
 *         End of stdin means quit.
 *
 * Network hygiene: the driver installs a DNS resolver that only answers IP
 * literals, "localhost" and names given with --resolve NAME=IP (e.g.
 * mrim.mail.ru=127.0.0.1 to exercise the plugin's redirector lookup); every
 * other name fails at once (and is reported
 * as a "dns-blocked" event), so nothing ever leaves the machine, e.g. the
 * plugin's avatar downloads from obraz.foto.mail.ru.
 */
#define _GNU_SOURCE
#include <purple.h>
#include <glib.h>
#include <glib-unix.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UI_ID "mrimtap-driver"

static GMainLoop *loop;
static PurpleAccount *account;
static gboolean verbose;
static gint64 t0;
static const char *protocol_id = "prpl-mra";
static GHashTable *auth_requests; /* who -> AuthRequest* */
static gboolean quitting;
static gboolean cleanup_dir;

/* ------------------------------------------------------------------ JSON */

static void json_str(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	if (s != NULL) {
		char *valid = g_utf8_make_valid(s, -1);
		for (const unsigned char *p = (const unsigned char *)valid; *p; p++) {
			switch (*p) {
			case '"': g_string_append(out, "\\\""); break;
			case '\\': g_string_append(out, "\\\\"); break;
			case '\n': g_string_append(out, "\\n"); break;
			case '\r': g_string_append(out, "\\r"); break;
			case '\t': g_string_append(out, "\\t"); break;
			default:
				if (*p < 0x20)
					g_string_append_printf(out, "\\u%04x", *p);
				else
					g_string_append_c(out, (char)*p);
			}
		}
		g_free(valid);
	}
	g_string_append_c(out, '"');
}

static GString *ev_begin(const char *name)
{
	GString *s = g_string_new("{\"event\":");
	json_str(s, name);
	g_string_append_printf(s, ",\"t\":%" G_GINT64_FORMAT,
	                       (g_get_monotonic_time() - t0) / 1000);
	return s;
}

static void ev_kv_str(GString *s, const char *key, const char *value)
{
	g_string_append_c(s, ',');
	json_str(s, key);
	g_string_append_c(s, ':');
	if (value == NULL)
		g_string_append(s, "null");
	else
		json_str(s, value);
}

static void ev_kv_int(GString *s, const char *key, long long value)
{
	g_string_append_c(s, ',');
	json_str(s, key);
	g_string_append_printf(s, ":%lld", value);
}

static void ev_kv_raw(GString *s, const char *key, const char *raw)
{
	g_string_append_c(s, ',');
	json_str(s, key);
	g_string_append_c(s, ':');
	g_string_append(s, raw);
}

/* Every event is written and flushed at once, so that it survives a crash of
 * the plugin right after it. */
static void ev_end(GString *s)
{
	g_string_append(s, "}\n");
	fwrite(s->str, 1, s->len, stdout);
	fflush(stdout);
	g_string_free(s, TRUE);
}

static void ev_simple(const char *name, const char *key, const char *value)
{
	GString *s = ev_begin(name);
	if (key != NULL)
		ev_kv_str(s, key, value);
	ev_end(s);
}

/* ------------------------------------------------------ glib event loop */

typedef struct {
	PurpleInputFunction func;
	gpointer data;
	guint source;
} InputWatch;

static gboolean input_dispatch(GIOChannel *ch, GIOCondition cond, gpointer user)
{
	InputWatch *w = user;
	int cond_p = 0;
	if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_PRI))
		cond_p |= PURPLE_INPUT_READ;
	if (cond & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
		cond_p |= PURPLE_INPUT_WRITE;
	w->func(w->data, g_io_channel_unix_get_fd(ch), (PurpleInputCondition)cond_p);
	return TRUE;
}

static guint loop_input_add(int fd, PurpleInputCondition cond, PurpleInputFunction func, gpointer data)
{
	InputWatch *w = g_new0(InputWatch, 1);
	GIOCondition gc = 0;
	if (cond & PURPLE_INPUT_READ)
		gc |= G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_PRI;
	if (cond & PURPLE_INPUT_WRITE)
		gc |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
	w->func = func;
	w->data = data;
	GIOChannel *ch = g_io_channel_unix_new(fd);
	w->source = g_io_add_watch_full(ch, G_PRIORITY_DEFAULT, gc, input_dispatch, w, g_free);
	g_io_channel_unref(ch);
	return w->source;
}

static PurpleEventLoopUiOps loop_ops = {
	.timeout_add = g_timeout_add,
	.timeout_remove = g_source_remove,
	.input_add = loop_input_add,
	.input_remove = g_source_remove,
	.input_get_error = NULL, /* libpurple falls back to getsockopt */
	.timeout_add_seconds = g_timeout_add_seconds,
};

/* ------------------------------------------------------- DNS (local only) */

typedef struct {
	PurpleDnsQueryData *query;
	PurpleDnsQueryResolvedCallback resolved;
	PurpleDnsQueryFailedCallback failed;
	guint idle;
} DnsJob;

static GHashTable *dns_jobs; /* PurpleDnsQueryData* -> DnsJob* */
static GHashTable *dns_map;  /* host name (lower case) -> IP literal, from --resolve */

static gboolean dns_run(gpointer user)
{
	DnsJob *job = user;
	PurpleDnsQueryData *q = job->query;
	job->idle = 0;
	const char *host = purple_dnsquery_get_host(q);
	unsigned short port = purple_dnsquery_get_port(q);
	struct in_addr a4;
	struct in6_addr a6;
	GSList *hosts = NULL;

	char *lower = g_ascii_strdown(host, -1);
	const char *mapped = g_hash_table_lookup(dns_map, lower);
	g_free(lower);
	if (mapped != NULL)
		host = mapped;
	else if (g_ascii_strcasecmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4) == 1) {
		struct sockaddr_in *sa = g_new0(struct sockaddr_in, 1);
		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		sa->sin_addr = a4;
		hosts = g_slist_append(hosts, GINT_TO_POINTER(sizeof(*sa)));
		hosts = g_slist_append(hosts, sa);
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		struct sockaddr_in6 *sa = g_new0(struct sockaddr_in6, 1);
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		sa->sin6_addr = a6;
		hosts = g_slist_append(hosts, GINT_TO_POINTER(sizeof(*sa)));
		hosts = g_slist_append(hosts, sa);
	}

	/* the callbacks destroy the query, which removes the job from the table */
	if (hosts != NULL) {
		job->resolved(q, hosts);
	} else {
		GString *s = ev_begin("dns-blocked");
		ev_kv_str(s, "host", host);
		ev_kv_int(s, "port", port);
		ev_end(s);
		char *msg = g_strdup_printf("mrimtap driver: DNS lookups are disabled (%s)", host);
		job->failed(q, msg);
		g_free(msg);
	}
	return FALSE;
}

static gboolean dns_resolve(PurpleDnsQueryData *q, PurpleDnsQueryResolvedCallback resolved,
                            PurpleDnsQueryFailedCallback failed)
{
	DnsJob *job = g_new0(DnsJob, 1);
	job->query = q;
	job->resolved = resolved;
	job->failed = failed;
	job->idle = g_idle_add(dns_run, job);
	g_hash_table_insert(dns_jobs, q, job);
	return TRUE;
}

static void dns_destroy(PurpleDnsQueryData *q)
{
	DnsJob *job = g_hash_table_lookup(dns_jobs, q);
	if (job == NULL)
		return;
	if (job->idle)
		g_source_remove(job->idle);
	g_hash_table_remove(dns_jobs, q);
	g_free(job);
}

static PurpleDnsQueryUiOps dns_ops = { .resolve_host = dns_resolve, .destroy = dns_destroy };

/* ------------------------------------------------------------ debug hook */

static void emit_contact_list(void);

static gboolean contact_list_idle(gpointer unused)
{
	(void)unused;
	emit_contact_list();
	return FALSE;
}

/* pidgin-mra reports protocol milestones only through purple_debug_*; we
 * translate the few that matter into events. */
static void debug_print(PurpleDebugLevel level, const char *category, const char *msg)
{
	if (verbose) {
		fprintf(stderr, "[%s] %s", category ? category : "-", msg);
		fflush(stderr);
	}
	if (category == NULL || strcmp(category, "mra") != 0 || msg == NULL)
		return;
	if (strcmp(msg, "mra_login is OK\n") == 0) {
		ev_simple("signed-on", NULL, NULL);
	} else if (strcmp(msg, "== mra_hello_cb ==\n") == 0) {
		ev_simple("hello-ack", NULL, NULL);
	} else if (strcmp(msg, "== mra_user_info_cb ==\n") == 0) {
		ev_simple("user-info", NULL, NULL);
	} else if (strcmp(msg, "== mra_contact_list_cb ==\n") == 0) {
		/* buddies are added by the callback we are inside of: report after it */
		g_idle_add(contact_list_idle, NULL);
	} else if (strstr(msg, "connection was closed") != NULL) {
		/* mra_close() logs this at error level on every normal disconnect */
	} else if (level >= PURPLE_DEBUG_WARNING || strstr(msg, "Can't parse") != NULL ||
	           strstr(msg, "wrong magic") != NULL || strstr(msg, "invalid message") != NULL ||
	           strstr(msg, "is unknown") != NULL || strstr(msg, "WARNING") != NULL ||
	           strstr(msg, "Covertion") != NULL /* (sic) CP1251 conversion failed */) {
		char *trim = g_strstrip(g_strdup(msg));
		ev_simple("plugin-warning", "text", trim);
		g_free(trim);
	}
}

static gboolean debug_enabled(PurpleDebugLevel level, const char *category)
{
	(void)level;
	(void)category;
	return TRUE;
}

static PurpleDebugUiOps debug_ops = { .print = debug_print, .is_enabled = debug_enabled };

/* ----------------------------------------------------------- UI ops */

static void conn_progress(PurpleConnection *gc, const char *text, size_t step, size_t count)
{
	(void)gc;
	GString *s = ev_begin("progress");
	ev_kv_str(s, "text", text);
	ev_kv_int(s, "step", (long long)step);
	ev_kv_int(s, "steps", (long long)count);
	ev_end(s);
}

static PurpleConnectionUiOps conn_ops = { .connect_progress = conn_progress };

static const char *notify_type_name(PurpleNotifyMsgType t)
{
	switch (t) {
	case PURPLE_NOTIFY_MSG_ERROR: return "error";
	case PURPLE_NOTIFY_MSG_WARNING: return "warning";
	default: return "info";
	}
}

static void *notify_message(PurpleNotifyMsgType type, const char *title,
                            const char *primary, const char *secondary)
{
	GString *s = ev_begin("notify");
	ev_kv_str(s, "type", notify_type_name(type));
	ev_kv_str(s, "title", title);
	ev_kv_str(s, "primary", primary);
	ev_kv_str(s, "secondary", secondary);
	ev_end(s);
	return NULL;
}

static void *notify_formatted(const char *title, const char *primary,
                              const char *secondary, const char *text)
{
	GString *s = ev_begin("notify");
	ev_kv_str(s, "type", "formatted");
	ev_kv_str(s, "title", title);
	ev_kv_str(s, "primary", primary);
	ev_kv_str(s, "secondary", secondary);
	ev_kv_str(s, "text", text);
	ev_end(s);
	return NULL;
}

static void *notify_userinfo(PurpleConnection *gc, const char *who, PurpleNotifyUserInfo *info)
{
	(void)gc;
	GString *s = ev_begin("userinfo");
	ev_kv_str(s, "who", who);
	GString *pairs = g_string_new("[");
	gboolean first = TRUE;
	for (GList *l = purple_notify_user_info_get_entries(info); l != NULL; l = l->next) {
		PurpleNotifyUserInfoEntry *e = l->data;
		if (purple_notify_user_info_entry_get_type(e) != PURPLE_NOTIFY_USER_INFO_ENTRY_PAIR)
			continue;
		if (!first)
			g_string_append_c(pairs, ',');
		first = FALSE;
		g_string_append_c(pairs, '[');
		json_str(pairs, purple_notify_user_info_entry_get_label(e));
		g_string_append_c(pairs, ',');
		json_str(pairs, purple_notify_user_info_entry_get_value(e));
		g_string_append_c(pairs, ']');
	}
	g_string_append_c(pairs, ']');
	ev_kv_raw(s, "pairs", pairs->str);
	g_string_free(pairs, TRUE);
	ev_end(s);
	return NULL;
}

static PurpleNotifyUiOps notify_ops = {
	.notify_message = notify_message,
	.notify_formatted = notify_formatted,
	.notify_userinfo = notify_userinfo,
};

typedef struct {
	PurpleAccountRequestAuthorizationCb ok;
	PurpleAccountRequestAuthorizationCb no;
	void *data;
} AuthRequest;

static void *request_authorize(PurpleAccount *acct, const char *remote_user, const char *id,
                               const char *alias, const char *message, gboolean on_list,
                               PurpleAccountRequestAuthorizationCb authorize_cb,
                               PurpleAccountRequestAuthorizationCb deny_cb, void *user_data)
{
	(void)acct;
	(void)id;
	AuthRequest *r = g_new0(AuthRequest, 1);
	r->ok = authorize_cb;
	r->no = deny_cb;
	r->data = user_data;
	g_hash_table_replace(auth_requests, g_strdup(remote_user), r);
	GString *s = ev_begin("auth-request");
	ev_kv_str(s, "from", remote_user);
	ev_kv_str(s, "alias", alias);
	ev_kv_str(s, "message", message);
	ev_kv_raw(s, "onList", on_list ? "true" : "false");
	ev_end(s);
	return r;
}

static void close_account_request(void *handle)
{
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, auth_requests);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (v == handle) {
			g_hash_table_iter_remove(&it);
			return;
		}
	}
}

static PurpleAccountUiOps account_ops = {
	.request_authorize = request_authorize,
	.close_account_request = close_account_request,
};

/* Requests (input dialogs, e.g. the plugin's "authorization request message"
 * when adding a buddy) are reported and left unanswered. */
static void *request_input(const char *title, const char *primary, const char *secondary,
                           const char *default_value, gboolean multiline, gboolean masked,
                           gchar *hint, const char *ok_text, GCallback ok_cb,
                           const char *cancel_text, GCallback cancel_cb, PurpleAccount *acct,
                           const char *who, PurpleConversation *conv, void *user_data)
{
	(void)multiline; (void)masked; (void)hint; (void)ok_text; (void)ok_cb;
	(void)cancel_text; (void)cancel_cb; (void)acct; (void)conv;
	GString *s = ev_begin("request");
	ev_kv_str(s, "kind", "input");
	ev_kv_str(s, "title", title);
	ev_kv_str(s, "primary", primary);
	ev_kv_str(s, "secondary", secondary);
	ev_kv_str(s, "who", who);
	ev_kv_str(s, "default", default_value);
	ev_end(s);
	(void)user_data;
	return NULL;
}

static PurpleRequestUiOps request_ops = { .request_input = request_input };

/* ------------------------------------------------------------- signals */

static void emit_buddy(const char *event, PurpleBuddy *b)
{
	GString *s = ev_begin(event);
	ev_kv_str(s, "name", purple_buddy_get_name(b));
	ev_kv_str(s, "alias", purple_buddy_get_alias_only(b));
	PurpleGroup *g = purple_buddy_get_group(b);
	ev_kv_str(s, "group", g ? purple_group_get_name(g) : NULL);
	PurpleStatus *st = purple_presence_get_active_status(purple_buddy_get_presence(b));
	ev_kv_str(s, "status", st ? purple_status_get_id(st) : NULL);
	ev_end(s);
}

static void emit_contact_list(void)
{
	GString *s = ev_begin("contact-list");
	GString *arr = g_string_new("[");
	GSList *buddies = account ? purple_find_buddies(account, NULL) : NULL;
	gboolean first = TRUE;
	for (GSList *l = buddies; l != NULL; l = l->next) {
		PurpleBuddy *b = l->data;
		PurpleGroup *g = purple_buddy_get_group(b);
		PurpleStatus *st = purple_presence_get_active_status(purple_buddy_get_presence(b));
		if (!first)
			g_string_append_c(arr, ',');
		first = FALSE;
		g_string_append(arr, "{\"name\":");
		json_str(arr, purple_buddy_get_name(b));
		g_string_append(arr, ",\"alias\":");
		json_str(arr, purple_buddy_get_alias_only(b));
		g_string_append(arr, ",\"group\":");
		json_str(arr, g ? purple_group_get_name(g) : "");
		g_string_append(arr, ",\"status\":");
		json_str(arr, st ? purple_status_get_id(st) : "");
		g_string_append_c(arr, '}');
	}
	g_slist_free(buddies);
	g_string_append_c(arr, ']');
	ev_kv_raw(s, "buddies", arr->str);
	g_string_free(arr, TRUE);
	ev_end(s);
}

static void on_buddy_added(PurpleBuddy *b, gpointer unused)
{
	(void)unused;
	if (purple_buddy_get_account(b) == account)
		emit_buddy("buddy", b);
}

static void on_buddy_status(PurpleBuddy *b, PurpleStatus *old, PurpleStatus *now, gpointer unused)
{
	(void)old;
	(void)unused;
	GString *s = ev_begin("buddy-status");
	ev_kv_str(s, "name", purple_buddy_get_name(b));
	ev_kv_str(s, "status", now ? purple_status_get_id(now) : NULL);
	ev_end(s);
}

/* libpurple reports offline<->online transitions as buddy-signed-on/-off, not buddy-status-changed */
static void on_buddy_signed(PurpleBuddy *b, gpointer unused)
{
	on_buddy_status(b, NULL, purple_presence_get_active_status(purple_buddy_get_presence(b)), unused);
}

static void on_received_im(PurpleAccount *acct, char *sender, char *message,
                           PurpleConversation *conv, PurpleMessageFlags flags, gpointer unused)
{
	(void)acct; (void)conv; (void)unused;
	GString *s = ev_begin("im");
	ev_kv_str(s, "from", sender);
	char *plain = purple_unescape_html(message);
	ev_kv_str(s, "text", plain);
	g_free(plain);
	ev_kv_str(s, "html", message);
	ev_kv_int(s, "flags", (long long)flags);
	ev_end(s);
}

static void on_typing(PurpleAccount *acct, const char *name, gpointer unused)
{
	(void)acct; (void)unused;
	ev_simple("typing", "from", name);
}

static void on_signed_on(PurpleConnection *gc, gpointer unused)
{
	(void)gc; (void)unused;
	/* pidgin-mra marks the connection "connected" as soon as TCP is up,
	 * before HELLO/LOGIN2: this is NOT a successful login. */
	ev_simple("connected", NULL, NULL);
}

static void on_signed_off(PurpleConnection *gc, gpointer unused)
{
	(void)gc; (void)unused;
	ev_simple("signed-off", NULL, NULL);
	if (quitting)
		g_main_loop_quit(loop);
}

static void on_connection_error(PurpleConnection *gc, PurpleConnectionError err,
                                const gchar *desc, gpointer unused)
{
	(void)gc; (void)unused;
	GString *s = ev_begin("connection-error");
	ev_kv_str(s, "text", desc);
	ev_kv_int(s, "code", (long long)err);
	ev_end(s);
}

/* --------------------------------------------------------------- stdin */

static char *hex_decode(const char *hex)
{
	size_t n = strlen(hex);
	if (n % 2 != 0)
		return NULL;
	char *out = g_malloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			g_free(out);
			return NULL;
		}
		out[i] = (char)(hi * 16 + lo);
	}
	out[n / 2] = '\0';
	return out;
}

static void cmd_error(const char *cmd, const char *text)
{
	GString *s = ev_begin("command-error");
	ev_kv_str(s, "cmd", cmd);
	ev_kv_str(s, "text", text);
	ev_end(s);
}

static gboolean quit_timeout(gpointer unused)
{
	(void)unused;
	g_main_loop_quit(loop);
	return FALSE;
}

static void start_quit(void)
{
	if (quitting)
		return;
	quitting = TRUE;
	if (account != NULL && !purple_account_is_disconnected(account)) {
		purple_account_set_enabled(account, UI_ID, FALSE); /* disconnects */
		g_timeout_add(1000, quit_timeout, NULL);
	} else {
		g_main_loop_quit(loop);
	}
}

static void handle_command(char *line)
{
	g_strchomp(line);
	if (*line == '\0')
		return;
	char **w = g_strsplit(line, " ", 3);
	const char *cmd = w[0];
	PurpleConnection *gc = account ? purple_account_get_connection(account) : NULL;

	if (strcmp(cmd, "send") == 0) {
		char *text = (w[1] && w[2]) ? hex_decode(w[2]) : NULL;
		if (text == NULL) {
			cmd_error(cmd, "usage: send <to> <hex utf-8>");
		} else if (gc == NULL) {
			cmd_error(cmd, "not connected");
		} else {
			/* prpl send_im expects HTML: pidgin-mra unescapes it again */
			char *html = purple_markup_escape_text(text, -1);
			int rc = serv_send_im(gc, w[1], html, 0);
			GString *s = ev_begin("sent");
			ev_kv_str(s, "to", w[1]);
			ev_kv_str(s, "text", text);
			ev_kv_int(s, "rc", rc);
			ev_end(s);
			g_free(html);
		}
		g_free(text);
	} else if (strcmp(cmd, "typing") == 0 && w[1]) {
		if (gc == NULL)
			cmd_error(cmd, "not connected");
		else
			serv_send_typing(gc, w[1], PURPLE_TYPING);
	} else if (strcmp(cmd, "status") == 0 && w[1]) {
		if (purple_account_get_status_type(account, w[1]) == NULL)
			cmd_error(cmd, "unknown status id");
		else
			purple_account_set_status(account, w[1], TRUE, NULL);
	} else if ((strcmp(cmd, "authorize") == 0 || strcmp(cmd, "deny") == 0) && w[1]) {
		AuthRequest *r = g_hash_table_lookup(auth_requests, w[1]);
		if (r == NULL) {
			cmd_error(cmd, "no pending authorization request from this user");
		} else {
			PurpleAccountRequestAuthorizationCb cb = cmd[0] == 'a' ? r->ok : r->no;
			void *data = r->data;
			g_hash_table_remove(auth_requests, w[1]);
			if (cb)
				cb(data);
		}
	} else if (strcmp(cmd, "info") == 0 && w[1]) {
		if (gc == NULL)
			cmd_error(cmd, "not connected");
		else
			serv_get_info(gc, w[1]);
	} else if (strcmp(cmd, "buddies") == 0) {
		emit_contact_list();
	} else if (strcmp(cmd, "logout") == 0) {
		if (account != NULL)
			purple_account_set_enabled(account, UI_ID, FALSE);
	} else if (strcmp(cmd, "quit") == 0) {
		start_quit();
	} else {
		cmd_error(cmd, "unknown command or missing argument");
	}
	g_strfreev(w);
}

static gboolean stdin_ready(GIOChannel *ch, GIOCondition cond, gpointer unused)
{
	(void)cond; (void)unused;
	char *line = NULL;
	gsize len = 0;
	GError *err = NULL;
	GIOStatus st = g_io_channel_read_line(ch, &line, &len, NULL, &err);
	if (st == G_IO_STATUS_NORMAL && line != NULL) {
		handle_command(line);
		g_free(line);
		return TRUE;
	}
	g_free(line);
	if (err)
		g_error_free(err);
	if (st == G_IO_STATUS_AGAIN)
		return TRUE;
	start_quit(); /* EOF or error: our parent is gone or done */
	return FALSE;
}

static gboolean on_unix_signal(gpointer unused)
{
	(void)unused;
	alarm(5); /* watchdog: SIGALRM ends us should the graceful path hang */
	start_quit();
	return FALSE;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

/* --------------------------------------------------------------- main */

static void usage(void)
{
	fputs("usage: purple-driver --dir DIR --login EMAIL --password PW --host HOST --port N\n"
	      "       [--protocol ID] [--plugin-dir DIR]... [--resolve NAME=IP]... [--socks-host H --socks-port N\n"
	      "       [--socks-user U] [--socks-pass P]] [--verbose] [--cleanup]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *login = NULL, *password = NULL, *host = NULL;
	const char *socks_host = NULL, *socks_user = NULL, *socks_pass = NULL;
	int port = 0, socks_port = 0;
	GPtrArray *plugin_dirs = g_ptr_array_new();
	dns_map = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	t0 = g_get_monotonic_time();
	/* never outlive the test runner: SIGTERM quits gracefully (and removes the
	 * user dir with --cleanup); stdin EOF does the same */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
		if (strcmp(a, "--verbose") == 0) { verbose = TRUE; continue; }
		if (strcmp(a, "--cleanup") == 0) { cleanup_dir = TRUE; continue; }
		if (v == NULL) usage();
		i++;
		if (strcmp(a, "--dir") == 0) dir = v;
		else if (strcmp(a, "--login") == 0) login = v;
		else if (strcmp(a, "--password") == 0) password = v;
		else if (strcmp(a, "--host") == 0) host = v;
		else if (strcmp(a, "--port") == 0) port = atoi(v);
		else if (strcmp(a, "--protocol") == 0) protocol_id = v;
		else if (strcmp(a, "--plugin-dir") == 0) g_ptr_array_add(plugin_dirs, (gpointer)v);
		else if (strcmp(a, "--resolve") == 0) {
			const char *eq = strchr(v, '=');
			if (eq == NULL || eq == v) usage();
			g_hash_table_replace(dns_map, g_ascii_strdown(v, eq - v), g_strdup(eq + 1));
		}
		else if (strcmp(a, "--socks-host") == 0) socks_host = v;
		else if (strcmp(a, "--socks-port") == 0) socks_port = atoi(v);
		else if (strcmp(a, "--socks-user") == 0) socks_user = v;
		else if (strcmp(a, "--socks-pass") == 0) socks_pass = v;
		else usage();
	}
	if (!dir || !login || !password || !host || port <= 0)
		usage();

	loop = g_main_loop_new(NULL, FALSE);
	auth_requests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	dns_jobs = g_hash_table_new(g_direct_hash, g_direct_equal);

	purple_util_set_user_dir(dir);
	purple_debug_set_enabled(FALSE); /* our debug ui op gets everything anyway */
	purple_debug_set_ui_ops(&debug_ops);
	purple_eventloop_set_ui_ops(&loop_ops);
	purple_dnsquery_set_ui_ops(&dns_ops);
	for (guint i = 0; i < plugin_dirs->len; i++)
		purple_plugins_add_search_path(g_ptr_array_index(plugin_dirs, i));

	if (!purple_core_init(UI_ID)) {
		ev_simple("fatal", "text", "purple_core_init failed");
		return 1;
	}
	purple_connections_set_ui_ops(&conn_ops);
	purple_notify_set_ui_ops(&notify_ops);
	purple_accounts_set_ui_ops(&account_ops);
	purple_request_set_ui_ops(&request_ops);
	purple_set_blist(purple_blist_new());
	purple_blist_load();

	purple_prefs_set_bool("/purple/logging/log_ims", FALSE);
	purple_prefs_set_bool("/purple/logging/log_chats", FALSE);
	purple_prefs_set_bool("/purple/logging/log_system", FALSE);
	purple_prefs_set_bool("/purple/network/map_ports", FALSE);
	purple_prefs_set_bool("/purple/network/auto_ip", FALSE);
	purple_prefs_set_string("/purple/proxy/type", "none");

	PurplePlugin *prpl = purple_find_prpl(protocol_id);
	if (prpl == NULL) {
		char *t = g_strdup_printf("protocol plugin %s not found", protocol_id);
		ev_simple("fatal", "text", t);
		return 1;
	}

	void *conn_h = purple_connections_get_handle();
	static int h;
	purple_signal_connect(conn_h, "signed-on", &h, PURPLE_CALLBACK(on_signed_on), NULL);
	purple_signal_connect(conn_h, "signed-off", &h, PURPLE_CALLBACK(on_signed_off), NULL);
	purple_signal_connect(conn_h, "connection-error", &h, PURPLE_CALLBACK(on_connection_error), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-added", &h, PURPLE_CALLBACK(on_buddy_added), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-status-changed", &h, PURPLE_CALLBACK(on_buddy_status), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-on", &h, PURPLE_CALLBACK(on_buddy_signed), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-off", &h, PURPLE_CALLBACK(on_buddy_signed), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "received-im-msg", &h, PURPLE_CALLBACK(on_received_im), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "buddy-typing", &h, PURPLE_CALLBACK(on_typing), NULL);

	account = purple_account_new(login, protocol_id);
	purple_account_set_password(account, password);
	purple_account_set_remember_password(account, FALSE);
	purple_account_set_string(account, "host", host);
	purple_account_set_int(account, "port", port);
	purple_account_set_check_mail(account, TRUE);
	if (socks_host != NULL) {
		PurpleProxyInfo *pi = purple_proxy_info_new();
		purple_proxy_info_set_type(pi, PURPLE_PROXY_SOCKS5);
		purple_proxy_info_set_host(pi, socks_host);
		purple_proxy_info_set_port(pi, socks_port);
		if (socks_user)
			purple_proxy_info_set_username(pi, socks_user);
		if (socks_pass)
			purple_proxy_info_set_password(pi, socks_pass);
		purple_account_set_proxy_info(account, pi);
	} else {
		PurpleProxyInfo *pi = purple_proxy_info_new();
		purple_proxy_info_set_type(pi, PURPLE_PROXY_NONE);
		purple_account_set_proxy_info(account, pi);
	}
	purple_accounts_add(account);

	GIOChannel *in = g_io_channel_unix_new(STDIN_FILENO);
	g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_ready, NULL);
	g_unix_signal_add(SIGTERM, on_unix_signal, NULL);
	g_unix_signal_add(SIGINT, on_unix_signal, NULL);

	{
		GString *s = ev_begin("ready");
		ev_kv_int(s, "pid", getpid());
		ev_kv_str(s, "protocol", protocol_id);
		ev_kv_str(s, "pluginVersion", prpl->info ? prpl->info->version : NULL);
		ev_kv_str(s, "libpurple", purple_core_get_version());
		GString *ids = g_string_new("[");
		gboolean first = TRUE;
		for (GList *l = purple_account_get_status_types(account); l; l = l->next) {
			if (!first)
				g_string_append_c(ids, ',');
			first = FALSE;
			json_str(ids, purple_status_type_get_id(l->data));
		}
		g_string_append_c(ids, ']');
		ev_kv_raw(s, "statuses", ids->str);
		g_string_free(ids, TRUE);
		ev_end(s);
	}

	purple_account_set_enabled(account, UI_ID, TRUE);
	purple_savedstatus_activate(purple_savedstatus_new(NULL, PURPLE_STATUS_AVAILABLE));

	g_main_loop_run(loop);

	/* no purple_core_quit(): tearing the plugin down buys nothing here and
	 * pidgin-mra is not careful about it */
	ev_simple("exit", NULL, NULL);
	fflush(stdout);
	if (cleanup_dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	_exit(0);
}

/* allhands: reading the messages of media across nodes (include/allhands/media-msg.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <arpa/inet.h>
#include <string.h>

#include "allhands/media-msg.h"
#include "allhands/validate.h"

static const char *const type_names[] = {
	[AH_MEDIA_MSG_SUB] = "sub", [AH_MEDIA_MSG_UNSUB] = "unsub", [AH_MEDIA_MSG_FEEDS] = "feeds",
	[AH_MEDIA_MSG_PARENT] = "parent", [AH_MEDIA_MSG_GONE] = "gone",
};

const char *ah_media_msg_type_name(ah_media_msg_type type)
{
	return (guint)type < G_N_ELEMENTS(type_names) && type_names[type] != NULL ? type_names[type] : "?";
}

static gboolean fail(char **error, char *why)
{
	*error = why;
	return FALSE;
}

/* An identifier field, copied. */
static gboolean id_field(json_t *obj, const char *key, char **out, char **error)
{
	const char *v = json_string_value(json_object_get(obj, key));
	if (v == NULL || !ah_validate_identifier(v))
		return fail(error, g_strdup_printf("%s must be an identifier (1 to 64 of A-Z a-z 0-9 _ - .)", key));
	*out = g_strdup(v);
	return TRUE;
}

static gboolean address_field(json_t *obj, ah_media_msg *m, char **error)
{
	const char *a = json_string_value(json_object_get(obj, "address"));
	json_t *p = json_object_get(obj, "port");
	struct in6_addr buf;
	if (a == NULL || (inet_pton(AF_INET, a, &buf) != 1 && inet_pton(AF_INET6, a, &buf) != 1))
		return fail(error, g_strdup("address must be a numeric IPv4 or IPv6 address"));
	if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 65535)
		return fail(error, g_strdup("port must be an integer 1..65535"));
	m->address = g_strdup(a);
	m->port = (guint)json_integer_value(p);
	return TRUE;
}

static gboolean read_tree(json_t *tree, ah_media_msg *m, char **error)
{
	size_t i;
	json_t *pair;
	if (tree == NULL) {
		m->tree = json_array();
		return TRUE;
	}
	if (!json_is_array(tree) || json_array_size(tree) > AH_MEDIA_MSG_MAX_TREE)
		return fail(error, g_strdup_printf("tree must be an array of at most %d [node, parent] pairs", AH_MEDIA_MSG_MAX_TREE));
	json_array_foreach(tree, i, pair) {
		if (!json_is_array(pair) || json_array_size(pair) != 2 ||
				!ah_validate_identifier(json_string_value(json_array_get(pair, 0))) ||
				!ah_validate_identifier(json_string_value(json_array_get(pair, 1))))
			return fail(error, g_strdup_printf("tree[%zu] must be [node, parent] (identifiers)", i));
	}
	m->tree = json_incref(tree);
	return TRUE;
}

static gboolean read_stream(json_t *s, ah_media_feed *f, gboolean *seen, size_t i, char **error)
{
	const char *kind = json_string_value(json_object_get(s, "kind"));
	const char *codec = json_string_value(json_object_get(s, "codec"));
	const char *fmtp = json_string_value(json_object_get(s, "fmtp"));
	json_t *mindex = json_object_get(s, "mindex"), *sim = json_object_get(s, "simulcast");
	ah_stream_desc *d = &f->streams[f->n];
	gboolean video = g_strcmp0(kind, "video") == 0;
	if (!video && g_strcmp0(kind, "audio") != 0)
		return fail(error, g_strdup_printf("streams[%zu].kind must be audio or video", i));
	if (codec == NULL || (video ? (strcmp(codec, "vp8") != 0 && strcmp(codec, "h264") != 0) : strcmp(codec, "opus") != 0))
		return fail(error, g_strdup_printf("streams[%zu].codec must be %s", i, video ? "vp8 or h264" : "opus"));
	if (!json_is_integer(mindex) || json_integer_value(mindex) < 0 || json_integer_value(mindex) >= AH_MAX_STREAMS ||
			seen[json_integer_value(mindex)])
		return fail(error, g_strdup_printf("streams[%zu].mindex must be 0..%d, once per presenter", i, AH_MAX_STREAMS - 1));
	if (fmtp == NULL || strlen(fmtp) >= AH_FMTP_LEN)
		return fail(error, g_strdup_printf("streams[%zu].fmtp must be a string shorter than %d bytes", i, AH_FMTP_LEN));
	if (sim != NULL && !json_is_boolean(sim))
		return fail(error, g_strdup_printf("streams[%zu].simulcast must be true or false", i));
	seen[json_integer_value(mindex)] = TRUE;
	d->kind = video ? AH_MEDIA_VIDEO : AH_MEDIA_AUDIO;
	d->mindex = (int)json_integer_value(mindex);
	g_strlcpy(d->codec, codec, sizeof(d->codec));
	g_strlcpy(d->fmtp, fmtp, sizeof(d->fmtp));
	f->simulcast[f->n] = video && json_is_true(sim);
	f->n++;
	return TRUE;
}

static void feed_clear(gpointer data)
{
	g_free(((ah_media_feed *)data)->display);
}

static gboolean read_feeds(json_t *presenters, ah_media_msg *m, char **error)
{
	size_t i, j;
	json_t *p, *s;
	if (!json_is_array(presenters) || json_array_size(presenters) > AH_MEDIA_MSG_MAX_FEEDS)
		return fail(error, g_strdup_printf("presenters must be an array of at most %d", AH_MEDIA_MSG_MAX_FEEDS));
	m->feeds = g_array_new(FALSE, TRUE, sizeof(ah_media_feed));
	g_array_set_clear_func(m->feeds, feed_clear);
	json_array_foreach(presenters, i, p) {
		ah_media_feed f = { 0 };
		gboolean seen[AH_MAX_STREAMS] = { FALSE };
		json_t *id = json_object_get(p, "id"), *feed = json_object_get(p, "feed"), *streams = json_object_get(p, "streams");
		const char *display = json_string_value(json_object_get(p, "display"));
		if (!json_is_integer(id) || json_integer_value(id) < 1)
			return fail(error, g_strdup_printf("presenters[%zu].id must be a positive integer", i));
		if (!json_is_integer(feed) || json_integer_value(feed) < 1 || json_integer_value(feed) > 0xffff)
			return fail(error, g_strdup_printf("presenters[%zu].feed must be 1..65535", i));
		if (display == NULL || strlen(display) > AH_MEDIA_MSG_DISPLAY_MAX || !g_utf8_validate(display, -1, NULL))
			return fail(error, g_strdup_printf("presenters[%zu].display must be valid UTF-8 of at most %d bytes", i,
				AH_MEDIA_MSG_DISPLAY_MAX));
		if (!json_is_array(streams) || json_array_size(streams) > AH_MAX_STREAMS)
			return fail(error, g_strdup_printf("presenters[%zu].streams must be an array of at most %d", i, AH_MAX_STREAMS));
		for (guint k = 0; k < m->feeds->len; k++) {
			const ah_media_feed *o = &g_array_index(m->feeds, ah_media_feed, k);
			if (o->feed == (guint)json_integer_value(feed) || o->id == (guint64)json_integer_value(id))
				return fail(error, g_strdup_printf("presenters[%zu]: its id or feed is given twice", i));
		}
		f.id = (guint64)json_integer_value(id);
		f.feed = (guint)json_integer_value(feed);
		json_array_foreach(streams, j, s) {
			if (!read_stream(s, &f, seen, j, error)) {
				char *inner = *error;
				*error = g_strdup_printf("presenters[%zu].%s", i, inner);
				g_free(inner);
				return FALSE;
			}
		}
		f.display = g_strdup(display);
		g_array_append_val(m->feeds, f);
	}
	return TRUE;
}

static gboolean read_body(json_t *j, ah_media_msg *m, char **error)
{
	const char *type = json_string_value(json_object_get(j, "type"));
	json_t *epoch;
	const char *salt;
	if (!json_is_object(j))
		return fail(error, g_strdup("not a JSON object"));
	if (!json_is_integer(json_object_get(j, "v")) || json_integer_value(json_object_get(j, "v")) != 1)
		return fail(error, g_strdup("v must be 1"));
	for (guint t = 1; type != NULL && t < G_N_ELEMENTS(type_names); t++)
		if (strcmp(type, type_names[t]) == 0)
			m->type = (ah_media_msg_type)t;
	if (m->type == 0)
		return fail(error, g_strdup("type must be sub, unsub, feeds, parent or gone"));
	if (!id_field(j, "from", &m->from, error) || !id_field(j, "tenant", &m->tenant, error) ||
			!id_field(j, "room", &m->room, error))
		return FALSE;
	switch (m->type) {
	case AH_MEDIA_MSG_SUB: {
		json_t *r = json_object_get(j, "receivers");
		if (r != NULL && (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > G_MAXUINT32))
			return fail(error, g_strdup("receivers must be an integer 0..4294967295"));
		m->receivers = r != NULL ? (guint)json_integer_value(r) : 0;
		return address_field(j, m, error) && read_tree(json_object_get(j, "tree"), m, error);
	}
	case AH_MEDIA_MSG_FEEDS:
		salt = json_string_value(json_object_get(j, "salt"));
		epoch = json_object_get(j, "epoch");
		if (salt == NULL || strlen(salt) != 32 || strspn(salt, "0123456789abcdef") != 32)
			return fail(error, g_strdup("salt must be 32 lowercase hex characters"));
		if (!json_is_integer(epoch) || json_integer_value(epoch) < 1 || json_integer_value(epoch) > G_MAXUINT32)
			return fail(error, g_strdup("epoch must be an integer 1..4294967295"));
		m->salt = g_strdup(salt);
		m->epoch = (guint32)json_integer_value(epoch);
		return address_field(j, m, error) && read_feeds(json_object_get(j, "presenters"), m, error);
	case AH_MEDIA_MSG_PARENT:
		return id_field(j, "node", &m->node, error);
	default:
		return TRUE;
	}
}

gboolean ah_media_msg_parse(const char *text, gsize len, ah_media_msg *out, char **error)
{
	json_error_t jerr;
	json_t *j;
	gboolean ok;
	memset(out, 0, sizeof(*out));
	*error = NULL;
	if (text == NULL || len > AH_MEDIA_MSG_MAX_BYTES)
		return fail(error, g_strdup_printf("a message is at most %d bytes", AH_MEDIA_MSG_MAX_BYTES));
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return fail(error, g_strdup_printf("not JSON: %s", jerr.text));
	ok = read_body(j, out, error);
	json_decref(j);
	if (!ok)
		ah_media_msg_clear(out);
	return ok;
}

void ah_media_msg_clear(ah_media_msg *msg)
{
	if (msg == NULL)
		return;
	g_free(msg->from);
	g_free(msg->tenant);
	g_free(msg->room);
	g_free(msg->address);
	g_free(msg->salt);
	g_free(msg->node);
	json_decref(msg->tree);
	if (msg->feeds != NULL)
		g_array_unref(msg->feeds);
	memset(msg, 0, sizeof(*msg));
}

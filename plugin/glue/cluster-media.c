/* allhands glue: media across nodes, the control plane (issue 14; docs/cluster-media.md, "Wiring").
 *
 * A room's presenters publish on its origin; an edge serving some of its attendees subscribes to the
 * origin through Redis pub/sub and receives the presenters' media over the node-to-node link
 * (cluster-mlink.c). Each node listens on its channel `ah:media:<node id>` for JSON messages:
 * - `sub` (edge -> origin, at once and every second while the edge serves the room): the edge's media
 *   address and port. The origin answers each with `feeds`, or with `gone` when it does not serve the
 *   room. An edge not heard of for AH_EDGE_EXPIRY_US is dropped (a dead edge costs no egress for long).
 * - `unsub` (edge -> origin): the edge's last receiver left edge_linger_ms ago.
 * - `feeds` (origin -> edge, on every `sub` and whenever the room's presenters change): the origin's
 *   media address and port, the link's salt and epoch (the key is derived, never sent), and the room's
 *   publishing presenters: id, display, feed number, streams (kind, m-line, codec, fmtp, simulcast).
 * The edge turns `feeds` into mirrors (engine-mirror.c): sessions without a Janus handle (session.c)
 * whose media comes from the link's receiving thread.
 *
 * Control thread only (start and stop: with the control thread's cluster parts, cluster-node.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "debug.h"

#include "glue.h"
#include "allhands/link.h"
#include "allhands/media-msg.h"

#define AH_MEDIA_CHANNEL_PREFIX "ah:media:"
#define AH_SUB_PERIOD_US G_USEC_PER_SEC
#define AH_EDGE_EXPIRY_US (4 * G_USEC_PER_SEC)

/* ---- origin ---- */
typedef struct {
	char *node, *address;
	guint port;
	gint64 seen;
	ah_mlink *link;
	json_t *tree;       /* its subtree as it reported it: [[node, parent], ...] */
	guint receivers;    /* its attendees, as it reported them */
} edge_sub;

typedef struct {
	char *tenant, *room;
	GHashTable *edges;  /* node -> edge_sub* */
	GHashTable *feeds;  /* presenter conn (guint64*) -> feed (GUINT_TO_POINTER) */
	gboolean relay;     /* this node is an edge of the room feeding edges below it (a tree) */
	json_t *presenters; /* the last feeds' presenters (what a refreshing sub is answered), NULL: none yet */
} origin_room;

/* ---- edge ---- */
typedef struct {
	guint64 pid;        /* the presenter's id on the origin */
	guint feed;
	ah_session *mirror; /* reference (the registry holds another) */
	ah_stream_desc streams[AH_MAX_STREAMS];
	gboolean simulcast[AH_MAX_STREAMS];
	guint n;
	char *display;
} mirror_t;

typedef struct {
	char *tenant, *room, *origin;
	char *parent;        /* the edge it subscribes to in a tree, NULL: the origin itself */
	ah_mlink *link;      /* NULL until the upstream's first feeds */
	GHashTable *mirrors; /* pid (guint64*) -> mirror_t* */
	gint64 zero_since, sub_at, feeds_at, parent_at;
	guint64 feeds_received;
} edge_room;

static ah_engine *engine = NULL;
static char *node_id = NULL;
static guint linger_ms = AH_CLUSTER_LINGER_DEFAULT_MS;
static guint fanout = AH_CLUSTER_FANOUT_DEFAULT;   /* edges fed directly per room and node, 0: no limit */
#define AH_TREE_MAX 256                            /* [node, parent] pairs a subscription reports at most */
#define AH_UPSTREAM_SILENT_US (3 * G_USEC_PER_SEC) /* a parent that answers no sub for this long is left */
static GHashTable *origin_rooms = NULL; /* "tenant/room" -> origin_room* */
static GHashTable *edge_rooms = NULL;   /* "tenant/room" -> edge_room* */
static guint next_feed = 0;
static gint64 second_at = 0;
static GPtrArray *pending = NULL;      /* feeds, parent and gone messages (ah_media_msg*) for the turn */
static guint64 msgs_in = 0, msgs_bad = 0, msgs_out = 0, edges_expired = 0, unsubscribed = 0, redirected = 0;

/* The registry's last view says the node is dead (present and not alive). */
static gboolean node_dead(const char *id)
{
	const ah_registry_view *view = ah_cluster_view();
	for (guint i = 0; view != NULL && i < view->nodes->len; i++) {
		const ah_registry_node *n = g_ptr_array_index(view->nodes, i);
		if (strcmp(n->id, id) == 0)
			return !n->alive;
	}
	return FALSE;
}

static char *room_key(const char *tenant, const char *room)
{
	return g_strdup_printf("%s/%s", tenant, room);
}

static void publish(const char *node, json_t *msg)
{
	char *channel = g_strdup_printf(AH_MEDIA_CHANNEL_PREFIX "%s", node);
	char *text = json_dumps(msg, JSON_COMPACT);
	const char *argv[] = { "PUBLISH", channel, text };
	json_object_set_new(msg, "v", json_integer(1));
	if (text != NULL && ah_cluster_call(3, argv, NULL, NULL, NULL))
		msgs_out++;
	free(text);
	g_free(channel);
	json_decref(msg);
}

static json_t *message(const char *type, const char *tenant, const char *room)
{
	return json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "type", type, "from", node_id, "tenant", tenant, "room", room);
}

/* ---- origin: edges, feeds, uplinks ---- */

static void edge_sub_free(gpointer data)
{
	edge_sub *e = data;
	g_free(e->node);
	g_free(e->address);
	ah_mlink_unref(e->link);
	json_decref(e->tree);
	g_free(e);
}

static void origin_room_free(gpointer data)
{
	origin_room *o = data;
	g_free(o->tenant);
	g_free(o->room);
	g_hash_table_destroy(o->edges);
	g_hash_table_destroy(o->feeds);
	json_decref(o->presenters);
	g_free(o);
}

static guint new_feed(void)
{
	next_feed = (next_feed + 1) & 0xffff;
	if (next_feed == 0)
		next_feed = 1;
	return next_feed;
}

static void clear_uplink(guint64 conn, guint feed)
{
	ah_session *s = ah_session_lookup(conn);
	ah_mlink_feed_out_remove((guint16)feed);
	if (s != NULL) {
		int none[AH_MAX_STREAMS];
		for (int i = 0; i < AH_MAX_STREAMS; i++)
			none[i] = -1;
		ah_mlink_set_uplinks(s, (guint16)feed, none, NULL, 0);
		ah_session_unref(s);
	}
}

static edge_room *edge_room_of(const char *tenant, const char *room)
{
	char *key = room_key(tenant, room);
	edge_room *r = g_hash_table_lookup(edge_rooms, key);
	g_free(key);
	return r;
}

/* What the room's edges receive from here: the room's publishing presenters on its origin; on a relay
 * (an edge feeding edges), the mirrors of the origin's presenters. */
static void sources(const origin_room *o, GArray *pubs)
{
	edge_room *r = o->relay ? edge_room_of(o->tenant, o->room) : NULL;
	GHashTableIter it;
	gpointer v;
	if (!o->relay) {
		ah_engine_room_publishers(engine, o->tenant, o->room, pubs);
		return;
	}
	if (r == NULL)
		return;
	g_hash_table_iter_init(&it, r->mirrors);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const mirror_t *m = v;
		ah_mirror e = { m->mirror->conn, m->pid, m->display, m->streams, m->n };
		g_array_append_val(pubs, e);
	}
}

/* The room's sources now, their feeds, their uplinks to every edge; the feeds message. */
static json_t *update_origin(origin_room *o)
{
	GArray *pubs = g_array_new(FALSE, FALSE, sizeof(ah_mirror));
	GPtrArray *links = g_ptr_array_new();
	GHashTable *still = g_hash_table_new(g_int64_hash, g_int64_equal);
	json_t *presenters = json_array();
	GHashTableIter it;
	gpointer k, v;
	sources(o, pubs);
	g_hash_table_iter_init(&it, o->edges);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(links, ((edge_sub *)v)->link);
	for (guint i = 0; i < pubs->len; i++) {
		const ah_mirror *p = &g_array_index(pubs, ah_mirror, i);
		gpointer feedp = g_hash_table_lookup(o->feeds, &p->conn);
		guint feed = feedp != NULL ? GPOINTER_TO_UINT(feedp) : new_feed();
		ah_session *s = ah_session_lookup(p->conn);
		int out_pt[AH_MAX_STREAMS];
		guint64 bps[3];
		json_t *streams = json_array();
		if (feedp == NULL)
			g_hash_table_insert(o->feeds, g_memdup2(&p->conn, sizeof(guint64)), GUINT_TO_POINTER(feed));
		g_hash_table_add(still, (gpointer)&p->conn);
		for (int m = 0; m < AH_MAX_STREAMS; m++)
			out_pt[m] = -1;
		for (guint j = 0; j < p->n_streams; j++) {
			const ah_stream_desc *d = &p->streams[j];
			out_pt[d->mindex] = ah_sdp_payload_type(d->codec);
			json_array_append_new(streams, json_pack("{s:s, s:i, s:s, s:s, s:b}", "kind", d->kind == AH_MEDIA_VIDEO ?
				"video" : "audio", "mindex", d->mindex, "codec", d->codec, "fmtp", d->fmtp, "simulcast",
				s != NULL && ah_pubmedia_simulcast(s->pub, d->mindex, bps)));
		}
		if (s != NULL) {
			ah_mlink_set_uplinks(s, (guint16)feed, out_pt, (ah_mlink **)links->pdata, links->len);
			ah_session_unref(s);
		}
		json_array_append_new(presenters, json_pack("{s:I, s:i, s:s, s:o}", "id", (json_int_t)p->id, "feed", (int)feed,
			"display", p->display != NULL ? p->display : "", "streams", streams));
	}
	/* Presenters that stopped publishing or left: their packets stop going out. */
	g_hash_table_iter_init(&it, o->feeds);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (!g_hash_table_contains(still, k)) {
			clear_uplink(*(guint64 *)k, GPOINTER_TO_UINT(v));
			g_hash_table_iter_remove(&it);
		}
	}
	g_hash_table_destroy(still);
	g_ptr_array_free(links, TRUE);
	g_array_free(pubs, TRUE);
	json_decref(o->presenters);
	o->presenters = json_incref(presenters);
	return presenters;
}

static void send_feeds(origin_room *o, edge_sub *e, json_t *presenters)
{
	json_t *msg = message("feeds", o->tenant, o->room);
	json_object_set_new(msg, "address", json_string(ah_mlink_address()));
	json_object_set_new(msg, "port", json_integer(ah_mlink_port()));
	json_object_set_new(msg, "salt", json_string(ah_mlink_salt(e->link)));
	json_object_set_new(msg, "epoch", json_integer(ah_mlink_epoch(e->link)));
	json_object_set_new(msg, "presenters", json_incref(presenters));
	publish(e->node, msg);
}

static void broadcast_feeds(origin_room *o)
{
	json_t *presenters = update_origin(o);
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, o->edges);
	while (g_hash_table_iter_next(&it, NULL, &v))
		send_feeds(o, v, presenters);
	json_decref(presenters);
}

static void origin_room_end(origin_room *o)
{
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, o->feeds);
	while (g_hash_table_iter_next(&it, &k, &v))
		clear_uplink(*(guint64 *)k, GPOINTER_TO_UINT(v));
	if (!o->relay)
		ah_engine_watch_feeds(engine, o->tenant, o->room, FALSE);
}

/* The subtree below this node for the room: its edges and what they reported, [[node, parent], ...]. */
static json_t *subtree(const origin_room *o)
{
	json_t *tree = json_array(), *pair;
	GHashTableIter it;
	gpointer v;
	size_t i;
	if (o == NULL)
		return tree;
	g_hash_table_iter_init(&it, o->edges);
	while (g_hash_table_iter_next(&it, NULL, &v) && json_array_size(tree) < AH_TREE_MAX) {
		const edge_sub *e = v;
		json_array_append_new(tree, json_pack("[s, s]", e->node, node_id));
		json_array_foreach(e->tree, i, pair)
			if (json_array_size(tree) < AH_TREE_MAX)
				json_array_append(tree, pair);
	}
	return tree;
}

static gboolean in_tree(const json_t *tree, const char *node)
{
	size_t i;
	json_t *pair;
	json_array_foreach(tree, i, pair)
		if (g_strcmp0(json_string_value(json_array_get(pair, 0)), node) == 0)
			return TRUE;
	return FALSE;
}

/* Fan-out reached: the edge is sent to one of this node's edges (not one below it: no cycle), the same one
 * for the same edge while the edges stay. NULL: none fits (it is fed from here after all). */
static const char *parent_for(const origin_room *o, const char *edge, const json_t *its_tree)
{
	GPtrArray *ids = g_ptr_array_new();
	GHashTableIter it;
	gpointer k;
	const char *chosen = NULL;
	g_hash_table_iter_init(&it, o->edges);
	while (g_hash_table_iter_next(&it, &k, NULL))
		if (strcmp(k, edge) != 0 && !in_tree(its_tree, k) && !node_dead(k))
			g_ptr_array_add(ids, k);
	if (ids->len > 0) {
		g_ptr_array_sort(ids, (GCompareFunc)g_strcmp0);
		chosen = g_ptr_array_index(ids, g_str_hash(edge) % ids->len);
	}
	g_ptr_array_free(ids, TRUE);
	return chosen;
}

static void on_sub(const ah_media_msg *msg, gint64 now)
{
	const char *from = msg->from, *tenant = msg->tenant, *room = msg->room, *address = msg->address;
	const guint port = msg->port;
	char *key = room_key(tenant, room), *error = NULL;
	gboolean here = ah_engine_room_publishers(engine, tenant, room, NULL) &&
		ah_engine_room_origin(engine, tenant, room) == NULL;
	/* An edge of the room may feed other edges (a tree), never its own upstream. */
	edge_room *mine = here ? NULL : edge_room_of(tenant, room);
	gboolean relay = mine != NULL && g_strcmp0(mine->parent, from) != 0 && strcmp(mine->origin, from) != 0;
	json_t *its_tree = msg->tree;
	origin_room *o = g_hash_table_lookup(origin_rooms, key);
	if (o != NULL && o->relay != relay) { /* it became (or stopped being) the origin */
		origin_room_end(o);
		g_hash_table_remove(origin_rooms, key);
		o = NULL;
	}
	if (!here && !relay) {
		/* Not (or no longer) this room's origin: the edge looks again (stand-in, home back, room gone). */
		publish(from, message("gone", tenant, room));
		if (o != NULL) {
			origin_room_end(o);
			g_hash_table_remove(origin_rooms, key);
		}
		g_free(key);
		return;
	}
	if (o == NULL) {
		o = g_new0(origin_room, 1);
		o->tenant = g_strdup(tenant);
		o->room = g_strdup(room);
		o->edges = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, edge_sub_free);
		o->feeds = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
		o->relay = relay;
		g_hash_table_insert(origin_rooms, key, o);
		if (!relay)
			ah_engine_watch_feeds(engine, tenant, room, TRUE);
	} else {
		g_free(key);
	}
	edge_sub *e = g_hash_table_lookup(o->edges, from);
	const char *parent = e == NULL && fanout > 0 && g_hash_table_size(o->edges) >= fanout ?
		parent_for(o, from, its_tree) : NULL;
	if (parent != NULL) {
		json_t *m = message("parent", tenant, room);
		json_object_set_new(m, "node", json_string(parent));
		publish(from, m);
		redirected++;
		return;
	}
	if (e == NULL || g_strcmp0(e->address, address) != 0 || e->port != (guint)port) {
		ah_mlink *link = ah_mlink_to_edge(from, address, (guint)port, &error);
		if (link == NULL) {
			JANUS_LOG(LOG_WARN, "allhands: media: edge %s of %s/%s: %s\n", from, tenant, room, error);
			g_free(error);
			return;
		}
		e = g_new0(edge_sub, 1);
		e->node = g_strdup(from);
		e->address = g_strdup(address);
		e->port = (guint)port;
		e->link = link;
		g_hash_table_replace(o->edges, e->node, e);
		JANUS_LOG(LOG_INFO, "allhands: media: edge %s subscribes to %s/%s (%s:%u)\n", from, tenant, room, address,
			(guint)port);
		e->seen = now;
		e->tree = json_incref(its_tree);
		e->receivers = msg->receivers;
		broadcast_feeds(o); /* its uplinks now include the new edge */
		return;
	}
	e->seen = now;
	json_decref(e->tree);
	e->tree = json_incref(its_tree);
	e->receivers = msg->receivers;
	/* A refresh: the last feeds again (O(1) here; changes went out when they happened). */
	json_t *presenters = o->presenters != NULL ? json_incref(o->presenters) : update_origin(o);
	send_feeds(o, e, presenters);
	json_decref(presenters);
}

static void on_unsub(const char *from, const char *tenant, const char *room)
{
	char *key = room_key(tenant, room);
	origin_room *o = g_hash_table_lookup(origin_rooms, key);
	if (o != NULL && g_hash_table_remove(o->edges, from)) {
		unsubscribed++;
		if (g_hash_table_size(o->edges) == 0) {
			origin_room_end(o);
			g_hash_table_remove(origin_rooms, key);
		} else {
			json_decref(update_origin(o));
		}
	}
	g_free(key);
}

static void origin_second(gint64 now)
{
	GHashTableIter it, eit;
	gpointer v, ev;
	g_hash_table_iter_init(&it, origin_rooms);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		origin_room *o = v;
		gboolean dropped = FALSE;
		g_hash_table_iter_init(&eit, o->edges);
		while (g_hash_table_iter_next(&eit, NULL, &ev)) {
			if (now - ((edge_sub *)ev)->seen > AH_EDGE_EXPIRY_US || node_dead(((edge_sub *)ev)->node)) {
				JANUS_LOG(LOG_WARN, "allhands: media: edge %s of %s/%s silent: dropped\n", ((edge_sub *)ev)->node,
					o->tenant, o->room);
				g_hash_table_iter_remove(&eit);
				edges_expired++;
				dropped = TRUE;
			}
		}
		if (g_hash_table_size(o->edges) == 0) {
			origin_room_end(o);
			g_hash_table_iter_remove(&it);
		} else if (dropped) {
			json_decref(update_origin(o));
		}
	}
}

/* ---- edge: subscriptions and mirrors ---- */

static void mirror_free(gpointer data)
{
	mirror_t *m = data;
	ah_session_unregister_mirror(m->mirror);
	ah_session_unref(m->mirror);
	g_free(m->display);
	g_free(m);
}

static void edge_room_free(gpointer data)
{
	edge_room *r = data;
	g_free(r->tenant);
	g_free(r->room);
	g_free(r->origin);
	g_free(r->parent);
	g_hash_table_destroy(r->mirrors);
	ah_mlink_unref(r->link);
	g_free(r);
}

static const char *upstream(const edge_room *r)
{
	return r->parent != NULL ? r->parent : r->origin;
}

static origin_room *relay_of(const edge_room *r)
{
	char *key = room_key(r->tenant, r->room);
	origin_room *o = g_hash_table_lookup(origin_rooms, key);
	g_free(key);
	return o != NULL && o->relay ? o : NULL;
}

static void send_sub(edge_room *r, gint64 now)
{
	json_t *msg = message("sub", r->tenant, r->room);
	json_object_set_new(msg, "address", json_string(ah_mlink_address()));
	json_object_set_new(msg, "port", json_integer(ah_mlink_port()));
	json_object_set_new(msg, "receivers", json_integer(ah_engine_room_receivers(engine, r->tenant, r->room)));
	json_object_set_new(msg, "tree", subtree(relay_of(r)));
	publish(upstream(r), msg);
	r->sub_at = now;
}

/* Hand the mirrors to the engine (its receivers renegotiate). */
static void push_mirrors(edge_room *r, gint64 now, GPtrArray *outs)
{
	GArray *list = g_array_new(FALSE, FALSE, sizeof(ah_mirror));
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, r->mirrors);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		mirror_t *m = v;
		ah_mirror e = { m->mirror->conn, m->pid, m->display, m->streams, m->n };
		g_array_append_val(list, e);
	}
	ah_engine_set_mirrors(engine, r->tenant, r->room, (const ah_mirror *)list->data, list->len, now, outs);
	g_array_free(list, TRUE);
}

static void drop_mirrors(edge_room *r)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, r->mirrors);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (r->link != NULL)
			ah_mlink_feed_in_remove(r->link, (guint16)((mirror_t *)v)->feed, ((mirror_t *)v)->mirror->conn);
	g_hash_table_remove_all(r->mirrors);
}

/* Stop serving the room as an edge: mirrors gone, the engine lists it again at its next receiver. */
static void edge_room_end(edge_room *r, gboolean tell, gint64 now, GPtrArray *outs)
{
	if (tell && r->origin != NULL)
		publish(upstream(r), message("unsub", r->tenant, r->room));
	drop_mirrors(r);
	push_mirrors(r, now, outs);
	ah_engine_edge_room_done(engine, r->tenant, r->room);
}

/* A presenter of the feeds message, read strictly; FALSE: the message is refused. */
/* A mirror's media path: its streams (our payload types) and, for simulcast, its layers' link SSRCs. */
static void mirror_media(mirror_t *m)
{
	ah_pubmedia *pm = m->mirror->pub;
	int in_pt[AH_MAX_STREAMS];
	json_t *sim = json_array();
	for (guint j = 0; j < m->n; j++) {
		in_pt[j] = ah_sdp_payload_type(m->streams[j].codec);
		if (m->simulcast[j])
			json_array_append_new(sim, json_pack("{s:i, s:[I,I,I]}", "mindex", m->streams[j].mindex,
				"ssrcs", (json_int_t)ah_mlink_ssrc((guint16)m->feed, m->streams[j].mindex, 0),
				(json_int_t)ah_mlink_ssrc((guint16)m->feed, m->streams[j].mindex, 1),
				(json_int_t)ah_mlink_ssrc((guint16)m->feed, m->streams[j].mindex, 2)));
	}
	ah_pubmedia_set_streams(pm, m->streams, in_pt, (int)m->n);
	ah_pubmedia_set_simulcast(pm, sim);
	ah_pubmedia_set_gop(pm, ah_relay_gop_new(m->streams, m->n));
	json_decref(sim);
}

static void map_feed(edge_room *r, mirror_t *m)
{
	gboolean video[AH_MAX_STREAMS] = { FALSE };
	for (guint j = 0; j < m->n; j++)
		video[m->streams[j].mindex] = m->streams[j].kind == AH_MEDIA_VIDEO;
	ah_mlink_feed_in(r->link, (guint16)m->feed, m->mirror, video);
}

static gboolean same_feed(const mirror_t *m, const ah_media_feed *f)
{
	return m->feed == f->feed && m->n == f->n && memcmp(m->streams, f->streams, sizeof(f->streams)) == 0 &&
		memcmp(m->simulcast, f->simulcast, sizeof(f->simulcast)) == 0;
}

static void on_feeds(edge_room *r, const ah_media_msg *msg, gint64 now, GPtrArray *outs)
{
	char *error = NULL;
	ah_mlink *link = ah_mlink_from_origin(msg->from, msg->address, msg->port, msg->salt, msg->epoch, &error);
	if (link == NULL) {
		JANUS_LOG(LOG_WARN, "allhands: media: feeds of %s/%s from %s refused: %s\n", r->tenant, r->room, msg->from,
			error);
		g_free(error);
		msgs_bad++;
		return;
	}
	if (link != r->link) { /* a new link (the upstream restarted, or another upstream): every feed moves to it */
		if (r->link != NULL)
			drop_mirrors(r);
		ah_mlink_unref(r->link);
		r->link = link;
	} else {
		ah_mlink_unref(link);
	}
	GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
	for (guint i = 0; i < msg->feeds->len; i++) {
		const ah_media_feed *f = &g_array_index(msg->feeds, ah_media_feed, i);
		mirror_t *m = g_hash_table_lookup(r->mirrors, &f->id);
		if (m != NULL && !same_feed(m, f)) {
			/* Republished: a new mirror (a new conn), so the relay starts the new streams afresh. */
			ah_mlink_feed_in_remove(r->link, (guint16)m->feed, m->mirror->conn);
			g_hash_table_remove(r->mirrors, &f->id);
			m = NULL;
		}
		if (m == NULL) {
			ah_session *mirror = ah_session_register_mirror();
			if (mirror == NULL)
				continue;
			m = g_new0(mirror_t, 1);
			m->pid = f->id;
			m->feed = f->feed;
			m->n = f->n;
			memcpy(m->streams, f->streams, sizeof(m->streams));
			memcpy(m->simulcast, f->simulcast, sizeof(m->simulcast));
			m->display = g_strdup(f->display);
			m->mirror = mirror;
			g_atomic_pointer_set(&m->mirror->pub, ah_pubmedia_new());
			mirror_media(m);
			map_feed(r, m);
			g_hash_table_insert(r->mirrors, &m->pid, m);
		} else if (g_strcmp0(m->display, f->display) != 0) {
			g_free(m->display);
			m->display = g_strdup(f->display);
		}
		g_hash_table_add(seen, &m->pid);
	}
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, r->mirrors);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (!g_hash_table_contains(seen, k)) {
			ah_mlink_feed_in_remove(r->link, (guint16)((mirror_t *)v)->feed, ((mirror_t *)v)->mirror->conn);
			g_hash_table_iter_remove(&it);
		}
	}
	g_hash_table_destroy(seen);
	r->feeds_at = now;
	r->feeds_received++;
	push_mirrors(r, now, outs);
	/* Edges fed from here learn the change (their feeds are this node's mirrors). */
	origin_room *below = relay_of(r);
	if (below != NULL)
		broadcast_feeds(below);
}

static void edge_second(gint64 now, GPtrArray *outs)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, edge_rooms);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		edge_room *r = v;
		const char *origin = ah_engine_room_origin(engine, r->tenant, r->room);
		if (origin == NULL) {
			/* Served here now (this node is its stand-in) or gone: not an edge any more. */
			edge_room_end(r, TRUE, now, outs);
			g_hash_table_iter_remove(&it);
			continue;
		}
		if (strcmp(origin, r->origin) != 0) {
			/* The origin moved (it died: its stand-in; or it came back): subscribe there. Receivers keep
			 * their PeerConnections; the new origin's presenters replace the mirrors when they publish. */
			JANUS_LOG(LOG_INFO, "allhands: media: %s/%s: origin %s -> %s\n", r->tenant, r->room, r->origin, origin);
			publish(upstream(r), message("unsub", r->tenant, r->room));
			drop_mirrors(r);
			push_mirrors(r, now, outs);
			g_free(r->origin);
			r->origin = g_strdup(origin);
			g_clear_pointer(&r->parent, g_free);
			ah_mlink_unref(r->link);
			r->link = NULL;
			r->feeds_at = now;
		}
		if (r->parent != NULL && (now - MAX(r->feeds_at, r->parent_at) > AH_UPSTREAM_SILENT_US || node_dead(r->parent))) {
			/* The parent answers no more (it died, or stopped serving the room): back to the origin. */
			JANUS_LOG(LOG_WARN, "allhands: media: %s/%s: parent %s silent, back to the origin %s\n", r->tenant, r->room,
				r->parent, r->origin);
			g_clear_pointer(&r->parent, g_free);
			r->feeds_at = now;
		}
		origin_room *below = relay_of(r);
		if (ah_engine_room_receivers(engine, r->tenant, r->room) > 0 || (below != NULL && g_hash_table_size(below->edges) > 0)) {
			r->zero_since = 0;
		} else if (r->zero_since == 0) {
			r->zero_since = now;
		} else if (now - r->zero_since >= (gint64)linger_ms * 1000) {
			JANUS_LOG(LOG_INFO, "allhands: media: %s/%s: no receiver for %u ms, unsubscribing from %s\n", r->tenant,
				r->room, linger_ms, r->origin);
			edge_room_end(r, TRUE, now, outs);
			g_hash_table_iter_remove(&it);
			continue;
		}
		send_sub(r, now);
	}
}

/* ---- messages ---- */

static void on_message(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	const ah_redis_value *v = reply->value;
	ah_media_msg *m = g_new0(ah_media_msg, 1);
	char *error = NULL;
	(void)user;
	msgs_in++;
	if (v == NULL || v->type != AH_REDIS_STRING || !ah_media_msg_parse(v->str, v->len, m, &error) ||
			strcmp(m->from, node_id) == 0) {
		/* Logged once in a while: a flood of bad messages must not flood the log. */
		if (msgs_bad++ % 100 == 0)
			JANUS_LOG(LOG_WARN, "allhands: media: a message on %s%s refused (%" G_GUINT64_FORMAT " so far): %s\n",
				AH_MEDIA_CHANNEL_PREFIX, node_id, msgs_bad, error != NULL ? error : "not a string, or from this node");
		g_free(error);
		ah_media_msg_clear(m);
		g_free(m);
		return;
	}
	if (m->type == AH_MEDIA_MSG_SUB) {
		on_sub(m, now);
	} else if (m->type == AH_MEDIA_MSG_UNSUB) {
		on_unsub(m->from, m->tenant, m->room);
	} else {
		/* Handled in this turn's ah_cluster_media_turn, which has the engine's outs. */
		g_ptr_array_add(pending, m);
		return;
	}
	ah_media_msg_clear(m);
	g_free(m);
}

static void pending_free(gpointer data)
{
	ah_media_msg_clear(data);
	g_free(data);
}

static void edge_message(const ah_media_msg *msg, gint64 now, GPtrArray *outs)
{
	edge_room *r = edge_room_of(msg->tenant, msg->room);
	if (r == NULL || strcmp(upstream(r), msg->from) != 0)
		return; /* not subscribed (any more) to that node for that room */
	if (msg->type == AH_MEDIA_MSG_FEEDS) {
		on_feeds(r, msg, now, outs);
	} else if (msg->type == AH_MEDIA_MSG_PARENT) {
		/* The upstream feeds enough edges: subscribe to the edge it names (not one below this node). */
		json_t *mine = subtree(relay_of(r));
		if (strcmp(msg->node, node_id) != 0 && !in_tree(mine, msg->node)) {
			JANUS_LOG(LOG_INFO, "allhands: media: %s/%s: fed through %s (a tree: %s feeds enough edges)\n", r->tenant,
				r->room, msg->node, msg->from);
			g_free(r->parent);
			r->parent = g_strdup(msg->node);
			r->parent_at = now;
			send_sub(r, now);
		}
		json_decref(mine);
	} else if (r->parent != NULL) {
		/* gone from a parent that no longer serves the room: back to the origin. */
		g_clear_pointer(&r->parent, g_free);
		send_sub(r, now);
	} else if (g_hash_table_size(r->mirrors) > 0) {
		drop_mirrors(r);
		push_mirrors(r, now, outs);
	}
}

/* ---- the control thread's calls (cluster-node.c) ---- */

gboolean ah_cluster_media_start(ah_engine *e, char **error)
{
	const ah_cluster_config *config = ah_cluster_get_config();
	char *channel;
	if (config == NULL)
		return TRUE;
	if (!ah_mlink_start(config->media_address, config->media_port, config->node_id, config->secret, error))
		return FALSE;
	engine = e;
	node_id = g_strdup(config->node_id);
	linger_ms = config->edge_linger_ms;
	/* Feed numbers start anywhere: two origins' link SSRCs rarely meet at an edge (the relay re-bases an
	 * attendee's numbering at a presenter change whatever the SSRC). */
	next_feed = g_random_int_range(0, 0x10000);
	fanout = config->edge_fanout;
	origin_rooms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, origin_room_free);
	edge_rooms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, edge_room_free);
	pending = g_ptr_array_new_with_free_func(pending_free);
	channel = g_strdup_printf(AH_MEDIA_CHANNEL_PREFIX "%s", node_id);
	ah_cluster_subscribe(channel, on_message, NULL);
	g_free(channel);
	JANUS_LOG(LOG_INFO, "allhands: media: node-to-node link on %s:%u (SRTP AEAD-AES-128-GCM)\n", ah_mlink_address(),
		ah_mlink_port());
	return TRUE;
}

void ah_cluster_media_stop(void)
{
	if (engine == NULL)
		return;
	/* Uplinks and mirrors hold links: let go of them before the link's thread and tables go. */
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, origin_rooms);
	while (g_hash_table_iter_next(&it, NULL, &v))
		origin_room_end(v);
	g_hash_table_iter_init(&it, edge_rooms);
	while (g_hash_table_iter_next(&it, NULL, &v))
		drop_mirrors(v);
	g_clear_pointer(&origin_rooms, g_hash_table_destroy);
	g_clear_pointer(&edge_rooms, g_hash_table_destroy);
	g_clear_pointer(&pending, g_ptr_array_unref);
	ah_mlink_stop();
	g_clear_pointer(&node_id, g_free);
	engine = NULL;
}

void ah_cluster_media_turn(gint64 now, GPtrArray *outs)
{
	GPtrArray *list;
	if (engine == NULL)
		return;
	/* Rooms whose first receiver here was offered media: subscribe to their origin at once. */
	if ((list = ah_engine_edge_rooms_take(engine)) != NULL) {
		for (guint i = 0; i < list->len; i++) {
			const ah_def_ref *ref = g_ptr_array_index(list, i);
			const char *origin = ah_engine_room_origin(engine, ref->tenant, ref->room);
			char *key = room_key(ref->tenant, ref->room);
			if (origin == NULL || g_hash_table_contains(edge_rooms, key)) {
				g_free(key);
				continue;
			}
			edge_room *r = g_new0(edge_room, 1);
			r->tenant = g_strdup(ref->tenant);
			r->room = g_strdup(ref->room);
			r->origin = g_strdup(origin);
			r->mirrors = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, mirror_free);
			g_hash_table_insert(edge_rooms, key, r);
			JANUS_LOG(LOG_INFO, "allhands: media: serving %s/%s as an edge of %s\n", r->tenant, r->room, origin);
			send_sub(r, now);
		}
		g_ptr_array_unref(list);
	}
	for (guint i = 0; i < pending->len; i++)
		edge_message(g_ptr_array_index(pending, i), now, outs);
	g_ptr_array_set_size(pending, 0);
	/* Origin: rooms whose presenters changed tell their edges. */
	if ((list = ah_engine_feeds_take(engine)) != NULL) {
		for (guint i = 0; i < list->len; i++) {
			const ah_def_ref *ref = g_ptr_array_index(list, i);
			char *key = room_key(ref->tenant, ref->room);
			origin_room *o = g_hash_table_lookup(origin_rooms, key);
			if (o != NULL)
				broadcast_feeds(o);
			g_free(key);
		}
		g_ptr_array_unref(list);
	}
	if (now - second_at >= AH_SUB_PERIOD_US) {
		second_at = now;
		origin_second(now);
		edge_second(now, outs);
	}
	ah_mlink_tick(now);
}

gint64 ah_cluster_media_deadline(void)
{
	return engine != NULL ? second_at + AH_SUB_PERIOD_US : G_MAXINT64;
}

void ah_cluster_media_metrics(ah_metrics_input *in)
{
	if (engine == NULL)
		return;
	in->media_origin_rooms = g_hash_table_size(origin_rooms);
	in->media_edge_rooms = g_hash_table_size(edge_rooms);
	ah_mlink_metrics(in);
}

json_t *ah_cluster_media_status(gint64 now)
{
	json_t *j, *origins, *edges;
	GHashTableIter it, eit;
	gpointer v, ev;
	if (engine == NULL || (j = ah_mlink_status()) == NULL)
		return NULL;
	origins = json_array();
	g_hash_table_iter_init(&it, origin_rooms);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		origin_room *o = v;
		json_t *list = json_array();
		g_hash_table_iter_init(&eit, o->edges);
		while (g_hash_table_iter_next(&eit, NULL, &ev))
			json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:I, s:I}", "node", ((edge_sub *)ev)->node, "address",
				((edge_sub *)ev)->address, "port", (int)((edge_sub *)ev)->port, "heard_ms_ago",
				(json_int_t)((now - ((edge_sub *)ev)->seen) / 1000), "receivers", (json_int_t)((edge_sub *)ev)->receivers));
		json_array_append_new(origins, json_pack("{s:s, s:s, s:o, s:I, s:b, s:o}", "tenant", o->tenant, "room", o->room,
			"edges", list, "feeds", (json_int_t)g_hash_table_size(o->feeds), "relay", o->relay, "tree", subtree(o)));
	}
	edges = json_array();
	g_hash_table_iter_init(&it, edge_rooms);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		edge_room *r = v;
		json_array_append_new(edges, json_pack("{s:s, s:s, s:s, s:s?, s:I, s:I, s:I, s:I}", "tenant", r->tenant, "room",
			r->room, "origin", r->origin, "parent", r->parent, "mirrors", (json_int_t)g_hash_table_size(r->mirrors), "receivers",
			(json_int_t)ah_engine_room_receivers(engine, r->tenant, r->room), "feeds_received",
			(json_int_t)r->feeds_received, "idle_ms", (json_int_t)(r->zero_since != 0 ? (now - r->zero_since) / 1000 : 0)));
	}
	json_object_set_new(j, "origin_of", origins);
	json_object_set_new(j, "edge_of", edges);
	json_object_set_new(j, "linger_ms", json_integer(linger_ms));
	json_object_set_new(j, "fanout", json_integer(fanout));
	json_object_set_new(j, "keyframe_caches", ah_relay_gop_figures());
	json_object_set_new(j, "messages", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "received", (json_int_t)msgs_in,
		"refused", (json_int_t)msgs_bad, "sent", (json_int_t)msgs_out, "edges_expired", (json_int_t)edges_expired,
		"unsubscribed", (json_int_t)unsubscribed, "sent_to_parent", (json_int_t)redirected));
	return j;
}

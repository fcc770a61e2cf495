/* allhands: engine tests of media across nodes (engine-mirror.c; docs/cluster-media.md, "Wiring").
 * The engine stands for node-b, an edge of room acme/allhands homed on node-a: an attendee seated with
 * a seat ticket lists the room once for the glue; the origin's presenters become mirrors (presenter
 * participants on glue-chosen conns without seats) that receivers are offered and routed from; changed
 * streams republish, a mirror not listed any more is removed; bad entries change nothing. On the
 * origin side, a watched room lists its presenters' changes, and room_publishers lists them (mirrors
 * excluded).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>

#include "engine-fixture.h"

#define REAL_NOW G_GINT64_CONSTANT(1800000000)
#define CLUSTER_SECRET "cluster-secret-cluster-secret-cluster"
#define MIRROR1 G_GUINT64_CONSTANT(1000001)
#define MIRROR2 G_GUINT64_CONSTANT(1000002)

static const ah_place_node view[] = {
	{ "node-a", "ws://10.0.0.1:8188", TRUE, 100, 10, 0 },
	{ "node-b", "ws://10.0.0.2:8188", TRUE, 100, 50, 0 },
};

static void edge_setup(fixture *f, gconstpointer data)
{
	setup(f, data);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	ah_engine_set_cluster(f->engine, "node-b", CLUSTER_SECRET);
	ah_engine_set_cluster_nodes(f->engine, view, G_N_ELEMENTS(view));
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 100, "
		"'secret': 'acme-tenant-secret'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', 'node': 'node-a', "
		"'max_attendees': 100, 'presenter_secret': 's3cret-presenter'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'local', 'node': 'node-b', "
		"'max_attendees': 100, 'presenter_secret': 's3cret-presenter'}"));
	clear(f);
}

/* A seat ticket for node-b, as the origin signs one. */
static json_t *join_seat(fixture *f, guint64 conn, const char *display)
{
	ah_ticket t = { 0 };
	g_strlcpy(t.tenant, "acme", sizeof(t.tenant));
	g_strlcpy(t.room, "allhands", sizeof(t.room));
	g_strlcpy(t.node, "node-b", sizeof(t.node));
	t.ptype = AH_TICKET_ATTENDEE;
	t.priority = TRUE;
	t.exp = REAL_NOW + 60;
	g_assert_true(ah_ticket_nonce(t.nonce));
	char *ticket = ah_ticket_sign(&t, CLUSTER_SECRET);
	char *text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ticket': '%s', "
		"'display': '%s'}", ticket, display);
	json_t *reply = send(f, conn, text);
	g_free(text);
	g_free(ticket);
	return reply;
}

static guint take_count(GPtrArray *list, const char *room)
{
	guint n = 0;
	for (guint i = 0; list != NULL && i < list->len; i++)
		n += strcmp(((ah_def_ref *)g_ptr_array_index(list, i))->room, room) == 0;
	if (list != NULL)
		g_ptr_array_unref(list);
	return n;
}

static gboolean set_mirrors(fixture *f, const ah_mirror *m, guint n)
{
	return ah_engine_set_mirrors(f->engine, "acme", "allhands", m, n, f->now, f->outs);
}

static void test_edge_listed_once(fixture *f, gconstpointer data)
{
	(void)data;
	g_assert_null(ah_engine_edge_rooms_take(f->engine));
	g_assert_cmpstr(ah_engine_room_origin(f->engine, "acme", "allhands"), ==, "node-a");
	g_assert_null(ah_engine_room_origin(f->engine, "acme", "local"));
	g_assert_null(ah_engine_room_origin(f->engine, "acme", "nope"));
	assert_event(join_seat(f, 1, "Ann"), "admitted");
	g_assert_cmpuint(take_count(ah_engine_edge_rooms_take(f->engine), "allhands"), ==, 1);
	assert_event(join_seat(f, 2, "Bob"), "admitted");
	g_assert_null(ah_engine_edge_rooms_take(f->engine)); /* listed once */
	g_assert_cmpuint(ah_engine_room_receivers(f->engine, "acme", "allhands"), ==, 2);
	/* The glue stopped serving it: the next receiver offered media lists it again. */
	ah_engine_edge_room_done(f->engine, "acme", "allhands");
	assert_event(join_seat(f, 3, "Cy"), "admitted");
	g_assert_cmpuint(take_count(ah_engine_edge_rooms_take(f->engine), "allhands"), ==, 1);
	/* A room homed here is never listed. */
	assert_event(send(f, 9, "{'request': 'join', 'tenant': 'acme', 'room': 'local', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret-presenter'}"), "joined");
	assert_event(send(f, 4, "{'request': 'join', 'tenant': 'acme', 'room': 'local'}"), "admitted");
	g_assert_null(ah_engine_edge_rooms_take(f->engine));
}

static void test_mirrors_offered_routed_removed(fixture *f, gconstpointer data)
{
	guint n;
	(void)data;
	assert_event(join_seat(f, 1, "Ann"), "admitted");
	connect(f, 1);
	clear(f);
	ah_mirror m = { MIRROR1, 77, "CEO on node-a", av, G_N_ELEMENTS(av) };
	g_assert_true(set_mirrors(f, &m, 1));
	/* The receiver is offered the mirror, by name, and routed from it. */
	ah_out *offer = find(f, AH_OUT_EVENT, 1, "updated");
	g_assert_nonnull(offer);
	g_assert_cmpint(offer->jsep, ==, AH_JSEP_OFFER);
	json_t *presenters = json_object_get(offer->body, "presenters");
	g_assert_cmpuint(json_array_size(presenters), ==, 1);
	g_assert_cmpstr(str(json_array_get(presenters, 0), "display"), ==, "CEO on node-a");
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, MIRROR1, NULL), ==, 1);
	const ah_slot *s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_true(s[0].active && s[1].active);
	g_assert_cmpuint(s[0].presenter_conn, ==, MIRROR1);
	start(f, 1);
	g_assert_cmpuint(n_routes(f, MIRROR1, 1), ==, 2);
	/* No seat: node counts and the room's receivers do not count it. */
	g_assert_cmpint(node_count(f, "presenters"), ==, 0);
	g_assert_cmpuint(ah_engine_room_receivers(f->engine, "acme", "allhands"), ==, 1);
	/* The same list again: nothing happens. */
	clear(f);
	g_assert_true(set_mirrors(f, &m, 1));
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 1, "updated"), ==, 0);
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, 0, NULL), ==, 0);
	/* A second mirror: offered; then its streams change (video only): republished. */
	ah_mirror two[] = { m, { MIRROR2, 78, "CFO", av, G_N_ELEMENTS(av) } };
	clear(f);
	g_assert_true(set_mirrors(f, two, 2));
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 1, "updated"), ==, 1);
	start(f, 1);
	g_assert_cmpuint(n_routes(f, MIRROR2, 1), ==, 2);
	two[1].streams = video_only;
	two[1].n_streams = G_N_ELEMENTS(video_only);
	clear(f);
	g_assert_true(set_mirrors(f, two, 2));
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 1, "updated"), ==, 1);
	start(f, 1);
	g_assert_cmpuint(n_routes(f, MIRROR2, 1), ==, 1);
	/* None listed: both removed, the receiver's m-lines inactive, the fan-outs emptied. */
	clear(f);
	g_assert_true(set_mirrors(f, NULL, 0));
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, MIRROR1, NULL), ==, 1);
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, MIRROR2, NULL), ==, 1);
	start(f, 1);
	s = slots(f, 1, &n);
	for (guint i = 0; i < n; i++)
		g_assert_false(s[i].active);
	g_assert_cmpuint(n_routes(f, MIRROR1, 0), ==, 0);
	g_assert_null(ah_engine_slots(f->engine, MIRROR1, &n));
	/* A mirror conn may come back later (the origin republished). */
	g_assert_true(set_mirrors(f, &m, 1));
	start(f, 1);
	g_assert_cmpuint(n_routes(f, MIRROR1, 1), ==, 2);
}

static void test_bad_mirrors_skipped(fixture *f, gconstpointer data)
{
	(void)data;
	assert_event(join_seat(f, 1, "Ann"), "admitted");
	clear(f);
	ah_stream_desc bad_mindex[] = { { AH_MEDIA_AUDIO, AH_MAX_STREAMS, "opus", "" } };
	ah_stream_desc no_codec[] = { { AH_MEDIA_AUDIO, 0, "", "" } };
	ah_mirror bad[] = {
		{ 0, 1, "zero conn", av, G_N_ELEMENTS(av) },
		{ 1, 2, "an attendee's conn", av, G_N_ELEMENTS(av) },
		{ MIRROR1, 3, "m-line out of range", bad_mindex, 1 },
		{ MIRROR2, 4, "no codec", no_codec, 1 },
		{ MIRROR2 + 1, 5, "too many streams", av, AH_MAX_STREAMS + 1 },
	};
	g_assert_true(set_mirrors(f, bad, G_N_ELEMENTS(bad)));
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 1, "updated"), ==, 0);
	g_assert_null(find(f, AH_OUT_ROUTES, 0, NULL));
	guint n = 0;
	g_assert_null(ah_engine_slots(f->engine, MIRROR1, &n));
	/* The attendee on conn 1 is still an attendee. */
	g_assert_cmpuint(ah_engine_room_receivers(f->engine, "acme", "allhands"), ==, 1);
	/* No such room. */
	g_assert_false(ah_engine_set_mirrors(f->engine, "acme", "nope", bad, 1, f->now, f->outs));
	g_assert_false(ah_engine_set_mirrors(f->engine, "nobody", "allhands", bad, 1, f->now, f->outs));
}

static void test_origin_feeds(fixture *f, gconstpointer data)
{
	GArray *pubs = g_array_new(FALSE, FALSE, sizeof(ah_mirror));
	(void)data;
	/* On the origin (node-b's own room "local"), a watched room lists its presenters' changes. */
	g_assert_true(ah_engine_watch_feeds(f->engine, "acme", "local", TRUE));
	g_assert_false(ah_engine_watch_feeds(f->engine, "acme", "nope", TRUE));
	assert_event(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'local', 'ptype': 'presenter', "
		"'display': 'Host', 'presenter_secret': 's3cret-presenter'}"), "joined");
	g_assert_null(ah_engine_feeds_take(f->engine)); /* joined, not publishing: no change for edges */
	g_assert_true(ah_engine_room_publishers(f->engine, "acme", "local", pubs));
	g_assert_cmpuint(pubs->len, ==, 0);
	assert_event(send_jsep(f, 1, "{'request': 'publish'}", "offer", av, G_N_ELEMENTS(av)), "published");
	g_assert_cmpuint(take_count(ah_engine_feeds_take(f->engine), "local"), ==, 1);
	g_assert_null(ah_engine_feeds_take(f->engine));
	g_assert_true(ah_engine_room_publishers(f->engine, "acme", "local", pubs));
	g_assert_cmpuint(pubs->len, ==, 1);
	const ah_mirror *p = &g_array_index(pubs, ah_mirror, 0);
	g_assert_cmpuint(p->conn, ==, 1);
	g_assert_cmpstr(p->display, ==, "Host");
	g_assert_cmpuint(p->n_streams, ==, 2);
	g_assert_cmpstr(p->streams[1].codec, ==, "vp8");
	/* Unpublish: listed again; not watched any more: nothing listed. */
	assert_event(send(f, 1, "{'request': 'unpublish'}"), "unpublished");
	g_assert_cmpuint(take_count(ah_engine_feeds_take(f->engine), "local"), ==, 1);
	g_assert_true(ah_engine_watch_feeds(f->engine, "acme", "local", FALSE));
	assert_event(send_jsep(f, 1, "{'request': 'publish'}", "offer", av, G_N_ELEMENTS(av)), "published");
	g_assert_null(ah_engine_feeds_take(f->engine));
	/* Mirrors are never listed as an origin's publishers. */
	assert_event(join_seat(f, 2, "Ann"), "admitted");
	ah_mirror m = { MIRROR1, 77, "Remote", av, G_N_ELEMENTS(av) };
	g_assert_true(set_mirrors(f, &m, 1));
	g_array_set_size(pubs, 0);
	g_assert_true(ah_engine_room_publishers(f->engine, "acme", "allhands", pubs));
	g_assert_cmpuint(pubs->len, ==, 0);
	g_array_unref(pubs);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/engine/mirror/edge-listed-once", fixture, NULL, edge_setup, test_edge_listed_once, teardown);
	g_test_add("/engine/mirror/offered-routed-removed", fixture, NULL, edge_setup, test_mirrors_offered_routed_removed,
		teardown);
	g_test_add("/engine/mirror/bad-entries-skipped", fixture, NULL, edge_setup, test_bad_mirrors_skipped, teardown);
	g_test_add("/engine/mirror/origin-feeds", fixture, NULL, edge_setup, test_origin_feeds, teardown);
	return g_test_run();
}

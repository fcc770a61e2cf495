/* allhands: edges (docs/cluster.md, "Edges: the queue drains into any node"). First the choice of an
 * edge alone (include/allhands/edges.h): the ramp-up spreading a burst over edges, free seats minus
 * the placements in flight until the edge's next heartbeat, no alive node. Then the engine: an origin
 * ("node-a") serving a room's first origin_attendees itself (0: none) and its node capacity, placing
 * the others on edges with a seat redirect (at once and out of a wave), the edge ("node-b", a second
 * engine) seating the ticket's attendee, the ticket refused when replayed or taken to another node,
 * and with no edge alive the attendees staying queued on the origin.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "allhands/edges.h"

#include "engine-fixture.h"

#define REAL_NOW G_GINT64_CONSTANT(1800000000)
#define CLUSTER_SECRET "cluster-secret-cluster-secret-cluster"

/* --- the choice alone */

static ah_place_view *view_of(const ah_place_node *nodes, guint n)
{
	return ah_place_view_new(nodes, n);
}

/* A burst of 8 placements in one second, 3 a second per edge: 3 on b, then 3 on c (b is at its
 * ramp), then none; the next second b (already serving the room) again. */
static void test_ramp_spreads_burst(void)
{
	const ah_place_node nodes[] = {
		{ "a", "ws://a", TRUE, 100, 0, 0, 1000 }, { "b", "ws://b", TRUE, 100, 0, 0, 1000 },
		{ "c", "ws://c", TRUE, 100, 0, 0, 1000 }, { "d", "ws://d", FALSE, 1000, 0, 0, 1000 },
	};
	ah_place_view *view = view_of(nodes, G_N_ELEMENTS(nodes));
	ah_edges *edges = ah_edges_new(3);
	const char *got[8];
	gint64 now = 10 * SEC;
	/* "a" is the origin: never its own edge; "d" is dead. Each of b, c: min(100, 3). */
	g_assert_cmpuint(ah_edges_capacity(edges, view, "a", now), ==, 6);
	for (guint i = 0; i < 8; i++)
		got[i] = ah_edges_place(edges, view, "a", "acme/allhands", now + i * MS);
	for (guint i = 0; i < 3; i++)
		g_assert_cmpstr(got[i], ==, "b");
	for (guint i = 3; i < 6; i++)
		g_assert_cmpstr(got[i], ==, "c");
	g_assert_null(got[6]);
	g_assert_null(got[7]);
	g_assert_cmpuint(ah_edges_capacity(edges, view, "a", now + 500 * MS), ==, 0);
	g_assert_cmpuint(ah_edges_placed_total(edges), ==, 6);
	g_assert_cmpuint(ah_edges_placed_on(edges, "b"), ==, 3);
	g_assert_cmpuint(ah_edges_placed_on(edges, "d"), ==, 0);
	/* A second later the ramp allows 3 more each; b and c both serve the room and have 97 free: b (id). */
	g_assert_cmpuint(ah_edges_capacity(edges, view, "a", now + SEC), ==, 3); /* c's second began 3 ms later */
	g_assert_cmpuint(ah_edges_capacity(edges, view, "a", now + SEC + 10 * MS), ==, 6);
	g_assert_cmpstr(ah_edges_place(edges, view, "a", "acme/allhands", now + SEC + 10 * MS), ==, "b");
	/* Another room: no edge serves it yet: the least loaded one (c: 97 free, b: 96). */
	g_assert_cmpstr(ah_edges_place(edges, view, "a", "acme/other", now + SEC + 10 * MS), ==, "c");
	ah_edges_free(edges);
	ah_place_view_free(view);
}

/* An edge's free seats, minus what the origin placed there since its last heartbeat. */
static void test_free_minus_in_flight(void)
{
	const ah_place_node before[] = {
		{ "a", "ws://a", TRUE, 10, 0, 0, 1000 }, { "b", "ws://b", TRUE, 10, 7, 1, 1000 }, /* 2 free */
	};
	const ah_place_node same_beat[] = {
		{ "a", "ws://a", TRUE, 10, 0, 0, 2000 }, { "b", "ws://b", TRUE, 10, 7, 1, 1000 },
	};
	const ah_place_node seated[] = {
		{ "a", "ws://a", TRUE, 10, 0, 0, 3000 }, { "b", "ws://b", TRUE, 10, 9, 1, 2500 }, /* they arrived */
	};
	const ah_place_node left[] = {
		{ "a", "ws://a", TRUE, 10, 0, 0, 4000 }, { "b", "ws://b", TRUE, 10, 6, 0, 3500 }, /* 4 free */
	};
	ah_place_view *view = view_of(before, G_N_ELEMENTS(before));
	ah_edges *edges = ah_edges_new(AH_EDGES_RAMP_DEFAULT);
	gint64 now = 10 * SEC;
	ah_edges_view(edges, view);
	g_assert_cmpstr(ah_edges_place(edges, view, "a", "t/r", now), ==, "b");
	g_assert_cmpstr(ah_edges_place(edges, view, "a", "t/r", now), ==, "b");
	g_assert_null(ah_edges_place(edges, view, "a", "t/r", now));
	g_assert_cmpuint(ah_edges_node_free(edges, ah_place_view_find(view, "b")), ==, 0);
	/* A new view without a newer heartbeat of b: its figures do not have them yet. */
	ah_place_view_free(view);
	view = view_of(same_beat, G_N_ELEMENTS(same_beat));
	ah_edges_view(edges, view);
	g_assert_null(ah_edges_place(edges, view, "a", "t/r", now + 2 * SEC));
	g_assert_cmpuint(ah_edges_capacity(edges, view, "a", now + 2 * SEC), ==, 0);
	/* b's heartbeat counts them: still full. */
	ah_place_view_free(view);
	view = view_of(seated, G_N_ELEMENTS(seated));
	ah_edges_view(edges, view);
	g_assert_null(ah_edges_place(edges, view, "a", "t/r", now + 3 * SEC));
	/* Some left: 4 free, nothing in flight. */
	ah_place_view_free(view);
	view = view_of(left, G_N_ELEMENTS(left));
	ah_edges_view(edges, view);
	g_assert_cmpuint(ah_edges_capacity(edges, view, "a", now + 4 * SEC), ==, 4);
	g_assert_cmpstr(ah_edges_place(edges, view, "a", "t/r", now + 4 * SEC), ==, "b");
	g_assert_cmpuint(ah_edges_capacity(edges, view, "a", now + 4 * SEC), ==, 3);
	ah_edges_free(edges);
	ah_place_view_free(view);
}

/* No alive node but the origin (or none at all): nowhere to place. */
static void test_no_alive_node(void)
{
	const ah_place_node nodes[] = {
		{ "a", "ws://a", TRUE, 100, 0, 0, 1000 }, { "b", "ws://b", FALSE, 100, 0, 0, 1000 },
	};
	ah_place_view *view = view_of(nodes, G_N_ELEMENTS(nodes));
	ah_edges *edges = ah_edges_new(0);
	g_assert_cmpuint(ah_edges_ramp(edges), ==, 1);
	g_assert_null(ah_edges_place(edges, view, "a", "t/r", SEC));
	g_assert_cmpuint(ah_edges_capacity(edges, view, "a", SEC), ==, 0);
	g_assert_null(ah_edges_place(edges, NULL, "a", "t/r", SEC));
	g_assert_cmpuint(ah_edges_placed_total(edges), ==, 0);
	ah_edges_free(edges);
	ah_place_view_free(view);
}

/* --- the engine */

static const ah_place_node cluster[] = {
	{ "node-a", "ws://10.0.0.1:8188", TRUE, 5, 0, 0, 1000 },
	{ "node-b", "ws://10.0.0.2:8188", TRUE, 100, 0, 0, 1000 },
	{ "node-c", "ws://10.0.0.3:8188", TRUE, 100, 10, 0, 1000 },
};

typedef struct {
	fixture f;
} edge;

static void set_node(ah_engine *e, const char *id, const ah_place_node *nodes, guint n)
{
	ah_engine_set_cluster(e, id, CLUSTER_SECRET);
	ah_engine_set_cluster_nodes(e, nodes, n);
}

static void make_room(fixture *f, const char *extra)
{
	char *text = g_strdup_printf("{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', 'node': 'node-a', "
		"'max_attendees': 100, 'presenter_secret': 's3cret-presenter'%s}", extra);
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 100, "
		"'secret': 'acme-tenant-secret'}"));
	assert_success(admin(f, text));
	g_free(text);
	clear(f);
}

static void edge_new(fixture *f, edge *e, const char *id)
{
	e->f = *f;
	e->f.config.state_path = NULL;
	e->f.engine = engine_new(&e->f.config);
	ah_engine_set_clock_offset(e->f.engine, REAL_NOW * SEC - f->now);
	set_node(e->f.engine, id, cluster, G_N_ELEMENTS(cluster));
	make_room(&e->f, "");
}

static void origin_setup(fixture *f, gconstpointer data)
{
	setup(f, data);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	set_node(f->engine, "node-a", cluster, G_N_ELEMENTS(cluster));
}

static json_t *room_info(fixture *f)
{
	return json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
}

static json_t *join_ticket(fixture *f, guint64 conn, const char *ticket)
{
	char *text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ticket': '%s', "
		"'display': 'Ann'}", ticket);
	json_t *reply = send(f, conn, text);
	g_free(text);
	return reply;
}

static void assert_seat_redirect(const json_t *body, const char *node)
{
	assert_event(body, "redirect");
	g_assert_cmpstr(str(body, "reason"), ==, "seat");
	g_assert_cmpstr(str(body, "node"), ==, node);
	g_assert_cmpstr(str(body, "ptype"), ==, "attendee");
	g_assert_cmpstr(str(body, "tenant"), ==, "acme");
	g_assert_nonnull(str(body, "ticket"));
	g_assert_nonnull(str(body, "url"));
}

/* origin_attendees 2: the first two served on node-a, the next ones redirected at once to node-b (the
 * least loaded edge, then serving the room); the edge seats them with its ticket, once; the ticket is
 * refused replayed or on another node. Status shows where they went. */
static void test_origin_attendees_n(fixture *f, gconstpointer data)
{
	edge b, c;
	json_t *reply, *info;
	char *ticket;
	make_room(f, ", 'origin_attendees': 2");
	edge_new(f, &b, "node-b");
	edge_new(f, &c, "node-c");
	info = room_info(f);
	g_assert_cmpint(num(info, "origin_attendees"), ==, 2);
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "admitted");
	reply = join_attendee(f, 3);
	assert_seat_redirect(reply, "node-b");
	g_assert_cmpstr(str(reply, "url"), ==, "ws://10.0.0.2:8188");
	g_assert_cmpint(num(reply, "position"), ==, 0);
	ticket = g_strdup(str(reply, "ticket"));
	/* Its seat on node-a is free again; event handlers were told it left (placed). */
	g_assert_cmpint(node_count(f, "admitted"), ==, 2);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 3, "left"));
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 3, "left")->body, "reason"), ==, "placed");
	/* Seated on node-b (priority class, no pin asked), one time; not on node-c. */
	assert_error(join_ticket(&c.f, 20, ticket), AH_ERR_TICKET_MISMATCH);
	reply = join_ticket(&b.f, 20, ticket);
	assert_event(reply, "admitted");
	g_assert_cmpint(node_count(&b.f, "admitted"), ==, 1);
	assert_error(join_ticket(&b.f, 21, ticket), AH_ERR_TICKET_USED);
	g_free(ticket);
	assert_seat_redirect(join_attendee(f, 4), "node-b");
	info = room_info(f);
	g_assert_cmpint(num(json_object_get(info, "placed"), "node-b"), ==, 2);
	g_assert_null(json_object_get(json_object_get(info, "placed"), "node-c"));
	reply = json_object_get(json_object_get(json_object_get(admin(f, "{'request': 'status'}"), "node"), "placement"),
		"edges");
	g_assert_cmpint(num(reply, "placed"), ==, 2);
	g_assert_cmpint(num(json_object_get(reply, "placed_on"), "node-b"), ==, 2);
	/* A room made again under the same id starts with nothing placed (the node's totals stay). */
	assert_success(admin(f, "{'request': 'destroy_room', 'tenant': 'acme', 'room': 'allhands'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', 'node': 'node-a', "
		"'max_attendees': 100, 'presenter_secret': 's3cret-presenter'}"));
	g_assert_cmpuint(json_object_size(json_object_get(room_info(f), "placed")), ==, 0);
	clear(&b.f);
	clear(&c.f);
	clear(f);
	ah_engine_free(b.f.engine);
	ah_engine_free(c.f.engine);
}

/* origin_attendees 0: every attendee on an edge; with no edge alive they stay queued on the origin
 * (never over the limit), and a wave places them once an edge is back. */
static void test_origin_attendees_zero(fixture *f, gconstpointer data)
{
	const ah_place_node alone[] = {
		{ "node-a", "ws://10.0.0.1:8188", TRUE, 5, 0, 0, 2000 }, { "node-b", "ws://10.0.0.2:8188", FALSE, 100, 0, 0, 1000 },
	};
	json_t *reply;
	ah_out *redirect;
	make_room(f, ", 'origin_attendees': 0");
	assert_seat_redirect(join_attendee(f, 1), "node-b");
	ah_engine_set_cluster_nodes(f->engine, alone, G_N_ELEMENTS(alone));
	reply = join_attendee(f, 2);
	assert_event(reply, "queued");
	g_assert_cmpint(num(reply, "position"), ==, 1);
	f->now += 2 * SEC;
	tick(f);
	g_assert_cmpint(node_count(f, "admitted"), ==, 0);
	g_assert_cmpint(node_count(f, "queued"), ==, 1);
	clear(f);
	/* node-b is back: the next wave admits it and places it there, with the position it held. */
	ah_engine_set_cluster_nodes(f->engine, cluster, G_N_ELEMENTS(cluster));
	f->now += 2 * SEC;
	tick(f);
	redirect = find(f, AH_OUT_EVENT, 2, "redirect");
	g_assert_nonnull(redirect);
	assert_seat_redirect(redirect->body, "node-b");
	g_assert_cmpint(num(redirect->body, "position"), ==, 1);
	g_assert_null(find(f, AH_OUT_EVENT, 2, "admitted"));
	g_assert_cmpint(node_count(f, "queued"), ==, 0);
	g_assert_cmpint(node_count(f, "admitted"), ==, 0);
	clear(f);
}

/* No origin_attendees: the origin serves up to its capacity (5), then its waves go on beyond it and
 * place the overflow; the node's capacity in status stays its own. */
static void test_capacity_spills(fixture *f, gconstpointer data)
{
	json_t *node;
	make_room(f, "");
	for (guint64 conn = 1; conn <= 5; conn++)
		assert_event(join_attendee(f, conn), "admitted");
	assert_seat_redirect(join_attendee(f, 6), "node-b");
	assert_seat_redirect(join_attendee(f, 7), "node-b");
	node = json_object_get(admin(f, "{'request': 'status'}"), "node");
	g_assert_cmpint(num(json_object_get(node, "counts"), "admitted"), ==, 5);
	g_assert_cmpint(num(node, "capacity"), ==, 5);
	g_assert_null(json_object_get(room_info(f), "origin_attendees"));
	clear(f);
}

/* The room option: validated, kept in the definition (state file row), shown. */
static void test_option(fixture *f, gconstpointer data)
{
	make_room(f, "");
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'origin_attendees': -1}"),
		AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'origin_attendees': '2'}"),
		AH_ERR_INVALID_ELEMENT);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'origin_attendees': 7}"));
	g_assert_cmpint(num(room_info(f), "origin_attendees"), ==, 7);
	flush_state(f);
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	g_assert_cmpint(num(room_info(f), "origin_attendees"), ==, 7);
	clear(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/edges/ramp-spreads-burst", test_ramp_spreads_burst);
	g_test_add_func("/edges/free-minus-in-flight", test_free_minus_in_flight);
	g_test_add_func("/edges/no-alive-node", test_no_alive_node);
	g_test_add("/engine/edges/origin-attendees-n", fixture, NULL, origin_setup, test_origin_attendees_n, teardown);
	g_test_add("/engine/edges/origin-attendees-zero", fixture, NULL, origin_setup, test_origin_attendees_zero, teardown);
	g_test_add("/engine/edges/capacity-spills", fixture, NULL, origin_setup, test_capacity_spills, teardown);
	g_test_add("/engine/edges/option", fixture, NULL, origin_setup, test_option, teardown);
	return g_test_run();
}

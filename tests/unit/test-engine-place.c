/* allhands: engine scenario tests of cluster placement and redirects (engine-place.c and the join
 * side of requests-join.c): two engines in one process stand for nodes "node-a" and "node-b" with
 * the same cluster secret. A room placed on the least loaded node, pinned, refused in single-node
 * mode and kept across a restart; joins on node-b for a room homed on node-a answered with a
 * redirect only after their credentials passed; the ticket taken once on node-a (replayed, forged,
 * expired, for another room, node or type: refused with its code); a join refused on node-a gives
 * its ticket back.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>

#include "allhands/token.h"

#include "engine-fixture.h"

#define REAL_NOW G_GINT64_CONSTANT(1800000000)
#define CLUSTER_SECRET "cluster-secret-cluster-secret-cluster"

static const ah_place_node view[] = {
	{ "node-a", "ws://10.0.0.1:8188", TRUE, 100, 10, 0, 0 },   /* 90 free */
	{ "node-b", "ws://10.0.0.2:8188", TRUE, 100, 50, 0, 0 },   /* 50 free */
	{ "node-c", "ws://10.0.0.3:8188", FALSE, 1000, 0, 0, 0 },  /* dead */
};

/* The home node: a second engine (no state file), driven through a fixture sharing f's outs. */
typedef struct {
	fixture f;
} home;

static void set_node(ah_engine *e, const char *id, const ah_place_node *nodes, guint n)
{
	ah_engine_set_cluster(e, id, CLUSTER_SECRET);
	ah_engine_set_cluster_nodes(e, nodes, n);
}

static void home_new(fixture *f, home *h)
{
	h->f = *f;
	h->f.config.state_path = NULL;
	h->f.engine = engine_new(&h->f.config);
	ah_engine_set_clock_offset(h->f.engine, REAL_NOW * SEC - f->now);
	set_node(h->f.engine, "node-a", view, G_N_ELEMENTS(view));
}

static void home_free(home *h)
{
	ah_engine_free(h->f.engine);
}

/* Both nodes have tenant acme and room allhands homed on node-a (until definitions are shared
 * through Redis, every node is told each room). */
static void make_cluster_rooms(fixture *f)
{
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 100, "
		"'secret': 'acme-tenant-secret'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', 'node': 'node-a', "
		"'max_attendees': 100, 'pin': 'pin-4321', 'presenter_secret': 's3cret-presenter', 'priority_secret': 'vip-pass'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'other', 'node': 'node-a', "
		"'max_attendees': 100, 'presenter_secret': 's3cret-presenter'}"));
	/* globex: no seat at all, so a presenter join there is tenant_full. */
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'globex', 'max_participants': 0, "
		"'secret': 'globex-tenant-secret'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'globex', 'room': 'standup', 'node': 'node-a', "
		"'max_attendees': 10, 'presenter_secret': 'g-s3cret'}"));
	clear(f);
}

static void place_setup(fixture *f, gconstpointer data)
{
	setup(f, data);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	set_node(f->engine, "node-b", view, G_N_ELEMENTS(view));
}

/* A redirect's ticket (copied: the reply is freed at teardown). */
static char *redirect_ticket(const json_t *reply, const char *ptype)
{
	assert_event(reply, "redirect");
	g_assert_cmpstr(str(reply, "node"), ==, "node-a");
	g_assert_cmpstr(str(reply, "url"), ==, "ws://10.0.0.1:8188");
	g_assert_cmpstr(str(reply, "tenant"), ==, "acme");
	g_assert_cmpstr(str(reply, "ptype"), ==, ptype);
	g_assert_cmpint(num(reply, "expires_in_s"), ==, AH_TICKET_TTL_S);
	g_assert_nonnull(str(reply, "ticket"));
	return g_strdup(str(reply, "ticket"));
}

static json_t *join_ticket(fixture *f, guint64 conn, const char *room, const char *ticket, const char *extra)
{
	char *text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': '%s', 'ticket': '%s'%s}", room, ticket,
		extra);
	json_t *reply = send(f, conn, text);
	g_free(text);
	return reply;
}

static void test_single_node(fixture *f, gconstpointer data)
{
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 10, "
		"'secret': 'acme-tenant-secret'}"));
	json_t *reply = admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r', 'node': 'node-a', "
		"'max_attendees': 10, 'presenter_secret': 's3cret-presenter'}");
	assert_error(reply, AH_ERR_NOT_CLUSTERED);
	assert_success(reply = admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r', 'max_attendees': 10, "
		"'presenter_secret': 's3cret-presenter'}"));
	g_assert_null(json_object_get(json_object_get(reply, "room"), "node"));
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'r', 'node': 'node-a'}"), AH_ERR_NOT_CLUSTERED);
	/* A ticket means nothing to a single node. */
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'r', 'ticket': 'x.y'}"), AH_ERR_NOT_CLUSTERED);
	assert_event(send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'r'}"), "admitted");
	g_assert_null(json_object_get(json_object_get(admin(f, "{'request': 'status'}"), "node"), "placement"));
}

static void test_placement(fixture *f, gconstpointer data)
{
	json_t *reply;
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 10, "
		"'secret': 'acme-tenant-secret'}"));
	/* Least loaded alive: node-a (90 free; node-c is dead). */
	assert_success(reply = admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r1', 'max_attendees': 10, "
		"'presenter_secret': 's3cret-presenter'}"));
	g_assert_cmpstr(str(json_object_get(reply, "room"), "node"), ==, "node-a");
	/* The view changes: node-b is now the least loaded. */
	const ah_place_node later[] = {
		{ "node-a", "ws://10.0.0.1:8188", TRUE, 100, 95, 0, 0 }, { "node-b", "ws://10.0.0.2:8188", TRUE, 100, 50, 0, 0 },
	};
	ah_engine_set_cluster_nodes(f->engine, later, G_N_ELEMENTS(later));
	assert_success(reply = admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r2', 'max_attendees': 10, "
		"'presenter_secret': 's3cret-presenter'}"));
	g_assert_cmpstr(str(json_object_get(reply, "room"), "node"), ==, "node-b");
	/* Pinned, even to a node the view does not know; bad ids refused. */
	assert_success(reply = admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r3', 'node': 'node-z', "
		"'max_attendees': 10, 'presenter_secret': 's3cret-presenter'}"));
	g_assert_cmpstr(str(json_object_get(reply, "room"), "node"), ==, "node-z");
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'r3', 'node': 'bad node'}"),
		AH_ERR_INVALID_ELEMENT);
	assert_success(reply = admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'r3', 'node': 'node-b'}"));
	g_assert_cmpstr(str(json_object_get(reply, "room"), "node"), ==, "node-b");
	/* list_rooms and room_info show it. */
	reply = admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'r1'}");
	g_assert_cmpstr(str(json_object_get(reply, "room"), "node"), ==, "node-a");
	reply = admin(f, "{'request': 'list_rooms', 'tenant': 'acme'}");
	g_assert_cmpstr(str(json_array_get(json_object_get(reply, "rooms"), 1), "node"), ==, "node-b");
	/* A room at home here (r3 on node-b): joined as today. */
	assert_event(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'r3'}"), "admitted");
	/* The placement is in the state file's row: a restart keeps it. */
	flush_state(f);
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	reply = admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'r2'}");
	g_assert_cmpstr(str(json_object_get(reply, "room"), "node"), ==, "node-b");
}

static void test_redirect_attendee(fixture *f, gconstpointer data)
{
	home h;
	char *ticket;
	json_t *reply;
	make_cluster_rooms(f);
	home_new(f, &h);
	make_cluster_rooms(&h.f);
	/* Credentials first: a wrong pin gets wrong_pin, no ticket. */
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'nope'}"), AH_ERR_WRONG_PIN);
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321', "
		"'priority_secret': 'wrong'}"), AH_ERR_WRONG_SECRET);
	reply = send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321', 'display': 'Ann'}");
	ticket = redirect_ticket(reply, "attendee");
	g_assert_cmpstr(str(reply, "room"), ==, "allhands");
	/* Nothing joined on node-b: the handle may join again (here: be redirected again). */
	g_assert_cmpint(node_count(f, "admitted") + node_count(f, "queued"), ==, 0);
	assert_event(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"), "redirect");
	/* node-a takes it once, without the pin. */
	assert_event(join_ticket(&h.f, 10, "allhands", ticket, ", 'display': 'Ann'"), "admitted");
	assert_error(join_ticket(&h.f, 11, "allhands", ticket, ""), AH_ERR_TICKET_USED);
	/* For another room, node or type. */
	assert_error(join_ticket(&h.f, 12, "other", ticket, ""), AH_ERR_TICKET_MISMATCH);
	g_free(ticket);
	ticket = redirect_ticket(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"),
		"attendee");
	assert_error(join_ticket(&h.f, 13, "allhands", ticket, ", 'ptype': 'presenter'"), AH_ERR_TICKET_MISMATCH);
	/* Forged: one character of its MAC changed. */
	char *forged = g_strdup(ticket);
	forged[strlen(forged) - 2] = forged[strlen(forged) - 2] == 'A' ? 'B' : 'A';
	assert_error(join_ticket(&h.f, 14, "allhands", forged, ""), AH_ERR_TICKET_INVALID);
	g_free(forged);
	/* Taken by node-b itself (not its home): mismatch. */
	assert_error(join_ticket(f, 2, "allhands", ticket, ""), AH_ERR_TICKET_MISMATCH);
	/* Still good on node-a (the refusals above took nothing). */
	assert_event(join_ticket(&h.f, 15, "allhands", ticket, ""), "admitted");
	g_free(ticket);
	/* Expired: taken 100 s later. */
	ticket = redirect_ticket(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"),
		"attendee");
	h.f.now += 100 * SEC;
	assert_error(join_ticket(&h.f, 16, "allhands", ticket, ""), AH_ERR_TICKET_EXPIRED);
	g_free(ticket);
	/* The operator's status counts them: node-b issued 4; node-a took 2 and refused 5. */
	reply = json_object_get(json_object_get(admin(f, "{'request': 'status'}"), "node"), "placement");
	g_assert_cmpstr(str(reply, "node_id"), ==, "node-b");
	g_assert_cmpint(num(reply, "nodes_known"), ==, 3);
	g_assert_cmpint(num(json_object_get(reply, "tickets"), "issued"), ==, 4);
	reply = json_object_get(json_object_get(json_object_get(admin(&h.f, "{'request': 'status'}"), "node"), "placement"),
		"tickets");
	g_assert_cmpint(num(reply, "taken"), ==, 2);
	g_assert_cmpint(num(reply, "refused"), ==, 5);
	g_assert_cmpint(num(reply, "remembered"), ==, 2);
	clear(f);
	home_free(&h);
}

static void test_redirect_presenter(fixture *f, gconstpointer data)
{
	home h;
	char *ticket;
	json_t *reply;
	make_cluster_rooms(f);
	home_new(f, &h);
	make_cluster_rooms(&h.f);
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 'wrong-secret'}"), AH_ERR_WRONG_SECRET);
	ticket = redirect_ticket(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret-presenter'}"), "presenter");
	reply = join_ticket(&h.f, 10, "allhands", ticket, ", 'display': 'CEO'");
	assert_event(reply, "joined");
	g_free(ticket);
	/* A backstage monitor. */
	ticket = redirect_ticket(send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'backstage', "
		"'presenter_secret': 's3cret-presenter'}"), "backstage");
	assert_event(join_ticket(&h.f, 11, "allhands", ticket, ", 'ptype': 'backstage'"), "admitted");
	g_free(ticket);
	/* A join refused on the home node (tenant_full) gives its ticket back: it is good again. */
	reply = send(f, 3, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'ptype': 'presenter', "
		"'presenter_secret': 'g-s3cret'}");
	assert_event(reply, "redirect");
	ticket = g_strdup(str(reply, "ticket"));
	for (int i = 0; i < 2; i++) {
		char *text = g_strdup_printf("{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'ticket': '%s'}", ticket);
		assert_error(send(&h.f, 12, text), AH_ERR_TENANT_FULL);
		g_free(text);
	}
	g_free(ticket);
	clear(f);
	home_free(&h);
}

/* The class travels with the ticket: a priority_secret checked on node-b queues the attendee in
 * node-a's priority class, ahead of an ordinary attendee queued before it. */
static void test_redirect_priority(fixture *f, gconstpointer data)
{
	home h;
	char *ticket;
	json_t *reply;
	/* node-b has no seat free: node-a's queue holds its attendees (no edge to place them on). */
	const ah_place_node full[] = {
		{ "node-a", "ws://10.0.0.1:8188", TRUE, 100, 10, 0, 0 }, { "node-b", "ws://10.0.0.2:8188", TRUE, 100, 100, 0, 0 },
	};
	make_cluster_rooms(f);
	home_new(f, &h);
	set_node(h.f.engine, "node-a", full, G_N_ELEMENTS(full));
	make_cluster_rooms(&h.f);
	/* node-a's 5 seats taken, one ordinary attendee queued. */
	for (guint64 conn = 1; conn <= 5; conn++)
		assert_event(send(&h.f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"),
			"admitted");
	reply = send(&h.f, 6, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}");
	assert_event(reply, "queued");
	g_assert_cmpint(num(reply, "position"), ==, 1);
	ticket = redirect_ticket(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321', "
		"'priority_secret': 'vip-pass'}"), "attendee");
	reply = join_ticket(&h.f, 7, "allhands", ticket, "");
	assert_event(reply, "queued");
	g_assert_cmpint(num(reply, "position"), ==, 1);
	g_free(ticket);
	/* Without the priority secret: behind both. */
	ticket = redirect_ticket(send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"),
		"attendee");
	reply = join_ticket(&h.f, 8, "allhands", ticket, "");
	assert_event(reply, "queued");
	g_assert_cmpint(num(reply, "position"), ==, 3);
	g_free(ticket);
	clear(f);
	home_free(&h);
}

/* A join token is checked where the join lands; the ticket carries its subject and role. */
static void test_redirect_token(fixture *f, gconstpointer data)
{
	home h;
	char *ticket, *token, *text;
	json_t *reply;
	make_cluster_rooms(f);
	home_new(f, &h);
	make_cluster_rooms(&h.f);
	reply = admin(f, "{'request': 'get_signing_key', 'tenant': 'acme'}");
	token = ah_token_mint(str(reply, "signing_key"), "acme", "allhands", AH_ROLE_PRIORITY, "user-42", REAL_NOW + 3600, 0);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'tokens': 'required'}"));
	assert_success(admin(&h.f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'tokens': 'required'}"));
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"),
		AH_ERR_TOKEN_REQUIRED);
	text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'token': '%s'}", token);
	ticket = redirect_ticket(send(f, 1, text), "attendee");
	g_free(text);
	/* node-a has other signing keys for acme (its own tenant): the ticket stands for the token. */
	assert_event(join_ticket(&h.f, 10, "allhands", ticket, ""), "admitted");
	reply = admin(&h.f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}");
	g_assert_cmpstr(str(json_array_get(json_object_get(json_object_get(reply, "room"), "attendees"), 0), "sub"), ==,
		"user-42");
	g_free(ticket);
	g_free(token);
	clear(f);
	home_free(&h);
}

/* The home node dead in this node's view: a stand-in serves the room, the same one on every node
 * (rendezvous: here node-b, the only alive one); no node alive, or no view at all: home_unavailable. */
static void test_home_unavailable(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_cluster_rooms(f);
	const ah_place_node dead[] = {
		{ "node-a", "ws://10.0.0.1:8188", FALSE, 100, 10, 0, 0 }, { "node-b", "ws://10.0.0.2:8188", TRUE, 100, 50, 0, 0 },
	};
	const ah_place_node none[] = {
		{ "node-a", "ws://10.0.0.1:8188", FALSE, 100, 10, 0, 0 }, { "node-b", "ws://10.0.0.2:8188", FALSE, 100, 50, 0, 0 },
	};
	ah_engine_set_cluster_nodes(f->engine, dead, G_N_ELEMENTS(dead));
	assert_event(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"), "admitted");
	ah_engine_set_cluster_nodes(f->engine, none, G_N_ELEMENTS(none));
	reply = send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}");
	assert_error(reply, AH_ERR_HOME_UNAVAILABLE);
	g_assert_cmpint(num(reply, "retry_after_ms"), >, 0);
	g_assert_cmpstr(str(reply, "node"), ==, "node-a");
	ah_engine_set_cluster_nodes(f->engine, NULL, 0);
	assert_error(send(f, 3, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"),
		AH_ERR_HOME_UNAVAILABLE);
	/* The credentials still come first. */
	assert_error(send(f, 3, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'nope'}"), AH_ERR_WRONG_PIN);
}

/* Every node with the same view picks the same stand-in for a dead home, and a stand-in that is not
 * this node gets the redirect. */
static void test_stand_in_agrees(fixture *f, gconstpointer data)
{
	const ah_place_node three[] = {
		{ "node-a", "ws://10.0.0.1:8188", FALSE, 100, 10, 0, 0 }, { "node-b", "ws://10.0.0.2:8188", TRUE, 100, 50, 0, 0 },
		{ "node-c", "ws://10.0.0.3:8188", TRUE, 100, 0, 0, 0 },
	};
	ah_place_view *v = ah_place_view_new(three, G_N_ELEMENTS(three));
	guint on_b = 0, on_c = 0;
	for (int i = 0; i < 200; i++) {
		char *key = g_strdup_printf("acme/room-%d", i);
		const char *s = ah_place_stand_in(v, key);
		g_assert_nonnull(s);
		g_assert_cmpstr(s, !=, "node-a");
		g_assert_cmpstr(s, ==, ah_place_stand_in(v, key)); /* stable */
		on_b += strcmp(s, "node-b") == 0;
		on_c += strcmp(s, "node-c") == 0;
		g_free(key);
	}
	/* Spread over the alive nodes (rendezvous hashing), not all on one. */
	g_assert_cmpuint(on_b, >, 50);
	g_assert_cmpuint(on_c, >, 50);
	ah_place_view_free(v);
	make_cluster_rooms(f);
	ah_engine_set_cluster_nodes(f->engine, three, G_N_ELEMENTS(three));
	v = ah_place_view_new(three, G_N_ELEMENTS(three));
	const char *expected = ah_place_stand_in(v, "acme/allhands");
	json_t *reply = send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}");
	if (strcmp(expected, "node-b") == 0) {
		assert_event(reply, "admitted");
	} else {
		assert_event(reply, "redirect");
		g_assert_cmpstr(str(reply, "node"), ==, "node-c");
	}
	ah_place_view_free(v);
}

/* An attendee seated by node-a, which dies: its rejoin token ("<token>.<rejoin ticket>") lets it
 * rejoin on node-b without its pin, in the priority class, once; while node-a is alive the ticket
 * is not honoured elsewhere (node-a's own grace applies). */
static void test_rejoin_from_dead_node(fixture *f, gconstpointer data)
{
	home h;
	json_t *reply;
	char *token, *text;
	make_cluster_rooms(f);
	home_new(f, &h);
	make_cluster_rooms(&h.f);
	assert_success(admin(&h.f, "{'request': 'set_capacity', 'rejoin_grace_s': 30}"));
	reply = send(&h.f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}");
	assert_event(reply, "admitted");
	token = g_strdup(str(reply, "rejoin_token"));
	g_assert_cmpuint(strlen(token), >, 33);
	g_assert_cmpint(token[32], ==, '.');
	text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'rejoin_token': '%s'}", token);

	/* node-a alive: node-b does not honour it (no pin: refused before any redirect). */
	assert_error(send(f, 2, text), AH_ERR_WRONG_PIN);

	/* node-a dead, node-b the only alive node: the stand-in. A full node-b: the rejoiner queues first. */
	const ah_place_node a_dead[] = {
		{ "node-a", "ws://10.0.0.1:8188", FALSE, 100, 10, 0, 0 }, { "node-b", "ws://10.0.0.2:8188", TRUE, 100, 50, 0, 0 },
	};
	ah_engine_set_cluster_nodes(f->engine, a_dead, G_N_ELEMENTS(a_dead));
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(send(f, 3, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"), "admitted");
	assert_event(send(f, 4, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321'}"), "queued");
	reply = send(f, 5, text);
	assert_event(reply, "queued");
	g_assert_cmpint(num(reply, "position"), ==, 1); /* ahead of the ordinary attendee queued before it */
	g_assert_cmpstr(str(reply, "rejoined_from"), ==, "dead_node");
	/* Once: the same token again needs the pin like anyone. */
	assert_error(send(f, 6, text), AH_ERR_WRONG_PIN);
	/* A forged ticket is nothing (the pin is asked for). */
	char *forged = g_strdup(token);
	forged[strlen(forged) - 2] = forged[strlen(forged) - 2] == 'A' ? 'B' : 'A';
	char *text2 = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'rejoin_token': '%s'}", forged);
	assert_error(send(f, 7, text2), AH_ERR_WRONG_PIN);
	/* For another room: nothing either. */
	g_free(text2);
	text2 = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'other', 'rejoin_token': '%s'}", token);
	reply = send(f, 8, text2);
	g_assert_null(json_object_get(reply, "rejoined_from"));
	g_free(text2);
	g_free(forged);
	g_free(text);
	g_free(token);
	clear(&h.f);
	clear(f);
	home_free(&h);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/engine/place/single-node", test_single_node);
	g_test_add("/engine/place/placement", fixture, NULL, place_setup, test_placement, teardown);
	g_test_add("/engine/place/redirect-attendee", fixture, NULL, place_setup, test_redirect_attendee, teardown);
	g_test_add("/engine/place/redirect-presenter", fixture, NULL, place_setup, test_redirect_presenter, teardown);
	g_test_add("/engine/place/redirect-priority", fixture, NULL, place_setup, test_redirect_priority, teardown);
	g_test_add("/engine/place/redirect-token", fixture, NULL, place_setup, test_redirect_token, teardown);
	g_test_add("/engine/place/home-unavailable", fixture, NULL, place_setup, test_home_unavailable, teardown);
	g_test_add("/engine/place/stand-in-agrees", fixture, NULL, place_setup, test_stand_in_agrees, teardown);
	g_test_add("/engine/place/rejoin-from-dead-node", fixture, NULL, place_setup, test_rejoin_from_dead_node, teardown);
	return g_test_run();
}

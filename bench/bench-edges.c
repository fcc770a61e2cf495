/* allhands: the cost of placing admitted attendees on edges (include/allhands/edges.h, issue 14):
 * microseconds per placement (ah_edges_place) and per recomputation of what the edges can take
 * (ah_edges_capacity, run after every view and placement), for views of 10, 100 and 1,000 nodes, and
 * how a burst spreads over the edges with the default ramp (edge_ramp_per_s 50). Built and run by
 * `make bench-edges`; the figures are recorded in docs/benchmarks.md ("Edge placement (issue 14)").
 * Figures are printed, never asserted; the program exits non-zero only when a functional check fails
 * (a placement on the origin itself, or more than the ramp on one edge in one second).
 *
 * Every node has 100,000 seats and a different load, so the choice walks the whole view; placements
 * are 100 us apart (10,000 a second, a storm), for one room, then over 1,000 rooms.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "allhands/edges.h"

#define PLACEMENTS 100000
#define CAPACITY_RUNS 10000

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int run(guint n_nodes)
{
	ah_place_node *nodes = g_new0(ah_place_node, n_nodes);
	char **ids = g_new0(char *, n_nodes), **urls = g_new0(char *, n_nodes);
	char rooms[1000][16];
	ah_place_view *view;
	ah_edges *edges;
	guint placed = 0, first_second[1024] = { 0 }, busiest = 0, in_first = 0;
	guint64 capacity = 0;
	double t0, t1, t2, t3;
	int bad = 0;
	for (guint i = 0; i < n_nodes; i++) {
		ids[i] = g_strdup_printf("node-%04u", i);
		urls[i] = g_strdup_printf("ws://10.0.%u.%u:8188", i / 250, i % 250);
		nodes[i] = (ah_place_node){ ids[i], urls[i], TRUE, 100000, (i * 7919) % 50000, 0, 1000 };
	}
	for (guint r = 0; r < 1000; r++)
		g_snprintf(rooms[r], sizeof(rooms[r]), "t/room-%u", r);
	view = ah_place_view_new(nodes, n_nodes);
	edges = ah_edges_new(AH_EDGES_RAMP_DEFAULT);
	ah_edges_view(edges, view);
	t0 = now_us();
	for (guint i = 0; i < PLACEMENTS; i++) {
		const char *edge = ah_edges_place(edges, view, ids[0], "t/allhands", (gint64)i * 100);
		if (edge == NULL)
			continue;
		placed++;
		if (strcmp(edge, ids[0]) == 0)
			bad = 1;
		/* The first second: how many each edge took. */
		if (i < 10000) {
			in_first++;
			guint k = (guint)g_ascii_strtoull(edge + 5, NULL, 10);
			if (k < G_N_ELEMENTS(first_second) && ++first_second[k] > busiest)
				busiest = first_second[k];
		}
	}
	t1 = now_us();
	for (guint i = 0; i < CAPACITY_RUNS; i++)
		capacity += ah_edges_capacity(edges, view, ids[0], (gint64)PLACEMENTS * 100 + (gint64)i * 1000);
	t2 = now_us();
	for (guint i = 0; i < PLACEMENTS; i++)
		ah_edges_place(edges, view, ids[0], rooms[i % 1000], (gint64)PLACEMENTS * 200 + (gint64)i * 100);
	t3 = now_us();
	if (busiest > AH_EDGES_RAMP_DEFAULT)
		bad = 1;
	printf("%5u nodes: place %7.2f us (one room), %7.2f us (1,000 rooms); capacity %7.2f us; %u of %u placed "
		"in 10 s; first second: %u placements, at most %u on one edge\n", n_nodes, (t1 - t0) / PLACEMENTS,
		(t3 - t2) / PLACEMENTS, (t2 - t1) / CAPACITY_RUNS, placed, PLACEMENTS,
		in_first, busiest);
	(void)capacity;
	ah_edges_free(edges);
	ah_place_view_free(view);
	for (guint i = 0; i < n_nodes; i++) {
		g_free(ids[i]);
		g_free(urls[i]);
	}
	g_free(ids);
	g_free(urls);
	g_free(nodes);
	return bad;
}

int main(void)
{
	int bad = 0;
	printf("edge placement, ramp %u per edge and second, placements 100 us apart\n", AH_EDGES_RAMP_DEFAULT);
	bad |= run(10);
	bad |= run(100);
	bad |= run(1000);
	if (bad)
		fprintf(stderr, "bench-edges: a placement broke the choice's rules\n");
	return bad;
}

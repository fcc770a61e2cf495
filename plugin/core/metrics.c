/* allhands: Prometheus metrics, the pure part (include/allhands/metrics.h): fixed-bucket histograms
 * and the rendering of one node's figures as the text exposition format 0.0.4. Calls no other
 * allhands module; no Janus header, no clock, no logging, no locks. The control thread renders
 * (about once a second while someone scrapes), the glue serves the text it produced.
 *
 * Format rules kept here: each family is written as `# HELP`, `# TYPE`, then its samples, and
 * appears once; counters end in `_total`; durations are seconds; label values escape `\`, `"` and
 * newlines; numbers use the C locale ("1.5", never "1,5"), "+Inf" and "NaN" spelled as Prometheus
 * wants them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include "allhands/metrics.h"

/* --- histograms */

static const double setup_bounds[] = { 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60 };
static const double wait_bounds[] = { 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600 };
static const double error_bounds[] = { 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5 };
static const double handling_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 5 };

void ah_metrics_hist_init(ah_metrics_hist *h, ah_metrics_bounds which)
{
	const double *b = setup_bounds;
	guint n = G_N_ELEMENTS(setup_bounds);
	switch (which) {
	case AH_METRICS_BOUNDS_SETUP:
		break;
	case AH_METRICS_BOUNDS_WAIT:
		b = wait_bounds;
		n = G_N_ELEMENTS(wait_bounds);
		break;
	case AH_METRICS_BOUNDS_ERROR:
		b = error_bounds;
		n = G_N_ELEMENTS(error_bounds);
		break;
	case AH_METRICS_BOUNDS_HANDLING:
		b = handling_bounds;
		n = G_N_ELEMENTS(handling_bounds);
		break;
	}
	memset(h, 0, sizeof(*h));
	h->n_bounds = MIN(n, AH_METRICS_BOUNDS_MAX);
	memcpy(h->bounds, b, h->n_bounds * sizeof(double));
}

void ah_metrics_hist_observe(ah_metrics_hist *h, double value)
{
	guint i = 0;
	if (isnan(value))
		return;
	/* A dozen bounds: a linear scan is as fast as anything. */
	while (i < h->n_bounds && value > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += value;
}

/* --- input */

void ah_metrics_input_init(ah_metrics_input *in)
{
	memset(in, 0, sizeof(*in));
	in->cpu = -1;
	in->persist_last_write_age_s = -1;
	in->redis_rtt_p50_s = in->redis_rtt_p99_s = -1;
	in->refusals = g_array_new(FALSE, FALSE, sizeof(ah_metrics_sample));
	in->exits = g_array_new(FALSE, FALSE, sizeof(ah_metrics_sample));
	in->tenant_rows = g_array_new(FALSE, FALSE, sizeof(ah_metrics_tenant));
	in->placed = g_array_new(FALSE, FALSE, sizeof(ah_metrics_sample));
}

void ah_metrics_input_clear(ah_metrics_input *in)
{
	if (in->refusals != NULL)
		g_array_unref(in->refusals);
	if (in->exits != NULL)
		g_array_unref(in->exits);
	if (in->tenant_rows != NULL)
		g_array_unref(in->tenant_rows);
	if (in->placed != NULL)
		g_array_unref(in->placed);
	for (guint i = 0; in->links != NULL && i < in->links->len; i++)
		g_free(g_array_index(in->links, ah_metrics_link, i).peer);
	if (in->links != NULL)
		g_array_unref(in->links);
	in->refusals = in->exits = in->tenant_rows = in->placed = in->links = NULL;
}

/* --- writing */

void ah_metrics_escape_label(GString *out, const char *value)
{
	const char *c = value != NULL ? value : "";
	/* Ids are plain identifiers: most values need no escaping at all. */
	if (strpbrk(c, "\\\"\n") == NULL) {
		g_string_append(out, c);
		return;
	}
	for (; *c != '\0'; c++) {
		if (*c == '\\')
			g_string_append(out, "\\\\");
		else if (*c == '"')
			g_string_append(out, "\\\"");
		else if (*c == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *c);
	}
}

/* The shortest of %.15g and %.17g that reads back as v, in the C locale ("0.1", not
 * "0.10000000000000001"), so bucket bounds are the labels people write in queries. */
static const char *format_double(char *buf, gsize size, double v)
{
	g_ascii_formatd(buf, (gint)size, "%.15g", v);
	if (g_ascii_strtod(buf, NULL) != v)
		g_ascii_formatd(buf, (gint)size, "%.17g", v);
	return buf;
}

static void append_number(GString *out, double v)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE];
	if (isnan(v))
		g_string_append(out, "NaN");
	else if (isinf(v))
		g_string_append(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		g_string_append_printf(out, "%" G_GINT64_FORMAT, (gint64)v);
	else
		g_string_append(out, format_double(buf, sizeof(buf), v));
}

/* HELP text escapes only backslash and newline (0.0.4). */
static void family(GString *out, const char *name, const char *type, const char *help)
{
	g_string_append_printf(out, "# HELP %s ", name);
	for (const char *c = help; *c != '\0'; c++) {
		if (*c == '\\')
			g_string_append(out, "\\\\");
		else if (*c == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *c);
	}
	g_string_append_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* One sample: name{l1="v1",l2="v2"} value; label names NULL are left out. */
static void sample(GString *out, const char *name, const char *l1, const char *v1, const char *l2, const char *v2,
	double value)
{
	g_string_append(out, name);
	if (l1 != NULL) {
		g_string_append_c(out, '{');
		g_string_append(out, l1);
		g_string_append(out, "=\"");
		ah_metrics_escape_label(out, v1);
		g_string_append_c(out, '"');
		if (l2 != NULL) {
			g_string_append_c(out, ',');
			g_string_append(out, l2);
			g_string_append(out, "=\"");
			ah_metrics_escape_label(out, v2);
			g_string_append_c(out, '"');
		}
		g_string_append_c(out, '}');
	}
	g_string_append_c(out, ' ');
	append_number(out, value);
	g_string_append_c(out, '\n');
}

static void single(GString *out, const char *name, const char *type, const char *help, double value)
{
	family(out, name, type, help);
	sample(out, name, NULL, NULL, NULL, NULL, value);
}

static void histogram(GString *out, const char *name, const char *help, const ah_metrics_hist *h)
{
	char bucket[128], le[G_ASCII_DTOSTR_BUF_SIZE];
	guint64 cumulative = 0;
	if (h == NULL)
		return;
	family(out, name, "histogram", help);
	g_snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	for (guint i = 0; i < h->n_bounds; i++) {
		cumulative += h->counts[i];
		sample(out, bucket, "le", format_double(le, sizeof(le), h->bounds[i]), NULL, NULL, (double)cumulative);
	}
	sample(out, bucket, "le", "+Inf", NULL, NULL, (double)h->count);
	g_snprintf(bucket, sizeof(bucket), "%s_sum", name);
	sample(out, bucket, NULL, NULL, NULL, NULL, h->sum);
	g_snprintf(bucket, sizeof(bucket), "%s_count", name);
	sample(out, bucket, NULL, NULL, NULL, NULL, (double)h->count);
}

static void labelled(GString *out, const char *name, const char *type, const char *help, const char *l1,
	const char *l2, const GArray *samples)
{
	family(out, name, type, help);
	for (guint i = 0; samples != NULL && i < samples->len; i++) {
		const ah_metrics_sample *s = &g_array_index(samples, ah_metrics_sample, i);
		sample(out, name, l1, s->value, s->value2 != NULL ? l2 : NULL, s->value2, s->number);
	}
}

static void render_node(GString *out, const ah_metrics_input *in)
{
	single(out, "allhands_up", "gauge", "1 while the plugin runs (a scrape that fails says the rest)", 1);
	single(out, "allhands_capacity_seats", "gauge", "Attendee seats on this node (capacity)", in->capacity);
	single(out, "allhands_seats_held", "gauge", "Attendee seats held now: active, connecting and rejoining",
		in->seats_held);
	family(out, "allhands_attendees", "gauge", "Attendees holding a seat, by state");
	sample(out, "allhands_attendees", "state", "active", NULL, NULL, in->active);
	sample(out, "allhands_attendees", "state", "connecting", NULL, NULL, in->connecting);
	sample(out, "allhands_attendees", "state", "rejoining", NULL, NULL, in->rejoining);
	single(out, "allhands_queued", "gauge", "Attendees waiting in the queue", in->queued);
	single(out, "allhands_presenters", "gauge", "Presenters joined (they hold tenant seats, not node seats)",
		in->presenters);
	single(out, "allhands_backstage", "gauge", "Backstage monitors joined", in->backstage);
	single(out, "allhands_rooms", "gauge", "Rooms defined on this node", in->rooms);
	single(out, "allhands_tenants", "gauge", "Tenants defined on this node", in->tenants);
	single(out, "allhands_wave_limit", "gauge",
		"Most the next wave may admit: wave_size (fixed waves) or the adaptive limit", in->wave_limit);
	single(out, "allhands_wave_adaptive", "gauge", "1 when waves are adaptive, 0 when fixed", in->adaptive);
	single(out, "allhands_paused", "gauge", "1 while admission is paused on the whole node", in->paused);
	single(out, "allhands_draining", "gauge", "1 while the node drains", in->draining);
	if (in->cpu >= 0)
		single(out, "allhands_cpu_ratio", "gauge",
			"CPU time of the Janus process over the last second / CPUs it may use", in->cpu);
	single(out, "allhands_admission_rate_per_second", "gauge", "Smoothed admissions per second (EWMA over 1 s)",
		in->admitted_per_s);
}

static void render_counters(GString *out, const ah_metrics_input *in)
{
	single(out, "allhands_joins_total", "counter", "join requests handled (every ptype, refused ones included)",
		(double)in->joins);
	family(out, "allhands_admissions_total", "counter", "Attendees given a seat (rejoins not counted), by path");
	sample(out, "allhands_admissions_total", "path", "queue", NULL, NULL, (double)in->admitted_queue);
	sample(out, "allhands_admissions_total", "path", "immediate", NULL, NULL, (double)in->admitted_at_once);
	labelled(out, "allhands_join_refusals_total", "counter", "join requests answered with an error, by error",
		"error", "code", in->refusals);
	labelled(out, "allhands_exits_total", "counter", "Participants gone, by way out", "reason", NULL, in->exits);
	single(out, "allhands_admit_timeouts_total", "counter",
		"Admitted attendees that did not connect within admit_timeout_ms (their seat went to the next)",
		(double)in->admit_timeouts);
	single(out, "allhands_rejoin_grace_expired_total", "counter", "Seats kept for a rejoin that nobody came back for",
		(double)in->grace_expired);
	single(out, "allhands_waves_total", "counter", "Waves that admitted someone", (double)in->waves);
	family(out, "allhands_wait_range_total", "counter",
		"Admitted attendees that had been told a wait range: whether the actual wait fell in the first one");
	sample(out, "allhands_wait_range_total", "outcome", "held", NULL, NULL, (double)in->range_held);
	sample(out, "allhands_wait_range_total", "outcome", "missed", NULL, NULL, (double)in->range_missed);
	histogram(out, "allhands_setup_seconds", "Admitted to media up, attendees that connected", in->setup);
	histogram(out, "allhands_queue_wait_seconds", "Joined to admitted (0 for immediate admissions)", in->wait);
	histogram(out, "allhands_wait_estimate_error_ratio",
		"|actual wait - first announced median| / max(actual, 1 s), at admission", in->estimate_error);
}

static void render_threads(GString *out, const ah_metrics_input *in)
{
	histogram(out, "allhands_control_handling_seconds", "Control thread time spent on one work item", in->handling);
	histogram(out, "allhands_control_queueing_seconds", "Time a work item waited for the control thread",
		in->queueing);
	single(out, "allhands_control_queue_length", "gauge", "Work items waiting for the control thread",
		in->control_queue);
	single(out, "allhands_relay_threads", "gauge", "Relay helper threads", in->relay_threads);
	single(out, "allhands_relay_queued_packets", "gauge", "Packets waiting in the relay helpers' queues",
		in->relay_queued);
	single(out, "allhands_relay_dropped_packets_total", "counter",
		"Packets not relayed because a helper's queue was full (once per helper missed)", (double)in->relay_dropped);
	single(out, "allhands_relay_overlaps_total", "counter",
		"Times two threads rewrote one receiver's stream at once (0 unless there is a bug)",
		(double)in->relay_overlaps);
	single(out, "allhands_keyframe_requests_total", "counter",
		"Keyframes asked of presenters (joins, layer switches, attendees' PLIs), before coalescing",
		(double)in->keyframe_requests);
	single(out, "allhands_plis_sent_total", "counter", "PLIs sent to presenters, after coalescing",
		(double)in->plis_sent);
	single(out, "allhands_persistence_enabled", "gauge", "1 when a state file is written", in->persisting);
	if (!in->persisting)
		return;
	single(out, "allhands_persistence_failing", "gauge", "1 while the last state file write failed",
		in->persist_failing);
	single(out, "allhands_persistence_pending_changes", "gauge", "Changes not yet on disk", (double)in->persist_pending);
	single(out, "allhands_persistence_writes_total", "counter", "State file writes", (double)in->persist_writes);
	single(out, "allhands_persistence_failures_total", "counter", "State file writes that failed",
		(double)in->persist_failures);
	if (in->persist_last_write_age_s >= 0)
		single(out, "allhands_persistence_last_write_age_seconds", "gauge", "Time since the last state file write",
			in->persist_last_write_age_s);
}

static void render_tenants(GString *out, const ah_metrics_input *in)
{
	static const struct {
		const char *name, *help;
	} families[] = {
		{ "allhands_tenant_seats", "Tenant seats held: attendees admitted or rejoining, presenters, backstage" },
		{ "allhands_tenant_queued", "Attendees of the tenant waiting in the queue" },
		{ "allhands_tenant_max_participants", "The tenant's cap (max_participants)" },
	};
	for (guint f = 0; f < G_N_ELEMENTS(families); f++) {
		family(out, families[f].name, "gauge", families[f].help);
		for (guint i = 0; in->tenant_rows != NULL && i < in->tenant_rows->len; i++) {
			const ah_metrics_tenant *t = &g_array_index(in->tenant_rows, ah_metrics_tenant, i);
			guint v = f == 0 ? t->seats : f == 1 ? t->queued : t->max_participants;
			sample(out, families[f].name, "tenant", t->id, NULL, NULL, v);
		}
	}
	single(out, "allhands_metrics_tenants_omitted", "gauge",
		"Tenants left out of the per-tenant series (beyond metrics_max_tenants; in the totals only)",
		in->tenants_omitted);
}

/* A family with one sample per link, labelled by peer and direction; `pick` says which value (< 0: none). */
static void link_family(GString *out, const ah_metrics_input *in, const char *name, const char *type, const char *help,
	double (*pick)(const ah_metrics_link *l))
{
	family(out, name, type, help);
	for (guint i = 0; in->links != NULL && i < in->links->len; i++) {
		const ah_metrics_link *l = &g_array_index(in->links, ah_metrics_link, i);
		double v = pick(l);
		if (v >= 0)
			sample(out, name, "peer", l->peer, "direction", l->role, v);
	}
}

static double link_bps(const ah_metrics_link *l) { return l->bitrate_bps; }
static double link_up(const ah_metrics_link *l) { return l->up ? 1 : 0; }
static double link_loss(const ah_metrics_link *l) { return l->loss; }
static double link_delay(const ah_metrics_link *l) { return l->delay_s; }
static double link_sent(const ah_metrics_link *l) { return (double)l->rtp_sent; }
static double link_received(const ah_metrics_link *l) { return (double)l->rtp_received; }
static double link_refused(const ah_metrics_link *l) { return (double)l->refused; }

static void render_links(GString *out, const ah_metrics_input *in)
{
	family(out, "allhands_media_rooms", "gauge", "Rooms whose media crosses nodes here, by this node's part");
	sample(out, "allhands_media_rooms", "part", "origin", NULL, NULL, in->media_origin_rooms);
	sample(out, "allhands_media_rooms", "part", "edge", NULL, NULL, in->media_edge_rooms);
	single(out, "allhands_media_unknown_source_total", "counter",
		"Datagrams on the media link's port from no known link's address (dropped)", (double)in->media_unknown_source);
	link_family(out, in, "allhands_link_up", "gauge", "1 while something passed a link's checks in the last 3 s "
		"(probes cross it every second), 0: the link is down", link_up);
	link_family(out, in, "allhands_link_bitrate_bps", "gauge", "A node-to-node link's bitrate over the last second",
		link_bps);
	link_family(out, in, "allhands_link_loss_ratio", "gauge",
		"Fraction of an origin's RTP packets lost on the way to this edge over the last second", link_loss);
	link_family(out, in, "allhands_link_delay_seconds", "gauge",
		"One-way delay from an origin to this edge: half the last probe's round trip", link_delay);
	link_family(out, in, "allhands_link_rtp_sent_total", "counter", "RTP packets protected and sent on a link", link_sent);
	link_family(out, in, "allhands_link_rtp_received_total", "counter", "RTP packets received on a link that passed "
		"its checks", link_received);
	link_family(out, in, "allhands_link_refused_total", "counter", "Packets a link refused (source, malformed, SSRC, "
		"authentication, replay)", link_refused);
}

static void render_cluster(GString *out, const ah_metrics_input *in)
{
	if (!in->cluster)
		return;
	single(out, "allhands_redis_connected", "gauge", "1 while the Redis connection is up (cluster mode)",
		in->redis_connected);
	if (in->redis_rtt_p50_s >= 0) {
		family(out, "allhands_redis_rtt_seconds", "gauge",
			"Redis round trip (submit to answer) over the last 1024 answers, by quantile");
		sample(out, "allhands_redis_rtt_seconds", "quantile", "0.5", NULL, NULL, in->redis_rtt_p50_s);
		sample(out, "allhands_redis_rtt_seconds", "quantile", "0.99", NULL, NULL, in->redis_rtt_p99_s);
	}
	single(out, "allhands_redis_commands_total", "counter", "Redis commands submitted", (double)in->redis_commands);
	single(out, "allhands_redis_errors_total", "counter",
		"Redis commands that failed other than by timeout: error replies and commands answered disconnected",
		(double)in->redis_errors);
	single(out, "allhands_redis_timeouts_total", "counter", "Redis commands answered timeout",
		(double)in->redis_timeouts);
	family(out, "allhands_cluster_nodes", "gauge", "Nodes in this node's view of the cluster, by state");
	sample(out, "allhands_cluster_nodes", "state", "alive", NULL, NULL, in->cluster_alive);
	sample(out, "allhands_cluster_nodes", "state", "dead", NULL, NULL, in->cluster_dead);
	family(out, "allhands_ledger_claims_total", "counter", "Seat claims sent to the cluster's ledger, by outcome");
	sample(out, "allhands_ledger_claims_total", "outcome", "granted", NULL, NULL,
		(double)in->ledger_claims_granted);
	sample(out, "allhands_ledger_claims_total", "outcome", "denied", NULL, NULL, (double)in->ledger_denied);
	sample(out, "allhands_ledger_claims_total", "outcome", "failed", NULL, NULL, (double)in->ledger_failed);
	single(out, "allhands_ledger_seats_granted_total", "counter", "Seats the ledger granted this node",
		(double)in->ledger_granted);
	single(out, "allhands_ledger_seats_released_total", "counter", "Seats this node gave back to the ledger",
		(double)in->ledger_released);
	single(out, "allhands_ledger_seats_reclaimed_total", "counter", "Seats of dead nodes this node reclaimed",
		(double)in->ledger_reclaimed);
	single(out, "allhands_ledger_claims_in_flight", "gauge", "Seat claims waiting for Redis's answer",
		in->ledger_in_flight);
	single(out, "allhands_ledger_presenters_waiting", "gauge", "Presenters whose join waits for a stage seat",
		in->ledger_presenters_waiting);
	single(out, "allhands_ledger_over_cap_seats", "gauge",
		"Tenant seats above a cap across the cluster, as the last sync that found some said (after a partition)",
		(double)in->ledger_over_cap);
	labelled(out, "allhands_placed_total", "counter", "Attendees this origin's queue admitted and placed on an edge, by node",
		"node", NULL, in->placed);
	single(out, "allhands_edge_seats", "gauge", "Placements this node's edges can take now (added to its admission's capacity)",
		in->edge_seats);
	render_links(out, in);
}

gboolean ah_metrics_render_due(gint64 now, gint64 rendered_at, gint64 last_scrape)
{
	if (rendered_at == 0)
		return TRUE;
	return now - rendered_at >= AH_METRICS_PERIOD_US && last_scrape != 0 && now - last_scrape <= AH_METRICS_IDLE_US;
}

char *ah_metrics_render(const ah_metrics_input *in, gsize *len)
{
	GString *out = g_string_sized_new(8192);
	render_node(out, in);
	render_counters(out, in);
	render_threads(out, in);
	render_tenants(out, in);
	render_cluster(out, in);
	single(out, "allhands_metrics_rendered_timestamp_seconds", "gauge",
		"When this snapshot was rendered (UNIX time): scrapes in between return the same one", in->rendered_at_s);
	if (len != NULL)
		*len = out->len;
	return g_string_free(out, FALSE);
}

/* allhands: Prometheus metrics, the pure part: fixed-bucket histograms that the engine and the
 * control thread keep, the figures of one node gathered into an ah_metrics_input, and its rendering
 * as the Prometheus text exposition format 0.0.4 (HELP and TYPE once per family, label values
 * escaped, counters named *_total, base units: seconds). No Janus header, no clock reads, no
 * logging, no locks: the control thread fills the input and renders it; the glue
 * (plugin/glue/metrics.c) serves the text. Every metric is documented in docs/operations.md
 * ("Metrics").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_METRICS_H
#define ALLHANDS_METRICS_H

#include <glib.h>

/* --- Histograms with fixed upper bounds (Prometheus buckets), cheap to observe. */
#define AH_METRICS_BOUNDS_MAX 16

typedef enum {
	AH_METRICS_BOUNDS_SETUP,    /* seconds: admitted to media up */
	AH_METRICS_BOUNDS_WAIT,     /* seconds: joined to admitted */
	AH_METRICS_BOUNDS_ERROR,    /* fraction: |actual - estimated median| / actual */
	AH_METRICS_BOUNDS_HANDLING, /* seconds: the control thread's work per item, or an item's queueing */
} ah_metrics_bounds;

typedef struct {
	guint n_bounds;
	double bounds[AH_METRICS_BOUNDS_MAX];        /* ascending upper bounds; +Inf is implicit */
	guint64 counts[AH_METRICS_BOUNDS_MAX + 1];   /* per bucket (not cumulative); the last: above every bound */
	guint64 count;
	double sum;
} ah_metrics_hist;

void ah_metrics_hist_init(ah_metrics_hist *h, ah_metrics_bounds bounds);
/* A sample (NaN is ignored; negative values count in the first bucket). */
void ah_metrics_hist_observe(ah_metrics_hist *h, double value);

/* --- What one render shows. Strings and histograms are borrowed: they must stay valid until the
 * render returns (the control thread fills the input and renders it in one go). */

/* A counter or gauge sample with one label (value) or two (value, value2; NULL: one label). */
typedef struct {
	const char *value;
	const char *value2;
	double number;
} ah_metrics_sample;

typedef struct {
	const char *id;
	guint seats;       /* tenant seats held: attendees admitted or rejoining, presenters, backstage */
	guint queued;
	guint max_participants;
} ah_metrics_tenant;

typedef struct {
	/* Node gauges. */
	guint capacity;            /* attendee seats on this node */
	guint seats_held;          /* attendee seats held: active + connecting + rejoining */
	guint active, connecting, rejoining, queued;
	guint presenters, backstage;
	guint rooms, tenants;
	guint wave_limit;          /* most the next wave may admit (fixed wave_size or the adaptive limit) */
	gboolean adaptive;         /* wave mode */
	gboolean paused, draining;
	double cpu;                /* last CPU sample, fraction; < 0: none yet */
	double admitted_per_s;     /* smoothed admission rate */
	/* Node counters. */
	guint64 joins;             /* join requests (every ptype, refused ones too) */
	guint64 admitted_queue;    /* admissions out of the queue (waves) */
	guint64 admitted_at_once;  /* admissions without queueing */
	guint64 waves;             /* waves that admitted someone */
	guint64 admit_timeouts;    /* admitted attendees that did not connect within admit_timeout_ms */
	guint64 grace_expired;     /* seats kept for a rejoin that nobody came back for */
	guint64 range_held, range_missed; /* the first announced wait range held the actual wait, or not */
	GArray *refusals;          /* ah_metrics_sample: value = error name, value2 = wire code (owned) */
	GArray *exits;             /* ah_metrics_sample: value = reason (owned) */
	const ah_metrics_hist *setup;          /* seconds (NULL: not shown) */
	const ah_metrics_hist *wait;           /* seconds */
	const ah_metrics_hist *estimate_error; /* fraction */
	/* The control thread (the glue fills these). */
	const ah_metrics_hist *handling;       /* seconds per work item */
	const ah_metrics_hist *queueing;       /* seconds from posting to handling */
	guint control_queue;       /* work items waiting now */
	/* The media relay. */
	guint relay_threads, relay_queued;
	guint64 relay_dropped, relay_overlaps, keyframe_requests, plis_sent;
	/* The state file's writer (persisting FALSE: nothing persists, the rest is not shown). */
	gboolean persisting, persist_failing;
	guint64 persist_pending, persist_writes, persist_failures;
	double persist_last_write_age_s; /* < 0: none yet */
	/* Per tenant, bounded: at most max_tenants of them (by id), the rest only in the totals. */
	GArray *tenant_rows;       /* ah_metrics_tenant (owned) */
	guint tenants_omitted;
	/* Cluster mode (docs/cluster.md; cluster FALSE: none of this is shown): the Redis connection and
	 * the nodes of the node's view of the cluster. */
	gboolean cluster, redis_connected;
	double redis_rtt_p50_s, redis_rtt_p99_s; /* < 0: no command answered yet */
	guint64 redis_commands, redis_errors, redis_timeouts;
	guint cluster_alive, cluster_dead;
	/* The seat ledger (docs/cluster.md, "Cluster admission"): since start, and now. */
	guint64 ledger_claims, ledger_claims_granted, ledger_granted, ledger_denied, ledger_failed, ledger_released, ledger_reclaimed;
	guint ledger_in_flight, ledger_presenters_waiting;
	gint64 ledger_over_cap;
	/* Edges (docs/cluster.md, "Edges"): attendees this origin placed on each node, since start, and the
	 * placements its edges can take now. */
	GArray *placed;            /* ah_metrics_sample: value = node id (owned array, borrowed strings) */
	guint edge_seats;
	/* Media across nodes (docs/cluster-media.md): rooms this node is the origin or an edge of, datagrams
	 * from no known link, and each link (ah_metrics_link, owned). */
	guint media_origin_rooms, media_edge_rooms;
	guint64 media_unknown_source;
	GArray *links;
	/* When this was gathered, UNIX seconds (wall clock, for Prometheus users). */
	double rendered_at_s;
} ah_metrics_input;

/* One node-to-node media link (cluster mode). */
typedef struct {
	char *peer;                /* the other node's id (owned) */
	const char *role;          /* "to_edge" (this node sends) or "from_origin" (this node receives) */
	double bitrate_bps;        /* over the last second, in the link's direction */
	double loss;               /* from_origin: fraction lost over the last second; < 0: not measured */
	double delay_s;            /* from_origin: half the last probe's round trip; < 0: none yet */
	guint64 rtp_sent, rtp_received, refused; /* packets since the link was made; refused: by any reason */
	gboolean up;               /* something passed the link's checks in the last 3 s (probes come every second) */
} ah_metrics_link;

void ah_metrics_input_init(ah_metrics_input *in);
void ah_metrics_input_clear(ah_metrics_input *in);

/* When to render (the glue asks at every turn of the control thread): never rendered yet
 * (rendered_at 0), or at least AH_METRICS_PERIOD_US after the last render while the last scrape
 * (last_scrape; 0: none since start) is at most AH_METRICS_IDLE_US old. So an idle node renders
 * nothing, and a scraped one once a second. All times monotonic microseconds. */
#define AH_METRICS_PERIOD_US G_USEC_PER_SEC
#define AH_METRICS_IDLE_US (G_GINT64_CONSTANT(60) * G_USEC_PER_SEC)
gboolean ah_metrics_render_due(gint64 now, gint64 rendered_at, gint64 last_scrape);

/* Render as the text exposition format 0.0.4. Returns the text (g_free), *len its length. */
char *ah_metrics_render(const ah_metrics_input *in, gsize *len);

/* Append `value` to `out` escaped as a label value (backslash, double quote and newline). */
void ah_metrics_escape_label(GString *out, const char *value);

#endif

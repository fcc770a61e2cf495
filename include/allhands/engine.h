/* allhands: the engine, i.e. all of the plugin's state and rules without Janus.
 *
 * The engine owns tenants, rooms, participants, admission and persistence. It includes no Janus
 * header, never reads the clock (every entry point takes `now`, monotonic microseconds) and never
 * logs. It is not thread-safe: only the control thread calls it (plugin/glue/control.c).
 *
 * The glue talks to it in connection ids (`conn`): one non-zero id per Janus plugin handle, chosen
 * by the glue. Every entry point appends what the glue must do to `outs` (a GPtrArray of ah_out*,
 * created with g_ptr_array_new_with_free_func(ah_out_free)), in order. The public API that these
 * implement is documented in docs/api.md.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_ENGINE_H
#define ALLHANDS_ENGINE_H

#include <glib.h>
#include <jansson.h>

#include "allhands/admission.h"
#include "allhands/errors.h"
#include "allhands/metrics.h"
#include "allhands/placement.h"
#include "allhands/simulcast.h"
#include "allhands/ticket.h"

typedef struct ah_engine ah_engine;

/* Queued attendee joins one Janus session may hold at once (issue 12), unless configured. */
#define AH_QUEUED_PER_SESSION_DEFAULT 4

typedef struct {
	const char *state_path; /* JSON state file for tenants and rooms; NULL: nothing persists */
	const char *admin_key;  /* enables operator requests through plugin handles; NULL: disabled */
	ah_admission_config admission;
	guint max_queued_per_session; /* queued attendees one Janus session may hold (too_many_queued); 0: no limit */
} ah_engine_config;

typedef enum { AH_MEDIA_AUDIO = 0, AH_MEDIA_VIDEO = 1 } ah_media_kind;

#define AH_CODEC_LEN 16
#define AH_FMTP_LEN 256

/* One stream a presenter publishes, as the glue read it from the presenter's SDP offer. */
typedef struct {
	ah_media_kind kind;
	int mindex;                 /* m-line index in the presenter's PeerConnection */
	char codec[AH_CODEC_LEN];   /* "opus", "vp8", "h264" (lower case) */
	char fmtp[AH_FMTP_LEN];     /* fmtp to offer attendees (e.g. H.264 profile), may be "" */
} ah_stream_desc;

/* One m-line of an attendee's PeerConnection. mindex == index in the attendee's slot array. */
typedef struct {
	int mindex;
	ah_media_kind kind;
	gboolean active;            /* FALSE: m-line kept but inactive (its presenter left) */
	guint64 presenter;          /* presenter participant id, 0 when inactive */
	guint64 presenter_conn;     /* the presenter's conn, 0 when inactive */
	int presenter_mindex;       /* the presenter's m-line this slot carries */
	char codec[AH_CODEC_LEN];
	char fmtp[AH_FMTP_LEN];
} ah_slot;

/* Where one presenter stream goes: used by the glue to build the presenter's fan-out. The receiver
 * (`attendee_conn`) is a seated attendee or a backstage monitor. */
typedef struct {
	guint64 attendee_conn;
	int attendee_mindex;
	int presenter_mindex;
	ah_media_kind kind;
	int max_layer;      /* the receiver's simulcast ceiling, AH_SIM_LOW..AH_SIM_HIGH (simulcast.h): the
			     * room's video_layer or the lower layer the receiver asked for. Meant for video;
			     * audio routes carry the same value. */
	guint64 presenter_conn; /* whose stream it is */
} ah_route;

typedef enum {
	AH_OUT_REPLY,    /* the answer to the handle message being processed (use its transaction) */
	AH_OUT_EVENT,    /* an asynchronous event for `conn` */
	AH_OUT_CLOSE_PC, /* hang up `conn`'s PeerConnection (kick, timeout, room destroyed...) */
	AH_OUT_ROUTES,   /* the fan-out of presenter `conn` changed (receivers, m-lines or a receiver's
			  * max_layer): rebuild it from ah_engine_routes() */
	AH_OUT_RECEIVER_ROUTES, /* receiver `conn`'s part of its presenters' fan-outs changed (its m-lines
			  * or max_layer, or it is gone): patch those fan-outs from ah_engine_receiver_routes()
			  * (only that receiver's entries; the rest of each fan-out stands) */
	AH_OUT_KEYFRAME, /* ask presenter `conn` for a keyframe on its video streams */
	AH_OUT_NOTIFY,   /* an event for Janus event handlers (`conn` may be 0) */
	AH_OUT_DEFER,    /* the handle message being processed is answered later: keep its transaction
			  * for `conn`'s next AH_OUT_REPLY (cluster mode: a presenter waiting for the ledger) */
} ah_out_kind;

typedef enum {
	AH_JSEP_NONE = 0,
	AH_JSEP_OFFER,  /* attach an offer built from ah_engine_slots(conn) */
	AH_JSEP_ANSWER, /* attach the answer to the publisher offer the glue is holding for `conn` */
} ah_jsep_kind;

typedef struct {
	ah_out_kind kind;
	guint64 conn;
	json_t *body;       /* owned; REPLY/EVENT/NOTIFY: the JSON to send, else NULL */
	ah_jsep_kind jsep;  /* REPLY/EVENT only */
} ah_out;

void ah_out_free(gpointer out);

/* At most this many streams per presenter (the glue reads no more from an offer). */
#define AH_MAX_STREAMS 8

/* The wire body of an error: {"allhands":"event","error_code","error_name","error"}; `message`
 * NULL gives the table's default message. */
json_t *ah_engine_error_body(ah_error err, const char *message);

/* Load the state file (if any) and build the engine. On a missing state file: empty state. On an
 * unreadable or corrupt one: NULL, *err and *errmsg (g_free) set, and the file left untouched. */
ah_engine *ah_engine_new(const ah_engine_config *config, ah_error *err, char **errmsg);
void ah_engine_free(ah_engine *engine);

/* A message from plugin handle `conn`. `jsep_type` is NULL, "offer" or "answer". When it is an
 * offer, `streams` are the usable streams the glue found in it (n_streams may be 0). Always appends
 * exactly one AH_OUT_REPLY (success or error) plus any side effects. */
void ah_engine_handle_message(ah_engine *engine, guint64 conn, json_t *message, const char *jsep_type,
	const ah_stream_desc *streams, guint n_streams, gint64 now, GPtrArray *outs);
/* A request from Janus's Admin API (`message_plugin`; Janus already checked admin_secret), with
 * operator rights. Returns the response (caller owns it); side effects go to `outs`. */
json_t *ah_engine_admin_message(ah_engine *engine, json_t *message, gint64 now, GPtrArray *outs);

/* The handle's PeerConnection is up (Janus setup_media). */
void ah_engine_media_up(ah_engine *engine, guint64 conn, gint64 now, GPtrArray *outs);
/* The handle's PeerConnection went down (Janus hangup_media). */
void ah_engine_media_down(ah_engine *engine, guint64 conn, gint64 now, GPtrArray *outs);
/* The handle is gone (Janus destroy_session: detach, session timeout, transport gone). */
void ah_engine_conn_gone(ah_engine *engine, guint64 conn, gint64 now, GPtrArray *outs);

/* The Janus session `conn`'s handle belongs to (an opaque non-zero key the glue chooses), for the
 * per-session limits: failed credential attempts and queued joins. Set before the conn's first
 * message; a conn never set counts as a session of its own. Forgotten when the conn is gone. */
void ah_engine_set_conn_session(ah_engine *engine, guint64 conn, guint64 session);

/* Timers: admission waves and timeouts. Call when now >= ah_engine_next_deadline(). */
void ah_engine_tick(ah_engine *engine, gint64 now, GPtrArray *outs);
gint64 ah_engine_next_deadline(const ah_engine *engine, gint64 now);
/* The process's CPU use over the last period, a fraction of the CPU it may use (adaptive waves). */
void ah_engine_cpu_sample(ah_engine *engine, double cpu, gint64 now);

/* The m-lines of a receiver (attendee or backstage monitor), valid until the next call into the
 * engine. NULL/0 for presenters and unknown conns. */
const ah_slot *ah_engine_slots(const ah_engine *engine, guint64 conn, guint *n_slots);
/* Append (ah_route) where presenter `conn`'s streams go now. O(room members). */
void ah_engine_routes(const ah_engine *engine, guint64 conn, GArray *routes);
/* Append (ah_route) what receiver `conn` gets now, from every presenter: nothing when it is gone or
 * receives nothing. O(its m-lines): a receiver joining, leaving or changing layer costs the glue
 * a patch of the fan-outs it is in, never a rebuild of the room's. */
void ah_engine_receiver_routes(const ah_engine *engine, guint64 conn, GArray *routes);
#define AH_HAVE_RECEIVER_ROUTES 1 /* for sources built against older engines too (bench-engine) */
/* The bitrate cap (bps) the presenter on `conn` is sent as REMB: its room's presenter_max_bitrate;
 * 0 when none (or `conn` is not a presenter). Read when the glue rebuilds its fan-out (ROUTES). */
guint ah_engine_presenter_max_bitrate(const ah_engine *engine, guint64 conn);

/* Wall clock (issue 3: schedules are in real time). The glue sets the offset between the real-time
 * clock and the monotonic `now` (g_get_real_time() - g_get_monotonic_time(), microseconds) before
 * each entry point; tests set it by hand. Schedules see real time = now + offset. Default 0. */
void ah_engine_set_clock_offset(ah_engine *engine, gint64 realtime_minus_monotonic_us);

/* The node's current admission config (for logging). In cluster mode its capacity includes the seats its
 * edges can take now (docs/cluster.md, "Edges"); status shows the node's own. */
const ah_admission_config *ah_engine_admission_config(const ah_engine *engine);

/* The state file's writer (persist-writer.h; NULL: nothing persists). The glue runs its thread;
 * ah_engine_free() writes what is still pending, so stop that thread first. */
struct ah_persist_writer *ah_engine_persist_writer(const ah_engine *engine);
/* Temporary files of a killed writer that ah_engine_new() removed (for the log). */
guint ah_engine_stale_temps_removed(const ah_engine *engine);
/* Rooms whose stored schedule is refused by today's rules (held closed; room_info's schedule_refused
 * says why), counted at load (for the log). */
guint ah_engine_held_schedules(const ah_engine *engine);
/* What the engine examined since it was created: deterministic work counters, so tests can check
 * that work grows with what changed (never with wall-clock time). */
typedef struct {
	guint64 member_visits;  /* participants looked at to renegotiate, offer, route and ask keyframes */
	guint64 room_visits;    /* rooms looked at to find and run the schedules' next changes */
} ah_engine_work;
const ah_engine_work *ah_engine_work_done(const ah_engine *engine);

/* Prometheus metrics (engine-metrics.c): fill `in` (ah_metrics_input_init'ed) with the node's counts,
 * admission figures and counters at `now`, and the first `max_tenants` tenants by id (the rest
 * counted in tenants_omitted). Strings and histograms in `in` are borrowed from the engine: render
 * before the next call into it. */
void ah_engine_metrics(const ah_engine *engine, gint64 now, guint max_tenants, ah_metrics_input *in);

/* ---- Cluster mode: the seat ledger (engine-ledger.c; docs/cluster.md, "How admission uses it").
 * The engine decides what to ask of the cluster's seat ledger; the glue sends it to Redis and hands
 * the answers back. Nothing here waits: a claim is a request now and an answer later. */
typedef enum {
	AH_LEDGER_REQ_CLAIM,   /* claim n seats (room NULL: a tenant-only "stage" seat); answer with `ref` */
	AH_LEDGER_REQ_RELEASE, /* give back n seats this node holds (room NULL: stage) */
	AH_LEDGER_REQ_CAP,     /* write the tenant's (room NULL) or room's cap n; -1: it is gone */
} ah_ledger_req_kind;
typedef struct {
	ah_ledger_req_kind kind;
	char *tenant;          /* owned */
	char *room;            /* owned, NULL: see kind */
	gint64 n;
	guint64 ref;           /* CLAIM */
} ah_ledger_req;
void ah_ledger_req_clear(gpointer req); /* for a GArray's clear func */
/* Turn the ledger on (cluster mode): every room and tenant is then limited by what the ledger grants
 * (admission.h, "allowances"), starting from what it holds now; every cap is to be written. */
void ah_engine_ledger_start(ah_engine *engine);
gboolean ah_engine_ledger_on(const ah_engine *engine);
/* The connection to Redis is (again) up: write every cap again (Redis may have come back empty) and
 * retry what waited. O(rooms), once per connection. */
void ah_engine_ledger_reconnected(ah_engine *engine, gint64 now);
/* What to send now (appended to reqs, GArray of ah_ledger_req with ah_ledger_req_clear): caps that
 * changed, claims for rooms whose queue waits for seats and for presenters waiting for a stage seat,
 * releases of seats nobody needs. `connected`: claims are only made while Redis is reachable (a
 * release or cap is harmless to lose: the next sync states the truth). O(what needs the ledger). */
void ah_engine_ledger_work(ah_engine *engine, gint64 now, gboolean connected, GArray *reqs);
/* The answer to claim `ref`: granted >= 0 seats, or < 0 when nothing was granted and retrying is
 * worth it after retry_after_us (Redis unreachable, an error, or the tenant's ledger rebuilding).
 * Waiting presenters get their answers (outs); seats granted to a room that is gone are released
 * (reqs). */
void ah_engine_ledger_answer(ah_engine *engine, guint64 ref, gint64 granted, gint64 retry_after_us,
	gboolean unreachable, gint64 now, GPtrArray *outs, GArray *reqs);
/* A sync of one tenant: what this node holds (its allowances; no claim of the tenant is in flight). */
typedef struct {
	char *tenant;          /* owned */
	guint stage;
	GArray *rooms;         /* of ah_ledger_room_share (room owned) */
} ah_ledger_sync;
typedef struct {
	char *room;
	guint seats;
} ah_ledger_room_share;
void ah_ledger_sync_free(gpointer sync);
/* TRUE once after a tenant was created here: its (empty) sync is owed now, not at the next period. */
gboolean ah_engine_ledger_take_sync_soon(ah_engine *engine);
/* A sync is owed for every tenant this node holds seats in (call once per heartbeat period). */
void ah_engine_ledger_sync_due(ah_engine *engine);
/* The syncs owed and ready: one per tenant owed whose claims have all been answered (a claim in flight
 * may have run in Redis already: its tenant's sync waits for its answer), and one last (empty) for each
 * tenant the node stopped holding seats in. Returns how many tenants still wait (call again soon).
 * O(rooms of the tenants synced). */
guint ah_engine_ledger_syncs(ah_engine *engine, GPtrArray *syncs /* ah_ledger_sync*, owns */);
/* Figures for status: claims in flight, presenters waiting, rooms waiting for seats. */
typedef struct {
	gboolean busy;           /* rooms or presenters wait for the ledger */
	guint claims_in_flight;
	guint presenters_waiting;
	guint64 claims, claims_granted, granted, denied, failed, released; /* claims: sent; claims_granted:
					   * answered with seats; granted, released: seats */
	guint64 rebuilding;      /* claims answered "rebuilding" (retried at the grace's end) */
} ah_ledger_figures;
void ah_engine_ledger_figures(const ah_engine *engine, ah_ledger_figures *out);
/* Cluster mode (docs/cluster.md, "Placement and redirects"; engine-place.c): this node's id and the
 * cluster's shared secret (tickets), once at start; then, after each heartbeat reply, the nodes of the
 * registry's view (copied: the engine keeps its own immutable copy). Without these calls the engine
 * is a single node: rooms have no home elsewhere and `node` is refused. */
void ah_engine_set_cluster(ah_engine *engine, const char *node_id, const char *secret);
void ah_engine_set_cluster_nodes(ah_engine *engine, const ah_place_node *nodes, guint n);
/* At most `per_s` attendees placed on one edge per second (edge_ramp_per_s; docs/cluster.md, "Edges"). */
void ah_engine_set_edge_ramp(ah_engine *engine, guint per_s);

/* ---- Cluster mode's shared definitions (engine-defs.c; docs/cluster.md, "Definitions") ----
 * A definition is a tenant's or a room's row of the state file (persist.h). */
typedef struct {
	char *tenant;
	char *room;             /* NULL: the tenant's own row */
} ah_def_ref;
void ah_def_ref_free(gpointer ref);
/* Start (or stop) keeping the list of definitions requests change (cluster mode). */
void ah_engine_defs_track(ah_engine *engine, gboolean on);
/* The definitions changed since the last call, in order (GPtrArray of ah_def_ref*, the caller's;
 * NULL when none). A definition applied with ah_engine_apply_definition is not in it. */
GPtrArray *ah_engine_defs_take(ah_engine *engine);
/* The definition now (a new object, the caller's), NULL when there is no such tenant or room. */
json_t *ah_engine_definition(const ah_engine *engine, const char *tenant, const char *room);
/* The ids of the tenants (tenant NULL) or of a tenant's rooms, sorted (g_strfreev; NULL: no such tenant). */
char **ah_engine_definition_ids(const ah_engine *engine, const char *tenant);
/* Apply a definition from outside (another node, through Redis): `row` is the tenant's (room NULL)
 * or the room's row, checked as strictly as the state file's; NULL: the tenant or room is gone
 * (destroyed here as the Admin API does: its participants are removed, outs say so). The state
 * file follows. AH_ERR_OK when applied or nothing changed (*changed says which); otherwise the
 * error and *message (g_free) and nothing changed: a row that does not check, names another tenant
 * or room, or a room whose tenant is not here. */
ah_error ah_engine_apply_definition(ah_engine *engine, const char *tenant, const char *room, const json_t *row,
	gint64 now, GPtrArray *outs, gboolean *changed, char **message);

/* ---- Cluster mode, media across nodes (engine-mirror.c; docs/cluster-media.md) ----
 * A room's presenters publish on its origin (its home node, or the stand-in of a dead home); edges are
 * nodes serving its attendees, which receive the presenters' media from the origin. */
typedef struct {
	guint64 conn;               /* origin: the presenter's conn; edge: the mirror's (the glue's choice) */
	guint64 id;                 /* origin: the presenter's participant id (set_mirrors ignores it) */
	const char *display;
	const ah_stream_desc *streams;
	guint n_streams;
} ah_mirror;
/* Edge: the origin's publishing presenters of a room now (n may be 0), as mirrors on glue-chosen conns:
 * mirrors not listed are removed, new ones added, changed streams republished; receivers renegotiated,
 * fan-outs rebuilt (outs). Entries that are not sane (conn 0 or another participant's, bad streams) are
 * skipped. FALSE: no such room. O(room presenters x n). */
gboolean ah_engine_set_mirrors(ah_engine *engine, const char *tenant, const char *room, const ah_mirror *mirrors,
	guint n, gint64 now, GPtrArray *outs);
/* Edge: the rooms homed elsewhere whose first receiver here was offered media since the last call
 * (GPtrArray of ah_def_ref*, the caller's; NULL: none). A room is listed once, until edge_room_done. */
GPtrArray *ah_engine_edge_rooms_take(ah_engine *engine);
void ah_engine_edge_room_done(ah_engine *engine, const char *tenant, const char *room);
/* The node serving as the room's origin when that is another node (NULL: this one, or no such room). */
const char *ah_engine_room_origin(const ah_engine *engine, const char *tenant, const char *room);
/* Attendee seats held here (connecting, active, rejoining) in the room: O(1). */
guint ah_engine_room_receivers(const ah_engine *engine, const char *tenant, const char *room);
/* Origin: watch (or stop watching) a room's presenters; the watched rooms whose presenters changed (a
 * publish, an unpublish, one leaving) since the last call (ah_def_ref*, the caller's; NULL: none). */
gboolean ah_engine_watch_feeds(ah_engine *engine, const char *tenant, const char *room, gboolean on);
GPtrArray *ah_engine_feeds_take(ah_engine *engine);
/* Origin: append (ah_mirror) the room's publishing presenters, mirrors excluded; the strings and streams
 * point into the engine (valid until the next call into it); out NULL: only whether the room exists. FALSE: no
 * such room. */
gboolean ah_engine_room_publishers(const ah_engine *engine, const char *tenant, const char *room, GArray *out);

#endif

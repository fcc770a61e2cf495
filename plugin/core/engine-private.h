/* allhands: the engine's state and the functions its files offer each other, shared by the engine's
 * files (engine*.c) and, through requests-private.h, by the request files above them. Not a public
 * header: nothing outside plugin/core includes it. Control thread only, like the whole engine.
 *
 * The engine's files call down only (tests/check-layering.sh checks it; docs/architecture.md):
 * engine-defs.c (cluster mode's definitions, called by the glue only) -> engine.c -> engine-schedule.c, engine-admission.c, engine-persist.c ->
 * engine-participants.c -> engine-ghosts.c, engine-media.c -> engine-credentials.c ->
 * engine-registry.c. The sections below follow that order, bottom first.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_ENGINE_PRIVATE_H
#define ALLHANDS_ENGINE_PRIVATE_H

#include "allhands/engine.h"
#include "allhands/persist.h"
#include "allhands/persist-writer.h"
#include "allhands/schedule.h"
#include "allhands/throttle.h"
#include "allhands/token.h"
#include "allhands/validate.h"

/* Limits of the admission settings (set_capacity and the engine config). */
#define AH_WAVE_SIZE_MAX        100000
#define AH_WAVE_INTERVAL_MS_MAX 3600000
#define AH_ADMIT_TIMEOUT_MS_MIN 100
#define AH_ADMIT_TIMEOUT_MS_MAX 3600000
#define AH_UPDATE_INTERVAL_MS_MIN 100
#define AH_UPDATE_INTERVAL_MS_MAX 60000
#define AH_REJOIN_GRACE_S_MAX 3600
#define AH_JOIN_RATE_MAX 100000
#define AH_REJOIN_TOKEN_LEN 32  /* hex characters */

typedef struct ah_room ah_room;

/* An operator's start_now / end_now, until the window it is about has passed. */
typedef enum {
	AH_OVERRIDE_NONE = 0,
	AH_OVERRIDE_LIVE,       /* live in `window` (then ending, grace), whatever the schedule says */
	AH_OVERRIDE_ENDED,      /* closed until `window.end` (the ended window's end + grace) */
} ah_override_kind;

typedef struct {
	ah_override_kind kind;
	ah_occurrence window;
} ah_room_override;

typedef struct {
	char *id;
	char *name;             /* "" when unset */
	char *secret;
	char *previous_secret;  /* a rotated-out secret still valid until previous_secret_until; NULL: none */
	gint64 previous_secret_until; /* UNIX seconds */
	guint max_participants;
	guint weight;           /* share of the node's waves (admission.h) */
	guint reserved;         /* node seats only this tenant may take */
	guint max_queued;       /* 0: no bound */
	GHashTable *rooms;      /* room id -> ah_room* (owned) */
	/* Cluster mode (engine-ledger.c): stage claims in flight, when to try again, presenters waiting. */
	guint stage_pending;
	gint64 stage_retry_at;
	guint stage_waiting;
	guint claims_in_flight; /* of every room's and the stage: its sync waits until none flies */
	/* Join tokens' HMAC key (token.h), generated; never the secret (engine-credentials.c). */
	char signing_key[AH_SIGNING_KEY_LEN + 1];
	char *previous_signing_key; /* a rotated-out key valid until previous_signing_key_until; NULL: none */
	gint64 previous_signing_key_until; /* UNIX seconds */
	ah_fail_bucket secret_failures; /* failed tenant_secret attempts (throttle.h) */
	guint64 token_failures; /* joins refused for their token (counted; the session throttles them) */
} ah_tenant;

struct ah_room {
	ah_tenant *tenant;
	char *id;
	char *description;      /* "" when unset */
	char *pin;              /* NULL: no pin */
	char *presenter_secret;
	char *priority_secret;  /* NULL: no priority attendees by secret */
	ah_tokens_policy tokens; /* join tokens (token.h): off, optional or required */
	guint max_attendees;
	guint presenter_seats;  /* tenant seats kept for its presenters and backstage monitors */
	int video_layer;        /* simulcast layer its receivers get at most (AH_SIM_*, default high) */
	guint presenter_max_bitrate; /* bps of the REMB its presenters get, 0: none */
	GPtrArray *members;     /* ah_participant*, in join order (engine->conns owns them) */
	GPtrArray *presenters;  /* the presenters among them, in join order: what a presenter change
				 * walks per receiver instead of every member */
	/* Schedule (engine-schedule.c). No schedule: always live, nothing below is used. */
	ah_schedule *schedule;
	guint lobby_minutes;
	guint ending_warning_s;
	guint grace_s;
	gboolean shuffle;       /* prequeue_order "shuffle" */
	ah_room_override override;
	/* What the engine last acted on: the phase, its window and when to look again. */
	ah_schedule_status status;
	ah_fail_bucket failures; /* failed pin, presenter_secret, priority_secret attempts (throttle.h) */
	guint queue_index;      /* 1 + its place in engine->schedule_queue; 0: not in it */
	gboolean dirty;         /* in engine->dirty_rooms */
	/* Cluster mode (engine-ledger.c): seats claimed and not answered yet, when to claim again, and the
	 * back-off after claims that found the caps full (ms). */
	guint ledger_pending;
	gint64 ledger_retry_at;
	guint ledger_backoff_ms;
	char *node;             /* cluster mode: the room's home node id (engine-place.c); NULL: this node */
	gint origin_attendees;  /* cluster mode: attendees its home serves itself, the rest on edges
				 * (engine-edges.c); -1: unset (no limit but the node's capacity) */
	/* Cluster mode, media across nodes (engine-mirror.c): served here as an edge and listed for the glue
	 * (until ah_engine_edge_room_done); its presenters watched for edges (origin), and changed since the
	 * glue last took the list. */
	gboolean edge_listed, feeds_watched, feeds_dirty;
};

typedef struct {
	guint64 id;             /* also the admission pid */
	guint64 conn;
	gboolean presenter;
	gboolean backstage;     /* a backstage monitor: receives like an attendee, seated like a presenter */
	ah_room *room;
	char *display;          /* "" when unset */
	char *sub;              /* the join token's subject; NULL: joined without a token */
	gboolean media;         /* the PeerConnection is up (media_up seen, no media_down since) */
	GArray *streams;        /* presenter: ah_stream_desc it publishes (empty: not publishing) */
	GArray *slots;          /* receiver: ah_slot as last offered (empty: never offered) */
	gboolean offer_pending; /* receiver: an offer is out, no answer yet */
	gboolean renegotiate;   /* receiver: presenters changed while the offer was out */
	char rejoin_token[AH_REJOIN_TOKEN_LEN + 1]; /* attendee: "" until admitted with a rejoin grace */
	guint position;         /* queued attendee: the last position it was told (0: none) */
	int layer;              /* receiver: the simulcast layer it asked for (join, set_layer), default
				 * high; it gets at most MIN(layer, room->video_layer): ah_engine_max_layer */
	gboolean mirror;        /* an edge's copy of a presenter publishing on the room's origin (engine-mirror.c):
				 * no handle, no seat, never told anything */
} ah_participant;

/* An attendee whose connection dropped while seated: admission holds its seat (REJOINING) until
 * the grace ends; the token brings it back (engine-ghosts.c, engine-admission.c). */
typedef struct {
	char token[AH_REJOIN_TOKEN_LEN + 1];
	guint64 pid;            /* the admission pid holding the seat */
	char *tenant, *room;    /* ids, not pointers: the room may go first */
	char *display;
	gint64 expires;
} ah_ghost;

struct ah_engine {
	char *state_path;       /* NULL: nothing persists */
	ah_persist_writer *writer; /* the state file's writer (NULL: nothing persists) */
	guint stale_temps_removed; /* temporary files of a killed writer removed at start */
	guint held_schedules;   /* rooms whose stored schedule was refused at load (held closed) */
	char *admin_key;        /* NULL: no operator requests through plugin handles */
	ah_admission *adm;
	GHashTable *tenants;    /* id -> ah_tenant* (owned) */
	GHashTable *conns;      /* &conn -> ah_participant* (owned) */
	GHashTable *pids;       /* &id -> ah_participant* */
	guint64 next_pid;
	/* ROUTES owed at the end of the current entry point (see ah_engine_flush). */
	GPtrArray *dirty_rooms; /* ah_room*: every publishing presenter's fan-out may have changed */
	GArray *dirty_conns;    /* guint64: presenters that stopped publishing */
	GHashTable *dirty_conn_set; /* the same conns (guint64*, into nothing: keys are copies) */
	GArray *dirty_receivers; /* guint64: receivers whose own routes changed (RECEIVER_ROUTES) */
	GHashTable *dirty_receiver_set; /* the same conns */
	gint64 clock_offset;    /* real time - monotonic, microseconds (ah_engine_set_clock_offset) */
	GHashTable *ghosts;     /* token -> ah_ghost* (owned) */
	GHashTable *ghost_pids; /* &pid -> ah_ghost* */
	GQueue ghost_order;     /* ah_ghost*, by expiry */
	/* Per Janus session limits (engine-credentials.c). */
	GHashTable *conn_sessions;   /* &conn -> guint64* session (owned) */
	GHashTable *session_conns;   /* &session -> GArray of guint64 conns (owned) */
	GHashTable *session_failures; /* &session -> ah_fail_bucket* (owned), forgotten when idle */
	guint session_prune_at;      /* prune idle session buckets when the table grows past this */
	ah_fail_bucket admin_failures; /* failed admin_key attempts over plugin handles */
	guint64 failed_total, refused_total; /* every scope, since start */
	guint max_queued_per_session; /* 0: no limit */
	/* Scheduled rooms with a next change: a binary min-heap on status.next_change
	 * (engine-schedule.c), so the next deadline is its head. */
	GPtrArray *schedule_queue;
	ah_engine_work *work;   /* work counters (ah_engine_work_done); a pointer so const readers count */
	struct ah_engine_counters *counters; /* what metrics count (engine-metrics.c reads them) */
	guint n_rooms;          /* rooms of every tenant, kept as they come and go (metrics, heartbeat) */
	guint n_presenters;     /* participants in some room's presenters list, likewise */
	struct ah_engine_ledger *ledger; /* cluster mode's seat ledger state (engine-ledger.c); NULL: off */
	struct ah_engine_place *place; /* cluster placement and tickets (engine-place.c); NULL: single node */
	struct ah_adm_batch *adm_batch; /* the admitted attendees of the events being acted on, not placed yet
					 * (engine-participants.c); NULL: none */
	/* Cluster mode's shared definitions (engine-defs.c): the tenants and rooms whose definition a
	 * request changed since the glue last took them (ah_engine_defs_take), kept only while the glue
	 * tracks them; `defs_quiet` while a definition from outside is applied (not a change to share). */
	gboolean defs_track, defs_quiet;
	GPtrArray *defs_changed; /* ah_def_ref*, owned */
	/* Media across nodes (engine-mirror.c), NULL until used: rooms newly served here as an edge, rooms
	 * watched for edges whose presenters changed (ah_def_ref*, owned). */
	GPtrArray *edge_new, *feeds_changed;
};

/* --- engine-ledger.c, for the engine's other files and the requests */
/* A tenant's cap (room NULL) or a room's changed, or it is gone: written to the ledger next. */
void ah_engine_ledger_cap_changed(ah_engine *engine, const char *tenant, const char *room);
/* Cluster mode, no stage seat free: the join of presenter or backstage monitor on `conn` waits for
 * a claim (the request is answered later: AH_OUT_DEFER). */
void ah_engine_ledger_wait_stage(ah_engine *engine, guint64 conn, ah_room *room, gboolean backstage,
	const char *display, gint64 now);
/* The next presenter waiting in tenant t (NULL: none); taken out of the queue. g_free the result's
 * strings with ah_engine_ledger_waiter_free. */
typedef struct {
	guint64 conn;
	char *tenant, *room, *display;
	gboolean backstage;
} ah_ledger_waiter;
ah_ledger_waiter *ah_engine_ledger_next_waiter(ah_engine *engine, const char *tenant);
void ah_engine_ledger_waiter_free(ah_ledger_waiter *w);
/* Forget the waiting presenter on conn (its handle went away). */
void ah_engine_ledger_forget_conn(ah_engine *engine, guint64 conn);
void ah_engine_ledger_stop(ah_engine *engine);
/* The claim `ref` was answered: book it; returns the tenant whose stage allowance the claim was
 * for (presenters may now be seated), NULL for a room's claim or an unknown ref. *granted_out: seats
 * granted (0 when none); *failed_out: the claim got no answer from Redis. */
const char *ah_engine_ledger_book(ah_engine *engine, guint64 ref, gint64 granted, gint64 retry_after_us,
	gboolean unreachable, gint64 now, GArray *reqs);

/* How a participant goes away; each row of engine-participants.c's `exits` table says what it is told. */
typedef enum {
	AH_EXIT_LEAVE,          /* `leave` request (the handler replies) */
	AH_EXIT_HANGUP,         /* attendee's or backstage monitor's PeerConnection went down */
	AH_EXIT_GONE,           /* handle detached */
	AH_EXIT_KICKED,
	AH_EXIT_TIMEOUT,        /* admission already forgot it */
	AH_EXIT_ROOM,           /* room destroyed (the caller removes the room from admission) */
	AH_EXIT_TENANT,         /* tenant destroyed (likewise) */
	AH_EXIT_ENDED,          /* the room's window ended: a seated attendee (admission cleared it) */
	AH_EXIT_ENDED_QUEUED,   /* likewise, a queued attendee */
	AH_EXIT_ENDED_PRESENTER, /* likewise, a presenter or backstage monitor (frees its tenant seat) */
	AH_EXIT_DRAINED,        /* a queued attendee of a draining node (admission already forgot it) */
	AH_EXIT_REPLACED,       /* a seated attendee whose rejoin token came back on another handle */
	AH_EXIT_PLACED,         /* an admitted attendee sent to an edge with a seat ticket (its `redirect` says so) */
	AH_EXIT__COUNT
} ah_exit;

/* What the engine counts for Prometheus (include/allhands/metrics.h), since it was created: plain
 * fields incremented where things happen, read by engine-metrics.c. */
typedef struct ah_engine_counters {
	guint64 joins;                          /* join requests through plugin handles */
	guint64 join_refusals[AH_ERR__COUNT];   /* of those, answered with this error */
	guint64 exits[AH_EXIT__COUNT];          /* participants gone, by way out */
	guint64 admit_timeouts;                 /* admitted attendees that did not connect in time */
	guint64 grace_expired;                  /* seats kept for a rejoin that nobody came back for */
} ah_engine_counters;

/* --- engine-registry.c: outs, clock, lookups, current credentials and seats (the leaf: calls no
 * other engine file) */
void ah_engine_push(GPtrArray *outs, ah_out_kind kind, guint64 conn, json_t *body, ah_jsep_kind jsep);
/* Append an AH_OUT_NOTIFY {"event", "tenant"?, "room"?, "id"?} and return its body (borrowed) so
 * the caller can add fields. tenant/room NULL and id 0 are left out. */
json_t *ah_engine_notify(GPtrArray *outs, guint64 conn, const char *event, const char *tenant,
	const char *room, guint64 id);
/* Real time in UTC seconds at monotonic `now`. */
gint64 ah_engine_real_s(const ah_engine *engine, gint64 now);
ah_tenant *ah_engine_tenant(const ah_engine *engine, const char *id);
/* The tenant's secrets valid at `now` (monotonic us): its secret, then its previous one while the
 * rotation overlap lasts. Fills secrets[0..1] (borrowed), returns how many (1 or 2). */
guint ah_engine_tenant_secrets(const ah_engine *engine, const ah_tenant *tenant, gint64 now,
	const char *secrets[2]);
/* Likewise its join-token signing keys (engine-credentials.c makes them). */
guint ah_engine_tenant_keys(const ah_engine *engine, const ah_tenant *tenant, gint64 now, const char *keys[2]);
ah_room *ah_engine_room(const ah_engine *engine, const char *tenant, const char *room);
ah_participant *ah_engine_participant(const ah_engine *engine, guint64 conn);
ah_participant *ah_engine_participant_by_id(const ah_engine *engine, guint64 id);
/* The id the next participant gets (ah_engine_add_participant takes it). */
guint64 ah_engine_next_id(const ah_engine *engine);

/* Holds a seat (CONNECTING or ACTIVE attendee). */
gboolean ah_engine_seated(const ah_engine *engine, const ah_participant *p);
/* Receives the room's media: a seated attendee, or a backstage monitor (in any room state). */
gboolean ah_engine_receiving(const ah_engine *engine, const ah_participant *p);

/* --- engine-credentials.c: signing keys, the failure throttle, per-session limits */
void ah_engine_credentials_init(ah_engine *engine, const ah_engine_config *config);
void ah_engine_credentials_clear(ah_engine *engine);
/* The conn is gone: forget its session. */
void ah_engine_forget_conn(ah_engine *engine, guint64 conn);
/* A fresh signing key for the tenant (FALSE: no randomness; nothing changed). */
gboolean ah_engine_new_signing_key(ah_tenant *tenant);
/* The failure throttle around one credential check by the caller on `conn` (admin_api: the Admin
 * API, which has no session): guard before the check returns how long (us) the caller must wait when
 * its session or `bucket` is over its limit (then the credential must not be checked; counted as
 * refused), with *scope_name the bucket that said so; 0: go on. record after a failed check.
 * bucket NULL: the session alone. */
typedef enum { AH_FAIL_ROOM, AH_FAIL_TENANT, AH_FAIL_NODE, AH_FAIL_SESSION } ah_fail_scope;
gint64 ah_engine_fail_guard(ah_engine *engine, gboolean admin_api, guint64 conn, ah_fail_bucket *bucket,
	ah_fail_scope scope, gint64 now, const char **scope_name);
void ah_engine_fail_record(ah_engine *engine, gboolean admin_api, guint64 conn, ah_fail_bucket *bucket,
	ah_fail_scope scope, gint64 now);
/* join: the caller's Janus session already holds max_queued_per_session queued attendees. */
gboolean ah_engine_session_queue_full(const ah_engine *engine, guint64 conn);
/* {"failed","refused","retry_after_ms"} of a room or tenant (with "token_failures"), or of the node
 * (tenant and room NULL: totals, sessions tracked and throttled, admin_key). */
json_t *ah_engine_failures_json(const ah_engine *engine, const ah_tenant *tenant, const ah_room *room, gint64 now);

/* --- engine-media.c: media negotiation and the ROUTES owed */
/* Emit the ROUTES owed (dirty rooms and conns) and clear them. Every entry point ends with it. */
void ah_engine_flush(ah_engine *engine, GPtrArray *outs);
/* Every publishing presenter's fan-out in `room` may have changed (e.g. a receiver's max_layer):
 * a ROUTES for each at the flush. */
void ah_engine_routes_changed(ah_engine *engine, ah_room *room);
/* Only receiver `conn`'s routes changed (its slots, its max_layer, or it is gone): a
 * RECEIVER_ROUTES at the flush, unless its room's fan-outs are rebuilt whole then anyway. */
void ah_engine_receiver_changed(ah_engine *engine, guint64 conn);
/* Presenter `conn` stopped publishing (or is gone): a ROUTES for it at the flush. */
void ah_engine_presenter_stopped(ah_engine *engine, guint64 conn);
/* A receiver's simulcast ceiling: MIN(p->layer, its room's video_layer). */
int ah_engine_max_layer(const ah_participant *p);
/* A presenter with streams. */
gboolean ah_engine_publishing(const ah_participant *p);
/* Recompute attendee a's slots and build the offer event `event` (with presenters) for it: the
 * caller sends it with AH_JSEP_OFFER (as the reply, or through ah_engine_offer as an event). */
json_t *ah_engine_offer_body(ah_engine *engine, ah_participant *a, const char *event);
void ah_engine_offer(ah_engine *engine, ah_participant *a, const char *event, GPtrArray *outs);
/* The room's presenters changed: offer "updated" to every receiver (or remember to, after its
 * pending answer). */
void ah_engine_renegotiate(ah_engine *engine, ah_room *room, GPtrArray *outs);
/* Presenter p stops publishing: streams cleared, attendees renegotiated, fan-outs rebuilt. */
void ah_engine_unpublish(ah_engine *engine, ah_participant *p, GPtrArray *outs);
/* Media across nodes: an offer built for a receiver of a room served here as an edge, or the presenters
 * of a room watched for edges changed: listed for the glue (engine-mirror.c takes the lists). */
void ah_engine_note_edge_room(ah_engine *engine, ah_room *room);
void ah_engine_note_feeds(ah_engine *engine, ah_room *room);
/* KEYFRAME for every publishing presenter of the room. */
void ah_engine_keyframes(const ah_engine *engine, const ah_room *room, GPtrArray *outs);
/* [{"id","display","streams":[...]}] of the room's publishing presenters. */
json_t *ah_engine_presenters_json(const ah_engine *engine, const ah_room *room);
/* [{"kind","codec"}] */
json_t *ah_engine_streams_json(const GArray *streams);

/* --- engine-ghosts.c: rejoin tokens and the seats they hold */
void ah_engine_ghosts_init(ah_engine *engine);
void ah_engine_ghosts_clear(ah_engine *engine);
/* Give p a fresh rejoin token when there is a grace, and add it to the admitted body. */
void ah_engine_issue_token(ah_engine *engine, ah_participant *p, json_t *body, gint64 now);
/* A seated attendee's connection dropped (hangup, gone): keep its seat for the rejoin grace.
 * FALSE when there is no grace (the caller frees the seat). */
gboolean ah_engine_hold(ah_engine *engine, const ah_participant *p, gint64 now, GPtrArray *outs);
/* Forget ghosts whose grace is over (their seats were freed by admission) at `now`. */
void ah_engine_ghosts_due(ah_engine *engine, gint64 now);
/* The ghost holding a seat for `token` / for admission pid `pid`, NULL: none; and forgetting one. */
ah_ghost *ah_engine_ghost_of_token(const ah_engine *engine, const char *token);
ah_ghost *ah_engine_ghost_of_pid(const ah_engine *engine, guint64 pid);
void ah_engine_ghost_drop(ah_engine *engine, ah_ghost *g);

/* --- engine-participants.c: joining, the ways out, admission events */
ah_participant *ah_engine_add_participant(ah_engine *engine, guint64 conn, ah_room *room,
	gboolean presenter, const char *display);
/* Take p out of its room and the engine's tables, nothing else (p is freed): mirrors (engine-mirror.c). */
void ah_engine_forget(ah_engine *engine, ah_participant *p);
/* Take a participant out (see ah_exit); p is freed. When that frees a seat, the admission events
 * it causes (the next in line admitted...) are acted on before it returns. */
void ah_engine_remove(ah_engine *engine, ah_participant *p, ah_exit how, gint64 now, GPtrArray *outs);
/* Cluster mode, an attendee just admitted (p CONNECTING, no offer sent yet): placed on an edge
 * (ah_engine_place_attendee), it gets the `redirect` with its seat ticket (*reply when reply is not
 * NULL, else an event to it) and is taken out (AH_EXIT_PLACED, p freed): TRUE. FALSE: served here. */
gboolean ah_engine_seat_elsewhere(ah_engine *engine, ah_participant *p, gint64 now, GPtrArray *outs, json_t **reply);
/* Act on admission events (admitted, position, timed out, grace expired, drained); empties `events`. */
void ah_engine_adm_events(ah_engine *engine, GArray *events, gint64 now, GPtrArray *outs);
/* {"known", "median_ms", "low_ms", "high_ms"} */
json_t *ah_engine_wait_json(const ah_wait_estimate *e);

/* --- engine-persist.c: the state file's rows, and the writer */
/* Tenant `tenant`'s row (room NULL) or room `room`'s row changed, or is gone: hand its new row to
 * the writer (the file is written off this thread). FALSE when the last write failed (the change
 * may not reach the disk); TRUE too when nothing persists. */
gboolean ah_engine_save(ah_engine *engine, const char *tenant, const char *room);
/* The definition of tenant `tenant` (room NULL) or of its room `room`: its state-file row
 * (persist.h), NULL when there is no such tenant or room. */
json_t *ah_engine_row(const ah_engine *engine, const char *tenant, const char *room);
/* The number of the last change handed to the writer (`sync`: the glue answers once it is
 * durable); 0 when nothing persists. */
guint64 ah_engine_persist_sync(ah_engine *engine);
/* The writer of a state file just loaded (its rows seed the writer), and its end (writes what is
 * pending, frees it). */
void ah_engine_persist_start(ah_engine *engine, const ah_persist_state *loaded);
void ah_engine_persist_stop(ah_engine *engine);
/* After loading an older file whose tenants got new signing keys: write their rows now, synchronously
 * (FALSE with *message when the write fails: the node must not start with keys it would forget). */
gboolean ah_engine_persist_migrated(ah_engine *engine, char **message);
/* A room's schedule and options, back from its state-file row (a schedule refused now is held). */
ah_error ah_room_schedule_load(ah_room *room, const ah_persist_room *row, char **message);

/* --- engine-admission.c: rejoin, due work, shares, admission figures */
/* The admission work due by `now` (timeouts, graces, a wave, reports), if any, with its outs: run
 * before a request so that the request sees the seats of now and never does others' work. */
void ah_engine_adm_due(ah_engine *engine, gint64 now, GPtrArray *outs);
/* join with a rejoin_token: the seat it holds (a ghost's, or a still seated attendee's, which is
 * taken out as `replaced`) passes to a new participant of `room` (TRUE, *p set). FALSE: nothing
 * changed (at most a ghost whose seat was gone already is forgotten). */
gboolean ah_engine_rejoin(ah_engine *engine, const char *token, ah_room *room, guint64 conn, const char *display,
	gint64 now, GPtrArray *outs, ah_participant **p);
/* Status figures of the node (tenant and room NULL), a tenant or a room. */
json_t *ah_engine_admission_json(const ah_engine *engine, const ah_tenant *tenant, const ah_room *room, gint64 now);
/* The node's settings and figures (status, set_capacity). */
json_t *ah_engine_node_json(const ah_engine *engine, gint64 now);
/* Tell admission a tenant's share / a room's presenter seats after they changed. */
void ah_engine_apply_share(ah_engine *engine, const ah_tenant *t);
void ah_engine_apply_presenter_seats(ah_engine *engine, const ah_room *r);

/* --- engine-schedule.c: scheduled rooms */
/* A room starts unscheduled with the default options (ah_engine_add_room). */
void ah_room_schedule_init(ah_room *room);
void ah_room_schedule_clear(ah_room *room);
/* Bring the room to its phase at `now`, acting on a change (events, admission, end of a window). */
void ah_engine_room_sync(ah_engine *engine, ah_room *room, gint64 now, GPtrArray *outs);
/* Sync every scheduled room whose next change is due. */
void ah_engine_schedule_due(ah_engine *engine, gint64 now, GPtrArray *outs);
/* The earliest monotonic time a scheduled room changes phase, G_MAXINT64 when none. */
gint64 ah_engine_schedule_deadline(const ah_engine *engine);
/* Put the room in (or out of) the schedule queue after its schedule or next change changed, and
 * take it out before it is freed. */
void ah_engine_schedule_track(ah_engine *engine, ah_room *room);
void ah_engine_schedule_untrack(ah_engine *engine, ah_room *room);
/* Add "state", "schedule", options, "next_start", "next_end" to a room object. */
void ah_room_schedule_json(const ah_room *room, json_t *object);

/* --- engine.c: the top: tenants and rooms, and the entry points of media and time */
ah_tenant *ah_engine_add_tenant(ah_engine *engine, const char *id, const char *name,
	guint max_participants, const char *secret);
ah_room *ah_engine_add_room(ah_engine *engine, ah_tenant *tenant, const char *id, const char *description,
	guint max_attendees, const char *pin, const char *presenter_secret);
/* Remove every participant ("removed" with the room's/tenant's reason), then the room/tenant. */
void ah_engine_destroy_room(ah_engine *engine, ah_room *room, gint64 now, GPtrArray *outs);
void ah_engine_destroy_tenant(ah_engine *engine, ah_tenant *tenant, gint64 now, GPtrArray *outs);
/* Sorted by id (GPtrArray of ah_tenant* / ah_room*, borrowed; caller unrefs the array). */
GPtrArray *ah_engine_sorted_tenants(const ah_engine *engine);
GPtrArray *ah_engine_sorted_rooms(const ah_tenant *tenant);
/* The schedule changes, then the admission work, due by `now` (each entry point starts with it). */
void ah_engine_catch_up(ah_engine *engine, gint64 now, GPtrArray *outs);

/* --- engine-place.c: cluster placement and redirect tickets (docs/cluster.md, "Placement and
 * redirects"); calls engine-registry.c only */
void ah_engine_place_clear(ah_engine *engine);
gboolean ah_engine_clustered(const ah_engine *engine);
/* The least loaded alive node's id for a new room (this node's when none is known); NULL when not
 * clustered. Valid until the next view. */
const char *ah_engine_place_choose(const ah_engine *engine);
/* The node that serves the room now: its home (`node`), or, while that node is dead in the view, the
 * stand-in every node with the same view agrees on (ah_place_stand_in); NULL when not clustered or
 * the room has no `node`. Valid until the next view. */
const char *ah_engine_room_home(const ah_engine *engine, const ah_room *room);
/* That node's id when it is another node; NULL when the room is served here (single-node mode, no
 * `node`, this node's id, or this node stands in for a dead home). */
const char *ah_engine_room_elsewhere(const ah_engine *engine, const ah_room *room);
/* A node of the last view, NULL when unknown. */
const ah_place_node *ah_engine_place_node(const ah_engine *engine, const char *id);
/* A signed ticket for the room's home node (g_free); NULL when not clustered or on failure. */
char *ah_engine_ticket_issue(ah_engine *engine, const ah_room *room, ah_ticket_ptype ptype, gboolean priority,
	const char *sub, gint64 now);
/* The same for node `node` (an edge's seat ticket: docs/cluster.md, "Edges"). */
char *ah_engine_ticket_issue_for(ah_engine *engine, const ah_room *room, const char *node, ah_ticket_ptype ptype,
	gboolean priority, const char *sub, gint64 now);
/* Verify `ticket` for `room`, this node and `ptype` (NULL: any) and take it (one time): AH_ERR_OK with *out, or the
 * refusal (ticket_invalid, ticket_expired, ticket_mismatch, ticket_used, tickets_full,
 * not_clustered), *why (g_free) a message or NULL for the default. */
ah_error ah_engine_ticket_take(ah_engine *engine, const char *ticket, const ah_room *room, const char *ptype, gint64 now,
	ah_ticket *out, char **why);
/* Give a taken ticket back: the join it came with was refused. */
void ah_engine_ticket_untake(ah_engine *engine, const ah_ticket *taken);
/* Cluster mode: the rejoin ticket of an attendee admitted here into `room` (g_free; NULL when not
 * clustered), the second half of its rejoin token (docs/cluster.md, "Rejoining after a node died"). */
char *ah_engine_rejoin_ticket(ah_engine *engine, const ah_room *room, const char *sub, gint64 now);
/* Check a rejoin ticket for `room` on this node: signed by the cluster, for this room, issued by
 * another node that is dead in the view, and not used here before (remembered until it expires):
 * AH_ERR_OK with *out, or ticket_invalid / ticket_expired / ticket_mismatch (another room, or its node
 * is alive: rejoin there) / ticket_used, *why (g_free) a message. `take` FALSE checks only. */
ah_error ah_engine_rejoin_ticket_check(ah_engine *engine, const char *ticket, const ah_room *room, gboolean take,
	gint64 now, ah_ticket *out, char **why);
/* Edges (docs/cluster.md, "Edges: the queue drains into any node"). Admission's capacity, in cluster
 * mode, is this node's own plus `spill`, the placements its edges can take now (recomputed by
 * ah_engine_edges_sync after a view or a placement, and as the ramp's second rolls over); the own
 * capacity is what status, metrics and the heartbeat show. */
guint ah_engine_spill(const ah_engine *engine);
guint ah_engine_own_capacity(const ah_engine *engine);
void ah_engine_edges_sync(ah_engine *engine, gint64 now);
/* When ah_engine_edges_sync has something to do (a new view or placement: now; the ramp's second
 * rolling over), G_MAXINT64 when nothing. */
gint64 ah_engine_edges_deadline(const ah_engine *engine, gint64 now);
/* A room's origin_attendees, max_attendees or home changed: its admission cap follows the edges. */
void ah_engine_edges_room_changed(ah_engine *engine, ah_room *room);
/* The room is going away: forget its placements (room_info's `placed`) and its cap. */
void ah_engine_edges_room_gone(ah_engine *engine, const ah_room *room);
/* Where an attendee of `room` admitted now is served: NULL here (fits this node's capacity and, at
 * its origin, the room's origin_attendees; or no edge has room), else the edge (the placement is
 * recorded). later_node / later_room: attendees admitted with it (node, room) and not decided yet. */
const ah_place_node *ah_engine_place_attendee(ah_engine *engine, ah_room *room, guint later_node, guint later_room,
	gint64 now);
/* {node id: attendees placed there} of a room (NULL when not clustered). */
json_t *ah_engine_edges_room_json(const ah_engine *engine, const ah_room *room);
/* fn(node id, guint64 *placed there, user) for every node placed onto. */
void ah_engine_edges_foreach_node(const ah_engine *engine, GHFunc fn, gpointer user);
/* `placement` of the operator's status: {"node_id","nodes_known","tickets":{"issued","taken",
 * "refused","remembered"}}; NULL when not clustered. */
json_t *ah_engine_place_json(const ah_engine *engine);

#endif

/* allhands: admission (seats, caps, the fair join queue, waves, estimates).
 *
 * Pure logic: no Janus, no clock, no logging, no locks. Time comes in as `now` (microseconds on a
 * monotonic clock chosen by the caller). Called only from the control thread. The algorithm and
 * its guarantees are in docs/admission.md.
 *
 * Model
 * - The node has `capacity` attendee seats. A tenant has `max_participants` seats shared by its
 *   presenters and attendees across all its rooms. A room has `max_attendees` attendee seats.
 *   A cap of 0 means "no seat"; caps are hard limits. A tenant may hold `reserved` node seats that
 *   no other tenant can take, and each room `presenter_seats` tenant seats that only its presenters
 *   (and backstage monitors) can take: presenters never queue.
 * - A participant is identified by a caller-chosen non-zero guint64 `pid`.
 * - Every room has two queues (priority, then ordinary), each in arrival order. An attendee is
 *   admitted at once when its caps allow it, a join token is available, admission is not paused or
 *   drained and nobody queued could be admitted now; otherwise it is QUEUED. A queue bound (node
 *   and tenant `max_queued`, 0 = none) refuses it instead (AH_ADM_REFUSED_QUEUE_FULL).
 * - Waves, at least `wave_interval` apart, admit up to the wave size (fixed `wave_size`, or an
 *   adaptive limit on attendees still connecting) and the join-rate budget (token bucket). Seats
 *   reserved by tenants go first; the rest is shared among tenants with admissible attendees by
 *   deficit round robin in proportion to their `weight`; within a tenant, rooms take turns (the
 *   priority class of all its rooms before the ordinary one); within a room, queue order.
 * - Admitted attendees hold a seat while CONNECTING (offer sent, waiting for media), ACTIVE, and
 *   REJOINING (connection lost, seat kept for rejoin_grace). A CONNECTING attendee not connected
 *   within admit_timeout loses its seat (AH_ADM_EV_TIMED_OUT), a REJOINING one at the end of its
 *   grace (AH_ADM_EV_GRACE_EXPIRED); both are forgotten.
 * - A queued attendee's position is its 1-based place in its room (priority entries first); its
 *   expected wait comes from the waves' pace within the free seats, and beyond them from the
 *   measured seat turnover (releases per seat held) of the room, tenant or node, whichever binds.
 *   Changes are reported (AH_ADM_EV_POSITION) at most once per update_interval, when meaningful.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_ADMISSION_H
#define ALLHANDS_ADMISSION_H

#include <glib.h>

#include "allhands/metrics.h"
#include "allhands/stats.h"

typedef struct ah_admission ah_admission;
/* A room as admission knows it: valid until the room or its tenant is removed. */
typedef struct adm_room ah_adm_room;

typedef enum {
	AH_WAVES_FIXED = 0,  /* wave_size attendees per wave */
	AH_WAVES_ADAPTIVE,   /* up to an adaptive limit on attendees still connecting (adaptive.h) */
} ah_wave_mode;

typedef struct {
	guint capacity;          /* attendee seats on this node */
	guint wave_size;         /* >= 1: fixed mode's wave; adaptive mode's upper bound */
	gint64 wave_interval_us; /* >= 0 */
	gint64 admit_timeout_us; /* > 0 */
	ah_wave_mode wave_mode;
	guint wave_min;          /* adaptive: lower bound of the limit (>= 1, <= wave_size) */
	double cpu_target;       /* adaptive: fraction of CPU (0, 1]; <= 0 ignores CPU */
	double join_rate;        /* admissions per second, both modes; <= 0: unlimited */
	guint join_burst;        /* token bucket size (>= 1) */
	gint64 update_interval_us; /* position/estimate reports at most this often; >= 1 ms */
	gint64 rejoin_grace_us;  /* seat kept after a lost connection; 0: none */
	guint max_queued;        /* node queue bound; 0: none */
} ah_admission_config;

/* The node queue's default bound (issue 12: anyone may queue without credentials, so the queue
 * is bounded unless the operator says otherwise; docs/operations.md). */
#define AH_MAX_QUEUED_DEFAULT 20000

/* Defaults for the fields a caller does not care about (capacity 0: set it). */
void ah_admission_config_defaults(ah_admission_config *config);

typedef enum {
	AH_ADM_NONE = 0,   /* unknown pid */
	AH_ADM_QUEUED,
	AH_ADM_CONNECTING, /* admitted, seat held, waiting for media */
	AH_ADM_ACTIVE,     /* attendee with media, or a presenter */
	AH_ADM_REJOINING,  /* seat held after a lost connection, until rejoin or grace expiry */
	/* join() refusals (no state is kept): */
	AH_ADM_REFUSED_QUEUE_FULL, /* the node's or the tenant's queue bound */
	AH_ADM_REFUSED_DRAINING,   /* the node is draining */
} ah_adm_state;

typedef enum {
	AH_ADM_ORDINARY = 0,
	AH_ADM_PRIORITY,   /* admitted before the tenant's ordinary attendees */
} ah_adm_class;

typedef enum {
	AH_ADM_EV_ADMITTED,      /* a queued attendee got its seat (is now CONNECTING) */
	AH_ADM_EV_POSITION,      /* a queued attendee's position or estimate changed meaningfully */
	AH_ADM_EV_TIMED_OUT,     /* a CONNECTING attendee lost its seat; it is forgotten */
	AH_ADM_EV_GRACE_EXPIRED, /* a REJOINING attendee's seat was freed; it is forgotten */
	AH_ADM_EV_DRAINED,       /* a queued attendee was taken out by drain(); it is forgotten */
} ah_adm_event_kind;

typedef struct {
	ah_adm_event_kind kind;
	guint64 pid;
	guint position;      /* POSITION: 1-based place in its room's queue */
	guint queue_length;  /* POSITION: its room's queue length */
	ah_wait_estimate estimate; /* POSITION */
} ah_adm_event;

/* What join() tells the joiner. */
typedef struct {
	guint position;            /* QUEUED */
	guint queue_length;        /* QUEUED: its room's queue length */
	ah_wait_estimate estimate; /* QUEUED */
	gint64 retry_after_us;     /* REFUSED_*: when trying again is worth it */
} ah_adm_join;

/* Counts for the node, a tenant or a room. */
typedef struct {
	guint active;     /* attendees with media */
	guint connecting; /* attendees admitted, waiting for media */
	guint queued;     /* attendees waiting in the queue */
	guint presenters; /* presenters (always 0 for the node: they hold no node seat) */
	guint rejoining;  /* attendees whose seat is kept for a rejoin */
} ah_adm_counts;

/* Measurements for the node, a tenant or a room (status). Durations in microseconds; the
 * percentiles are 0 while there is no sample. */
typedef struct {
	ah_adm_counts counts;
	double admitted_per_s;     /* smoothed admission rate */
	guint64 admitted_total;
	guint wave_size;           /* node: what the next wave may admit at most (fixed or adaptive limit) */
	guint64 waves;             /* node: waves that admitted someone */
	guint last_wave_admitted;  /* node: how many the last of them admitted */
	gint64 last_wave_ago_us;   /* node: how long ago it was (-1: none yet) */
	gint64 setup_p50_us, setup_p90_us, setup_p99_us; /* admitted -> media */
	gint64 wait_p50_us, wait_p90_us, wait_p99_us;    /* queued -> admitted */
	guint64 estimates;         /* admitted attendees that had been given a known estimate */
	double estimate_error_p50; /* |actual - estimated| / actual, from the first known estimate */
	double estimate_error_p90;
	gboolean paused;           /* node: pause(); room: paused */
	gboolean draining;         /* node only */
	double cpu;                /* node only: last CPU sample, < 0 unknown */
} ah_adm_stats;

/* The node's counters and histograms for Prometheus (metrics.h), since start: never reset, never
 * decreasing. Admissions exclude rejoins; `range_*` compare an admitted attendee's wait since its
 * first known estimate with that estimate's [low, high] range (edges included). */
typedef struct {
	guint64 admitted_queue;    /* out of the queue (waves) */
	guint64 admitted_at_once;  /* without queueing */
	guint64 range_held, range_missed;
	ah_metrics_hist setup;     /* seconds: admitted -> media */
	ah_metrics_hist wait;      /* seconds: queued -> admitted (0 at once) */
	ah_metrics_hist error;     /* |actual - estimated median| / max(actual, 1 s) */
} ah_adm_metrics;

ah_admission *ah_admission_new(const ah_admission_config *config);
void ah_admission_free(ah_admission *adm);
/* Change the config at runtime. Lowering a cap never evicts; it only stops admissions. */
void ah_admission_set_config(ah_admission *adm, const ah_admission_config *config, gint64 now);
const ah_admission_config *ah_admission_get_config(const ah_admission *adm);

/* Tenants and rooms are keyed by their string ids (rooms by the pair). set_* creates or updates
 * the cap. A room must belong to a tenant that was set first (returns FALSE otherwise).
 * remove_* of a tenant or room with participants removes them all and appends their pids to
 * `removed` (may be NULL); their seats are freed. */
void ah_admission_set_tenant(ah_admission *adm, const char *tenant, guint max_participants);
/* A tenant's share: weight >= 1 (clamped), reserved node seats, queue bound (0: none).
 * FALSE: unknown tenant. New tenants start with weight 1, nothing reserved, no bound. */
gboolean ah_admission_set_tenant_share(ah_admission *adm, const char *tenant, guint weight, guint reserved,
	guint max_queued);
gboolean ah_admission_remove_tenant(ah_admission *adm, const char *tenant, GArray *removed /* guint64 */);
gboolean ah_admission_set_room(ah_admission *adm, const char *tenant, const char *room, guint max_attendees);
/* Tenant seats only this room's presenters may take (default 0). FALSE: unknown room. */
gboolean ah_admission_set_presenter_seats(ah_admission *adm, const char *tenant, const char *room, guint seats);
gboolean ah_admission_remove_room(ah_admission *adm, const char *tenant, const char *room, GArray *removed /* guint64 */);

/* Scheduled rooms (issue 3). A room is open by default. While a room is closed, its attendees
 * join the queue as usual (the pre-queue: they get positions) but no wave and no immediate
 * admission seats anyone of that room; other rooms are not held up by them. Opening a room makes
 * its queued attendees admissible in the usual waves, in their queue order. FALSE: unknown room. */
gboolean ah_admission_set_room_open(ah_admission *adm, const char *tenant, const char *room, gboolean open);
/* When the room's current window ends (monotonic microseconds; G_MAXINT64, the default: no end).
 * Admission knows no schedule: the engine passes the end down, and estimates never reach past it
 * (a wait that would is reported as beyond_window, see stats.h). FALSE: unknown room. */
gboolean ah_admission_set_room_end(ah_admission *adm, const char *tenant, const char *room, gint64 ends_at);
/* Operator pause: like a closed room, but independent of the schedule. tenant NULL: the whole
 * node (nobody is admitted; joins still queue). FALSE: unknown room. */
gboolean ah_admission_set_paused(ah_admission *adm, const char *tenant, const char *room, gboolean paused);
/* Drain the node: every queued attendee is taken out (AH_ADM_EV_DRAINED, in queue order) and joins
 * are refused with AH_ADM_REFUSED_DRAINING until drain(FALSE). Seated attendees stay. */
void ah_admission_set_draining(ah_admission *adm, gboolean draining, GArray *events);
/* Randomly permute the queue places held by this room's queued attendees among themselves (the
 * places of other rooms' attendees do not move), with a deterministic PRNG seeded by `seed`.
 * Each class is permuted within itself. FALSE: unknown room. Positions are reported as usual. */
gboolean ah_admission_shuffle_room(ah_admission *adm, const char *tenant, const char *room, guint32 seed,
	GArray *events);
/* Take every attendee of the room out (queued and seated), and its presenters too when
 * `presenters` is TRUE, freeing their seats and queue places; their pids are appended to `removed`
 * in queue order, then seat order. The room stays. No due work runs here: the freed seats go to
 * the queues at the next tick, so every room ending at the same moment is cleared (and closed)
 * before any of their seats is handed out. FALSE: unknown room. */
gboolean ah_admission_clear_room(ah_admission *adm, const char *tenant, const char *room, gboolean presenters,
	GArray *removed);

/* An attendee asks for a seat. Returns AH_ADM_CONNECTING (admitted now), AH_ADM_QUEUED (then
 * `out` has its position and estimate), a REFUSED_* state (nothing is kept; out->retry_after_us),
 * or AH_ADM_NONE when the pid is already known or the room is unknown. `out` may be NULL.
 * The admission work due at `now` (timeouts, a wave) runs first, as a tick would: its events for
 * other attendees are appended to `events` (GArray of ah_adm_event) whatever the answer, so the
 * caller must deliver them even when the join is refused (the refusal itself changes nothing). */
ah_adm_state ah_admission_join_class(ah_admission *adm, guint64 pid, const char *tenant, const char *room,
	ah_adm_class klass, gint64 now, ah_adm_join *out, GArray *events);
/* join_class() with the room already looked up (ah_admission_room): no string lookups. */
ah_adm_state ah_admission_join_room(ah_admission *adm, guint64 pid, ah_adm_room *room, ah_adm_class klass,
	gint64 now, ah_adm_join *out, GArray *events);
/* The room's handle, NULL when unknown. */
ah_adm_room *ah_admission_room(const ah_admission *adm, const char *tenant, const char *room);
/* join_class() for an ordinary attendee; *position (may be NULL) as out->position. */
ah_adm_state ah_admission_join(ah_admission *adm, guint64 pid, const char *tenant, const char *room,
	gint64 now, guint *position, GArray *events);
/* A presenter takes a tenant seat: one of the room's presenter seats if one is free, else an
 * unreserved tenant seat. FALSE when there is none, or the room is unknown, or pid is known. */
gboolean ah_admission_add_presenter(ah_admission *adm, guint64 pid, const char *tenant, const char *room);
/* CONNECTING -> ACTIVE; the setup time feeds the measurements. FALSE when pid is not CONNECTING. */
gboolean ah_admission_connected(ah_admission *adm, guint64 pid, gint64 now);
/* A seated attendee (CONNECTING or ACTIVE) lost its connection: keep its seat for rejoin_grace.
 * FALSE (nothing changes) when the grace is 0 or pid is not seated: then call leave(). */
gboolean ah_admission_hold(ah_admission *adm, guint64 pid, gint64 now);
/* A REJOINING attendee comes back as `new_pid` (which must be unknown), or a seated attendee
 * (CONNECTING or ACTIVE) is taken over by it: the seat passes to it as CONNECTING (a new admit
 * timeout) without ever being free; old_pid is forgotten. FALSE (nothing changes): old_pid is not
 * such an attendee, or new_pid is 0 or known. */
gboolean ah_admission_rejoin(ah_admission *adm, guint64 old_pid, guint64 new_pid, gint64 now);
/* The participant leaves by any way out (leave, hangup, detach, kick...): frees its seat or its
 * queue place. Returns its previous state (AH_ADM_NONE when unknown). */
ah_adm_state ah_admission_leave(ah_admission *adm, guint64 pid, gint64 now, GArray *events);
/* The process's CPU use, fraction of what it may use (adaptive mode). */
void ah_admission_cpu_sample(ah_admission *adm, double cpu, gint64 now);

/* Run due work at `now`: admit-timeouts and grace expiries, a wave if one is due, position
 * reports if due. Appends events. Call whenever now >= ah_admission_next_deadline(). */
void ah_admission_tick(ah_admission *adm, gint64 now, GArray *events);
/* The earliest time tick() has something to do, or G_MAXINT64 when nothing is pending. */
gint64 ah_admission_next_deadline(const ah_admission *adm, gint64 now);

ah_adm_state ah_admission_state(const ah_admission *adm, guint64 pid);
/* 1-based place in its room's queue, 0 when not queued. O(place). */
guint ah_admission_position(const ah_admission *adm, guint64 pid);
/* Counts; tenant/room NULL means the node. Unknown tenant/room gives zeros. */
ah_adm_counts ah_admission_counts(const ah_admission *adm, const char *tenant, const char *room);
/* Status figures; tenant/room NULL means the node. FALSE: unknown tenant or room. */
gboolean ah_admission_stats(const ah_admission *adm, const char *tenant, const char *room, gint64 now,
	ah_adm_stats *out);
/* The node's metrics (valid as long as adm). */
const ah_adm_metrics *ah_admission_metrics(const ah_admission *adm);
/* The queued pids (GArray of guint64, caller frees): a room's in queue order (priority first);
 * a tenant's or the node's room by room. tenant/room NULL = all. */
GArray *ah_admission_queue(const ah_admission *adm, const char *tenant, const char *room);

/* --- Cluster mode: allowances (admission-ledger.c; docs/cluster.md, "How admission uses it").
 * Limited (cluster mode), a room seats no more attendees than its allowance, the seats this node
 * holds in the cluster's seat ledger for it, and a tenant takes no more presenters and backstage
 * monitors than its stage allowance; admission treats both like caps. New rooms and tenants start at
 * 0; set_limited(TRUE) sets every existing one to the seats it holds. Not limited (the default,
 * single-node): no allowance applies. A room's allowance aims at its seats plus, while attendees wait,
 * the next wave's (so a wave's seats are claimed while the wave before it connects). Grants raise an
 * allowance; trims lower it to that aim and return what was given back. Only grants from the ledger
 * may raise it. */
void ah_admission_set_limited(ah_admission *adm, gboolean limited);
gboolean ah_admission_limited(const ah_admission *adm);
void ah_admission_room_grant(ah_admission *adm, ah_adm_room *room, guint n);
guint ah_admission_room_trim(ah_admission *adm, ah_adm_room *room);
typedef struct {
	const char *tenant, *room; /* valid while the room is */
	guint allowance;           /* G_MAXUINT: not limited */
	guint seats;               /* attendee seats held (connecting, active, rejoining) */
	guint queued;
	guint max_attendees;
	guint tenant_free;         /* tenant seats attendees may still take on this node */
	gboolean waiting;          /* attendees wait in its queue (open, unpaused) */
	guint want;                /* seats to claim: its seats and the next wave's (within its cap), minus
				    * its allowance; 0 when nobody waits */
} ah_adm_room_ledger;
ah_adm_room_ledger ah_admission_room_ledger(const ah_admission *adm, const ah_adm_room *room);
gboolean ah_admission_stage_grant(ah_admission *adm, const char *tenant, guint n);
guint ah_admission_stage_trim(ah_admission *adm, const char *tenant);
/* Stage seats the tenant should hold and does not: its presenters plus its rooms' free presenter seats,
 * minus its stage allowance (0 when not limited). */
guint ah_admission_stage_short(const ah_admission *adm, const char *tenant);
/* A presenter or backstage monitor of this tenant would fit the stage allowance now. */
gboolean ah_admission_stage_free(const ah_admission *adm, const char *tenant);
/* What needs the ledger, O(its length): rooms whose allowance is short of their aim (attendees wait)
 * or above it (to trim), and tenants whose stage allowance is not their
 * presenters plus their rooms' free presenter seats (ids). Either array may be NULL. */
void ah_admission_ledger_due(const ah_admission *adm, GPtrArray *rooms /* ah_adm_room* */,
	GPtrArray *tenants /* const char* */);
/* A tenant's stage allowance (0 when unknown or not limited): what a ledger sync states for its
 * tenant-only seats. */
guint ah_admission_stage_allowance(const ah_admission *adm, const char *tenant);

#endif

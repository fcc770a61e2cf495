/* allhands: admission's records, shared by admission.c (seats, queues, waves),
 * admission-report.c (positions, estimates, measurements, queries) and admission-common.c (what
 * both read). Not installed; nothing else includes it. Calls point down: admission.c ->
 * admission-report.c -> admission-common.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_ADMISSION_PRIVATE_H
#define ALLHANDS_ADMISSION_PRIVATE_H

#include <stddef.h>

#include "allhands/adaptive.h"
#include "allhands/admission.h"
#include "allhands/stats.h"

/* Intrusive doubly linked lists: a record carries its links, so it sits in a list without an
 * allocation and leaves it in O(1). A detached link has both pointers NULL. */
typedef struct adm_link {
	struct adm_link *prev, *next;
} adm_link;

typedef struct {
	adm_link *head, *tail;
	guint length;
} adm_list;

#define ADM_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

typedef struct adm_tenant adm_tenant;
typedef struct adm_room adm_room;

/* Histograms, allocated on the first sample (a room that never admits costs nothing). */
typedef struct {
	ah_hist setup;    /* admitted -> media, us */
	ah_hist wait;     /* queued -> admitted, us */
	ah_hist error;    /* |actual - estimated| / actual, in 1/1000 */
	ah_turnover turnover; /* attendee seats held and released (allocated with the first seat) */
} adm_meter;

/* What the node, a tenant and a room each measure. */
typedef struct {
	ah_rate rate;     /* admissions out of the queue or at once */
	guint64 admitted;
	adm_meter *meter;
} adm_measure;

struct adm_room {
	char *id;
	adm_tenant *tenant;
	guint max_attendees;
	guint presenter_seats;
	gboolean closed;       /* schedule: its queued attendees wait */
	gboolean paused;       /* operator: likewise */
	ah_adm_counts counts;
	adm_list queue[2];     /* QUEUED attendees by class (AH_ADM_PRIORITY first), arrival order */
	adm_list seated;       /* everyone else: presenters and attendees holding a seat */
	adm_link ring[2];      /* in tenant->ready[class] while that class is admissible */
	adm_link queued_link;  /* in adm->queued_rooms while it has queued attendees */
	gboolean moving;       /* counted in adm->moving_rooms: has queued attendees, open, unpaused */
	gint64 ends_at;        /* when its window ends (engine's schedule; G_MAXINT64: no end) */
	adm_measure measure;
	/* Cluster mode (admission-ledger.c): the attendee seats this node holds in the cluster's ledger
	 * for this room, which its seats never exceed (G_MAXUINT: no allowance, single-node). */
	guint allowance;
	adm_link ledger_link;  /* in adm->ledger_rooms while its allowance needs the ledger (starved or surplus) */
};

struct adm_tenant {
	char *id;
	guint max_participants;
	guint weight;          /* >= 1 */
	guint reserved;        /* node seats only this tenant may take */
	guint max_queued;      /* 0: no bound */
	guint presenter_gap;   /* sum over its rooms of their free presenter seats */
	guint deficit;         /* deficit round robin: admissions left in its current turn */
	ah_adm_counts counts;
	GHashTable *rooms;     /* room id -> adm_room* (owned) */
	adm_list ready[2];     /* rooms with admissible attendees of that class */
	adm_link ready_link;   /* in adm->ready while it can admit */
	/* Its measured share of the node's queue admissions ("turns"), counted while it had queued
	 * attendees: decayed counts of the turns it got and of those it saw, up to adm->turns = mark. */
	double got, seen;
	guint64 mark;
	adm_link reserve_link; /* in adm->reserve while it can admit into its reserved seats */
	adm_measure measure;
	guint stage_allowance; /* cluster mode: tenant-only seats (presenters, backstage) held in the ledger */
	adm_link stage_link;   /* in adm->stage_tenants while stage_allowance is not its presenters plus
				* its rooms' free presenter seats (what the ledger should hold for them) */
};

typedef struct {
	guint64 pid;           /* first: the participants table's key is the record itself */
	adm_room *room;
	adm_link member;       /* QUEUED: room->queue[klass]; otherwise room->seated */
	adm_link timed;        /* CONNECTING: adm->connecting; REJOINING: adm->rejoining */
	gint64 since;          /* QUEUED: enqueued; CONNECTING: admitted; REJOINING: held */
	gint64 told_at;        /* when the first known estimate was given */
	guint32 told_ms;       /* that estimate's median + 1 (0: none given yet) */
	guint32 told_low_ms;   /* and its range (metrics: whether the range held) */
	guint32 told_high_ms;
	guint32 reported;      /* QUEUED: the position last reported */
	guint32 reported_ms;   /* QUEUED: the median last reported (if known) */
	guint8 state;          /* ah_adm_state */
	guint8 klass;          /* ah_adm_class */
	guint8 presenter;
	/* QUEUED: what the last report said, in one byte (the record stays at 88 bytes): known (bit 0),
	 * beyond_window (bit 1), the unknown's reason (bits 2-3). */
	guint8 reported_flags;
} adm_participant;

struct ah_admission {
	ah_admission_config config;
	GHashTable *tenants;      /* id -> adm_tenant* (owned) */
	GHashTable *participants; /* set of adm_participant*, hashed on pid (owned) */
	adm_list connecting;      /* CONNECTING, by admission time (= by deadline) */
	adm_list rejoining;       /* REJOINING, by hold time (= by deadline) */
	adm_list ready;           /* tenants that can admit now, deficit round robin order */
	guint64 ready_weight;     /* sum of the weights of the tenants in `ready` */
	adm_list reserve;         /* tenants that can admit into their reserved seats */
	adm_list queued_rooms;    /* rooms with queued attendees */
	guint moving_rooms;       /* of those, the open and unpaused ones (their estimates drift) */
	ah_adm_counts counts;     /* the node's; presenters stays 0 */
	guint reserved_unused;    /* sum over tenants of their reserved seats not in use */
	gboolean paused, draining;
	gboolean waved;           /* last_wave is valid */
	gint64 last_wave;
	guint last_wave_admitted; /* how many the last wave admitted */
	guint64 waves;            /* waves that admitted someone */
	gboolean dirty;           /* a queue, seat or room state changed since the last report */
	gboolean swept;           /* last_sweep is valid */
	gint64 last_admitted;     /* G_MININT64: nobody yet */
	gint64 last_sweep;
	ah_bucket bucket;
	ah_adaptive adaptive;
	double cpu;               /* < 0: no sample */
	gint64 now;               /* the latest `now` passed in (for seat-time in calls without one) */
	guint64 turns;            /* admissions out of a queue, ever (the tenants' shares count them) */
	adm_measure measure;
	ah_adm_metrics metrics;   /* the node's, for Prometheus (admission-report.c) */
	gboolean limited;         /* cluster mode: rooms and tenants start with no allowance */
	adm_list ledger_rooms;    /* rooms whose allowance is short of their queue, or above their seats */
	adm_list stage_tenants;   /* tenants holding more stage allowance than presenters */
};

/* admission.c, for admission-ledger.c */
void ah_adm_refresh_room(ah_admission *adm, adm_room *r);
void ah_adm_refresh_tenant(ah_admission *adm, adm_tenant *t);
adm_tenant *ah_adm_tenant(const ah_admission *adm, const char *tenant);
/* What a room's allowance should be: its seats, plus the next wave's while attendees wait (open,
 * unpaused), within its cap. */
guint ah_adm_room_ledger_target(const ah_admission *adm, const adm_room *r);
/* Its allowance asks something of the ledger: more seats for its queue, or seats to give back. */
gboolean ah_adm_room_ledger_due(const ah_admission *adm, const adm_room *r);

/* admission-common.c */
guint ah_adm_seats(const ah_adm_counts *c);
/* A tenant's seats held: attendee seats and presenters. */
guint ah_adm_tenant_seats(const adm_tenant *t);
/* Whether x is in l. */
gboolean ah_adm_linked(const adm_list *l, const adm_link *x);
/* Whether the room's queue is being admitted at all (open, not paused, node not paused). */
gboolean ah_adm_room_moving(const ah_admission *adm, const adm_room *r);
adm_room *ah_adm_find_room(const ah_admission *adm, const char *tenant, const char *room);
adm_participant *ah_adm_lookup(const ah_admission *adm, guint64 pid);

/* The node's admission pace, per second: the waves' (fixed, or the adaptive limit where it is
 * heading over the setup time), capped by join_rate; 0 when admissions are not paced. */
double ah_adm_pace_per_s(const ah_admission *adm);
/* The rate (per second) at which the waves' pacing alone (wave size and interval, or the adaptive
 * limit, and join_rate) would admit from room r's queue now, given its tenant's weight among the
 * ready tenants and its turn among its tenant's ready rooms; *free_seats: how many of its queue
 * that pace can seat before a seat must be freed. 0 when seats, caps or a pause limit the room, or
 * the pace is unbounded: then only the measured rate says something. */
double ah_adm_paced_rate(const ah_admission *adm, const adm_room *r, guint *free_seats);

/* admission-report.c */
void ah_adm_measure_clear(adm_measure *m);
/* The node's Prometheus counters and histograms, zeroed (ah_admission_new). */
void ah_adm_metrics_init(ah_adm_metrics *m);
/* An attendee got its seat at `now` (from the queue or at once). */
void ah_adm_measure_admitted(ah_admission *adm, const adm_participant *p, gint64 now);
/* p's attendee seat was taken or given up (its counts moved): the seat-time meters follow. */
void ah_adm_measure_seats(ah_admission *adm, const adm_participant *p);
/* p is queued and its tenant's queued count is about to change: bring the tenant's share up to date. */
void ah_adm_measure_queue(ah_admission *adm, const adm_participant *p);
/* p, seated, leaves (or its admit timeout or grace ended) at `now`: a seat turned over. */
void ah_adm_measure_released(ah_admission *adm, const adm_participant *p, gint64 now);
/* An attendee's media came up at `now`. */
void ah_adm_measure_connected(ah_admission *adm, const adm_participant *p, gint64 now);
/* The estimate for 1-based `position` in room r at `now` (unknown while r does not move). */
ah_wait_estimate ah_adm_estimate(const ah_admission *adm, const adm_room *r, guint position, gint64 now);
/* Remember what p was told (the first known estimate feeds the estimate error). */
void ah_adm_told(adm_participant *p, guint position, const ah_wait_estimate *e, gint64 now);
/* Report positions and estimates that changed, if a report is due at `now` (or forced). */
void ah_adm_report(ah_admission *adm, gint64 now, gboolean force, GArray *events);
gint64 ah_adm_report_deadline(const ah_admission *adm, gint64 now);

#endif

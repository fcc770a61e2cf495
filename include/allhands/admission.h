/* allhands: admission (seats, caps, the join queue and its waves).
 *
 * Pure logic: no Janus, no clock, no logging, no locks. Time comes in as `now` (microseconds on a
 * monotonic clock chosen by the caller). Called only from the control thread.
 *
 * Model
 * - The node has `capacity` attendee seats. A tenant has `max_participants` seats shared by its
 *   presenters and attendees across all its rooms. A room has `max_attendees` attendee seats.
 *   A cap of 0 means "no seat" (everyone queues); capacity/caps are hard limits.
 * - A participant is identified by a caller-chosen non-zero guint64 `pid`.
 * - An attendee joining is ADMITTED at once when its caps allow it and no queued attendee could be
 *   admitted right now (so nobody jumps a queue that is only waiting for the next wave);
 *   otherwise it is QUEUED at the back of the node's single arrival-order queue.
 * - Admitted attendees hold a seat while CONNECTING (offer sent, waiting for media) and while
 *   ACTIVE (media flowing). A CONNECTING attendee that is not connected within admit_timeout
 *   loses its seat (event AH_ADM_EV_TIMED_OUT) and is forgotten.
 * - Waves: at most `wave_size` queued attendees are admitted per wave, waves at least
 *   `wave_interval` apart. A wave walks the queue in arrival order and admits every entry whose
 *   caps allow it (entries blocked only by their own room or tenant keep their place).
 * - Presenters take a tenant seat but never a node seat, never queue: add_presenter fails when
 *   the tenant is full.
 * - Every change that moves a queued attendee's 1-based position reports AH_ADM_EV_POSITION.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_ADMISSION_H
#define ALLHANDS_ADMISSION_H

#include <glib.h>

typedef struct ah_admission ah_admission;

typedef struct {
	guint capacity;          /* attendee seats on this node */
	guint wave_size;         /* >= 1 */
	gint64 wave_interval_us; /* >= 0 */
	gint64 admit_timeout_us; /* > 0 */
} ah_admission_config;

typedef enum {
	AH_ADM_NONE = 0,   /* unknown pid */
	AH_ADM_QUEUED,
	AH_ADM_CONNECTING, /* admitted, seat held, waiting for media */
	AH_ADM_ACTIVE,     /* attendee with media, or a presenter */
} ah_adm_state;

typedef enum {
	AH_ADM_EV_ADMITTED,  /* a queued attendee got its seat (is now CONNECTING) */
	AH_ADM_EV_POSITION,  /* a queued attendee's position changed (position, queue_length) */
	AH_ADM_EV_TIMED_OUT, /* a CONNECTING attendee lost its seat; it is forgotten */
} ah_adm_event_kind;

typedef struct {
	ah_adm_event_kind kind;
	guint64 pid;
	guint position;      /* for POSITION: 1-based */
	guint queue_length;  /* for POSITION: node queue length after the change */
} ah_adm_event;

/* Counts for the node, a tenant or a room. */
typedef struct {
	guint active;     /* attendees with media */
	guint connecting; /* attendees admitted, waiting for media */
	guint queued;     /* attendees waiting in the queue */
	guint presenters; /* presenters (always 0 for the node: they hold no node seat) */
} ah_adm_counts;

ah_admission *ah_admission_new(const ah_admission_config *config);
void ah_admission_free(ah_admission *adm);
/* Change the config at runtime. Lowering a cap never evicts; it only stops admissions. */
void ah_admission_set_config(ah_admission *adm, const ah_admission_config *config);
const ah_admission_config *ah_admission_get_config(const ah_admission *adm);

/* Tenants and rooms are keyed by their string ids (rooms by the pair). set_* creates or updates
 * the cap. A room must belong to a tenant that was set first (returns FALSE otherwise).
 * remove_* of a tenant or room with participants removes them all and appends their pids to
 * `removed` (may be NULL); their seats are freed. */
void ah_admission_set_tenant(ah_admission *adm, const char *tenant, guint max_participants);
gboolean ah_admission_remove_tenant(ah_admission *adm, const char *tenant, GArray *removed /* guint64 */);
gboolean ah_admission_set_room(ah_admission *adm, const char *tenant, const char *room, guint max_attendees);
gboolean ah_admission_remove_room(ah_admission *adm, const char *tenant, const char *room, GArray *removed /* guint64 */);

/* Scheduled rooms (issue 3). A room is open by default. While a room is closed, its attendees
 * join the queue as usual (the pre-queue: they get positions) but no wave and no immediate
 * admission seats anyone of that room; other rooms are not held up by them. Opening a room makes
 * its queued attendees admissible in the usual waves, in their queue order. FALSE: unknown room. */
gboolean ah_admission_set_room_open(ah_admission *adm, const char *tenant, const char *room, gboolean open);
/* Randomly permute the queue places held by this room's queued attendees among themselves (the
 * places of other rooms' attendees do not move), with a deterministic PRNG seeded by `seed`.
 * POSITION events for every attendee whose position changed. FALSE: unknown room. */
gboolean ah_admission_shuffle_room(ah_admission *adm, const char *tenant, const char *room, guint32 seed,
	GArray *events);
/* Take every attendee of the room out (queued and seated; presenters stay), freeing their seats and
 * queue places; their pids are appended to `removed` in queue order, then seat order. The room
 * stays. POSITION events for attendees of other rooms that moved up. FALSE: unknown room. */
gboolean ah_admission_clear_room(ah_admission *adm, const char *tenant, const char *room, GArray *removed,
	gint64 now, GArray *events);

/* An attendee asks for a seat. Returns AH_ADM_CONNECTING (admitted now) or AH_ADM_QUEUED (then
 * *position is set), or AH_ADM_NONE when the pid is already known or the room is unknown.
 * Events for other attendees may be appended to `events` (GArray of ah_adm_event). */
ah_adm_state ah_admission_join(ah_admission *adm, guint64 pid, const char *tenant, const char *room,
	gint64 now, guint *position, GArray *events);
/* A presenter takes a tenant seat. FALSE when the tenant is full, unknown, or pid is known. */
gboolean ah_admission_add_presenter(ah_admission *adm, guint64 pid, const char *tenant, const char *room);
/* CONNECTING -> ACTIVE. FALSE when pid is not CONNECTING. */
gboolean ah_admission_connected(ah_admission *adm, guint64 pid, gint64 now);
/* ACTIVE -> CONNECTING again (e.g. renegotiation restarts media): not needed by the engine for
 * now; not provided. */
/* The participant leaves by any way out (leave, hangup, detach, kick...): frees its seat or its
 * queue place. Returns its previous state (AH_ADM_NONE when unknown). */
ah_adm_state ah_admission_leave(ah_admission *adm, guint64 pid, gint64 now, GArray *events);

/* Run due work at `now`: admit-timeouts, then a wave if one is due and seats are free.
 * Appends events. Call whenever now >= ah_admission_next_deadline(). */
void ah_admission_tick(ah_admission *adm, gint64 now, GArray *events);
/* The earliest time tick() has something to do, or G_MAXINT64 when nothing is pending. */
gint64 ah_admission_next_deadline(const ah_admission *adm, gint64 now);

ah_adm_state ah_admission_state(const ah_admission *adm, guint64 pid);
/* 1-based queue position, 0 when not queued. */
guint ah_admission_position(const ah_admission *adm, guint64 pid);
/* Counts; tenant/room NULL means the node. Unknown tenant/room gives zeros. */
ah_adm_counts ah_admission_counts(const ah_admission *adm, const char *tenant, const char *room);
/* The queued pids in queue order (GArray of guint64, caller frees). tenant/room NULL = all. */
GArray *ah_admission_queue(const ah_admission *adm, const char *tenant, const char *room);

#endif

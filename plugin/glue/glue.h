/* allhands glue: the only folder that knows about Janus.
 *
 * Threads
 * - Janus's threads call plugin.c's callbacks. They never touch engine state: handle_message and
 *   the media callbacks post work to the control thread (control.c), which alone calls the engine.
 * - Each handle's loop thread runs incoming_rtp/rtcp. A presenter's loop thread relays its packets
 *   by reading its current fan-out, an immutable ref-counted snapshot swapped in by the control
 *   thread (relay.c), itself or through relay helper threads. It never waits for the control thread
 *   or a helper.
 *
 * Locks (never held across a call into Janus, and never nested):
 *   sessions_lock (session.c: conn -> session registry, handle -> session, handles per Janus session,
 *   each handle's request token bucket), ah_pubmedia.lock (relay.c:
 *   the fan-out pointer), ah_substream.context_lock (relay.c: one substream's RTP numbering),
 *   post_lock (control.c: whether the work queue still takes items; work items are stamped under
 *   it, so stamps follow queue order), waiters_lock (writer.c: parked `sync` replies),
 *   snapshot_lock (metrics.c: the current metrics snapshot pointer, swapped or referenced under it).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_GLUE_H
#define ALLHANDS_GLUE_H

#include <glib.h>
#include <jansson.h>

#include "plugins/plugin.h"
#include "refcount.h"
#include "rtp.h"
#include "sdp-utils.h"
#include "utils.h"

#include "allhands/cluster-config.h"
#include "allhands/redis.h"
#include "allhands/registry.h"
#include "allhands/engine.h"
#include "allhands/simulcast.h"
#include "allhands/gop.h"

#define AH_PLUGIN_PACKAGE "janus.plugin.allhands"

extern janus_callbacks *ah_gateway;
extern janus_plugin ah_plugin;
/* Janus event handlers are on and the config did not turn our events off. */
extern gboolean ah_events_enabled;

typedef struct ah_pubmedia ah_pubmedia;
typedef struct ah_substream ah_substream;

/* One Janus plugin handle. Ref-counted: the registry holds one reference until destroy_session;
 * fan-outs and queued control work hold their own. */
typedef struct ah_session {
	janus_plugin_session *handle; /* the plugin's reference on handle->ref, released when freed; NULL: a mirror
				       * (an edge's copy of a presenter on another node, cluster-media.c) */
	guint64 conn;                 /* engine connection id, unique for the plugin's lifetime */
	volatile gint destroyed;
	volatile gint media_up;
	/* Presenter media: created on first publish by the control thread, then only swapped
	 * under its own lock (relay.c). NULL for others. */
	ah_pubmedia *pub;
	/* Cluster mode, a presenter whose streams edges receive: cluster-media.c's snapshot of where to send
	 * them (atomic pointer; NULL: no edge). */
	gpointer uplinks;
	/* Attendee media, control thread only: ah_substream* per m-line index (NULL holes). */
	GPtrArray *substreams;
	/* Control thread only: the presenter's latest SDP offer, kept to build the answer. */
	char *pending_offer;
	/* Control thread only: the transaction of a request the engine answers later (AH_OUT_DEFER),
	 * used by this handle's next reply; NULL: none. */
	char *deferred_transaction;
	/* Control thread only: o= version of the last offer sent to this attendee. */
	guint64 sdp_version;
	/* Control thread only: signalling held back while Janus tears the PeerConnection down
	 * (control.c: after close_pc, until hangup_media has settled), in order. */
	gboolean closing;
	gint64 flush_at;   /* when to send what was held back (0: not scheduled) */
	GQueue *held;      /* held_out* */
	/* The handle's loop thread only: when this attendee's last keyframe request went through,
	 * and its last RTCP feedback (for simulcast layers). */
	gint64 last_pli_us;
	gint64 last_feedback_us;
	/* Under sessions_lock (session.c): the handle's request token bucket, refilled lazily. */
	double tokens;
	gint64 tokens_at;
	/* The Janus session this handle belongs to, as an opaque key for the per-session handle
	 * count (session.c); never dereferenced. Set once in create_session. */
	gconstpointer janus_session;
	janus_refcount ref;
} ah_session;

/* ---- session.c: the registry of plugin handles (the glue's leaf: it calls no other glue file). ---- */

void ah_session_ref(ah_session *session);
void ah_session_unref(ah_session *session);
/* Cluster mode, an edge: a session without a Janus handle for a mirror, one of the origin's presenters
 * whose media comes over the node-to-node link (cluster-media.c). Registered under a fresh conn so that
 * the engine's outs (ROUTES, KEYFRAME) find it like any presenter; returns the caller's reference (the
 * registry holds another until ah_session_unregister_mirror). NULL before init. */
ah_session *ah_session_register_mirror(void);
void ah_session_unregister_mirror(ah_session *session);
/* Registry lookup; returns a new reference or NULL. Any thread. */
ah_session *ah_session_lookup(guint64 conn);
/* Plugin init, before any session: an empty registry. `release` frees what other files hang on a
 * session (presenter media, held-back signalling) when its last reference goes, on whatever thread
 * drops it. */
void ah_sessions_init(void (*release)(ah_session *session));
/* Plugin init failed (no session exists yet): forget the registry. */
void ah_sessions_clear(void);
/* Plugin destroy: mark every registered session destroyed (they stay allocated: Janus's loop threads
 * may still run). */
void ah_sessions_mark_destroyed(void);
/* create_session: a new session for `handle` (handle->plugin_handle set), registered under a fresh
 * conn with `tokens` in its request bucket; NULL when Janus session `janus_session` (an opaque key,
 * NULL: unknown) already holds max_handles of our handles (0: no limit). */
ah_session *ah_session_register(janus_plugin_session *handle, gconstpointer janus_session, gint64 max_handles,
	double tokens, gint64 now);
/* destroy_session: detach the handle's session (returned, or NULL) and mark it destroyed;
 * *registered when this call took it out of the registry, whose reference the caller now holds. */
ah_session *ah_session_unregister(janus_plugin_session *handle, gboolean *registered);
/* Any thread: a new reference to the handle's session, NULL when it has none or it is destroyed. */
ah_session *ah_session_ref_of(janus_plugin_session *handle);
/* Take one request token from the session's bucket (per_second > 0, at most `burst` kept): 0 when the
 * request may go on, else how many milliseconds until a token is there. */
gint64 ah_session_take_token(ah_session *session, gint64 now, gint64 per_second, gint64 burst);

/* ---- sdp.c: SDP in and out. Pure functions over strings; any thread. ---- */

/* RTP payload types we offer attendees; relay.c rewrites presenters' packets to these. */
int ah_sdp_payload_type(const char *codec);

/* Read a presenter's offer: fill up to `max` usable streams (first audio m-line with Opus, first
 * video m-line with VP8 or H.264, preferring VP8, then H.264). Returns the number found, or -1
 * with *error (g_free) when the SDP does not parse. `in_pt` receives, per stream, the
 * presenter's payload type for the chosen codec. *error may be set with a count >= 0 too: why an
 * offered codec was not used (an fmtp that does not fit, include/allhands/fmtp.h), for the log. */
int ah_sdp_read_offer(const char *offer, ah_stream_desc *streams, int *in_pt, int max, char **error);
/* Build the answer to that offer: chosen streams recvonly with their codec, every other m-line
 * rejected. Returns a newly allocated SDP or NULL with *error. */
char *ah_sdp_answer_offer(const char *offer, const ah_stream_desc *streams, int n_streams, char **error);
/* TRUE when an answer would send media: an m-line with a non-zero port whose direction is sendrecv
 * or sendonly (also by default, when it has no direction attribute). Such an answer from a
 * receiver is refused. *mindex receives that m-line's index. FALSE too when the SDP does not parse
 * (Janus parsed it before us). */
gboolean ah_sdp_answer_sends(const char *answer, int *mindex);
/* Build an attendee's offer: one sendonly m-line per active slot, inactive m-lines for inactive
 * slots, in slot order (mid = "a<mindex>" / "v<mindex>"). `version` must grow with each offer. */
char *ah_sdp_attendee_offer(const ah_slot *slots, guint n_slots, guint64 version, char **error);

/* ---- relay.c: the media path. ---- */

/* Per (attendee, m-line) relay state. One presenter's m-line feeds it, and one thread at a time
 * rewrites for it, in packet order: the presenter's thread, or the attendee's relay helper while
 * the m-line has relay_inline_max receivers or more and until the helper has finished every job
 * queued for it (relay.c checks this and counts violations in status node.relay.overlaps). The
 * control thread only reads its context once, under context_lock, to hand the numbering over to
 * a successor. */
struct ah_substream {
	ah_session *attendee;         /* reference held */
	int mindex;
	int out_pt;
	gboolean video;
	guint64 presenter_conn;       /* control thread only: whose stream this carries */
	int key_codec;                /* video: how to spot a keyframe (relay.c); 0: do not wait for one */
	volatile gint awaiting_key;   /* video: nothing relayed until a keyframe (or AH_KEY_WAIT_MAX_US) */
	gint64 await_since;           /* relaying thread only: first packet held back, 0: none yet */
	GMutex context_lock;          /* innermost: guards `context` only */
	janus_rtp_switching_context context;
	/* Simulcast (video from a presenter that sends layers): the relaying thread owns `sim` and
	 * `vp8`; the control thread sets `layer_target` from `policy`, which only it touches. */
	janus_rtp_simulcasting_context sim;
	janus_vp8_simulcast_context vp8;
	volatile gint layer_target;   /* 0 low .. 2 high */
	volatile gint layer_now;      /* the layer relayed now, -1: none yet */
	int presenter_mindex;         /* control thread only: the presenter m-line this carries */
	ah_sim_state policy;
	/* The thread rewriting for this substream now, NULL: none (relay.c checks it is never two). */
	gpointer owner;
	janus_refcount ref;
};
ah_substream *ah_substream_new(ah_session *attendee, int mindex, ah_media_kind kind, const char *codec);
void ah_substream_unref(ah_substream *sub);
/* Control thread: `fresh` (not yet in any fan-out) continues `old`'s sequence numbers and timestamps. */
void ah_substream_continue(ah_substream *fresh, ah_substream *old);

/* ---- relay-keyframes.c: spotting keyframes, and a mirror's keyframe caches (below relay.c) ---- */
enum { AH_KEY_CODEC_NONE = 0, AH_KEY_CODEC_VP8, AH_KEY_CODEC_H264, AH_KEY_CODEC_VP9 };
int ah_relay_key_codec(const char *codec);
/* The packet starts a keyframe of `key_codec` (TRUE for AH_KEY_CODEC_NONE: nothing to wait for). */
gboolean ah_relay_is_keyframe(int key_codec, janus_plugin_rtp *packet);
typedef struct ah_relay_gop ah_relay_gop;
/* Caches for the video streams among `streams` that gop.c knows (VP8, H.264); NULL: none. Control thread. */
ah_relay_gop *ah_relay_gop_new(const ah_stream_desc *streams, guint n);
void ah_relay_gop_free(ah_relay_gop *g);
/* The mirror's thread: keep a packet of m-line `mindex`, simulcast layer `layer` (0 without). */
void ah_relay_gop_push(ah_relay_gop *g, int mindex, int layer, const guint8 *pkt, gsize len, gint64 now);
/* The mirror's thread: emit the layer's cached packets from its keyframe on, stopping after `current`
 * (*included then). FALSE: no usable cache (counted as a miss). */
gboolean ah_relay_gop_replay(ah_relay_gop *g, int mindex, int layer, const guint8 *current, gsize len, gint64 now,
	void (*emit)(const guint8 *pkt, gsize len, gpointer user), gpointer user, gboolean *included);
/* Any thread: {"caches","replays","replayed_packets","misses"} (new reference). */
json_t *ah_relay_gop_figures(void);

/* Create the presenter media state (control thread). */
ah_pubmedia *ah_pubmedia_new(void);
void ah_pubmedia_free(ah_pubmedia *pm);
/* Control thread: record the presenter's streams (their m-line and incoming payload type). */
void ah_pubmedia_set_streams(ah_pubmedia *pm, const ah_stream_desc *streams, const int *in_pt, int n);
/* Control thread: replace the fan-out with one built from `routes` (GArray of ah_route) and the
 * attendees' substreams (looked up with ah_session_lookup + session->substreams). */
void ah_pubmedia_set_routes(ah_pubmedia *pm, GArray *routes);
/* Control thread: the same fan-out but for receiver `attendee_conn`, whose entries become `routes`
 * (n of them, all of this presenter; none: it leaves it). O(fan-out) copying, no lookups but the
 * receiver's own; nothing is rebuilt when it neither was nor will be in it. */
void ah_pubmedia_patch_routes(ah_pubmedia *pm, guint64 attendee_conn, const ah_route *routes, guint n);
/* Control thread: the presenter's simulcast description from its offer's JSEP ("simulcast", as
 * Janus passes it; NULL or not an array: none). */
void ah_pubmedia_set_simulcast(ah_pubmedia *pm, json_t *simulcast);
/* Any thread: TRUE when presenter m-line `mindex` carries simulcast, with each layer's measured
 * bitrate over the last second (0: not flowing). */
gboolean ah_pubmedia_simulcast(ah_pubmedia *pm, int mindex, guint64 layer_bps[3]);
/* Control thread: cap the presenter's sending bitrate (bps, 0: no cap). While capped, its thread
 * sends it a REMB of `bps` every AH_REMB_INTERVAL_US (relay.c); lifting the cap sends a few REMB of
 * AH_REMB_UNCAPPED so that the browser forgets the last one. */
void ah_pubmedia_set_max_bitrate(ah_pubmedia *pm, guint bps);
/* Any thread: ask for a keyframe; coalesced to at most one PLI per stream per interval. */
void ah_pubmedia_want_keyframe(ah_pubmedia *pm);
/* Control thread, a receiver started (the engine's KEYFRAME): want_keyframe, except for a mirror with
 * keyframe caches, whose joiners are replayed the last GOP (and ask only when it has none). */
void ah_pubmedia_join_keyframe(ah_pubmedia *pm);
/* Control thread, before a mirror's packets flow: its keyframe caches (taken over; freed with pm). */
void ah_pubmedia_set_gop(ah_pubmedia *pm, ah_relay_gop *gop);
/* Presenter's loop thread: relay one incoming packet to its fan-out. */
void ah_relay_rtp(ah_session *presenter, janus_plugin_rtp *packet);
/* Cluster mode (cluster-media.c; relay.c calls them, never the other way): `forward` gets every packet
 * of a presenter whose `uplinks` is set (its layer: 0 without simulcast), on the presenter's thread,
 * before the local fan-out; `upstream_pli` is a mirror's keyframe request (coalesced like a PLI). */
typedef struct {
	void (*forward)(ah_session *presenter, const janus_plugin_rtp *packet, int layer);
	void (*upstream_pli)(ah_session *mirror, int mindex);
} ah_relay_hooks;
/* Plugin init, before any media. */
void ah_relay_set_hooks(const ah_relay_hooks *hooks);
/* Helper threads for large fan-outs (relay.c), at most this many. */
#define AH_RELAY_MAX_THREADS 16
/* Plugin init, before any media: start `threads` helpers (0: every packet is relayed on its
 * presenter's thread); m-lines with fewer than `inline_max` receivers are relayed inline. */
gboolean ah_relay_start(guint threads, guint inline_max, char **error);
/* Plugin destroy: stop the helpers (packets still queued are dropped). */
void ah_relay_stop(void);
/* Any thread: status's `node.relay` (docs/api.md): helper count, packets queued to helpers now,
 * packets dropped on full queues so far, and `overlaps`, how many times two threads were found
 * rewriting one substream at once (the relay's invariant says never: anything else is a bug). */
json_t *ah_relay_status(void);

/* ---- control.c: the control thread. ---- */
/* `cluster`: cluster mode's config (its strings are taken over; not enabled: single-node). */
gboolean ah_control_start(const ah_engine_config *config, ah_cluster_config *cluster, char **error);
void ah_control_stop(void);
/* Posting work; all take ownership of their arguments and return at once. */
void ah_control_post_message(ah_session *session, char *transaction, json_t *message, json_t *jsep);
void ah_control_post_media_up(ah_session *session);
void ah_control_post_media_down(ah_session *session);
void ah_control_post_gone(ah_session *session);
void ah_control_post_attendee_pli(ah_session *session, int mindex);
/* An attendee's RTCP feedback: worst fraction lost of its report blocks (< 0: none), REMB (0: none). */
void ah_control_post_feedback(ah_session *session, double fraction_lost, guint32 remb_bps);
/* Free one held-back signalling message (a session's `held` queue). */
void ah_held_out_free(gpointer held);
/* The Admin API thread waits for the answer (the control thread never waits for it). */
json_t *ah_control_admin_message(json_t *message);

/* ---- writer.c: the state file's writer thread (persist-writer.h). ---- */
struct ah_persist_writer;
/* Start it for the engine's writer (NULL: nothing persists, no thread). */
gboolean ah_writer_start(struct ah_persist_writer *writer, char **error);
/* Write what is pending, answer the parked `sync` replies, end the thread. */
void ah_writer_stop(void);
/* Any thread: the figures status shows (NULL: nothing persists). */
json_t *ah_writer_figures(void);
/* Admin API thread: wait until change `seq` is durable; NULL then, else a persist_failed body. */
json_t *ah_writer_wait(guint64 seq);
/* Control thread: push `body` (a `sync` reply) to `session` once change `seq` is durable, or
 * persist_failed if its write fails or takes over 10 s. */
void ah_writer_park_reply(ah_session *session, const char *transaction, json_t *body, guint64 seq);

/* ---- metrics.c: the Prometheus endpoint (docs/operations.md, "Metrics") ---- */
typedef struct {
	guint port;          /* 0: off */
	const char *address; /* NULL: 127.0.0.1 */
	const char *token;   /* NULL or "": no Authorization needed */
	guint max_tenants;   /* per-tenant series for at most this many tenants (by id) */
} ah_metrics_config;
/* Plugin init: listen and serve GET /metrics. TRUE when off (port 0); FALSE with *error (g_free)
 * when it cannot (port in use, bad address): the plugin then runs without metrics. */
gboolean ah_metrics_start(const ah_metrics_config *config, char **error);
/* Plugin destroy: stop serving (waits for the HTTP thread). */
void ah_metrics_stop(void);
/* What only the control thread knows, for the metrics. */
typedef struct {
	const ah_metrics_hist *handling;  /* seconds spent on each work item */
	const ah_metrics_hist *queueing;  /* seconds each item waited in the queue */
	guint queue_length;               /* items waiting now */
} ah_control_figures;
/* Control thread, every turn: render and swap in a new snapshot when one is due (at most once a
 * second, while someone scraped in the last minute); returns at once otherwise. */
void ah_metrics_refresh(const ah_engine *engine, const ah_control_figures *figures, gint64 now);

/* ---- cluster.c: cluster mode, the Redis connection and the node registry (docs/cluster.md) ---- */
/* Plugin init, from ah_control_start: take over `config` (it is cleared) and start the Redis client,
 * which calls `wake` (on its thread, or on the submitting one) when replies wait: it must post work
 * to the control thread, cheaply. TRUE at once when cluster mode is off. FALSE with *error (g_free). */
gboolean ah_cluster_start(ah_cluster_config *config, void (*wake)(gpointer user), char **error);
/* Plugin destroy, after the control thread ended: stop the Redis client, forget the view. */
void ah_cluster_stop(void);
/* Control thread, every turn: take the client's replies and events; send the heartbeat when due. */
void ah_cluster_tick(ah_engine *engine, gint64 now);
/* Control thread: when the next heartbeat is due (monotonic us; G_MAXINT64 when cluster mode is off). */
gint64 ah_cluster_next_deadline(void);
/* What the other cluster files of the glue use (control thread only). Replies and messages are
 * handed to the callbacks from ah_cluster_tick(), with the turn's time; a reply whose status is not
 * AH_REDIS_OK got no answer from Redis (the command may or may not have run). */
typedef void (*ah_cluster_reply_fn)(const ah_redis_reply *reply, gpointer user, gint64 now);
typedef void (*ah_cluster_message_fn)(const ah_redis_reply *message, gpointer user, gint64 now);
typedef void (*ah_cluster_connected_fn)(const char *run_id, gpointer user, gint64 now);
gboolean ah_cluster_on(void);
const ah_cluster_config *ah_cluster_get_config(void); /* NULL when cluster mode is off */
const ah_registry_view *ah_cluster_view(void);       /* the last heartbeat's view, NULL before one */
/* Connected to Redis now; run_id (may be NULL) gets the server's (41 bytes). */
gboolean ah_cluster_connected(char run_id[41]);
/* Submit a command or a script (never blocks). FALSE: cluster mode off, or the client refused it
 * (queue full: counted as a drop); a command submitted while disconnected is answered at once with
 * status AH_REDIS_E_DISCONNECTED. fn may be NULL (the reply is dropped). */
gboolean ah_cluster_call(int argc, const char **argv, const size_t *lens, ah_cluster_reply_fn fn, gpointer user);
gboolean ah_cluster_call_script(ah_redis_script *s, int nkeys, int argc, const char **argv, const size_t *lens,
	ah_cluster_reply_fn fn, gpointer user);
/* Subscribe to a channel (again after every reconnection, by the client): its messages go to fn. */
gboolean ah_cluster_subscribe(const char *channel, ah_cluster_message_fn fn, gpointer user);
/* fn is called at every (re)connection to Redis, with the server's run_id. */
void ah_cluster_on_connected(ah_cluster_connected_fn fn, gpointer user);

/* ---- cluster-ledger.c: the seat ledger on Redis (docs/cluster.md); control thread only ---- */
/* Cluster mode: turn the engine's ledger on (nothing when cluster mode is off). */
void ah_cluster_ledger_start(ah_engine *engine);
void ah_cluster_ledger_stop(void);
/* Every turn, after ah_cluster_tick: book answers (outs: presenters' deferred replies), send claims,
 * releases, caps, the period's syncs, and reclaim dead nodes' seats. */
void ah_cluster_ledger_tick(ah_engine *engine, gint64 now, GPtrArray *outs);
gint64 ah_cluster_ledger_next_deadline(void);
/* status's cluster.ledger (new reference), NULL when off. */
json_t *ah_cluster_ledger_status(void);
/* The ledger's figures for the metrics (nothing when off). */
void ah_cluster_ledger_metrics(ah_metrics_input *in);
/* Control thread: an operator's `status` reply (`request` the request, `reply` carrying `node`)
 * gets "cluster" (docs/api.md); any other reply, or cluster mode off: nothing changes. */
void ah_cluster_status_reply(const json_t *request, json_t *reply, gint64 now);
/* Control thread (metrics.c): the Redis connection's and the view's figures; nothing when off. */
void ah_cluster_metrics(ah_metrics_input *in);

/* ---- cluster-place.c: room placement and redirects (docs/cluster.md, "Placement and redirects") ---- */
/* Control thread, every turn after ah_cluster_tick: this node's id and secret to the engine once, and
 * each new view of the registry. Nothing when cluster mode is off. */
void ah_cluster_place_tick(ah_engine *engine);
/* Plugin destroy (with ah_cluster_stop): forget the last view, so a restart starts afresh. */
void ah_cluster_place_stop(void);

/* ---- cluster-defs.c: tenants and rooms shared through Redis (docs/cluster.md, "Definitions") ---- */
/* Plugin init, after ah_cluster_start: subscribe, listen to (re)connections, have the engine list the
 * definitions requests change. Nothing when cluster mode is off. */
void ah_cluster_defs_start(ah_engine *engine);
/* Plugin destroy, after ah_cluster_stop (nothing calls back any more). */
void ah_cluster_defs_stop(void);
/* Control thread, after each work item: write the definitions it changed (submitted, never waited for). */
void ah_cluster_defs_flush(void);
/* Control thread, every turn after ah_cluster_tick: flush, and append to `outs` what applying other
 * nodes' definitions made the engine do (participants of a destroyed room removed...). */
void ah_cluster_defs_tick(GPtrArray *outs);
/* An operator's status reply that carries "cluster" gets its "definitions" figures. */
void ah_cluster_defs_status_reply(json_t *reply);

/* ---- cpu.c: the CPU figures adaptive waves use ---- */
/* User + system time of the whole process so far, microseconds; -1 when unknown. */
gint64 ah_process_cpu_us(void);
/* The CPUs the process may use: its affinity mask, or less under a cgroup CPU limit. */
double ah_usable_cpus(void);
/* Control thread: the process's CPU use since the last sample, as a fraction of the CPUs it may use,
 * at most once a second (CPU_PERIOD_US); -1 when no sample is due yet, or none can be taken. */
double ah_cpu_sample(gint64 now);

/* ---- cluster-node.c: cluster mode as the control thread sees it (each call does nothing when off) ---- */
/* Start the Redis client and every cluster part (FALSE with *error: a bad start; nothing runs). */
gboolean ah_cluster_node_start(ah_engine *engine, ah_cluster_config *config, void (*wake)(gpointer user), char **error);
void ah_cluster_node_stop(void);
/* Every turn of the control thread, before the engine's timers: replies, messages, what they changed. */
void ah_cluster_node_turn(ah_engine *engine, gint64 now, GPtrArray *outs);
/* After every work item: definitions it changed are written to Redis. */
void ah_cluster_node_after_item(void);
/* When the next turn is due for the cluster's sake (G_MAXINT64: never). */
gint64 ah_cluster_node_deadline(void);
/* An operator's status reply gets `cluster` (with `ledger` and `definitions`). */
void ah_cluster_node_status(const json_t *request, json_t *reply, gint64 now);

/* ---- cluster-mlink.c: media across nodes, the data plane (docs/cluster-media.md, "Wiring") ---- */
typedef struct ah_mlink ah_mlink;
/* Plugin init (cluster mode): listen on address:port (0: any) and start the receiving thread; install
 * relay.c's hooks. FALSE with *error (g_free). */
gboolean ah_mlink_start(const char *address, guint port, const char *node_id, const char *cluster_secret, char **error);
void ah_mlink_stop(void);
guint ah_mlink_port(void);          /* the port bound (0: not started) */
const char *ah_mlink_address(void);
/* Control thread. Origin: the link to edge `node` at address:port (new, with a fresh salt, when none
 * is there). Edge: the link from origin `node` (new when the salt or epoch changed). A new reference,
 * or NULL with *error. */
ah_mlink *ah_mlink_to_edge(const char *node, const char *address, guint port, char **error);
ah_mlink *ah_mlink_from_origin(const char *node, const char *address, guint port, const char *salt, guint32 epoch,
	char **error);
void ah_mlink_unref(ah_mlink *l);
const char *ah_mlink_salt(const ah_mlink *l);
guint32 ah_mlink_epoch(const ah_mlink *l);
const char *ah_mlink_node(const ah_mlink *l);
/* A stream's SSRC on the links: feed << 16 | mindex << 8 | layer. */
guint32 ah_mlink_ssrc(guint16 feed, int mindex, int layer);
/* Origin: presenter's packets go to `links` (n: 0 stops), as `feed`, with out_pt per m-line (-1: none). */
void ah_mlink_set_uplinks(ah_session *presenter, guint16 feed, const int out_pt[AH_MAX_STREAMS], ah_mlink **links,
	guint n);
/* Origin: forget which presenter a feed was (its presenter is gone). */
void ah_mlink_feed_out_remove(guint16 feed);
/* A session's last reference went: its uplinks' snapshot with it (plugin.c's release of a session's parts). */
void ah_mlink_release_uplinks(ah_session *session);
/* Edge: feed `feed` of origin link `l` feeds `mirror` (video: per m-line), or no longer. */
void ah_mlink_feed_in(ah_mlink *l, guint16 feed, ah_session *mirror, const gboolean video[AH_MAX_STREAMS]);
void ah_mlink_feed_in_remove(ah_mlink *l, guint16 feed, guint64 mirror_conn);
/* Control thread, every turn: each link's figures once a second, probes of the origins' delay. */
void ah_mlink_tick(gint64 now);
/* status's cluster.media.link (new reference; NULL: not started). */
json_t *ah_mlink_status(void);
/* The links' figures for the metrics (nothing when not started). */
void ah_mlink_metrics(ah_metrics_input *in);

/* ---- cluster-media.c: media across nodes, the control plane (docs/cluster-media.md, "Wiring") ---- */
/* After ah_cluster_start: open the link and subscribe to this node's media channel (nothing when off). */
gboolean ah_cluster_media_start(ah_engine *engine, char **error);
void ah_cluster_media_stop(void);
/* Every turn after ah_cluster_tick: subscriptions, feeds, mirrors (outs), expiries, link figures. */
void ah_cluster_media_turn(gint64 now, GPtrArray *outs);
gint64 ah_cluster_media_deadline(void);
/* status's cluster.media (new reference), NULL when off. */
json_t *ah_cluster_media_status(gint64 now);
/* Control thread (metrics.c): media rooms and links (nothing when off). */
void ah_cluster_media_metrics(ah_metrics_input *in);

#endif

/* allhands: an edge's keyframe cache for instant joins (issue 14), and the coalescing of keyframe
 * requests that must go upstream.
 *
 * One ah_gop per presenter video stream (an m-line) on an edge; inside it one cache per simulcast
 * layer (up to AH_GOP_LAYERS, chosen by the caller, who knows a packet's layer from its SSRC or
 * rid). Each layer keeps the RTP packets from the first packet of its last keyframe on ("the GOP":
 * the keyframe and the delta frames that follow it), within bounds of bytes, packets and age. When
 * a bound is hit before the next keyframe, the layer's cache is dropped (ah_gop_push says so) and
 * stays empty until the next keyframe: a joiner then needs a keyframe request upstream, which
 * ah_keyreq coalesces (one per stream per interval, however many joiners).
 *
 * Keyframes are recognised from the payload (RFC 7741 for VP8, RFC 6184 for H.264: an IDR in a
 * single NAL unit, a STAP-A or the start of a FU-A, with an SPS and a PPS earlier in the same
 * frame). The parsers are exported for tests and fuzzing; they never read outside their input.
 *
 * Pure logic: no Janus, no clock (time is `now_us`, monotonic microseconds), no I/O, no logging,
 * no locks. One thread at a time per ah_gop (the edge's thread that receives the stream from the
 * origin). docs/cluster-media.md ("The edge's keyframe cache") explains what the edge must do
 * at the seam between a joiner's replay and live packets, and what is not wired yet.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_GOP_H
#define ALLHANDS_GOP_H

#include <glib.h>

#define AH_GOP_LAYERS 3

typedef enum {
	AH_GOP_VP8 = 1,
	AH_GOP_H264 = 2,
} ah_gop_codec;

/* ---- RTP and payload parsing (RFC 3550, RFC 7741, RFC 6184) ---- */

typedef struct {
	guint8 pt;
	gboolean marker;
	guint16 seq;
	guint32 ts;
	guint32 ssrc;
	gsize payload_off;  /* after the CSRCs and the header extension */
	gsize payload_len;  /* without the padding */
} ah_gop_rtp;

/* Fills *out from an RTP packet. FALSE (and *out untouched) when it is not one: shorter than its
 * header, version not 2, CSRCs, extension or padding running past the end. */
gboolean ah_gop_rtp_parse(const guint8 *pkt, gsize len, ah_gop_rtp *out);

/* What a payload holds, as far as keyframes go (a bit set). */
enum {
	AH_GOP_KEY = 1 << 0,     /* VP8: the first packet of a keyframe. H.264: an IDR slice starts here */
	AH_GOP_SPS = 1 << 1,     /* H.264: a sequence parameter set */
	AH_GOP_PPS = 1 << 2,     /* H.264: a picture parameter set */
	AH_GOP_START = 1 << 3,   /* VP8: the first packet of a frame (S=1, partition 0) */
};

/* A VP8 RTP payload (descriptor, then the VP8 payload header when it starts partition 0): >= 0 the
 * bits above, -1 malformed (descriptor cut short, an empty frame, a keyframe header without its
 * start code 9d 01 2a or its size). */
int ah_gop_vp8_parse(const guint8 *payload, gsize len);

/* An H.264 RTP payload in packetization mode 0 or 1 (single NAL unit, STAP-A, FU-A): >= 0 the bits
 * above (AH_GOP_KEY for an IDR in a single NAL, inside a STAP-A or at the start of a FU-A), -1
 * malformed (forbidden bit set, NAL type 0 or 30-31, a STAP-A unit running past the end or empty,
 * a FU-A without its header or with both start and end bits). STAP-B, MTAP and FU-B (not used by
 * WebRTC) give 0. */
int ah_gop_h264_parse(const guint8 *payload, gsize len);

/* ---- the cache ---- */

typedef struct {
	gsize max_bytes;       /* per layer: the RTP packets kept, headers included */
	guint max_packets;     /* per layer */
	gint64 max_age_us;     /* a keyframe older than this is dropped (and not replayed) */
} ah_gop_limits;

/* Defaults: 1 MiB, 2048 packets, 3 s per layer (docs/cluster-media.md: what they cost). */
#define AH_GOP_DEFAULT_BYTES   (1024 * 1024)
#define AH_GOP_DEFAULT_PACKETS 2048
#define AH_GOP_DEFAULT_AGE_US  G_GINT64_CONSTANT(3000000)
/* Hard ceilings on the limits (ah_gop_new refuses more). */
#define AH_GOP_MAX_BYTES   (64 * 1024 * 1024)
#define AH_GOP_MAX_PACKETS 65536
/* A packet longer than this is refused (RTP over UDP in WebRTC stays near 1,200 bytes). */
#define AH_GOP_MAX_PACKET  65535

typedef struct ah_gop ah_gop;

/* A new cache for one video stream; NULL and *error (static text) when the codec or the limits are
 * invalid (limits NULL: the defaults; each limit at least one packet of 12 bytes and 1 us, at most
 * the ceilings above). Nothing is allocated for a layer before its first packet. */
ah_gop *ah_gop_new(ah_gop_codec codec, const ah_gop_limits *limits, const char **error);
void ah_gop_free(ah_gop *gop);

typedef enum {
	AH_GOP_CACHED = 0,       /* kept, after the layer's keyframe (or in a frame that may be one) */
	AH_GOP_KEYFRAME,         /* kept, and a new keyframe starts the cache (the old GOP is gone; said
	                          * even when a bound dropped the old GOP in the same push) */
	AH_GOP_DROPPED,          /* a bound was hit: the cache is dropped until the next keyframe */
	AH_GOP_SKIPPED,          /* not kept: no keyframe yet and this frame cannot become one */
	AH_GOP_INVALID,          /* not an RTP packet, too long, or a layer out of range: ignored */
} ah_gop_result;

/* Why the last drop happened (ah_gop_stats.last_drop). */
typedef enum {
	AH_GOP_DROP_NONE = 0,
	AH_GOP_DROP_BYTES,
	AH_GOP_DROP_PACKETS,
	AH_GOP_DROP_AGE,
	AH_GOP_DROP_SSRC,        /* the layer's SSRC changed: a new source, its old GOP is of no use */
} ah_gop_drop;

/* One RTP packet of `layer` (0..AH_GOP_LAYERS-1) as received, at now_us. The packet is copied. A
 * payload the codec's parser finds malformed is kept like any other (live receivers get it too)
 * but never starts a keyframe. Packets are kept in arrival order. */
ah_gop_result ah_gop_push(ah_gop *gop, int layer, const guint8 *pkt, gsize len, gint64 now_us);

/* Whether `layer` has a keyframe a joiner can start from at now_us (not older than max_age_us). */
gboolean ah_gop_usable(const ah_gop *gop, int layer, gint64 now_us);

typedef struct {
	guint64 pushed;          /* packets given to ah_gop_push (valid ones) */
	guint64 invalid;         /* refused as AH_GOP_INVALID */
	guint64 malformed;       /* payloads the parser refused (kept, never a keyframe) */
	guint64 keyframes;       /* keyframes that started the cache */
	guint64 drops;           /* caches dropped by a bound or an SSRC change */
	ah_gop_drop last_drop;
	gboolean has_key;        /* the cache starts at a keyframe now */
	gboolean key_complete;   /* and that keyframe's last packet (marker bit) is in */
	guint packets;           /* packets held now */
	gsize bytes;             /* bytes of packets held now */
	gsize memory;            /* bytes allocated for this layer (buffers and index) */
	gint64 key_at_us;        /* when the keyframe was recognised (has_key): its first packet, for H.264 the one completing IDR + SPS + PPS */
} ah_gop_stats;

/* One layer's figures (zeros for a layer out of range). */
void ah_gop_layer_stats(const ah_gop *gop, int layer, ah_gop_stats *out);
/* All the memory the cache holds, struct included. */
gsize ah_gop_memory(const ah_gop *gop);

/* ---- a joiner's replay ---- */

typedef enum {
	AH_GOP_REPLAY_PACKET = 0, /* *pkt, *len: the next packet to send (valid until the next push) */
	AH_GOP_REPLAY_DONE,       /* caught up: every packet held was given; forward live from the next push */
	AH_GOP_REPLAY_RESTART,    /* the cache changed under the replay (new keyframe, drop, SSRC):
	                           * start again with ah_gop_replay_start, or ask for a keyframe */
} ah_gop_replay_step;

typedef struct {
	const ah_gop *gop;
	int layer;
	guint64 generation;       /* the layer's generation when the replay started */
	guint next;               /* index of the next packet to give */
} ah_gop_replay;

/* Starts a replay of `layer` from its keyframe (the ah_gop must outlive the replay): FALSE when the layer is not usable at now_us (no
 * keyframe, dropped, too old: the joiner needs a keyframe request, see ah_keyreq). */
gboolean ah_gop_replay_start(const ah_gop *gop, int layer, gint64 now_us, ah_gop_replay *it);
/* The next step of a replay. Pushes between two calls are allowed: packets appended since are given
 * too (the replay catches up with live), a new keyframe or a drop gives AH_GOP_REPLAY_RESTART. */
ah_gop_replay_step ah_gop_replay_next(ah_gop_replay *it, const guint8 **pkt, gsize *len);

/* ---- coalescing keyframe requests (one per stream per interval) ---- */

/* One per video stream, on each node that asks upstream: an edge asking its origin, the origin
 * asking the presenter (a PLI). Any number of wants within an interval make one request: the
 * first want after a quiet interval is sent at once, the wants that follow are served by the next
 * request the interval allows (ah_keyreq_due on a timer), unless a keyframe comes first. */
typedef struct {
	gint64 interval_us;
	gboolean wanted;         /* a want not served yet */
	gboolean sent_once;
	gint64 last_us;          /* the last request sent */
	guint64 wants;           /* ah_keyreq_want calls */
	guint64 sent;            /* requests sent */
} ah_keyreq;

/* The node's interval today (AH_PLI_INTERVAL_US in plugin/glue/relay.c). */
#define AH_KEYREQ_INTERVAL_US G_GINT64_CONSTANT(500000)

void ah_keyreq_init(ah_keyreq *r, gint64 interval_us);
/* A joiner (or a downstream node's request) wants a keyframe: TRUE when a request must be sent
 * upstream now. */
gboolean ah_keyreq_want(ah_keyreq *r, gint64 now_us);
/* On a timer: TRUE when a pending want may now be sent (and it is marked sent). */
gboolean ah_keyreq_due(ah_keyreq *r, gint64 now_us);
/* When the pending want becomes due: -1 when none is pending. */
gint64 ah_keyreq_due_at(const ah_keyreq *r);
/* A keyframe arrived: the pending want is served without another request. */
void ah_keyreq_keyframe(ah_keyreq *r);

#endif

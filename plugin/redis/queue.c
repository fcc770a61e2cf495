/* allhands: the Redis client's hand-over between threads (plugin/redis/redis-private.h).
 *
 * Owns everything under the client's one lock: the commands submitted and not yet taken by the
 * client's thread, the replies and events ready to poll, the connected flag that decides whether a
 * command is sent or answered "disconnected" at once, and the counters. The lock is held for O(1)
 * steps only (a percentile read sorts at most AH_REDIS_RTT_RING samples), never while calling out:
 * `wake` is called after unlocking, so a caller of submit or poll never waits on the network.
 * The only file that takes the lock. Any thread, as each function says.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis-private.h"

gboolean ah_redis_queue_command(ah_redis *r, ah_redis_cmd *c)
{
	ah_redis_reply *failed = NULL;
	gboolean accepted, kick = FALSE, wake = FALSE;
	c->submitted_at = g_get_monotonic_time();
	if (!g_atomic_int_get(&r->up)) {
		/* Built before locking, used only if the client is still down under the lock. */
		failed = ah_redis_reply_new(AH_REDIS_REPLY, c->tag);
		failed->status = AH_REDIS_E_DISCONNECTED;
		failed->value = ah_redis_value_new_error("disconnected");
	}
	g_mutex_lock(&r->lock);
	accepted = r->queued < r->max_queued && !r->stopping;
	if (!accepted) {
		r->st.drops++;
	} else if (r->up || failed == NULL) {
		/* Up, or down since the look above: then the thread answers it "disconnected". */
		g_queue_push_tail(&r->in, c);
		c = NULL;
		kick = !r->kicked;
		r->kicked = TRUE;
	} else {
		wake = r->out.length == 0;
		g_queue_push_tail(&r->out, failed);
		failed = NULL;
		r->st.failed_disconnected++;
	}
	if (accepted) {
		r->queued++;
		r->st.submitted++;
	}
	g_mutex_unlock(&r->lock);
	ah_redis_cmd_free(c);
	ah_redis_reply_free(failed);
	if (kick)
		ah_redis_queue_kick(r, FALSE);
	if (wake && r->wake != NULL)
		r->wake(r->user);
	return accepted;
}

gboolean ah_redis_queue_subscription(ah_redis *r, ah_redis_sub *s)
{
	gboolean added, kick = FALSE;
	g_mutex_lock(&r->lock);
	added = !g_hash_table_contains(r->channels, s->channel);
	if (added) {
		g_hash_table_add(r->channels, g_strdup(s->channel));
		g_ptr_array_add(r->new_subs, s);
		kick = !r->kicked;
		r->kicked = TRUE;
	}
	g_mutex_unlock(&r->lock);
	if (!added)
		ah_redis_sub_free(s);
	if (kick)
		ah_redis_queue_kick(r, FALSE);
	return added;
}

gboolean ah_redis_queue_take(ah_redis *r, GQueue *cmds, GPtrArray *subs)
{
	gboolean stopping;
	g_mutex_lock(&r->lock);
	/* Swap the whole queue: O(1) whatever was submitted since the last look. */
	*cmds = r->in;
	g_queue_init(&r->in);
	if (r->new_subs->len > 0) {
		gsize n = 0;
		gpointer *taken = g_ptr_array_steal(r->new_subs, &n); /* the subscriptions move, not freed */
		for (gsize i = 0; i < n; i++)
			g_ptr_array_add(subs, taken[i]);
		g_free(taken);
	}
	r->kicked = FALSE;
	stopping = r->stopping;
	g_mutex_unlock(&r->lock);
	return stopping;
}

/* Under the lock: the counters a reply or event moves. */
static void count_locked(ah_redis *r, const ah_redis_reply *rep)
{
	switch (rep->event) {
	case AH_REDIS_REPLY:
		if (rep->status == AH_REDIS_E_TIMEOUT) {
			r->st.timeouts++;
		} else if (rep->status != AH_REDIS_OK) {
			r->st.failed_disconnected++;
		} else {
			r->st.replies++;
			if (rep->value != NULL && rep->value->type == AH_REDIS_ERROR)
				r->st.errors++;
			r->rtt[r->rtt_next] = rep->rtt_us;
			r->rtt_next = (r->rtt_next + 1) % AH_REDIS_RTT_RING;
			if (r->rtt_count < AH_REDIS_RTT_RING)
				r->rtt_count++;
		}
		break;
	case AH_REDIS_MESSAGE:
		r->st.messages++;
		break;
	case AH_REDIS_CONNECTED:
		g_atomic_int_set(&r->up, TRUE);
		r->st.connects++;
		g_strlcpy(r->st.run_id, rep->text != NULL ? rep->text : "", sizeof(r->st.run_id));
		break;
	case AH_REDIS_DISCONNECTED:
		g_atomic_int_set(&r->up, FALSE);
		r->st.connect_failures++;
		break;
	case AH_REDIS_SUBSCRIBED:
		break;
	}
}

void ah_redis_queue_emit(ah_redis *r, ah_redis_reply *rep)
{
	gboolean wake = FALSE;
	g_mutex_lock(&r->lock);
	if (rep->event == AH_REDIS_MESSAGE && r->out.length >= r->max_queued) {
		/* An owner that stopped polling must not make messages pile up without bound: commands
		 * are bounded at submit, messages here. */
		r->st.messages_dropped++;
	} else {
		count_locked(r, rep);
		wake = r->out.length == 0;
		g_queue_push_tail(&r->out, rep);
		rep = NULL;
	}
	g_mutex_unlock(&r->lock);
	ah_redis_reply_free(rep);
	if (wake && r->wake != NULL)
		r->wake(r->user);
}

void ah_redis_queue_down_quietly(ah_redis *r)
{
	g_mutex_lock(&r->lock);
	g_atomic_int_set(&r->up, FALSE);
	r->st.connect_failures++;
	g_mutex_unlock(&r->lock);
}

void ah_redis_queue_count(ah_redis *r, guint64 sent, guint64 evals, guint64 noscript)
{
	g_mutex_lock(&r->lock);
	r->st.sent += sent;
	r->st.script_evals += evals;
	r->st.script_noscript += noscript;
	g_mutex_unlock(&r->lock);
}

void ah_redis_queue_kick(ah_redis *r, gboolean stop)
{
	guint64 one = 1;
	if (stop) {
		g_mutex_lock(&r->lock);
		r->stopping = TRUE;
		g_mutex_unlock(&r->lock);
	}
	/* An eventfd's counter only fails to take a write when it is about to overflow, in which case
	 * the thread has a wake-up pending anyway. */
	while (write(r->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

ah_redis_reply *ah_redis_poll(ah_redis *r)
{
	ah_redis_reply *rep;
	g_return_val_if_fail(r != NULL, NULL);
	g_mutex_lock(&r->lock);
	rep = g_queue_pop_head(&r->out);
	if (rep != NULL && rep->event == AH_REDIS_REPLY)
		r->queued--;
	g_mutex_unlock(&r->lock);
	return rep;
}

static int compare_rtt(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least q of the samples at or below it. */
static gint64 quantile(const gint64 *sorted, guint n, double q)
{
	guint rank = (guint)(q * n + 0.999999);
	return n == 0 ? 0 : sorted[CLAMP(rank, 1, n) - 1];
}

void ah_redis_get_stats(ah_redis *r, ah_redis_stats *out)
{
	gint64 samples[AH_REDIS_RTT_RING];
	guint n;
	g_return_if_fail(r != NULL && out != NULL);
	g_mutex_lock(&r->lock);
	*out = r->st;
	out->connected = r->up;
	out->queued = r->queued;
	n = r->rtt_count;
	memcpy(samples, r->rtt, n * sizeof(samples[0]));
	g_mutex_unlock(&r->lock);
	/* Sorted outside the lock: the ring's order does not matter for percentiles. */
	qsort(samples, n, sizeof(samples[0]), compare_rtt);
	out->rtt_samples = n;
	out->rtt_p50_us = quantile(samples, n, 0.50);
	out->rtt_p99_us = quantile(samples, n, 0.99);
}

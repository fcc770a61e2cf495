/* allhands: a non-blocking UDP endpoint for the node-to-node link (include/allhands/link.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE /* recvmmsg */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>

#include "allhands/link.h"

/* Datagrams taken by one recvmmsg call at most. */
#define BATCH 64

struct ah_link_udp {
	int fd;
	struct sockaddr_storage local;
	socklen_t local_len;
};

ah_link_udp *ah_link_udp_new(const char *address, guint16 port, GError **error)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (address != NULL && inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		len = sizeof(*v4);
	} else if (address != NULL && inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		len = sizeof(*v6);
	} else {
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID, "link: \"%s\" is not an IPv4 or IPv6 address",
			address != NULL ? address : "(null)");
		return NULL;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_SYSTEM, "link: socket: %s", g_strerror(e));
		return NULL;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;
		close(fd);
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_SYSTEM, "link: bind %s port %u: %s", address, port,
			g_strerror(e));
		return NULL;
	}
	ah_link_udp *udp = g_new0(ah_link_udp, 1);
	udp->fd = fd;
	udp->local_len = sizeof(udp->local);
	if (getsockname(fd, (struct sockaddr *)&udp->local, &udp->local_len) < 0) {
		memcpy(&udp->local, &ss, len);
		udp->local_len = len;
	}
	return udp;
}

void ah_link_udp_free(ah_link_udp *udp)
{
	if (udp == NULL)
		return;
	close(udp->fd);
	g_free(udp);
}

int ah_link_udp_fd(const ah_link_udp *udp)
{
	return udp->fd;
}

void ah_link_udp_local(const ah_link_udp *udp, struct sockaddr_storage *addr, socklen_t *len)
{
	memcpy(addr, &udp->local, sizeof(*addr));
	*len = udp->local_len;
}

gboolean ah_link_udp_send(ah_link_udp *udp, const guint8 *buf, gsize len, const struct sockaddr *to, socklen_t to_len)
{
	ssize_t n;
	do
		n = sendto(udp->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, to_len);
	while (n < 0 && errno == EINTR);
	return n >= 0 && (gsize)n == len;
}

int ah_link_udp_recv(ah_link_udp *udp, ah_link_dgram *dgrams, guint n)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	if (n > BATCH)
		n = BATCH;
	if (n == 0)
		return 0;
	memset(msgs, 0, n * sizeof(msgs[0]));
	for (guint i = 0; i < n; i++) {
		/* One byte more than the MTU: a datagram that fills it was larger, and MSG_TRUNC says so too. */
		iov[i].iov_base = dgrams[i].data;
		iov[i].iov_len = AH_LINK_MTU + 1;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &dgrams[i].from;
		msgs[i].msg_hdr.msg_namelen = sizeof(dgrams[i].from);
	}
	int got;
	do
		got = recvmmsg(udp->fd, msgs, n, MSG_DONTWAIT, NULL);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	for (int i = 0; i < got; i++) {
		gboolean whole = !(msgs[i].msg_hdr.msg_flags & MSG_TRUNC) && msgs[i].msg_len <= AH_LINK_MTU;
		dgrams[i].len = whole ? (int)msgs[i].msg_len : -1;
		dgrams[i].from_len = msgs[i].msg_hdr.msg_namelen;
	}
	return got;
}

gboolean ah_link_udp_wait(ah_link_udp *udp, int timeout_ms)
{
	struct pollfd pfd = { .fd = udp->fd, .events = POLLIN };
	int r;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0 && (pfd.revents & POLLIN);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * scenario_stray: one stray TCP segment (ACK, no SYN; or a SYN) per flow
 * read from stdin, sent out of a device to a MAC as an Ethernet frame (AF_PACKET),
 * built by the packet tests' builder (tests/lib/packets.c: sequence and
 * ack 0, no TCP checksum). The fleet suite's mid-stream case sends them to
 * a router that has not heard its peers' pins, so its datapath pins those
 * flows from a segment without SYN, as it would a flow moved to it
 * mid-stream, without touching the real connections: a backend drops the
 * segment, or answers a connection it does not have with a RST of
 * sequence 0, outside the client's window, which the client drops (RFC
 * 5961). Its at-once case sends a SYN instead (syn): a flow's first packet
 * reaching a second router, which pins it as its first; a backend in the
 * connection answers with an ACK (RFC 5961), one without it with a
 * SYN-ACK, which the client's connection answers the same way, by its pin.
 *
 * Usage: scenario_stray DEV DST_MAC [syn]   (stdin: "4|6 SRC SPORT DST DPORT" a line)
 * Prints "sent N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "packets.h"

int main(int argc, char **argv)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	__u8 frame[PKT_MAX], dmac[ETH_ALEN], addr[16];
	char src[64], dst[64];
	unsigned int family, sport, dport;
	int fd, sent = 0;
	size_t len;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "syn")) ||
	    sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dmac[0], &dmac[1],
		   &dmac[2], &dmac[3], &dmac[4], &dmac[5]) != 6) {
		fprintf(stderr, "usage: scenario_stray DEV DST_MAC [syn]\n");
		return 2;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	to.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (fd < 0 || !to.sll_ifindex) {
		fprintf(stderr, "scenario_stray: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memcpy(to.sll_addr, dmac, ETH_ALEN);
	while (scanf("%u %63s %u %63s %u", &family, src, &sport, dst, &dport) == 5) {
		struct pkt_spec s = {
			.family = (int)family, .proto = IPPROTO_TCP, .src = src,
			.dst = dst, .sport = (__u16)sport, .dport = (__u16)dport,
			.tcp_flags = argc == 4 ? 0x02 /* SYN */ : 0x10 /* ACK */,
			.dmac = dmac,
		};

		/* the builder takes any text: a line must hold two addresses */
		if ((family != 4 && family != 6) ||
		    inet_pton(family == 4 ? AF_INET : AF_INET6, src, addr) != 1 ||
		    inet_pton(family == 4 ? AF_INET : AF_INET6, dst, addr) != 1) {
			fprintf(stderr, "scenario_stray: not a flow: %u %s %u %s %u\n",
				family, src, sport, dst, dport);
			return 1;
		}
		len = pkt_build(&s, frame);
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&to,
			   sizeof(to)) != (ssize_t)len) {
			fprintf(stderr, "scenario_stray: send: %s\n", strerror(errno));
			return 1;
		}
		sent++;
	}
	printf("sent %d\n", sent);
	close(fd);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * scenario_stray: one stray TCP segment (ACK, no SYN, a sequence and ack
 * far from any real one) per flow read from stdin, sent out of a device
 * to a MAC as an Ethernet frame (AF_PACKET). The fleet suite's mid-stream
 * case sends them to a router that has not heard its peers' pins, so its
 * datapath pins those flows from a segment without SYN, as it would a
 * flow moved to it mid-stream, without touching the real connections: a
 * backend answers a segment of a connection it does not have with a RST
 * whose sequence is the stray's ack, outside the client's window, which
 * the client drops (RFC 5961).
 *
 * Usage: scenario_stray DEV DST_MAC   (stdin: "4|6 SRC SPORT DST DPORT" a line)
 * Prints "sent N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define STRAY_SEQ 0x5eed0000U
#define STRAY_ACK 0x0badc0deU

static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* An ACK of 20 bytes, its checksum over the pseudo header's sum. */
static void tcp_ack(uint8_t *th, uint16_t sport, uint16_t dport, uint32_t pseudo)
{
	memset(th, 0, 20);
	put16(th, sport);
	put16(th + 2, dport);
	put32(th + 4, STRAY_SEQ);
	put32(th + 8, STRAY_ACK);
	th[12] = 5 << 4; /* data offset */
	th[13] = 0x10;	 /* ACK */
	put16(th + 14, 0xffff);
	put16(th + 16, fold(sum16(th, 20, pseudo + IPPROTO_TCP + 20)));
}

/* The frame for one flow, after the Ethernet header; its length, or 0. */
static size_t build(uint8_t *ip, int family, const char *src, uint16_t sport,
		    const char *dst, uint16_t dport)
{
	if (family == 4) {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[3] = 40;
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		if (inet_pton(AF_INET, src, ip + 12) != 1 ||
		    inet_pton(AF_INET, dst, ip + 16) != 1)
			return 0;
		put16(ip + 10, fold(sum16(ip, 20, 0)));
		tcp_ack(ip + 20, sport, dport, sum16(ip + 12, 8, 0));
		return 40;
	}
	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[5] = 20; /* payload length */
	ip[6] = IPPROTO_TCP;
	ip[7] = 64;
	if (inet_pton(AF_INET6, src, ip + 8) != 1 ||
	    inet_pton(AF_INET6, dst, ip + 24) != 1)
		return 0;
	tcp_ack(ip + 40, sport, dport, sum16(ip + 8, 32, 0));
	return 60;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	uint8_t frame[128], dmac[ETH_ALEN], smac[ETH_ALEN];
	char src[64], dst[64];
	unsigned int family, sport, dport;
	struct ifreq ifr = { 0 };
	int fd, sent = 0;
	size_t len;

	if (argc != 3 ||
	    sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dmac[0], &dmac[1],
		   &dmac[2], &dmac[3], &dmac[4], &dmac[5]) != 6) {
		fprintf(stderr, "usage: scenario_stray DEV DST_MAC\n");
		return 2;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		fprintf(stderr, "scenario_stray: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	to.sll_ifindex = (int)if_nametoindex(argv[1]);
	memcpy(to.sll_addr, dmac, ETH_ALEN);
	while (scanf("%u %63s %u %63s %u", &family, src, &sport, dst, &dport) == 5) {
		memcpy(frame, dmac, ETH_ALEN);
		memcpy(frame + ETH_ALEN, smac, ETH_ALEN);
		frame[12] = family == 4 ? 0x08 : 0x86;
		frame[13] = family == 4 ? 0x00 : 0xdd;
		len = build(frame + 14, (int)family, src, (uint16_t)sport, dst,
			    (uint16_t)dport);
		if (!len) {
			fprintf(stderr, "scenario_stray: not a flow: %u %s %u %s %u\n",
				family, src, sport, dst, dport);
			return 1;
		}
		if (sendto(fd, frame, 14 + len, 0, (struct sockaddr *)&to,
			   sizeof(to)) != (ssize_t)(14 + len)) {
			fprintf(stderr, "scenario_stray: send: %s\n", strerror(errno));
			return 1;
		}
		sent++;
	}
	printf("sent %d\n", sent);
	close(fd);
	return 0;
}

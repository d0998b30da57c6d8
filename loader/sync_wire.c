// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "sync_wire.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static size_t entry_len(uint8_t type)
{
	switch (type) {
	case SYNC_PINS:
		return SYNC_PIN_LEN;
	case SYNC_ACK:
	case SYNC_DIGEST:
	case SYNC_DIFF:
		return SYNC_ACK_LEN; /* u64 words */
	default:
		return 0;
	}
}

/* The flags a message of this type may carry. */
static uint8_t flags_known(uint8_t type)
{
	switch (type) {
	case SYNC_PINS:
		return SYNC_F_BULK | SYNC_F_END | SYNC_F_REPAIR;
	case SYNC_BULK_REQ:
		return SYNC_F_MINE;
	default:
		return 0;
	}
}

size_t sync_len(uint8_t type, unsigned int count)
{
	return SYNC_HDR_LEN + entry_len(type) * count + SYNC_MAC_LEN;
}

void sync_put_hdr(uint8_t *buf, const struct sync_hdr *h)
{
	put16(buf, SYNC_MAGIC);
	buf[2] = SYNC_VERSION;
	buf[3] = h->type;
	buf[4] = h->flags;
	buf[5] = 0;
	put16(buf + 6, h->count);
	put32(buf + 8, h->aux);
	put32(buf + 12, h->router);
	put64(buf + 16, h->epoch);
	put64(buf + 24, h->seq);
	put64(buf + 32, h->time_ns);
}

static unsigned int addr_len(uint8_t family)
{
	return family == FP_AF_INET ? 4 : 16;
}

void sync_put_pin(uint8_t *buf, unsigned int i, const struct sync_pin *p)
{
	uint8_t *e = buf + SYNC_HDR_LEN + (size_t)i * SYNC_PIN_LEN;

	memset(e, 0, SYNC_PIN_LEN);
	e[0] = p->key.family;
	e[1] = p->key.proto;
	e[2] = p->gw_family;
	e[3] = p->rank & FP_RANK_MID_STREAM ? SYNC_PIN_MID_STREAM : 0;
	memcpy(e + 4, &p->key.sport, 2); /* already network order */
	memcpy(e + 6, &p->key.dport, 2);
	put32(e + 8, p->router);
	put64(e + 12, FP_RANK_TIME(p->rank));
	memcpy(e + 20, p->key.saddr, addr_len(p->key.family));
	memcpy(e + 36, p->key.daddr, addr_len(p->key.family));
	memcpy(e + 52, p->gw, addr_len(p->gw_family));
}

void sync_put_ack(uint8_t *buf, unsigned int i, uint64_t seq)
{
	put64(buf + SYNC_HDR_LEN + (size_t)i * SYNC_ACK_LEN, seq);
}

void sync_put_digest(uint8_t *buf, const struct sync_digest *d)
{
	sync_put_ack(buf, 0, d->cut);
	for (unsigned int i = 0; i < SYNC_RANGES; i++)
		sync_put_ack(buf, 1 + i, d->range[i]);
	for (unsigned int i = 0; i < d->n_gw; i++)
		sync_put_ack(buf, SYNC_DIGEST_WORDS + i, d->gw[i]);
}

void sync_put_diff(uint8_t *buf, uint64_t cut, uint64_t ranges)
{
	sync_put_ack(buf, 0, cut);
	sync_put_ack(buf, 1, ranges);
}

static const uint8_t digest_key[crypto_shorthash_KEYBYTES]; /* fixed: see the header */

static uint64_t shorthash(const uint8_t *in, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];

	crypto_shorthash(out, in, len, digest_key);
	return get64(out);
}

unsigned int sync_pin_range(const struct sync_pin *p)
{
	uint8_t buf[SYNC_HDR_LEN + SYNC_PIN_LEN], flow[2 + 4 + 2 * 16];
	const uint8_t *e = buf + SYNC_HDR_LEN;

	/* the flow's bytes of the pin: families, protocol, ports, addresses */
	sync_put_pin(buf, 0, p);
	memcpy(flow, e, 2);
	memcpy(flow + 2, e + 4, 2 + 2);
	memcpy(flow + 6, e + 20, 2 * 16);
	return shorthash(flow, sizeof(flow)) >> 58; /* the top 6 bits */
}
_Static_assert(SYNC_RANGES == 64, "a range is the top 6 bits of a hash");

uint64_t sync_pin_hash(const struct sync_pin *p)
{
	uint8_t buf[SYNC_HDR_LEN + SYNC_PIN_LEN];

	sync_put_pin(buf, 0, p);
	return shorthash(buf + SYNC_HDR_LEN, SYNC_PIN_LEN);
}

uint64_t sync_gw_hash(uint8_t family, const __be32 gw[4])
{
	uint8_t b[17] = { family };

	memcpy(b + 1, gw, addr_len(family));
	return shorthash(b, sizeof(b));
}

void sync_restamp(uint8_t *buf, uint64_t seq, uint64_t time_ns)
{
	put64(buf + 24, seq);
	put64(buf + 32, time_ns);
}

void sync_ends_make(struct sync_ends *e, uint8_t family, const void *from_addr,
		    uint16_t from_port, const void *to_addr, uint16_t to_port)
{
	unsigned int n = family == FP_AF_INET ? 4 : 16;

	memset(e, 0, sizeof(*e));
	e->b[0] = family;
	memcpy(e->b + 1, from_addr, n);
	put16(e->b + 17, from_port);
	memcpy(e->b + 19, to_addr, n);
	put16(e->b + 35, to_port);
}

void sync_mac(uint8_t out[SYNC_MAC_LEN], const uint8_t *buf, size_t len,
	      const uint8_t key[SYNC_KEY_LEN], const struct sync_ends *ends)
{
	crypto_auth_hmacsha512256_state st;

	crypto_auth_hmacsha512256_init(&st, key, SYNC_KEY_LEN);
	crypto_auth_hmacsha512256_update(&st, ends->b, sizeof(ends->b));
	crypto_auth_hmacsha512256_update(&st, buf, len);
	crypto_auth_hmacsha512256_final(&st, out);
}

size_t sync_seal(uint8_t *buf, const uint8_t key[SYNC_KEY_LEN],
		 const struct sync_ends *ends)
{
	size_t len = sync_len(buf[3], get16(buf + 6)) - SYNC_MAC_LEN;

	sync_mac(buf + len, buf, len, key, ends);
	return len + SYNC_MAC_LEN;
}

static bool family_ok(uint8_t f)
{
	return f == FP_AF_INET || f == FP_AF_INET6;
}

static bool zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* An IPv4 address fills 4 bytes of its 16: the rest must be 0. */
static bool pin_ok(const uint8_t *e)
{
	return family_ok(e[0]) && family_ok(e[2]) &&
	       !(e[3] & ~SYNC_PIN_MID_STREAM) && get32(e + 8) &&
	       !(get64(e + 12) & FP_RANK_MID_STREAM) &&
	       zero(e + 20 + addr_len(e[0]), 16 - addr_len(e[0])) &&
	       zero(e + 36 + addr_len(e[0]), 16 - addr_len(e[0])) &&
	       zero(e + 52 + addr_len(e[2]), 16 - addr_len(e[2]));
}

int sync_unseal(const uint8_t *buf, size_t len, const uint8_t key[SYNC_KEY_LEN],
		const struct sync_ends *ends, struct sync_hdr *h)
{
	uint8_t want[SYNC_MAC_LEN];
	size_t body;

	if (len < SYNC_HDR_LEN + SYNC_MAC_LEN)
		return FP_DROP_SHORT;
	if (len > SYNC_MAX_DGRAM)
		return FP_DROP_LONG;
	if (get16(buf) != SYNC_MAGIC || buf[2] != SYNC_VERSION)
		return FP_DROP_VERSION;
	body = len - SYNC_MAC_LEN;
	sync_mac(want, buf, body, key, ends);
	if (sodium_memcmp(want, buf + body, SYNC_MAC_LEN))
		return FP_DROP_AUTH;
	h->type = buf[3];
	h->flags = buf[4];
	h->count = get16(buf + 6);
	h->aux = get32(buf + 8);
	h->epoch = get64(buf + 16);
	h->seq = get64(buf + 24);
	h->time_ns = get64(buf + 32);
	h->router = get32(buf + 12);
	if (h->type < SYNC_HELLO || h->type > SYNC_DIFF || buf[5] ||
	    !h->router || !h->epoch || !h->seq ||
	    (h->flags & ~flags_known(h->type)) ||
	    (h->aux && !(h->flags & SYNC_F_END) && h->type != SYNC_HELLO) ||
	    (h->count && !entry_len(h->type)) ||
	    (h->type == SYNC_ACK && !h->count) || /* the acked run's epoch */
	    (h->type == SYNC_DIGEST && h->count < SYNC_DIGEST_WORDS) ||
	    (h->type == SYNC_DIFF && h->count != SYNC_DIFF_WORDS) ||
	    /* a repair's pins are neither a bulk sync's nor its end */
	    (h->flags & SYNC_F_REPAIR && h->flags & (SYNC_F_BULK | SYNC_F_END)) ||
	    sync_len(h->type, h->count) != len)
		return FP_DROP_MALFORMED;
	/* a cut is a made time: below 2^63; a diff names a range at least */
	if ((h->type == SYNC_DIGEST || h->type == SYNC_DIFF) &&
	    sync_get_ack(buf, 0) & FP_RANK_MID_STREAM)
		return FP_DROP_MALFORMED;
	if (h->type == SYNC_DIFF && !sync_get_ack(buf, 1))
		return FP_DROP_MALFORMED;
	for (unsigned int i = 0; h->type == SYNC_PINS && i < h->count; i++)
		if (!pin_ok(buf + SYNC_HDR_LEN + (size_t)i * SYNC_PIN_LEN))
			return FP_DROP_MALFORMED;
	for (unsigned int i = 0; h->type == SYNC_ACK && i < h->count; i++)
		if (!sync_get_ack(buf, i))
			return FP_DROP_MALFORMED;
	return -1;
}

void sync_get_pin(const uint8_t *buf, unsigned int i, struct sync_pin *p)
{
	const uint8_t *e = buf + SYNC_HDR_LEN + (size_t)i * SYNC_PIN_LEN;

	memset(p, 0, sizeof(*p));
	p->key.family = e[0];
	p->key.proto = e[1];
	p->gw_family = e[2];
	p->rank = get64(e + 12) |
		  (e[3] & SYNC_PIN_MID_STREAM ? FP_RANK_MID_STREAM : 0);
	memcpy(&p->key.sport, e + 4, 2);
	memcpy(&p->key.dport, e + 6, 2);
	p->router = get32(e + 8);
	memcpy(p->key.saddr, e + 20, 16);
	memcpy(p->key.daddr, e + 36, 16);
	memcpy(p->gw, e + 52, 16);
}

bool sync_pin_wins(const struct sync_pin *a, const struct sync_pin *b)
{
	int gw;

	if (a->rank != b->rank)
		return a->rank < b->rank;
	if (a->router != b->router)
		return a->router < b->router;
	if (a->gw_family != b->gw_family)
		return a->gw_family < b->gw_family;
	gw = memcmp(a->gw, b->gw, sizeof(a->gw));
	return gw < 0;
}

uint64_t sync_get_ack(const uint8_t *buf, unsigned int i)
{
	return get64(buf + SYNC_HDR_LEN + (size_t)i * SYNC_ACK_LEN);
}

void sync_get_digest(const uint8_t *buf, const struct sync_hdr *h,
		     struct sync_digest *d)
{
	d->cut = sync_get_ack(buf, 0);
	for (unsigned int i = 0; i < SYNC_RANGES; i++)
		d->range[i] = sync_get_ack(buf, 1 + i);
	d->n_gw = h->count - SYNC_DIGEST_WORDS;
	for (unsigned int i = 0; i < d->n_gw; i++)
		d->gw[i] = sync_get_ack(buf, SYNC_DIGEST_WORDS + i);
}

void sync_get_diff(const uint8_t *buf, uint64_t *cut, uint64_t *ranges)
{
	*cut = sync_get_ack(buf, 0);
	*ranges = sync_get_ack(buf, 1);
}

bool sync_clock_ok(uint64_t time_ns, uint64_t now_ns)
{
	return time_ns > now_ns ? time_ns - now_ns <= SYNC_MAX_SKEW_NS :
				  now_ns - time_ns <= SYNC_MAX_SKEW_NS;
}

static bool bit(const struct sync_replay *r, uint64_t seq)
{
	uint64_t b = seq % SYNC_REPLAY_WINDOW;

	return r->seen[b / 64] >> (b % 64) & 1;
}

static void set_bit(struct sync_replay *r, uint64_t seq, bool on)
{
	uint64_t b = seq % SYNC_REPLAY_WINDOW, m = 1ULL << (b % 64);

	r->seen[b / 64] = on ? r->seen[b / 64] | m : r->seen[b / 64] & ~m;
}

bool sync_replay_check(struct sync_replay *r, uint64_t epoch, uint64_t seq)
{
	if (epoch < r->epoch || !seq)
		return false;
	if (epoch > r->epoch) {
		memset(r, 0, sizeof(*r));
		r->epoch = epoch;
	}
	if (seq > r->top) {
		/* the slots the window slides over are sequences never seen */
		if (seq - r->top >= SYNC_REPLAY_WINDOW)
			memset(r->seen, 0, sizeof(r->seen));
		else
			for (uint64_t s = r->top + 1; s < seq; s++)
				set_bit(r, s, false);
		r->top = seq;
		set_bit(r, seq, true);
		return true;
	}
	if (r->top - seq >= SYNC_REPLAY_WINDOW || bit(r, seq))
		return false;
	set_bit(r, seq, true);
	return true;
}

int sync_key_load(const char *path, uint8_t key[SYNC_KEY_LEN], char *err,
		  size_t errlen)
{
	crypto_generichash_state st;
	uint8_t buf[4096];
	struct stat sb;
	size_t total = 0;
	ssize_t n;
	int fd, ret = 0;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -EIO;
	}
	/* a symlink is followed (secret managers mount keys so): the file is judged */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the sync key %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "the sync key %s is not a regular file",
			 path);
		close(fd);
		return -EINVAL;
	}
	if (sb.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "the sync key %s belongs to uid %u, not to flowpind's user (%u): chown it",
			 path, (unsigned int)sb.st_uid, (unsigned int)geteuid());
		close(fd);
		return -EPERM;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "the sync key %s is open to group or others (mode %03o): chmod 600 it",
			 path, (unsigned int)(sb.st_mode & 0777));
		close(fd);
		return -EPERM;
	}
	/* the key is the hash of the whole file, however long */
	crypto_generichash_init(&st, NULL, 0, SYNC_KEY_LEN);
	while ((n = read(fd, buf, sizeof(buf))) > 0 && total <= SYNC_KEY_FILE_MAX) {
		crypto_generichash_update(&st, buf, n);
		total += n;
	}
	if (n < 0) {
		snprintf(err, errlen, "cannot read the sync key %s: %s", path,
			 strerror(errno));
		ret = -EIO;
	} else if (total > SYNC_KEY_FILE_MAX) {
		snprintf(err, errlen,
			 "the sync key %s is larger than %d bytes: is it the right file?",
			 path, SYNC_KEY_FILE_MAX);
		ret = -EFBIG;
	} else if (total < SYNC_KEY_LEN) {
		snprintf(err, errlen,
			 "the sync key %s holds %zu bytes: at least %d are needed (head -c 32 /dev/urandom)",
			 path, total, SYNC_KEY_LEN);
		ret = -EINVAL;
	} else {
		crypto_generichash_final(&st, key, SYNC_KEY_LEN);
	}
	close(fd);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(&st, sizeof(st));
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/fib_rules.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>
#include <libmnl/libmnl.h>

#include "bypass.h"

#define MAX_CHAINS 256

static void add(struct bypass *b, const char *fmt, ...)
{
	va_list ap;

	if (b->n == BYPASS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(b->what[b->n++], BYPASS_LEN, fmt, ap);
	va_end(ap);
}

bool bypass_has(const struct bypass *b, const char *what)
{
	for (int i = 0; i < b->n; i++)
		if (!strcmp(b->what[i], what))
			return true;
	return false;
}

/* Does the file name this module ("/NAME.ko")? Unreadable: no. */
static bool file_names_module(const char *path, const char *name)
{
	char line[512], want[80];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "/%s.ko", name);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

/*
 * Would asking this subsystem load its module? Only when it is a module
 * that is not loaded, and then nothing can have been configured through
 * it: no need to ask.
 */
static bool would_load(const char *name)
{
	char path[160];
	struct utsname u;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	if (!access(path, F_OK) || uname(&u))
		return false;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.builtin", u.release);
	if (file_names_module(path, name))
		return false;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
	return file_names_module(path, name);
}

/* Send one dump request on a new socket of this protocol; cb per message. */
static int dump(int proto, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	struct mnl_socket *nl = mnl_socket_open(proto);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid;
	int ret = -1;

	if (!nl)
		return -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID))
		goto out;
	portid = mnl_socket_get_portid(nl);
	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req->nlmsg_seq = time(NULL);
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		goto out;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n <= 0)
			break;
		ret = mnl_cb_run(buf, n, req->nlmsg_seq, portid, cb, data);
		if (ret <= MNL_CB_STOP)
			break;
	}
out:
	mnl_socket_close(nl);
	return ret < 0 ? -1 : 0;
}

/* --- reverse-path filtering --- */

static int sysctl_int(const char *iface, const char *name)
{
	char path[160];
	FILE *f;
	int v = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", iface, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static void scan_rp_filter(char *const *ports, int n_ports, struct bypass *b)
{
	int all = sysctl_int("all", "rp_filter");

	for (int i = 0; i < n_ports; i++) {
		int v = sysctl_int(ports[i], "rp_filter");

		/* the kernel applies the larger of "all" and the port's */
		if (v < all)
			v = all;
		if (v)
			add(b, "rp_filter is %d on %s: flowpin forwards its packets without the reverse-path check",
			    v, ports[i]);
	}
}

/* --- policy rules --- */

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	__u32 mark = 0, table = frh->table;

	mnl_attr_for_each(a, nlh, sizeof(*frh)) {
		if (mnl_attr_get_type(a) == FRA_FWMARK &&
		    mnl_attr_get_payload_len(a) == 4)
			mark = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == FRA_TABLE &&
			 mnl_attr_get_payload_len(a) == 4)
			table = mnl_attr_get_u32(a);
	}
	if (mark)
		add(data, "%s policy rule on fwmark 0x%x (table %u): flowpin's route lookups carry no mark, so its flows skip it",
		    frh->family == AF_INET6 ? "an IPv6" : "an IPv4", mark, table);
	return MNL_CB_OK;
}

static void scan_rules(struct bypass *b)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = RTM_GETRULE;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_UNSPEC;
	dump(NETLINK_ROUTE, nlh, rule_cb, b);
}

/* --- IPsec --- */

static int policy_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct xfrm_userpolicy_info *p = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == XFRM_MSG_NEWPOLICY &&
	    (p->dir == XFRM_POLICY_FWD || p->dir == XFRM_POLICY_OUT))
		(*(int *)data)++;
	return MNL_CB_OK;
}

static void scan_xfrm(struct bypass *b)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int n = 0;

	if (would_load("xfrm_user"))
		return; /* no policy can have come through it */
	nlh->nlmsg_type = XFRM_MSG_GETPOLICY;
	dump(NETLINK_XFRM, nlh, policy_cb, &n);
	if (n)
		add(b, "%d IPsec (xfrm) forward or output policies: flowpin's flows skip them, unencrypted and unchecked",
		    n);
}

/* --- nftables --- */

struct chain {
	__u8 family;
	char table[64], name[64], type[16];
	int hook;	/* NF_INET_*, -1: not a base chain */
	bool drop;	/* policy drop */
	int rules;
};

struct chains {
	struct chain c[MAX_CHAINS];
	int n;
};

static void put_nft_header(struct nlmsghdr *nlh, int msg)
{
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_UNSPEC;
	nfg->version = NFNETLINK_V0;
}

static void copy_str(char *dst, size_t len, const struct nlattr *a)
{
	if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
		snprintf(dst, len, "%s", mnl_attr_get_str(a));
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct chains *cs = data;
	const struct nlattr *a, *h;
	struct chain *c;

	if (cs->n == MAX_CHAINS)
		return MNL_CB_OK;
	c = &cs->c[cs->n];
	memset(c, 0, sizeof(*c));
	c->family = nfg->nfgen_family;
	c->hook = -1;
	mnl_attr_for_each(a, nlh, sizeof(*nfg)) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_CHAIN_TABLE:
			copy_str(c->table, sizeof(c->table), a);
			break;
		case NFTA_CHAIN_NAME:
			copy_str(c->name, sizeof(c->name), a);
			break;
		case NFTA_CHAIN_TYPE:
			copy_str(c->type, sizeof(c->type), a);
			break;
		case NFTA_CHAIN_POLICY:
			if (mnl_attr_get_payload_len(a) == 4)
				c->drop = ntohl(mnl_attr_get_u32(a)) == NF_DROP;
			break;
		case NFTA_CHAIN_HOOK:
			mnl_attr_for_each_nested(h, a)
				if (mnl_attr_get_type(h) == NFTA_HOOK_HOOKNUM &&
				    mnl_attr_get_payload_len(h) == 4)
					c->hook = ntohl(mnl_attr_get_u32(h));
			break;
		}
	}
	cs->n++;
	return MNL_CB_OK;
}

static int rule_count_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	char table[64] = "", chain[64] = "";
	struct chains *cs = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*nfg)) {
		if (mnl_attr_get_type(a) == NFTA_RULE_TABLE)
			copy_str(table, sizeof(table), a);
		else if (mnl_attr_get_type(a) == NFTA_RULE_CHAIN)
			copy_str(chain, sizeof(chain), a);
	}
	for (int i = 0; i < cs->n; i++)
		if (cs->c[i].family == nfg->nfgen_family &&
		    !strcmp(cs->c[i].table, table) && !strcmp(cs->c[i].name, chain))
			cs->c[i].rules++;
	return MNL_CB_OK;
}

static const char *family_name(__u8 f)
{
	return f == NFPROTO_IPV4 ? "ip" : f == NFPROTO_IPV6 ? "ip6" :
	       f == NFPROTO_INET ? "inet" : NULL;
}

static void scan_nftables(struct bypass *b)
{
	struct chains *cs;
	char buf[256];
	struct nlmsghdr *nlh;

	if (would_load("nf_tables"))
		return;
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return;
	nlh = mnl_nlmsg_put_header(buf);
	put_nft_header(nlh, NFT_MSG_GETCHAIN);
	if (dump(NETLINK_NETFILTER, nlh, chain_cb, cs))
		goto out;
	nlh = mnl_nlmsg_put_header(buf);
	put_nft_header(nlh, NFT_MSG_GETRULE);
	if (dump(NETLINK_NETFILTER, nlh, rule_count_cb, cs))
		goto out;
	for (int i = 0; i < cs->n; i++) {
		const struct chain *c = &cs->c[i];
		const char *fam = family_name(c->family);

		if (!fam || c->hook < 0)
			continue;
		if (!strcmp(c->type, "nat") && c->rules &&
		    (c->hook == NF_INET_PRE_ROUTING ||
		     c->hook == NF_INET_POST_ROUTING)) {
			b->nat = true;
			add(b, "nftables NAT chain '%s %s %s' has %d rules: flowpin forwards its flows without NAT",
			    fam, c->table, c->name, c->rules);
		} else if (!strcmp(c->type, "filter") &&
			   c->hook == NF_INET_FORWARD && (c->rules || c->drop)) {
			add(b, "nftables chain '%s %s %s' (%d rules%s) filters forwarded packets: flowpin's flows skip it, conntrack too",
			    fam, c->table, c->name, c->rules,
			    c->drop ? ", policy drop" : "");
		}
	}
out:
	free(cs);
}

/* --- iptables-legacy --- */

/* Table names of ip_tables / ip6_tables: what the legacy tools made. */
static void scan_legacy(const char *proc, const char *tool, struct bypass *b)
{
	char line[64];
	FILE *f = fopen(proc, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		/* rules are not counted: that needs CAP_NET_RAW */
		if (!strcmp(line, "nat") || !strcmp(line, "filter"))
			add(b, "%s's %s table is in use: flowpin's flows skip its %s rules, if it has any",
			    tool, line, line[0] == 'n' ? "NAT" : "FORWARD");
	}
	fclose(f);
}

void bypass_scan(char *const *ports, int n_ports, struct bypass *b)
{
	memset(b, 0, sizeof(*b));
	scan_rp_filter(ports, n_ports, b);
	scan_rules(b);
	scan_xfrm(b);
	scan_nftables(b);
	scan_legacy("/proc/net/ip_tables_names", "iptables-legacy", b);
	scan_legacy("/proc/net/ip6_tables_names", "ip6tables-legacy", b);
}

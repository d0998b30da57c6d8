// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowpinctl.h"
#include "peers_text.h"

static int nexthop_view_select(struct nexthop_view *v,
			       const struct fp_addr *gw)
{
	char text[ADDR_TEXT_MAX];
	int found = 0;

	v->selected = calloc(v->n, sizeof(*v->selected));
	if (!v->selected)
		return -ENOMEM;
	for (__u32 id = 1; id < v->n; id++) {
		v->selected[id] = v->nh[id].state != NH_UNUSED &&
				  addr_equal(gw, v->nh[id].family, v->nh[id].gw) &&
				  (!gw->ifindex || gw->ifindex == v->nh[id].ifindex);
		found += v->selected[id];
	}
	if (found)
		return 0;
	fprintf(stderr, "flowpinctl: no next hop %s in the next-hop table\n",
		addr_format(gw->family, gw->a, text, sizeof(text)));
	return -ENOENT;
}

static int nexthop_view_load(struct ctl *ctl, struct nexthop_view *v)
{
	int err;

	err = nexthops_read(&ctl->maps, &v->nh, &v->n);
	if (err) {
		fprintf(stderr, "flowpinctl: reading nexthops: %s\n",
			strerror(-err));
		return err;
	}
	v->gw = calloc(v->n, sizeof(*v->gw));
	v->dev = calloc(v->n, sizeof(*v->dev));
	if (!v->gw || !v->dev) {
		nexthop_view_free(v);
		fprintf(stderr, "flowpinctl: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (__u32 id = 1; id < v->n; id++) {
		const struct nexthop *nh = &v->nh[id];

		if (nh->state == NH_UNUSED)
			continue;
		addr_format(nh->family, nh->gw, v->gw[id], sizeof(v->gw[id]));
		if (!if_indextoname(nh->ifindex, v->dev[id]))
			snprintf(v->dev[id], sizeof(v->dev[id]), "if%u",
				 nh->ifindex);
	}
	return 0;
}

int nexthop_view_open(struct ctl *ctl, unsigned int more,
		      const struct fp_addr *gw, struct nexthop_view *v)
{
	int err;

	memset(v, 0, sizeof(*v));
	err = ctl_open(ctl, FP_MAP_BIT(FP_MAP_FLOW_PINS) |
				    FP_MAP_BIT(FP_MAP_NEXTHOPS) | more);
	if (err)
		return err;
	err = nexthop_view_load(ctl, v);
	if (!err && gw)
		err = nexthop_view_select(v, gw);
	if (err)
		nexthop_view_free(v);
	return err;
}

void nexthop_view_free(struct nexthop_view *v)
{
	free(v->nh);
	free(v->gw);
	free(v->dev);
	free(v->selected);
	memset(v, 0, sizeof(*v));
}

const struct nexthop *nexthop_view_pin(const struct nexthop_view *v,
				       const struct flow_pin *pin)
{
	const struct nexthop *nh;

	if (!pin->nh_id || pin->nh_id >= v->n)
		return NULL;
	nh = &v->nh[pin->nh_id];
	if (nh->state == NH_UNUSED || nh->gen != pin->nh_gen)
		return NULL;
	return nh;
}

bool nexthop_view_pin_selected(const struct nexthop_view *v,
			       const struct flow_pin *pin)
{
	return nexthop_view_pin(v, pin) &&
	       (!v->selected || v->selected[pin->nh_id]);
}

const struct table_col flow_cols[FLOW_NCOLS] = {
	{ "PROTO", false },   { "SOURCE", false }, { "DESTINATION", false },
	{ "NEXTHOP", false }, { "DEV", false },	   { "NH_ID", true },
	{ "PIN", false },
};

void flow_row_table(struct table *t, const struct flow_key *key,
		    const struct flow_pin *pin, const struct nexthop_view *v)
{
	const struct nexthop *nh = nexthop_view_pin(v, pin);
	char src[ENDPOINT_TEXT_MAX], dst[ENDPOINT_TEXT_MAX];
	char proto[PROTO_TEXT_MAX];

	table_cell(t, "%s", proto_name(key->proto, proto));
	table_cell(t, "%s", endpoint_format(key, true, src, sizeof(src)));
	table_cell(t, "%s", endpoint_format(key, false, dst, sizeof(dst)));
	table_cell(t, "%s", nh ? v->gw[pin->nh_id] : "-");
	table_cell(t, "%s", nh ? v->dev[pin->nh_id] : "-");
	table_cell(t, "%u", pin->nh_id);
	table_cell(t, "%s", nh ? "valid" : "stale");
}

void flow_row_json(struct json_writer *w, const struct flow_key *key,
		   const struct flow_pin *pin, const struct nexthop_view *v)
{
	const struct nexthop *nh = nexthop_view_pin(v, pin);
	char text[FLOW_TEXT_MAX], proto[PROTO_TEXT_MAX];

	jw_object_start(w);
	jw_string_field(w, "flow", flow_format(key, text, sizeof(text)));
	jw_string_field(w, "family", family_name(key->family));
	jw_string_field(w, "proto", proto_name(key->proto, proto));
	jw_string_field(w, "src", addr_format(key->family, key->saddr, text,
					      sizeof(text)));
	jw_uint_field(w, "sport", ntohs(key->sport));
	jw_string_field(w, "dst", addr_format(key->family, key->daddr, text,
					      sizeof(text)));
	jw_uint_field(w, "dport", ntohs(key->dport));
	jw_uint_field(w, "l3dom", key->l3dom); /* the ingress port's VRF, 0: none */
	jw_uint_field(w, "nh_id", pin->nh_id);
	jw_uint_field(w, "nh_gen", pin->nh_gen);
	jw_bool_field(w, "valid", nh != NULL);
	if (nh) {
		jw_string_field(w, "nexthop", v->gw[pin->nh_id]);
		jw_string_field(w, "dev", v->dev[pin->nh_id]);
		jw_string_field(w, "state", fp_nexthop_state_name(nh->state));
	}
	/* who made it and how (the fleet's rule): null router, this one */
	jw_name(w, "made_by");
	if (pin->router) {
		char id[INET_ADDRSTRLEN];

		jw_string(w, router_id_format(pin->router, id, sizeof(id)));
	} else {
		jw_null(w);
	}
	jw_bool_field(w, "mid_stream", pin->rank & FP_RANK_MID_STREAM);
	jw_uint_field(w, "made_tai_ns", FP_RANK_TIME(pin->rank));
	jw_object_end(w);
}

const char *pin_origin_format(const struct flow_pin *pin, char *buf, size_t len)
{
	char id[INET_ADDRSTRLEN];

	snprintf(buf, len, "made %s%s, %s", pin->router ? "by router " : "here",
		 pin->router ? router_id_format(pin->router, id, sizeof(id)) : "",
		 pin->rank & FP_RANK_MID_STREAM ? "mid-stream" : "from a first packet");
	return buf;
}

// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "log.h"

static const char *log_prog = "flowpin";
static enum log_level log_level = LOG_INFO;

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	fprintf(stderr, "%s: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void log_raw(enum log_level level, const char *fmt, va_list ap)
{
	if (level <= log_level)
		vfprintf(stderr, fmt, ap);
}

/*
 * The libraries' own messages (the verifier log among them) show only with
 * -v: flowpin reports every error itself, once, with its context.
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	log_raw(level == LIBBPF_DEBUG ? LOG_TRACE : LOG_DEBUG, fmt, ap);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt,
			va_list ap)
{
	log_raw(level == LIBXDP_DEBUG ? LOG_TRACE : LOG_DEBUG, fmt, ap);
	return 0;
}

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level = level;
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}

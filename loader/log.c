// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "log.h"

static const char *log_prog = "flowpin";
static enum log_level log_level = LOG_INFO;
static bool to_journal;

/* syslog priorities, as sd-daemon(3)'s SD_WARNING, SD_INFO, SD_DEBUG */
static const int journal_prio[] = {
	[LOG_WARN] = 4, [LOG_INFO] = 6, [LOG_DEBUG] = 7, [LOG_TRACE] = 7,
};

/*
 * systemd connects stderr to the journal and names that stream in
 * JOURNAL_STREAM (device:inode): lines then carry their priority as a
 * "<N>" prefix, and the journal already names the program.
 */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	       !fstat(STDERR_FILENO, &st) && st.st_dev == (dev_t)dev &&
	       st.st_ino == (ino_t)ino;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	if (to_journal)
		fprintf(stderr, "<%d>", journal_prio[level]);
	else
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
	to_journal = stderr_is_journal();
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Levelled logging to stderr; libbpf's and libxdp's messages go through it. */
#ifndef FLOWPIN_LOG_H
#define FLOWPIN_LOG_H

enum log_level { LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

void log_init(const char *prog, enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

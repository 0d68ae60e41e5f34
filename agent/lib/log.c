// SPDX-License-Identifier: GPL-2.0
/* Structured key=value logging on stderr; see log.h. */
#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_threshold = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

int log_level_parse(const char *name, enum log_level *ret)
{
	for (unsigned int i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
		if (!strcmp(name, log_level_names[i])) {
			*ret = i;
			return 0;
		}
	}
	if (!strcmp(name, "warning")) {
		*ret = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned int)level >= sizeof(log_level_names) / sizeof(log_level_names[0]))
		return "unknown";
	return log_level_names[level];
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, level);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load(&log_threshold);
}

/* Append @msg to @out as the contents of a double-quoted logfmt value. */
static size_t append_quoted(char *out, size_t pos, size_t size, const char *msg)
{
	for (; *msg && pos + 3 < size; msg++) {
		char c = *msg;

		if (c == '"' || c == '\\') {
			out[pos++] = '\\';
			out[pos++] = c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			out[pos++] = ' ';
		} else {
			out[pos++] = c;
		}
	}
	return pos;
}

void log_write(enum log_level level, const char *msg, const char *fields_fmt, ...)
{
	char line[2048];
	size_t pos;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	pos = (size_t)snprintf(line, sizeof(line), "level=%s msg=\"", log_level_name(level));
	/* The message may use all but 64 bytes; the fields get what is left. */
	pos = append_quoted(line, pos, sizeof(line) - 64, msg ? msg : "");
	line[pos++] = '"';
	if (fields_fmt && *fields_fmt) {
		size_t avail;

		line[pos++] = ' ';
		avail = sizeof(line) - pos - 1; /* keep one byte for the newline */
		va_start(ap, fields_fmt);
		n = vsnprintf(line + pos, avail, fields_fmt, ap);
		va_end(ap);
		if (n > 0)
			pos += (size_t)n < avail ? (size_t)n : avail - 1;
	}
	line[pos++] = '\n';
	/* One write(2) per line: atomic with respect to other threads' lines. */
	if (write(STDERR_FILENO, line, pos) < 0)
		return;
}

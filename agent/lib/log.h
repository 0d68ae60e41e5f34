/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Structured logging for top-level code (main, CSI handlers): one line per
 * event on stderr, `level=info msg="serving" endpoint=unix:///csi/csi.sock`.
 * Library code under agent/lib returns -errno and never logs.
 */
#ifndef ATOMBLK_LOG_H
#define ATOMBLK_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* log_level_parse() - "debug", "info", "warn"/"warning" or "error"; -EINVAL otherwise. */
int log_level_parse(const char *name, enum log_level *ret);
const char *log_level_name(enum log_level level);

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/*
 * log_write() - emit `level=L msg="MSG" FIELDS` as one line (one write, so
 * lines from different threads never interleave).
 * @msg: human text; quotes and backslashes are escaped, newlines replaced.
 * @fields_fmt: printf format for the key=value fields, or NULL. Values that
 *	may hold spaces should be quoted by the caller ("path=\"%s\"").
 */
void log_write(enum log_level level, const char *msg, const char *fields_fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_write(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_write(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_LEVEL_ERROR, msg, __VA_ARGS__)

#endif

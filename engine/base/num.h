/* num: the one range-checked number parser of every layer, for options,
 * configuration values and anything else a person or a program typed.
 *
 * Each takes the whole string (surrounding spaces allowed, nothing else
 * after the number), refuses overflow, NaN and infinities, checks the range
 * and, on failure, says what was wrong: "--epochs: 'ten' is not a whole
 * number" or "--lr: 7 is out of range (0 to 1)". `what` names the value in
 * that message (an option, a key). */
#ifndef GEVO_BASE_NUM_H
#define GEVO_BASE_NUM_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"

int num_long(const char *s, long lo, long hi, long *out, const char *what, gerr *err);
int num_int(const char *s, int lo, int hi, int *out, const char *what, gerr *err);
int num_double(const char *s, double lo, double hi, double *out, const char *what, gerr *err);
/* true/false, yes/no, on/off, 1/0 (any case). */
int num_bool(const char *s, bool *out, const char *what, gerr *err);
/* A byte count: a whole number with an optional K, M, G or T (powers of
 * 1024, optionally followed by "B" or "iB"), "512M", "2G", "1.5GiB". */
int num_bytes(const char *s, double lo, double hi, double *out, const char *what, gerr *err);
/* A byte count for people, the way num_bytes reads it back: "16.4 GiB",
 * "570.0 MiB", "12 KiB". */
void num_bytes_format(double bytes, char *buf, size_t size);

#endif

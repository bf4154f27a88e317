/* gerr: the one error convention of every layer.
 *
 * A function that can fail takes a `gerr *err` (last, or after its out
 * parameters), returns 0 (or a count, or a pointer) on success and -1 (or
 * NULL) on failure, and on failure leaves a message a person can act on in
 * err->msg: what failed and where ("data/x.npy: header: fortran_order is
 * not supported"). Library code never prints and never exits; only a front
 * end decides what to show and which status to exit with.
 *
 * err may be NULL when the caller does not want the message. Errors that
 * carry more than a message extend the struct by putting a gerr first
 * (net_error does: a line and column, the source line, a hint), so
 * &ne.base can be passed wherever a gerr * is taken. */
#ifndef GEVO_BASE_ERROR_H
#define GEVO_BASE_ERROR_H

#include <stddef.h>

#define GERR_MSG_MAX 1024

typedef struct gerr {
    char msg[GERR_MSG_MAX]; /* "" when nothing failed */
} gerr;

#define GERR_INIT \
    {             \
        {         \
            0     \
        }         \
    }

/* Sets the message (cut to fit) and returns -1, so that
 * `return gerr_set(err, "...", ...);` is a failing return. */
int gerr_set(gerr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, with ": strerror(errno)" appended (errno as it was on entry). */
int gerr_errno(gerr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Puts "context: " in front of the message already there (a caller adding
 * where it was when a callee failed). Returns -1. */
int gerr_prefix(gerr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies src's message into err (either may be NULL). Returns -1. */
int gerr_copy(gerr *err, const gerr *src);
void gerr_clear(gerr *err);
/* The message, or "" for NULL. */
const char *gerr_msg(const gerr *err);

#endif

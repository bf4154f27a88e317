/* npz: a stored (uncompressed) zip of .npy files, as numpy.savez writes.
 * Formats: the .npy format version 1.0 (numpy/lib/format.py) and the zip
 * local header, central directory and end record (PKWARE APPNOTE 4.3). */
#include "core/npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/base/grow.h"
#include "engine/base/strbuf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npz.c writes the host's floats as little-endian"
#endif

struct npz_entry {
    char *name; /* "conv.weight.npy" */
    uint32_t crc, size, offset;
};

enum {
    ZIP_LOCAL = 0x04034b50,
    ZIP_CENTRAL = 0x02014b50,
    ZIP_END = 0x06054b50,
    ZIP_VERSION = 20,   /* 2.0: stored files */
    ZIP_DATE = 0x21,    /* 1980-01-01: the archive does not depend on the clock */
    ZIP_MAX = 0xfffffff /* keep well inside 32-bit offsets */
};

static void put16(strbuf *b, unsigned v)
{
    unsigned char c[2] = {v & 0xff, (v >> 8) & 0xff};
    strbuf_add(b, c, 2);
}

static void put32(strbuf *b, uint32_t v)
{
    unsigned char c[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    strbuf_add(b, c, 4);
}

static void fail(npz_writer *w, const char *fmt, const char *arg)
{
    if (!w->err.msg[0])
        gerr_set(&w->err, fmt, arg);
}

int npz_open(npz_writer *w, const char *path, gerr *err)
{
    memset(w, 0, sizeof *w);
    return out_file_open(&w->out, path, err);
}

static void write_bytes(npz_writer *w, const void *p, size_t n)
{
    if (w->err.msg[0])
        return;
    if (n > ZIP_MAX - w->offset) {
        fail(w, "%s: the archive would pass 256 MiB", w->out.path);
        return;
    }
    if (fwrite(p, 1, n, w->out.f) != n) {
        fail(w, "%s: write error", w->out.path);
        return;
    }
    w->offset += (uint32_t)n;
}

/* What a member's local header and its central directory entry both say
 * (ZIP's APPNOTE 4.3.7 and 4.3.12, from "version needed" to the extra
 * field's length): stored, no flags, a fixed date. */
static void put_member(strbuf *b, const npz_entry *e)
{
    put16(b, ZIP_VERSION); /* needed */
    put16(b, 0);           /* flags */
    put16(b, 0);           /* stored */
    put16(b, 0);           /* time */
    put16(b, ZIP_DATE);
    put32(b, e->crc);
    put32(b, e->size); /* compressed */
    put32(b, e->size);
    put16(b, (unsigned)strlen(e->name));
    put16(b, 0); /* extra */
}

/* One .npy member: header text, then the data. */
static void add_array(npz_writer *w, const char *name, const char *descr, const long *shape,
                      int ndim, const void *data, size_t bytes)
{
    if (w->err.msg[0])
        return;
    if (w->n >= 65535) {
        fail(w, "%s: more than 65535 arrays", w->out.path);
        return;
    }
    strbuf hdr = STRBUF_INIT;
    strbuf_addf(&hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++)
        strbuf_addf(&hdr, "%s%ld", i ? ", " : "", shape[i]);
    if (ndim == 1)
        strbuf_addch(&hdr, ','); /* (3,): a tuple, as numpy writes it */
    strbuf_addstr(&hdr, "), }");
    /* numpy pads the header with spaces and a newline so the data starts
       on a 64-byte boundary */
    size_t total = 10 + hdr.len + 1;
    while (total % 64) {
        strbuf_addch(&hdr, ' ');
        total++;
    }
    strbuf_addch(&hdr, '\n');
    strbuf npy = STRBUF_INIT;
    strbuf_add(&npy, "\x93NUMPY\x01\x00", 8);
    put16(&npy, (unsigned)hdr.len);
    strbuf_add(&npy, hdr.buf, hdr.len);
    strbuf_release(&hdr);
    strbuf member = STRBUF_INIT;
    strbuf_addf(&member, "%s.npy", name);
    if (npy.failed || member.failed || ALLOC_GROW(w->entries, w->n + 1, w->alloc) ||
        bytes > ZIP_MAX) {
        strbuf_release(&npy);
        strbuf_release(&member);
        fail(w, "%s: out of memory", w->out.path);
        return;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)npy.buf, (uInt)npy.len);
    if (bytes)
        crc = crc32(crc, (const Bytef *)data, (uInt)bytes);
    npz_entry *e = &w->entries[w->n++];
    e->name = strbuf_detach(&member, NULL);
    e->crc = (uint32_t)crc;
    e->size = (uint32_t)(npy.len + bytes);
    e->offset = w->offset;
    strbuf lh = STRBUF_INIT;
    put32(&lh, ZIP_LOCAL);
    put_member(&lh, e);
    strbuf_addstr(&lh, e->name);
    if (lh.failed)
        fail(w, "%s: out of memory", w->out.path);
    write_bytes(w, lh.buf, lh.len);
    write_bytes(w, npy.buf, npy.len);
    write_bytes(w, data, bytes);
    strbuf_release(&lh);
    strbuf_release(&npy);
}

void npz_add_f32(npz_writer *w, const char *name, const long *shape, int ndim, const float *data)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || !size_mul(n, (size_t)shape[i], &n)) {
            fail(w, "%s: bad shape", name);
            return;
        }
    if (!size_mul(n, sizeof(float), &n)) {
        fail(w, "%s: bad shape", name);
        return;
    }
    add_array(w, name, "<f4", shape, ndim, data, n);
}

void npz_add_i64(npz_writer *w, const char *name, int64_t value)
{
    add_array(w, name, "<i8", NULL, 0, &value, sizeof value);
}

int npz_close(npz_writer *w, gerr *err)
{
    strbuf cd = STRBUF_INIT;
    for (size_t i = 0; i < w->n; i++) {
        const npz_entry *e = &w->entries[i];
        put32(&cd, ZIP_CENTRAL);
        put16(&cd, ZIP_VERSION); /* made by */
        put_member(&cd, e);
        put16(&cd, 0); /* comment */
        put16(&cd, 0); /* disk */
        put16(&cd, 0); /* internal attributes */
        put32(&cd, 0); /* external attributes */
        put32(&cd, e->offset);
        strbuf_addstr(&cd, e->name);
    }
    uint32_t cd_offset = w->offset, cd_size = (uint32_t)cd.len;
    put32(&cd, ZIP_END);
    put16(&cd, 0);
    put16(&cd, 0);
    put16(&cd, (unsigned)w->n);
    put16(&cd, (unsigned)w->n);
    put32(&cd, cd_size);
    put32(&cd, cd_offset);
    put16(&cd, 0);
    if (cd.failed)
        fail(w, "%s: out of memory", w->out.path);
    write_bytes(w, cd.buf, cd.len);
    strbuf_release(&cd);
    for (size_t i = 0; i < w->n; i++)
        free(w->entries[i].name);
    free(w->entries);
    w->entries = NULL;
    w->n = w->alloc = 0;
    if (w->err.msg[0]) {
        out_file_abort(&w->out);
        return gerr_copy(err, &w->err);
    }
    return out_file_commit(&w->out, err);
}

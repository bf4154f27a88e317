/* CIFAR-10 binary: data_batch_1.bin ... data_batch_5.bin and
 * test_batch.bin (in the folder or in its cifar-10-batches-bin/), records
 * of 1 label byte and 3x32x32 bytes (red, green, blue planes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/data_internal.h"

#define CIFAR_IMAGE  3072
#define CIFAR_RECORD (1 + CIFAR_IMAGE)

bool data_cifar_detect(const char *dir, char *base, size_t n)
{
    const char *const sub[] = {"", "/cifar-10-batches-bin"};
    for (int i = 0; i < 2; i++) {
        char probe[4200];
        int r = snprintf(base, n, "%s%s", dir, sub[i]);
        if (r < 0 || (size_t)r >= n)
            continue;
        snprintf(probe, sizeof probe, "%s/data_batch_1.bin", base);
        if (data_is_file(probe))
            return true;
    }
    return false;
}

int data_cifar_scan(data_scan *s, const char *base, gerr *err)
{
    char p[4200];
    for (int i = 1; i <= 5; i++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", base, i);
        if (data_is_file(p) && data_scan_add(s, p, SPLIT_TRAIN, -1, false, NULL, err))
            return -1;
    }
    snprintf(p, sizeof p, "%s/test_batch.bin", base);
    if (!data_is_file(p))
        return gerr_set(err, "%s: missing (CIFAR-10's test batch)", p);
    return data_scan_add(s, p, SPLIT_TEST, -1, false, NULL, err);
}

int data_cifar_decode(const data_scan *s, const data_opts *o, data_builder *b, gerr *err)
{
    long n[SPLITS] = {0};
    for (size_t i = 0; i < s->n_files; i++) {
        struct stat st;
        const char *p = s->files[i].path;
        if (stat(p, &st) != 0)
            return gerr_errno(err, "%s", p);
        if (st.st_size == 0 || st.st_size % CIFAR_RECORD)
            return gerr_set(err, "%s: size %lld is not a multiple of CIFAR-10's %d-byte records", p,
                            (long long)st.st_size, CIFAR_RECORD);
        n[s->files[i].split] += (long)(st.st_size / CIFAR_RECORD);
    }
    if (data_builder_begin(b, o, 3, 32, 32, n, NULL, 0, err))
        return -1;
    uint8_t rec[CIFAR_RECORD];
    long k[SPLITS] = {0};
    for (size_t i = 0; i < s->n_files; i++) {
        const data_file *df = &s->files[i];
        FILE *f = fopen(df->path, "rb");
        if (!f)
            return gerr_errno(err, "%s: cannot open", df->path);
        long r = 0;
        while (fread(rec, 1, CIFAR_RECORD, f) == CIFAR_RECORD && k[df->split] < n[df->split]) {
            if (rec[0] > 9) {
                gerr_set(err, "%s: record %ld has label %d, outside 0..9", df->path, r, rec[0]);
                fclose(f);
                return -1;
            }
            data_builder_put(b, df->split, k[df->split]++, rec + 1, 32, 32, rec[0]);
            r++;
        }
        fclose(f);
    }
    for (int sp = 0; sp < SPLITS; sp++)
        if (k[sp] != n[sp])
            return gerr_set(err, "%s: the CIFAR-10 files changed while being read", s->dir);
    return 0;
}

/* newsession: see newsession.h. */
#include "core/newsession.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/datadir.h"
#include "engine/data.h"
#include "engine/net.h"

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int newsession_create(session **out, const char *dir, const newsession_opts *o,
                      newsession_info *info, gerr *err)
{
    newsession_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    *out = NULL;
    char msg[1024];
    char *seed = o && o->seed ? strdup(o->seed) : datadir_find("nets", "quick.net", err);
    if (!seed)
        return o && o->seed ? gerr_set(err, "out of memory") : gerr_prefix(err, "the default seed");
    snprintf(info->seed, sizeof info->seed, "%s", seed);
    net_graph *g = NULL;
    if (net_compile_file(seed, NULL, &g, &info->seed_error) != 0) {
        info->seed_invalid = true;
        net_error_string(&info->seed_error, msg, sizeof msg);
        free(seed);
        return gerr_set(err, "the seed network does not compile: %s", msg);
    }
    info->params = g->params;
    info->flops = g->flops;
    info->input = g->input;
    net_graph_free(g);
    const char *data = o && o->data ? o->data : DATA_DEFAULT_DIR;
    if (o && o->data && !is_dir(data)) {
        free(seed);
        return gerr_set(err, "the data folder %s does not exist", data);
    }
    snprintf(info->data, sizeof info->data, "%s", data);
    info->data_missing = !is_dir(data);
    const data_opts *dopts = o ? o->data_opts : NULL;
    if (!info->data_missing) {
        data_source d;
        gerr derr = GERR_INIT;
        if (data_load(&d, data, dopts, &derr) == 0) {
            int rc =
                data_check_input(&d, data, seed, info->input.c, info->input.h, info->input.w, err);
            snprintf(info->data_shape, sizeof info->data_shape,
                     "%d training images of %dx%dx%d, %d classes", d.train.n, d.train.c, d.train.h,
                     d.train.w, d.classes);
            data_release(&d);
            if (rc) {
                free(seed);
                return gerr_prefix(err, "the seed does not fit the data");
            }
        } else {
            snprintf(info->data_note, sizeof info->data_note, "%s", derr.msg);
        }
    }
    char *prompts = datadir_dir("prompts", NULL); /* none is fine */
    session_create_opts so = {.seed_path = seed,
                              .data_dir = data,
                              .prompts_dir = prompts,
                              .preset = o ? o->preset : NULL};
    int rc = session_create(out, dir, &so, err);
    if (rc == 0 && dopts && dopts->resize_h) {
        char rs[32];
        snprintf(rs, sizeof rs, "%dx%d", dopts->resize_h, dopts->resize_w);
        rc = session_config_set(*out, "resize", rs, err);
        if (rc)
            session_close(*out);
    }
    free(prompts);
    free(seed);
    if (rc != 0)
        *out = NULL;
    return rc;
}

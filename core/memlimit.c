/* memlimit: see memlimit.h. */
#include "core/memlimit.h"

#include <stdio.h>
#include <string.h>

#include "core/evaluator.h"
#include "engine/base/num.h"
#include "engine/data.h"
#include "engine/train.h"

/* The training images a worker's `gevo train --subset N` will use: counted
 * in the data as the trainer counts them, or the subset (an upper bound)
 * when the data cannot be read here. */
static long training_images(session *s, const char *dir, int subset)
{
    data_opts dopts = DATA_OPTS_INIT;
    const char *resize = session_config_get(s, "resize");
    /* the workers' cache, not another decoded copy */
    if (resize && resize[0] && data_parse_size(resize, &dopts.resize_h, &dopts.resize_w, NULL))
        dopts.resize_h = dopts.resize_w = 0;
    data_source d;
    if (data_load(&d, dir, &dopts, NULL))
        return subset > 0 ? subset : 0;
    train_opts to;
    train_opts_default(&to);
    long n = data_split_count(&d.train, &d.val, to.val_frac, subset);
    data_release(&d);
    return n;
}

int memlimit_for_session(memlimit *ml, session *s, const memlimit_opts *o, gerr *err)
{
    memset(ml, 0, sizeof *ml);
    int slots = o->slots > 0 ? o->slots : EVALUATOR_DEFAULT_SLOTS;
    double machine = train_default_memory_limit(); /* half of MemTotal, 0 unknown */
    const char *text = o->max_memory, *what = "--max-memory";
    if (!text) {
        text = session_config_get(s, "max_memory");
        what = "gevo.json max_memory";
    }
    if (text && text[0]) {
        if (num_bytes(text, 0, 1e18, &ml->limit, what, err))
            return -1;
        snprintf(ml->what, sizeof ml->what, "%s", what);
        /* a limit given by the researcher is theirs to keep: the trainings
           at once may need the larger of it and half of the machine */
        if (ml->limit > 0)
            ml->budget = ml->limit > machine ? ml->limit : machine;
    } else {
        ml->limit = machine / slots;
        ml->budget = machine;
        snprintf(ml->what, sizeof ml->what,
                 "half of the machine's memory over %d slot%s; --max-memory or gevo.json "
                 "max_memory sets it",
                 slots, slots == 1 ? "" : "s");
    }
    const char *dir = o->data_dir ? o->data_dir : session_config_get(s, "data");
    ml->images = training_images(s, dir && dir[0] ? dir : DATA_DEFAULT_DIR, o->subset);
    ml->epochs = o->epochs;
    ml->threads = o->threads > 0 ? o->threads : EVALUATOR_DEFAULT_THREADS;
    return 0;
}

int memlimit_plan(const memlimit *ml, const net_graph *g, train_memory *mem, gerr *err)
{
    net_train t = g->train;
    if (ml->epochs > 0)
        t.epochs = ml->epochs;
    /* no --eval-batch for the workers: evaluation runs at the batch */
    return train_plan(g, &t, ml->images, 0, ml->threads, mem, err);
}

int memlimit_check(const memlimit *ml, const net_graph *g, gerr *err)
{
    if (!ml || !(ml->limit > 0))
        return 0;
    train_memory mem;
    gerr e = GERR_INIT;
    if (memlimit_plan(ml, g, &mem, &e))
        return gerr_set(err, "the network's training memory cannot be planned: %s", e.msg);
    if (train_check_memory(&mem, ml->limit, ml->what, &e) == 0)
        return 0;
    char capped[160] = "";
    if (g->train.batch > mem.batch && mem.batch > 0)
        snprintf(capped, sizeof capped,
                 " (the train line's batch=%d, capped at the %ld training images)", g->train.batch,
                 ml->images);
    return gerr_set(err,
                    "the network compiles, but its training %s%s; use a smaller batch (batch= "
                    "in the train line) or a smaller network",
                    e.msg, capped);
}

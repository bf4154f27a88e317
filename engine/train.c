/* The training loop, optimisers and schedules. */
#include "engine/train.h"
#include "engine/base/clock.h"
#include "engine/base/grow.h"
#include "engine/base/num.h"
#include "engine/ops_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>

const char *train_status_name(train_status s)
{
    switch (s) {
    case TRAIN_OK: return "ok";
    case TRAIN_DIVERGED: return "diverged";
    case TRAIN_TIMEOUT: return "timeout";
    case TRAIN_STOPPED: return "stopped";
    case TRAIN_ERROR: return "error";
    }
    return "error";
}

void train_opts_default(train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->val_frac = 0.1;
    o->threads = 2;
    o->progress_every = 0.5;
}

void train_result_release(train_result *r)
{
    free(r->epochs);
    r->epochs = NULL;
    r->n_epochs = 0;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

double train_lr_at(const net_train *t, long step, long total, int epoch, double plateau_scale)
{
    double lr = t->lr;
    switch (t->schedule) {
    case NET_SCHED_CONSTANT: break;
    case NET_SCHED_STEP:
        lr = t->lr * pow(t->gamma, (double)(epoch / (t->step_size > 0 ? t->step_size : 1)));
        break;
    case NET_SCHED_COSINE:
        if (total > 0)
            lr = t->min_lr +
                 (t->lr - t->min_lr) * 0.5 * (1.0 + cos(M_PI * (double)step / (double)total));
        break;
    case NET_SCHED_PLATEAU:
        lr = t->lr * plateau_scale;
        if (lr < t->min_lr)
            lr = t->min_lr;
        break;
    }
    if (t->warmup > 0 && step < t->warmup)
        lr *= (double)(step + 1) / (double)t->warmup;
    return lr;
}

int train_evaluate(model *m, const data_view *v, const float *mean, const float *std,
                   int eval_batch, double *acc, double *loss, gerr *err)
{
    int B = eval_batch > 0 && eval_batch <= m->batch ? eval_batch : m->batch;
    int *order = malloc(sizeof(int) * (size_t)B);
    if (!order)
        return gerr_set(err, "out of memory");
    double sum_loss = 0;
    long correct = 0;
    for (int start = 0; start < v->n; start += B) {
        int n = v->n - start < B ? v->n - start : B;
        for (int i = 0; i < n; i++)
            order[i] = start + i;
        data_batch(v, order, n, mean, std, NULL, NULL, model_input(m), m->labels);
        model_forward(m, n, false);
        float l;
        int c;
        if (model_loss(m, n, m->labels, 0.0f, false, &l, &c, err)) {
            free(order);
            return -1;
        }
        sum_loss += (double)l * n;
        correct += c;
    }
    free(order);
    *acc = v->n ? (double)correct / v->n : 0;
    *loss = v->n ? sum_loss / v->n : 0;
    return 0;
}

/* The optimisers' element-wise updates, split over the threads by ranges
 * (each element's formula is the same wherever it falls: the same
 * numbers for any number of threads) and vectorised (O3, AVX2 clone). */
typedef struct opt_args {
    const net_train *t;
    float *w, *g, *s0, *s1; /* parameters, gradients, optimiser state */
    float lr, mu, b1, b2, eps, step_size, rc2;
} opt_args;

#pragma GCC push_options
#pragma GCC optimize("O3")

OPS_CLONES static void sgd_range(void *ctx, long lo, long hi)
{
    const opt_args *a = ctx;
    float *restrict w = a->w, *restrict buf = a->s0;
    const float *restrict g = a->g;
    float flr = a->lr, mu = a->mu;
    if (mu > 0 && a->t->nesterov)
        for (long i = lo; i < hi; i++) {
            buf[i] = mu * buf[i] + g[i];
            w[i] -= flr * (g[i] + mu * buf[i]);
        }
    else if (mu > 0)
        for (long i = lo; i < hi; i++) {
            buf[i] = mu * buf[i] + g[i];
            w[i] -= flr * buf[i];
        }
    else
        for (long i = lo; i < hi; i++)
            w[i] -= flr * g[i];
}

OPS_CLONES static void adamw_range(void *ctx, long lo, long hi)
{
    const opt_args *a = ctx;
    float *restrict w = a->w, *restrict mo = a->s0, *restrict ve = a->s1;
    const float *restrict g = a->g;
    float b1 = a->b1, b2 = a->b2, eps = a->eps, step_size = a->step_size, rc2 = a->rc2;
    for (long i = lo; i < hi; i++) {
        mo[i] = b1 * mo[i] + (1 - b1) * g[i];
        ve[i] = b2 * ve[i] + (1 - b2) * g[i] * g[i];
        w[i] -= step_size * mo[i] / (sqrtf(ve[i]) * rc2 + eps);
    }
}

/* g[i] += wd * w[i] (SGD) or w[i] *= 1 - lr * wd (AdamW) over [off, off + len) */
static void decay_span(float *restrict w, float *restrict g, long off, long len, float wd, float f)
{
    if (g)
        for (long i = off; i < off + len; i++)
            g[i] += wd * w[i];
    else
        for (long i = off; i < off + len; i++)
            w[i] *= f;
}

#pragma GCC pop_options

/* One optimiser step over the whole parameter slab. state holds the
 * momentum buffer (SGD) or the two moments (AdamW). */
static void optimizer_step(model *m, const net_train *t, double lr, float *state, long step)
{
    long n = m->n_params;
    float *w = m->params, *g = m->grads;
    if (t->clip > 0) {
        double ss = 0;
        for (long i = 0; i < n; i++)
            ss += (double)g[i] * g[i];
        double norm = sqrt(ss);
        if (norm > t->clip) {
            float s = (float)(t->clip / (norm + 1e-6));
            for (long i = 0; i < n; i++)
                g[i] *= s;
        }
    }
    float flr = (float)lr, wd = (float)t->weight_decay;
    bool sgd = t->optimizer == NET_OPT_SGD;
    /* SGD as PyTorch's: weight decay joins the gradient (conv and linear
       weights only), then momentum, then Nesterov's look-ahead; AdamW:
       decoupled weight decay on conv and linear weights */
    if (wd > 0)
        for (int k = 0; k < m->n_decay; k++)
            decay_span(w, sgd ? g : NULL, m->decay[2 * k], m->decay[2 * k + 1], wd,
                       1.0f - flr * wd);
    opt_args a = {.t = t, .w = w, .g = g, .s0 = state, .s1 = state + n, .lr = flr};
    if (sgd) {
        a.mu = (float)t->momentum;
    } else {
        double c1 = 1.0 - pow(t->beta1, (double)(step + 1)),
               c2 = 1.0 - pow(t->beta2, (double)(step + 1));
        a.b1 = (float)t->beta1;
        a.b2 = (float)t->beta2;
        a.eps = (float)t->adam_eps;
        a.step_size = (float)(lr / c1);
        a.rc2 = (float)(1.0 / sqrt(c2));
    }
    ops_par_for(n, n > OPS_PAR_MIN, sgd ? sgd_range : adamw_range, &a);
}

static void emit(const train_opts *o, const train_event *ev)
{
    if (o->on_event)
        o->on_event(o->ctx, ev);
}

/* ---- memory ------------------------------------------------------------ */

/* The trainer's own buffers, as train_run allocates them. */
typedef struct trainer_sizes {
    size_t state, order, epochs; /* bytes */
} trainer_sizes;

static int trainer_sizes_of(long n_params, const net_train *t, long images, trainer_sizes *z)
{
    size_t nstate;
    bool ok = size_mul((size_t)n_params, t->optimizer == NET_OPT_ADAMW ? 2 : 1, &nstate) &&
              size_mul(nstate ? nstate : 1, sizeof(float), &z->state) &&
              size_mul((size_t)images, sizeof(int), &z->order) &&
              size_mul((size_t)t->epochs, sizeof(train_epoch), &z->epochs);
    return ok ? 0 : -1;
}

int train_plan(const net_graph *g, const net_train *t, long images, int eval_batch, int threads,
               train_memory *mem, gerr *err)
{
    memset(mem, 0, sizeof *mem);
    mem->batch = images > 0 && t->batch > images ? (int)images : t->batch;
    mem->model_batch = eval_batch > mem->batch ? eval_batch : mem->batch;
    if (model_plan_bytes(g, mem->model_batch, &mem->model_bytes, err) ||
        model_eval_plan_bytes(g, mem->model_batch, threads, &mem->eval_bytes, err))
        return -1;
    trainer_sizes z;
    if (trainer_sizes_of(g->params, t, images, &z) || !size_add(z.state, z.order, &z.state) ||
        !size_add(z.state, z.epochs, &mem->trainer_bytes) ||
        !size_add(mem->model_bytes, mem->trainer_bytes, &mem->bytes) ||
        !size_add(mem->bytes, mem->eval_bytes, &mem->bytes))
        return gerr_set(err, "the training's memory does not fit in a number");
    return 0;
}

int train_check_memory(const train_memory *mem, double limit, const char *what, gerr *err)
{
    if ((double)mem->bytes <= limit)
        return 0;
    char need[32], have[32];
    num_bytes_format((double)mem->bytes, need, sizeof need);
    num_bytes_format(limit, have, sizeof have);
    return gerr_set(err, "needs %s at batch %d, more than the limit of %s (%s)", need, mem->batch,
                    have, what ? what : "the memory limit");
}

double train_default_memory_limit(void)
{
    struct sysinfo si;
    if (sysinfo(&si) != 0)
        return 0; /* unknown: no limit */
    return (double)si.totalram * si.mem_unit / 2;
}

model *train_model_new(const net_graph *g, net_train *t, const data_set *train, const train_opts *o,
                       train_memory *mem, gerr *err)
{
    long images = data_split_count(train, o->val, o->val_frac, o->subset);
    if (train_plan(g, t, images, o->eval_batch, o->threads, mem, err))
        return NULL;
    if (o->max_memory > 0 && train_check_memory(mem, o->max_memory, o->max_memory_what, err))
        return NULL;
    t->batch = mem->batch;
    return model_new(g, mem->model_batch, (uint64_t)t->seed, err);
}

static bool params_finite(const model *m)
{
    for (long i = 0; i < m->n_params; i++)
        if (!isfinite(m->params[i]))
            return false;
    return true;
}

int train_run(model *m, const net_train *t, const data_set *train, const data_set *test,
              const train_opts *o, train_result *r)
{
    const net_graph *g = m->g;
    double t_setup = clock_seconds();
    memset(r, 0, sizeof *r);
    r->test_acc = r->test_loss = -1;
    r->params = g->params;
    r->flops = g->flops;
    data_view tv = {0}, vv = {0}, testv = {0};
    float *state = NULL;
    int *order = NULL;
    int rc = -1;
    gerr e = GERR_INIT; /* a callee's error, the result's message on failure */
    if (train->c != g->input.c || train->h != g->input.h || train->w != g->input.w) {
        snprintf(r->message, sizeof r->message,
                 "data images are %dx%dx%d but the network expects %dx%dx%d", train->c, train->h,
                 train->w, g->input.c, g->input.h, g->input.w);
        goto fail;
    }
    if (train->classes > g->classes) {
        snprintf(r->message, sizeof r->message, "data has %d classes but the network only %d",
                 train->classes, g->classes);
        goto fail;
    }
    ops_set_threads(o->threads > 0 ? o->threads : 1);
    if (data_split(train, o->val, o->val_frac, o->subset, (uint64_t)t->seed, &tv, &vv)) {
        snprintf(r->message, sizeof r->message, "out of memory splitting the data");
        goto fail;
    }
    if (tv.n < 1) {
        snprintf(r->message, sizeof r->message,
                 "no training images left after the validation split");
        goto fail;
    }
    data_channel_stats(&tv, m->norm_mean, m->norm_std);
    /* a batch larger than the training set is the training set */
    int B = t->batch < m->batch ? t->batch : m->batch;
    B = B < tv.n ? B : tv.n;
    r->batch = B;
    long steps_per_epoch = (tv.n + B - 1) / B;
    long total = steps_per_epoch * t->epochs;
    trainer_sizes z;
    if (trainer_sizes_of(m->n_params, t, tv.n, &z) == 0) {
        state = calloc(1, z.state);
        order = malloc(z.order);
        r->epochs = calloc(1, z.epochs);
    }
    if (!state || !order || !r->epochs) {
        snprintf(r->message, sizeof r->message, "out of memory for the optimiser state");
        goto fail;
    }
    rng shuffle;
    rng_seed(&shuffle, (uint64_t)t->seed * 2654435761u + 17);
    rng augr;
    rng_seed(&augr, (uint64_t)t->seed ^ 0xa06e7ULL);
    data_augment aug = {.flip = t->flip, .crop = t->crop, .pad = t->crop_pad};
    bool augment = t->flip || t->crop;

    train_event ev = {.kind = TRAIN_EV_START,
                      .batch = B,
                      .images = tv.n,
                      .epochs = t->epochs,
                      .steps = total,
                      .lr = train_lr_at(t, 0, total, 0, 1)};
    emit(o, &ev);
    double t0 = clock_seconds(), last_emit = t0, eval_time = 0, batch_time = 0;
    r->setup_seconds = t0 - t_setup;
    double plateau_scale = 1, best_val = -1;
    int since_best = 0;
    long step = 0, steps_at_eval = 0;
    train_status status = TRAIN_OK;
    for (int epoch = 0; epoch < t->epochs && status == TRAIN_OK; epoch++) {
        for (int i = 0; i < tv.n; i++)
            order[i] = i;
        for (int i = tv.n - 1; i > 0; i--) {
            int j = (int)rng_below(&shuffle, (uint64_t)i + 1);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        double sum_loss = 0;
        long seen = 0, correct = 0;
        double lr = 0;
        for (long s = 0; s < steps_per_epoch; s++, step++) {
            if (o->stop && *o->stop) {
                status = TRAIN_STOPPED;
                snprintf(r->message, sizeof r->message, "stopped by a signal at step %ld of %ld",
                         step, total);
                break;
            }
            if (o->time_limit > 0 && clock_seconds() - t0 > o->time_limit) {
                status = TRAIN_TIMEOUT;
                snprintf(r->message, sizeof r->message,
                         "time limit of %.0f s reached at step %ld of %ld", o->time_limit, step,
                         total);
                break;
            }
            int start = (int)(s * B);
            int n = tv.n - start < B ? tv.n - start : B;
            double tb = clock_seconds();
            data_batch(&tv, order + start, n, m->norm_mean, m->norm_std, augment ? &aug : NULL,
                       &augr, model_input(m), m->labels);
            batch_time += clock_seconds() - tb;
            model_forward(m, n, true);
            float loss;
            int c;
            if (model_loss(m, n, m->labels, (float)t->label_smoothing, true, &loss, &c, &e))
                goto fail;
            if (!isfinite(loss)) {
                status = TRAIN_DIVERGED;
                snprintf(r->message, sizeof r->message, "loss became %s at step %ld (epoch %d)",
                         isnan(loss) ? "NaN" : "infinite", step, epoch + 1);
                break;
            }
            lr = train_lr_at(t, step, total, epoch, plateau_scale);
            optimizer_step(m, t, lr, state, step);
            sum_loss += (double)loss * n;
            correct += c;
            seen += n;
            r->images += n;
            r->steps++;
            double tnow = clock_seconds();
            if (tnow - last_emit >= o->progress_every || s == steps_per_epoch - 1) {
                last_emit = tnow;
                double train_secs = tnow - t0 - eval_time;
                ev = (train_event){.kind = TRAIN_EV_STEP,
                                   .epoch = epoch + 1,
                                   .epochs = t->epochs,
                                   .step = step + 1,
                                   .steps = total,
                                   .loss = sum_loss / seen,
                                   .acc = (double)correct / seen,
                                   .lr = lr,
                                   .images_per_sec = train_secs > 0 ? r->images / train_secs : 0,
                                   .elapsed = tnow - t0};
                ev.eta =
                    ev.images_per_sec > 0 ? (double)(total - step - 1) * B / ev.images_per_sec : 0;
                emit(o, &ev);
            }
        }
        if (status == TRAIN_OK && !params_finite(m)) {
            status = TRAIN_DIVERGED;
            snprintf(r->message, sizeof r->message, "parameters became NaN or infinite in epoch %d",
                     epoch + 1);
        }
        if (status == TRAIN_DIVERGED || seen == 0)
            break;
        /* validation after every (possibly partial) epoch */
        double te = clock_seconds();
        train_epoch *E = &r->epochs[r->n_epochs++];
        E->epoch = epoch + 1;
        E->train_loss = sum_loss / seen;
        E->train_acc = (double)correct / seen;
        E->lr = lr;
        if (vv.n > 0) {
            if (train_evaluate(m, &vv, m->norm_mean, m->norm_std, o->eval_batch, &E->val_acc,
                               &E->val_loss, &e))
                goto fail;
        }
        steps_at_eval = r->steps;
        eval_time += clock_seconds() - te;
        E->seconds = clock_seconds() - t0;
        r->val_acc = E->val_acc;
        r->val_loss = E->val_loss;
        if (!isfinite(E->val_loss) && vv.n > 0) {
            status = TRAIN_DIVERGED;
            snprintf(r->message, sizeof r->message, "validation loss is not finite after epoch %d",
                     epoch + 1);
        }
        ev = (train_event){.kind = TRAIN_EV_EPOCH,
                           .epoch = epoch + 1,
                           .epochs = t->epochs,
                           .step = step,
                           .steps = total,
                           .loss = E->train_loss,
                           .acc = E->train_acc,
                           .lr = lr,
                           .elapsed = E->seconds,
                           .epoch_result = E};
        emit(o, &ev);
        if (t->schedule == NET_SCHED_PLATEAU) {
            if (E->val_acc > best_val) {
                best_val = E->val_acc;
                since_best = 0;
            } else if (++since_best > t->patience) {
                plateau_scale *= t->gamma;
                since_best = 0;
            }
        }
    }
    double t_end = clock_seconds();
    r->seconds = t_end - t0;
    double train_secs = r->seconds - eval_time;
    r->batch_seconds = batch_time;
    r->step_seconds = train_secs - batch_time;
    r->images_per_sec = train_secs > 0 ? r->images / train_secs : 0;
    r->status = status;
    if (status == TRAIN_DIVERGED) {
        r->val_acc = 0;
        r->val_loss = INFINITY;
    } else if ((status == TRAIN_TIMEOUT || status == TRAIN_STOPPED) && vv.n > 0 &&
               r->steps > steps_at_eval) {
        /* stopped mid-epoch: the partial result is measured on the weights
           as they are */
        double te = clock_seconds();
        if (train_evaluate(m, &vv, m->norm_mean, m->norm_std, o->eval_batch, &r->val_acc,
                           &r->val_loss, &e)) {
            gerr_prefix(&e, "%s", r->message);
            goto fail;
        }
        eval_time += clock_seconds() - te;
    }
    r->val_seconds = eval_time;
    if (status != TRAIN_DIVERGED && !o->skip_test && test && test->n > 0 &&
        !(o->stop && *o->stop)) {
        ev = (train_event){.kind = TRAIN_EV_EVAL, .what = "test", .elapsed = clock_seconds() - t0};
        emit(o, &ev);
        double tt = clock_seconds();
        if (data_view_all(test, &testv) ||
            train_evaluate(m, &testv, m->norm_mean, m->norm_std, o->eval_batch, &r->test_acc,
                           &r->test_loss, &e))
            goto fail;
        r->test_seconds = clock_seconds() - tt;
    }
    r->peak_rss_mb = peak_rss_mb();
    rc = 0;
    goto done;
fail:
    r->status = TRAIN_ERROR;
    if (e.msg[0])
        snprintf(r->message, sizeof r->message, "%s", e.msg);
    r->peak_rss_mb = peak_rss_mb();
    if (!r->message[0])
        snprintf(r->message, sizeof r->message, "training failed");
done:
    data_view_release(&tv);
    data_view_release(&vv);
    data_view_release(&testv);
    free(state);
    free(order);
    return rc;
}

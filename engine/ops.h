/* The engine's operators: forward and backward kernels over float32 NCHW
 * tensors with explicit shapes (llm.c style). Semantics follow PyTorch
 * unless said otherwise.
 *
 * Conventions:
 * - Tensors are contiguous float arrays, batch first: N x C x H x W. A vector
 *   of F features is F x 1 x 1, so a batch of vectors is N x F.
 * - Weights use PyTorch's layouts: conv [cout][cin/groups][kh][kw],
 *   linear [out][in].
 * - Backward ACCUMULATES (+=) into every gradient it is given (input and
 *   parameters): a tensor may feed several consumers and the trainer zeroes
 *   gradients once per step. A NULL gradient pointer means "not needed" and is
 *   skipped (e.g. the input image, or a layer without bias).
 * - No kernel allocates. Where working memory is needed the kernel takes a
 *   caller-provided `scratch` buffer whose size in floats is given by the
 *   matching *_scratch() function; what forward leaves in it (argmax indices,
 *   batch statistics, the dropout mask) is read by backward, so the same
 *   buffer must be passed to both and left untouched in between (except the
 *   conv buffer, which is pure working memory). Scratch must be suitably
 *   aligned for float (any malloc'd memory is).
 * - Shape structs are filled by the caller and checked by their *_init()
 *   function, which also computes output sizes and returns 0, or -1 with a
 *   message in err. Kernels assume a struct that passed its init.
 * - Forward must not run in place (out == in) for any operator whose
 *   backward reads its input: all of them except add and concat.
 * - Threads: ops_set_threads(n) chooses them. The kernels split their loops
 *   (and their sgemm calls) over n threads of gevo's own pool
 *   (engine/ops_par.c) and OpenBLAS runs single-threaded inside them, so
 *   nothing is oversubscribed. Chunks depend on shapes only: any n gives
 *   the same results, bit for bit. */
#ifndef GEVO_ENGINE_OPS_H
#define GEVO_ENGINE_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"
#include "engine/init.h"

/* ---- threads and BLAS -----------------------------------------------------
 * ops_blas_init() picks OpenBLAS's kernels for this CPU where its own
 * detection fell back to generic ones (SSE3 "Prescott" on CPUs it does not
 * know, 5x slower); once per process, called by ops_set_threads and
 * model_new, and it must run before any other thread calls BLAS. An
 * OPENBLAS_CORETYPE in the environment is left alone. ops_set_threads(n)
 * (1..8) sets the threads of the kernels and of OpenBLAS as said above;
 * until it is called the kernels run on the calling thread. */
void ops_blas_init(void);
void ops_set_threads(int n);
/* Sets n floats to zero, on the threads when it is worth it. */
void ops_zero(float *x, long n);

/* ---- conv2d ------------------------------------------------------------
 * Zero padding, stride and dilation the same on both axes, groups as in
 * PyTorch. Paths: depthwise (groups == cin == cout) at stride 1 vectorised
 * kernels (engine/ops_depthwise.c), strided a direct kernel; 1x1 of 1x1
 * maps one sgemm over the batch;
 * other 1x1 a straight sgemm per image and group; 3x3 at stride 1 of 8
 * channels or more in and out Winograd F(2x2, 3x3) (engine/ops_winograd.c:
 * other rounding; GEVO_NO_WINOGRAD=1 turns it off); otherwise
 * im2col + sgemm per image and group. Work is cut in chunks fixed by the
 * shapes, so the numbers do not depend on the thread count. */
typedef struct ops_conv {
    int n, cin, h, w; /* input */
    int cout, kh, kw, stride, pad_h, pad_w, dilation, groups;
    bool bias;
    /* forward takes the images as one group instead of OPS_MAX_THREADS
       (for a caller that runs the whole pass on one thread: the blocks
       stay as large as the images allow) */
    bool one_group;
    int oh, ow; /* output, set by ops_conv_init */
} ops_conv;

int ops_conv_init(ops_conv *c, gerr *err);
/* Floats of working memory for forward and backward (per-thread columns
 * and per-group weight gradients, or depthwise padded planes); independent
 * of n; 0 for strided depthwise and 1x1 convolutions of 1x1 maps. */
size_t ops_conv_scratch(const ops_conv *c);
/* b is ignored unless c->bias (then it has cout floats). */
void ops_conv_forward(const ops_conv *c, float *out, const float *in, const float *w,
                      const float *b, float *scratch);
/* Input gradients (din here and in every backward below) are added to
 * what the buffer holds, unless `accumulate` is false: then they are
 * stored, whatever the buffer held (the first of several consumers to
 * write a gradient spares its zeroing). Parameter gradients always add. */
void ops_conv_backward(const ops_conv *c, float *din, float *dw, float *db, const float *dout,
                       const float *in, const float *w, float *scratch, bool accumulate);

/* ---- linear ------------------------------------------------------------
 * out[n][o] = sum_i in[n][i] * w[o][i] + b[o]; b may be NULL (no bias). */
void ops_linear_forward(float *out, const float *in, const float *w, const float *b, int n,
                        int in_f, int out_f);
/* accumulate false stores din instead of adding to it (dw, db always add) */
void ops_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int n, int in_f, int out_f, bool accumulate);

/* ---- elementwise activations --------------------------------------------
 * gelu is the exact (erf) form; hswish is PyTorch's hardswish, including
 * its derivative at the break points. Backward reads the input. */
typedef enum ops_act {
    OPS_RELU,
    OPS_SILU,
    OPS_HSWISH,
    OPS_GELU,
    OPS_SIGMOID,
    OPS_TANH
} ops_act;

void ops_act_forward(ops_act a, float *out, const float *in, long size);
void ops_act_backward(ops_act a, float *din, const float *dout, const float *in, long size,
                      bool accumulate);

/* ---- batchnorm2d -------------------------------------------------------
 * Per channel over N x H x W. Training: batch statistics normalise (biased
 * variance) and the running statistics move by momentum (unbiased variance),
 * as PyTorch. Eval: running statistics normalise and stay unchanged.
 * Scratch (ops_bn_scratch) keeps the mean and 1/std forward used, and
 * working memory.
 *
 * With fuse_act, forward writes act(batchnorm(x)) and the normalised values
 * are never stored: the pair's two passes over memory become one, and the
 * model needs no buffer for them. Its backward is ops_bn_act_backward,
 * which recomputes them (the same float operations as forward, so the
 * numbers are those of batchnorm then the activation, bit for bit). */
typedef struct ops_bn {
    int n, c, hw;
    float eps, momentum;
    bool training;
    bool fuse_act;
    ops_act act; /* with fuse_act */
} ops_bn;

int ops_bn_init(const ops_bn *b, gerr *err);
size_t ops_bn_scratch(const ops_bn *b);
void ops_bn_forward(const ops_bn *b, float *out, const float *in, const float *gamma,
                    const float *beta, float *run_mean, float *run_var, float *scratch);
void ops_bn_backward(const ops_bn *b, float *din, float *dgamma, float *dbeta, const float *dout,
                     const float *in, const float *gamma, float *scratch, bool accumulate);
/* The fused pair's backward: dout is the gradient of the activation's
 * output; dy (n*c*hw floats) receives the gradient of the normalised
 * values, on the way to din. */
void ops_bn_act_backward(const ops_bn *b, float *din, float *dgamma, float *dbeta, float *dy,
                         const float *dout, const float *in, const float *gamma, const float *beta,
                         float *scratch, bool accumulate);

/* ---- layernorm ---------------------------------------------------------
 * Normalises over the c channels at each of the hw positions, then applies
 * per-channel gamma and beta (for a c x 1 x 1 vector exactly nn.LayerNorm(c)).
 * Scratch keeps the per-position mean and 1/std (2*n*hw) plus 2*hw floats of
 * working memory. */
typedef struct ops_ln {
    int n, c, hw;
    float eps;
} ops_ln;

int ops_ln_init(const ops_ln *l, gerr *err);
size_t ops_ln_scratch(const ops_ln *l);
void ops_ln_forward(const ops_ln *l, float *out, const float *in, const float *gamma,
                    const float *beta, float *scratch);
void ops_ln_backward(const ops_ln *l, float *din, float *dgamma, float *dbeta, const float *dout,
                     const float *in, const float *gamma, float *scratch);

/* ---- pools ---------------------------------------------------------------
 * Output size as PyTorch: floor or ceil((h + 2*pad - k) / stride) + 1, and in
 * ceil mode a last window that would start in the right padding is dropped.
 * Padding may be at most half the kernel (PyTorch's rule). max pads with
 * -inf, min with +inf (min = -maxpool(-x)); both keep the argmax (first of
 * equal values) per output in scratch and backward routes to it; forward
 * with scratch NULL (evaluation: no backward) writes only the values. avg
 * uses count_include_pad=True with windows clipped at the padded border. */
typedef enum ops_pool_kind {
    OPS_POOL_MAX,
    OPS_POOL_AVG,
    OPS_POOL_MIN
} ops_pool_kind;

typedef struct ops_pool {
    ops_pool_kind kind;
    int n, c, h, w;
    int kh, kw, stride, pad_h, pad_w;
    bool ceil;
    int oh, ow; /* set by ops_pool_init */
} ops_pool;

int ops_pool_init(ops_pool *p, gerr *err);
size_t ops_pool_scratch(const ops_pool *p);
void ops_pool_forward(const ops_pool *p, float *out, const float *in, float *scratch);
void ops_pool_backward(const ops_pool *p, float *din, const float *dout, const float *scratch);
/* Relu then a max or min pool, run as the pool of the relu's input with
 * the relu applied as each extreme is stored (out = best > 0 ? best : 0,
 * OPS_RELU's formula): relu(pool(x)) = pool(relu(x)), relu being
 * non-decreasing (engine/layers.h, layer_pool_relu). scratch as
 * ops_pool_forward's (NULL: no indices). */
void ops_pool_relu_forward(const ops_pool *p, float *out, const float *in, float *scratch);
/* The backward of relu then a max or min pool, run as the pool of the
 * relu's input then the relu (engine/layers.h, layer_pool_relu_trains):
 * out is that forward's output (the relu of the pooled values), scratch
 * its argmax indices. Each output's gradient goes to its argmax where out
 * is positive; din is stored (accumulate false: zero elsewhere) or added
 * to, with the bits of the pair's backward (the relu's din = din or 0,
 * plus its input is positive ? (0 + g) : 0, where the pool's gradient is
 * 0 + g at the argmax, +0 elsewhere: so signed zeros come out as the
 * pair gives them). Windows must not overlap. */
void ops_pool_relu_backward(const ops_pool *p, float *din, const float *dout, const float *out,
                            const float *scratch, bool accumulate);

/* ---- global average pool: planes of hw floats -> one float each ---------- */
void ops_gap_forward(float *out, const float *in, long planes, int hw);
void ops_gap_backward(float *din, const float *dout, long planes, int hw);

/* ---- concat along channels ----------------------------------------------
 * Input i has chans[i] channels of hw floats per image; out has their sum.
 * In backward, dins[i] may be NULL; accumulate[i] false stores into dins[i],
 * NULL accumulate adds to all. */
void ops_concat_forward(float *out, const float *const *ins, const int *chans, int n_in, int n,
                        int hw);
void ops_concat_backward(float *const *dins, const float *dout, const int *chans, int n_in, int n,
                         int hw, const bool *accumulate);

/* ---- add: n_in tensors of the same size ----------------------------------
 * out may be ins[0] (in-place accumulation) but no other input. */
void ops_add_forward(float *out, const float *const *ins, int n_in, long size);
/* accumulate[i] false stores into dins[i]; NULL accumulate adds to all */
void ops_add_backward(float *const *dins, const float *dout, int n_in, long size,
                      const bool *accumulate);

/* ---- mul(a, b) ----------------------------------------------------------
 * a is n x c x hw; b is the same shape, or n x c (x 1 x 1) broadcast over
 * a's positions when broadcast is true (squeeze-excitation). In backward,
 * accumulate[0] (da) and [1] (db) false store instead of adding (NULL: both
 * add); da and db may be one buffer (mul(x, x)) if accumulate[1] is true. */
void ops_mul_forward(float *out, const float *a, const float *b, int n, int c, int hw,
                     bool broadcast);
void ops_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                      int n, int c, int hw, bool broadcast, const bool *accumulate);

/* ---- dropout ------------------------------------------------------------
 * Inverted dropout: in training each element is kept with probability 1-p
 * and scaled by 1/(1-p) (p == 1 drops everything); in eval it is the
 * identity. The mask (0 or the scale, size floats) is drawn from r into
 * scratch by forward and read by backward. p must be in [0, 1]. */
size_t ops_dropout_scratch(long size);
void ops_dropout_forward(float *out, const float *in, long size, float p, bool training, rng *r,
                         float *scratch);
/* Forward with a mask already in scratch (tests, replays). */
void ops_dropout_apply(float *out, const float *in, long size, bool training, const float *scratch);
/* accumulate false stores din instead of adding to it */
void ops_dropout_backward(float *din, const float *dout, long size, bool training,
                          const float *scratch, bool accumulate);

/* ---- softmax cross-entropy with label smoothing -------------------------
 * logits n x k, labels in [0, k). The target of sample i is
 * (1 - smoothing) * onehot(labels[i]) + smoothing / k (PyTorch's
 * label_smoothing); the loss is the mean over the batch. Sets *loss and
 * *correct (argmax == label, first maximum wins); when dlogits is not NULL
 * it WRITES (not accumulates) d(loss)/d(logits) there, since logits feed
 * only the loss. Returns 0, or -1 with a message for a label out of range
 * or smoothing outside [0, 1]. */
int ops_xent(float *loss, int *correct, float *dlogits, const float *logits, const int *labels,
             int n, int k, float smoothing, gerr *err);

#endif

/* export_torch: a gevo-net program and its trained weights as a standalone
 * PyTorch module (torch and numpy only), readable by a person.
 *
 * model.py mirrors the genome: every `def` block the network uses becomes
 * an nn.Module class named after it in CamelCase (se_ln -> SeLn) whose
 * constructor takes the block's parameters, a block that returns a number
 * becomes a Python function, and `class Net` wires them as the genome's
 * top level does, with gevo's input normalisation (per-channel mean and
 * standard deviation of the training split, from the weights file) in its
 * forward. In a constructor a tensor of the genome stands for its number
 * of channels, so the constructor runs the block's arithmetic on channels
 * (`y = concat(a, b)` there is `y = a + b`) while forward runs it on
 * tensors. gevo's vectors (n x 1 x 1) stay 4-D (N x n x 1 x 1) in PyTorch,
 * as squeeze-excitation code does; Net returns N x classes logits.
 *
 * Each operator maps to standard PyTorch with the engine's semantics (see
 * the table in export_torch.c); the three that PyTorch lacks are small
 * subclasses written into model.py: MinPool2d (-maxpool(-x)), LayerNorm2d
 * (over the channels at each position, as timm's) and Linear (nn.Linear on
 * a 4-D vector). Their state_dict keys are the standard ones. */
#ifndef GEVO_CORE_EXPORT_TORCH_H
#define GEVO_CORE_EXPORT_TORCH_H

#include <stddef.h>

#include "engine/base/error.h"
#include "engine/net.h"

/* What model.py's docstring says about where the network comes from; any
 * field may be NULL. */
typedef struct export_torch_meta {
    const char *id;      /* "g2-7" */
    const char *session; /* the session folder */
    const char *result;  /* the result note (gevo train's JSON) */
    const char *resize;  /* "HxW" when gevo resampled the data's images (gevo.json resize) */
} export_torch_meta;

/* The generator's output. names[i] is the state_dict prefix of graph node
 * i ("dfseb_2.conv") for the nodes that hold parameters or running
 * statistics, NULL for the others. Release with
 * export_torch_module_release. */
typedef struct export_torch_module {
    char *py; /* the text of model.py */
    char **names;
    int n_nodes;
} export_torch_module;

/* Writes model.py for the program (src, its syntax tree and its graph,
 * compiled together by net_compile_syntax)
 * with mean/std (input channels each) as the input normalisation. Fails
 * with a message for what the exporter cannot express (a block whose
 * parameter is a tensor in one call and a number in another). */
int export_torch_generate(const net_syntax *syn, const net_graph *g, const char *src, size_t len,
                          const float *mean, const float *std, const export_torch_meta *meta,
                          export_torch_module *out, gerr *err);
void export_torch_module_release(export_torch_module *m);

/* The whole export into dir (created if missing; files in it replaced):
 *   model.py      the module and load()
 *   weights.npz   the weights, named as Net().state_dict()
 *   genome.net    the program, as given
 *   gevo.weights  gevo's weights file, for `gevo eval genome.net gevo.weights`
 *   README.md     loading, fine-tuning, ONNX
 * src is the program, compiled as its input line declares (as gevo train
 * does: the line matches the data), weights its gevo weights file. */
int export_torch_write(const char *dir, const char *src, size_t len, const char *weights,
                       const export_torch_meta *meta, gerr *err);

#endif

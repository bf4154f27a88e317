/* export_torch_write: the export folder (model.py, weights.npz, the genome,
 * gevo's weights, README.md). The weights are read with the engine's own
 * loader (model_load checks the file belongs to this program) and laid out
 * by its model, so the .npz holds exactly what gevo trained. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/evaluator.h"
#include "core/export_torch.h"
#include "core/npz.h"
#include "engine/base/file.h"
#include "engine/base/strbuf.h"
#include "engine/model.h"

#define WEIGHTS_MAX ((size_t)1 << 30)

static int write_text(const char *dir, const char *name, const char *text, gerr *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return gerr_set(err, "%s: path too long", dir);
    return file_write(path, text, strlen(text), err);
}

/* The trained state of every layer, named as Net().state_dict(). */
static int write_npz(const char *path, const model *m, const export_torch_module *mod, gerr *err)
{
    const net_graph *g = m->g;
    npz_writer w;
    if (npz_open(&w, path, err))
        return -1;
    long cshape[4] = {1, g->input.c, 1, 1};
    npz_add_f32(&w, "input_mean", cshape, 4, m->norm_mean);
    npz_add_f32(&w, "input_std", cshape, 4, m->norm_std);
    char key[512];
    for (int i = 0; i < g->n_nodes; i++) {
        const char *name = mod->names[i];
        const net_node *nd = &g->nodes[i];
        const model_layer *L = &m->layers[i];
        if (!name)
            continue;
        long cin = nd->n_in ? g->nodes[nd->in[0]].shape.c : 0;
        long ws[4] = {nd->shape.c, cin, 1, 1}, bs[1] = {nd->shape.c};
        int wdim = 2;
        if (nd->op == NET_CONV) {
            ws[1] = cin / nd->groups;
            ws[2] = nd->kh;
            ws[3] = nd->kw;
            wdim = 4;
        } else if (nd->op == NET_BATCHNORM || nd->op == NET_LAYERNORM) {
            ws[0] = bs[0] = cin;
            wdim = 1;
        }
        if (L->nw) {
            snprintf(key, sizeof key, "%s.weight", name);
            npz_add_f32(&w, key, ws, wdim, m->params + L->w);
        }
        if (L->nb) {
            snprintf(key, sizeof key, "%s.bias", name);
            npz_add_f32(&w, key, bs, 1, m->params + L->b);
        }
        if (L->stats >= 0) {
            snprintf(key, sizeof key, "%s.running_mean", name);
            npz_add_f32(&w, key, bs, 1, m->buffers + L->stats);
            snprintf(key, sizeof key, "%s.running_var", name);
            npz_add_f32(&w, key, bs, 1, m->buffers + L->stats + cin);
            /* gevo does not count batches: PyTorch reads the count only
               when momentum is None, which no gevo batchnorm has */
            snprintf(key, sizeof key, "%s.num_batches_tracked", name);
            npz_add_i64(&w, key, 0);
        }
    }
    return npz_close(&w, err);
}

static const char readme_fmt[] =
    "# %s, exported from gevo\n"
    "\n"
    "%s"
    "A standalone PyTorch module (torch and numpy only) with the weights gevo\n"
    "trained: %ld parameters, input %d x %d x %d, %d classes.\n"
    "\n"
    "| file | what |\n"
    "| --- | --- |\n"
    "| `model.py` | the network: one class per `def` block of the genome, `class Net`, `load()` "
    "|\n"
    "| `weights.npz` | the trained weights, named as `Net().state_dict()` (batch-norm running "
    "statistics included) |\n"
    "| `genome.net` | the genome, in gevo-net (see gevo-net(5)) |\n"
    "| `gevo.weights` | the same weights in gevo's format |\n"
    "\n"
    "## Load it\n"
    "\n"
    "```python\n"
    "import sys; sys.path.insert(0, \"DIR\")   # this folder\n"
    "from model import load\n"
    "net = load()                # Net, trained weights, eval mode\n"
    "logits = net(images)        # float32 N x %d x %d x %d scaled to [0, 1] -> N x %d\n"
    "```\n"
    "\n"
    "`Net` normalises its input itself (per-channel mean and standard deviation\n"
    "of gevo's training split), so give it images in [0, 1], as gevo reads them\n"
    "(pixel / 255).\n"
    "\n"
    "## Fine-tune it\n"
    "\n"
    "```python\n"
    "import torch\n"
    "net = load().train()\n"
    "opt = torch.optim.Adam(net.parameters(), lr=1e-3)\n"
    "for images, labels in loader:          # your DataLoader, images in [0, 1]\n"
    "    opt.zero_grad()\n"
    "    loss = torch.nn.functional.cross_entropy(net(images), labels)\n"
    "    loss.backward()\n"
    "    opt.step()\n"
    "net.eval()\n"
    "torch.save(net.state_dict(), \"finetuned.pt\")\n"
    "```\n"
    "\n"
    "Move it to a GPU with `net.cuda()` (and the images with `.cuda()`).\n"
    "\n"
    "## Export it to ONNX\n"
    "\n"
    "```python\n"
    "torch.onnx.export(load(), torch.zeros(1, %d, %d, %d), \"model.onnx\",\n"
    "                  input_names=[\"images\"], output_names=[\"logits\"],\n"
    "                  dynamic_axes={\"images\": {0: \"batch\"}, \"logits\": {0: \"batch\"}})\n"
    "```\n"
    "\n"
    "## Evaluate it with gevo\n"
    "\n"
    "    gevo eval genome.net gevo.weights --data DATA%s%s\n"
    "\n"
    "measures the test accuracy on the same weights with gevo's engine.\n";

int export_torch_write(const char *dir, const char *src, size_t len, const char *weights,
                       const export_torch_meta *meta, gerr *err)
{
    net_graph *g = NULL;
    net_syntax *syn = NULL;
    net_error ne;
    model *m = NULL;
    export_torch_module mod = {0};
    char *wbytes = NULL;
    size_t wlen = 0;
    char msg[1024], path[4096];
    int rc = -1;
    if (net_compile_syntax(src, len, "genome.net", NULL, NULL, &g, &syn, &ne)) {
        net_error_string(&ne, msg, sizeof msg);
        gerr_set(err, "%s", msg);
        goto out;
    }
    /* two images: a batch norm of 1x1 maps refuses a batch of one */
    m = model_new(g, 2, 1, err);
    if (!m || model_load(m, weights, err))
        goto out;
    if (export_torch_generate(syn, g, src, len, m->norm_mean, m->norm_std, meta, &mod, err))
        goto out;
    if (file_read(weights, WEIGHTS_MAX, &wbytes, &wlen, err))
        goto out;
    if (evaluator_mkdir_p(dir, err))
        goto out;
    if (snprintf(path, sizeof path, "%s/weights.npz", dir) >= (int)sizeof path) {
        gerr_set(err, "%s: path too long", dir);
        goto out;
    }
    if (write_npz(path, m, &mod, err) || write_text(dir, "model.py", mod.py, err))
        goto out;
    snprintf(path, sizeof path, "%s/genome.net", dir);
    if (file_write(path, src, len, err))
        goto out;
    snprintf(path, sizeof path, "%s/gevo.weights", dir);
    if (file_write(path, wbytes, wlen, err))
        goto out;
    strbuf rd = STRBUF_INIT, who = STRBUF_INIT;
    if (meta && meta->id)
        strbuf_addf(&who, "gevo individual %s%s%s.\n\n", meta->id,
                    meta->session ? " of the session " : "", meta->session ? meta->session : "");
    strbuf_addf(&rd, readme_fmt, meta && meta->id ? meta->id : "A network", who.buf, g->params,
                g->input.c, g->input.h, g->input.w, g->classes, g->input.c, g->input.h, g->input.w,
                g->classes, g->input.c, g->input.h, g->input.w,
                meta && meta->resize ? " --resize " : "", meta && meta->resize ? meta->resize : "");
    strbuf_release(&who);
    if (rd.failed)
        gerr_set(err, "out of memory");
    else
        rc = write_text(dir, "README.md", rd.buf, err);
    strbuf_release(&rd);
out:
    free(wbytes);
    export_torch_module_release(&mod);
    model_free(m);
    net_syntax_free(syn);
    net_graph_free(g);
    return rc;
}

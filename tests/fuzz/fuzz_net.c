/* libFuzzer target: any byte string given to the gevo-net compiler must
 * give a graph or an error, never a crash, a leak or undefined behaviour.
 * Built and run by `make fuzz` (tests/fuzz.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    net_limits lim;
    net_limits_default(&lim);
    /* smaller node limit: the fuzzer finds block explosions quickly, and
       each one should fail fast rather than time out */
    lim.max_nodes = 2000;
    net_graph *g = NULL;
    net_error err;
    if (net_compile((const char *)data, size, "fuzz.net", &lim, &g, &err) == 0) {
        /* a graph that compiled must be self-consistent */
        if (g->output <= 0 || g->output >= g->n_nodes)
            abort();
        for (int i = 0; i < g->n_nodes; i++)
            for (int j = 0; j < g->nodes[i].n_in; j++)
                if (g->nodes[i].in[j] < 0 || g->nodes[i].in[j] >= i)
                    abort();
        if (g->params > lim.max_params)
            abort();
        /* the canonical form compiles to the same hash */
        net_graph *g2 = NULL;
        if (net_compile(g->canonical, strlen(g->canonical), "canon", &lim, &g2, &err) != 0)
            abort();
        if (g2->hash != g->hash)
            abort();
        net_graph_free(g2);
    } else {
        char buf[1024];
        net_error_string(&err, buf, sizeof buf);
        if (!err.base.msg[0])
            abort(); /* every failure says why */
    }
    net_graph_free(g);
    net_block blocks[16];
    net_list_blocks((const char *)data, size, blocks, 16);
    return 0;
}

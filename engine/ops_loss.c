/* Softmax cross-entropy with label smoothing, computed in double with the
 * log-sum-exp shift so large logits neither overflow nor lose the loss. */
#include "engine/ops.h"
#include "engine/ops_internal.h"

#include <math.h>

int ops_xent(float *loss, int *correct, float *dlogits, const float *logits, const int *labels,
             int n, int k, float smoothing, gerr *err)
{
    if (n < 1 || k < 1)
        return gerr_set(err, "cross-entropy: %d samples of %d classes: both must be positive", n,
                        k);
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return gerr_set(err, "cross-entropy: label smoothing %g must be in [0, 1]",
                        (double)smoothing);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return gerr_set(err,
                            "cross-entropy: sample %d has label %d, outside the %d classes [0, %d)",
                            i, labels[i], k, k);
    double total = 0.0, eps = smoothing, inv_n = 1.0 / n;
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        int am = 0;
        for (int j = 1; j < k; j++)
            if (z[j] > z[am])
                am = j;
        right += am == labels[i];
        double mx = z[am], se = 0.0, sz = 0.0;
        for (int j = 0; j < k; j++) {
            se += exp((double)z[j] - mx);
            sz += (double)z[j];
        }
        double lse = mx + log(se);
        /* -sum_j t_j log p_j with t = (1-eps) onehot + eps/k */
        total += (1.0 - eps) * (lse - z[labels[i]]) + eps * (lse - sz / k);
        if (dlogits) {
            float *d = dlogits + (size_t)i * k;
            for (int j = 0; j < k; j++) {
                double t = eps / k + (j == labels[i] ? 1.0 - eps : 0.0);
                d[j] = (float)((exp((double)z[j] - lse) - t) * inv_n);
            }
        }
    }
    if (loss)
        *loss = (float)(total * inv_n);
    if (correct)
        *correct = right;
    return 0;
}

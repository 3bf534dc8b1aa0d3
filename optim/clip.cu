/* optim/clip.cu: CUDA twins of the gradient-clipping helpers of optim/clip.c:
 * the L2 norm of a gradient (cuBLAS snrm2) and its in-place scaling (sscal). */
#include <limits.h>
#include <math.h>

#include "../core/cuda_common.h"
#include "update.h"

extern "C" mt_status mt_norm2_cuda(int device, size_t n, const mt_real *x, double *out)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    MT_CUBLAS_CHECK(cublasSetPointerMode(c->cublas, CUBLAS_POINTER_MODE_HOST));
    double sumsq = 0;
    for (size_t start = 0; start < n;) {
        size_t len = n - start < (size_t)INT_MAX ? n - start : (size_t)INT_MAX;
        float r = 0;
        MT_CUBLAS_CHECK(cublasSnrm2(c->cublas, (int)len, x + start, 1, &r));
        sumsq += (double)r * (double)r;
        start += len;
    }
    *out = sqrt(sumsq);
    return MT_OK;
}

extern "C" mt_status mt_scale_cuda(int device, size_t n, mt_real *x, mt_real a)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    MT_CUBLAS_CHECK(cublasSetPointerMode(c->cublas, CUBLAS_POINTER_MODE_HOST));
    for (size_t start = 0; start < n;) {
        size_t len = n - start < (size_t)INT_MAX ? n - start : (size_t)INT_MAX;
        MT_CUBLAS_CHECK(cublasSscal(c->cublas, (int)len, &a, x + start, 1));
        start += len;
    }
    return MT_OK;
}

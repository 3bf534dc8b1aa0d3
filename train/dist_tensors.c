/* train/dist_tensors.c: tensors over a data-parallel backend (dist.h): the
 * packed gradient all-reduce of every step, broadcasts of weights and buffers
 * from rank 0, and the check that all replicas hold the same weights. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "dist_internal.h"

/* 1 if every parameter has a gradient and they lie back to back in one storage
 * (an optimizer group's flat gradient buffer, optim/flat.c) */
static int grads_flat(mt_tensor *const *params, int n)
{
    for (int i = 0; i < n; i++) {
        const mt_tensor *g = params[i]->grad;
        if (!g) return 0;
        if (i > 0 && (g->storage != params[i - 1]->grad->storage ||
                      g->offset != params[i - 1]->grad->offset + mt_nbytes(params[i - 1]->grad)))
            return 0;
    }
    return 1;
}

/* Gradients of params packed into one buffer on their device, each scaled by
 * `weight` on the way (axpy into a zeroed buffer), summed over the ranks, and
 * copied back. Flat gradients (one buffer, in order) take one axpy and one
 * copy for the whole span instead of one per parameter. */
mt_status mt_dist_allreduce_grads(mt_dist *d, mt_tensor *const *params, int n, double weight)
{
    if (mt_dist_size(d) < 2 || n <= 0) return MT_OK;
    size_t total = 0;
    mt_device dev = params[0]->storage->device;
    for (int i = 0; i < n; i++) {
        MT_REQUIRE(params[i]->dtype == MT_F32, "all-reduce of gradients: parameter %d (%s) is %s, not float32", i,
                   params[i]->name ? params[i]->name : "?", mt_dtype_name(params[i]->dtype));
        MT_REQUIRE(mt_device_eq(params[i]->storage->device, dev),
                   "all-reduce of gradients: parameters on more than one device (%s)",
                   params[i]->name ? params[i]->name : "?");
        total += mt_numel(params[i]);
    }
    MT_REQUIRE(total > 0 && total < (size_t)1 << 31, "all-reduce of gradients: %zu values", total);
    const mt_backend *be = mt_backend_get(dev.type);
    if (!be) return mt_last_status();
    int on_cuda = dev.type == MT_CUDA;
    mt_tensor *packed_t = NULL;
    float *packed = NULL;
    if (on_cuda) {
        int shape = (int)total;
        packed_t = mt_tensor_new(MT_F32, dev, 1, &shape);
        if (!packed_t) return mt_last_status();
        packed = (float *)mt_data(packed_t);
    } else if (!(packed = mt_dist_scratch_(d, total))) {
        return mt_last_status();
    }
    mt_status st = be->memset0(be->ctx, dev.index, packed, total * sizeof(float));
    int flat = grads_flat(params, n);
    size_t off = 0;
    if (flat && st == MT_OK)
        st = be->axpy(be->ctx, dev.index, total, (mt_real)weight, (const mt_real *)mt_data(params[0]->grad),
                      (mt_real *)packed);
    for (int i = 0; i < n && st == MT_OK && !flat; i++) {
        size_t k = mt_numel(params[i]);
        if (params[i]->grad)
            st = be->axpy(be->ctx, dev.index, k, (mt_real)weight, (const mt_real *)mt_data(params[i]->grad),
                          (mt_real *)packed + off);
        off += k;
    }
    if (st == MT_OK && on_cuda && mt_dist_device_buffers_(d)) {
        st = mt_dist_allreduce_device_(d, packed, total);
    } else if (st == MT_OK && on_cuda) { /* MPI: through a host copy */
        float *host = mt_dist_scratch_(d, total);
        st = host ? be->copy(be->ctx, dev.index, host, packed, total * sizeof(float), MT_D2H) : mt_last_status();
        if (st == MT_OK) st = mt_dist_allreduce_sum(d, host, total);
        if (st == MT_OK) st = be->copy(be->ctx, dev.index, packed, host, total * sizeof(float), MT_H2D);
    } else if (st == MT_OK) {
        st = mt_dist_allreduce_sum(d, packed, total);
    }
    off = 0;
    if (flat && st == MT_OK)
        st = be->copy(be->ctx, dev.index, mt_data(params[0]->grad), packed, total * sizeof(float),
                      on_cuda ? MT_D2D : MT_H2H);
    for (int i = 0; i < n && st == MT_OK && !flat; i++) {
        size_t k = mt_numel(params[i]);
        if (params[i]->grad)
            st = be->copy(be->ctx, dev.index, mt_data(params[i]->grad), packed + off, k * sizeof(float),
                          on_cuda ? MT_D2D : MT_H2H);
        off += k;
    }
    mt_tensor_release(packed_t);
    return st;
}

mt_status mt_dist_bcast_tensors(mt_dist *d, mt_tensor *const *t, int n, int root)
{
    if (mt_dist_size(d) < 2) return MT_OK;
    mt_status st = MT_OK;
    for (int i = 0; i < n && st == MT_OK; i++) {
        size_t bytes = mt_nbytes(t[i]);
        if (bytes == 0) continue;
        void *host = malloc(bytes);
        if (!host) return MT_ERR(MT_ERR_NOMEM, "broadcast of %s: %zu bytes", t[i]->name ? t[i]->name : "a tensor", bytes);
        st = mt_tensor_to_host(t[i], host, bytes);
        if (st == MT_OK) st = mt_dist_bcast(d, host, bytes, root);
        if (st == MT_OK) st = mt_tensor_from_host_into(t[i], host, bytes);
        free(host);
    }
    return st;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

mt_status mt_dist_check_same(mt_dist *d, mt_tensor *const *t, int n, const char *what)
{
    if (mt_dist_size(d) < 2) return MT_OK;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++) {
        size_t bytes = mt_nbytes(t[i]);
        unsigned char *host = bytes ? malloc(bytes) : NULL;
        if (bytes && !host) return MT_ERR(MT_ERR_NOMEM, "checking %s: %zu bytes", what, bytes);
        mt_status st = bytes ? mt_tensor_to_host(t[i], host, bytes) : MT_OK;
        if (st == MT_OK) h = fnv1a(h, host, bytes);
        free(host);
        MT_TRY(st);
    }
    uint64_t h0 = h;
    MT_TRY(mt_dist_bcast(d, &h0, sizeof h0, 0));
    float differ = h0 != h;
    MT_TRY(mt_dist_allreduce_sum(d, &differ, 1));
    if (differ > 0)
        return MT_ERR(MT_ERR_STATE,
                      "%s differ between the processes (%d of %d ranks differ from rank 0; this is rank %d): the "
                      "replicas diverged, so the run stops",
                      what, (int)differ, mt_dist_size(d), mt_dist_rank(d));
    return MT_OK;
}

/* tests/net_check.c: the model-vs-PyTorch-twin check (tests/net_check.h). */
#include "net_check.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/ops.h"
#include "../train/checkpoint.h"
#include "../layers/init.h"

/* writes a float tensor (as float64) to dataset `name` of an open file */
static int write_ds(hid_t f, const char *name, const mt_tensor *t)
{
    hsize_t dims[MT_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) dims[i] = (hsize_t)t->shape[i];
    size_t n = mt_numel(t);
    double *buf = malloc(n * sizeof *buf);
    if (!buf) return 0;
    for (size_t i = 0; i < n; i++) buf[i] = (double)MT_DATA(t)[i];
    hid_t sp = H5Screate_simple(t->ndim, dims, NULL);
    hid_t d = sp < 0 ? -1 : H5Dcreate2(f, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    free(buf);
    return ok;
}

/* reads dataset `name` (exactly n values) as doubles; 0 if absent or of another size */
static int read_ds(hid_t f, const char *name, double *out, size_t n)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    int ok = sp >= 0 && (size_t)H5Sget_simple_extent_npoints(sp) == n &&
             H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return ok;
}

static double rel_scale(const double *ref, size_t n)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    return scale;
}

/* max |got - ref| / max(max |ref|, floor) */
static double rel_diff(const double *ref, const mt_real *got, size_t n, double floor, size_t *worst)
{
    double scale = fmax(fmax(rel_scale(ref, n), floor), 1e-30), d = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= d)) d = e, *worst = i; /* NaN counts as worst */
    }
    return d / scale;
}

static mt_tensor *uniform(int ndim, const int *shape, double lo, double hi, uint64_t seed)
{
    mt_tensor *t = mt_tensor_new(MT_REAL, mt_cpu(), ndim, shape);
    mt_rng r = {seed, 0};
    if (t && mt_init_uniform(t, lo, hi, &r) != MT_OK) {
        mt_tensor_release(t);
        return NULL;
    }
    return t;
}

/* compares `got` with dataset `name` of the twin's output file, within tol
 * relative to the reference's largest magnitude */
static int compare(mt_test_ctx *T_, hid_t f, const char *name, const mt_tensor *got, double tol, double floor,
                   net_stats *st, const char *what)
{
    size_t n = mt_numel(got), worst;
    double *ref = malloc(n * sizeof *ref);
    if (!ref || !read_ds(f, name, ref, n)) {
        free(ref);
        mt_test_fail(T_, __FILE__, __LINE__, "%s: the twin wrote no '%s' with %zu values", what, name, n);
        return 0;
    }
    double d = rel_diff(ref, MT_DATA(got), n, floor, &worst);
    st->n_compared++;
    if (d > st->max_rel) st->max_rel = d, snprintf(st->worst, sizeof st->worst, "%s", name);
    if (getenv("MT_NET_VERBOSE")) printf("       %-44s %.3g (max |ref| %.3g)\n", name, d, rel_scale(ref, n));
    if (!(d <= tol))
        mt_test_fail(T_, __FILE__, __LINE__,
                     "%s: %s differs from the PyTorch twin: relative %.3g > %.1g (element %zu: medtrain %.9g vs torch %.9g)",
                     what, name, d, tol, worst, (double)MT_DATA(got)[worst], ref[worst]);
    free(ref);
    return !T_->failed;
}

void net_check(mt_test_ctx *T_, const net_case *c, net_stats *st)
{
    net_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (access("/usr/bin/python3", X_OK) != 0) SKIP("skipped: /usr/bin/python3 (with torch, h5py) not installed");
    if (system("/usr/bin/python3 -c 'import torch, h5py' >/dev/null 2>&1") != 0) SKIP("skipped: python3-torch or python3-h5py not installed");
    char path[512], root[512], dir[600], ck[700], io[700], out[700], params[512] = "", what[700];
    snprintf(what, sizeof what, "%s [%s, batch %d, %dx%d]", c->graph, c->train ? "train" : "eval", c->batch, c->h, c->w);
    for (int i = 0; i < c->n_args; i++)
        snprintf(params + strlen(params), sizeof params - strlen(params), "%s%s=%s", i ? "," : "", c->args[i].key,
                 c->args[i].value);
    static int counter;
    snprintf(dir, sizeof dir, "%s/net%d", mt_test_tmpdir(), counter++);
    if (access(dir, F_OK) != 0) {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        CHECK(system(cmd) == 0, "cannot create %s", dir);
    }
    snprintf(ck, sizeof ck, "%s/ck.h5", dir);
    snprintf(io, sizeof io, "%s/io.h5", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(mt_test_path(c->graph, path, sizeof path), c->n_args, c->args, mt_cpu(), 7, &m));
    int no = mt_model_output_count(m), xs[4] = {c->batch, mt_model_in_channels(m), c->h, c->w};
    mt_tensor *outs[16] = {0}, *ws[16] = {0}, *x = NULL, *loss = NULL;
    hid_t f = -1;
    int ok = no <= 16;
    if (ok) ok = mt_checkpoint_save(ck, m, NULL, NULL, NULL) == MT_OK;
    if (ok) ok = (x = uniform(4, xs, c->x_lo, c->x_hi, 11)) != NULL;
    /* sample k keeps 1 - 0.6 k / (B - 1) of the spread about the centre: two i.i.d. noise images give
       nearly equal deep features, which makes batch norm over a 1x1 map (batch 2) ill-conditioned */
    for (int k = 1; ok && k < c->batch; k++) {
        double s = 1 - 0.6 * k / (c->batch - 1), mid = 0.5 * (c->x_lo + c->x_hi);
        size_t per = mt_numel(x) / (size_t)c->batch;
        for (size_t i = 0; i < per; i++) {
            mt_real *v = &MT_DATA(x)[(size_t)k * per + i];
            *v = (mt_real)(mid + (*v - mid) * s);
        }
    }
    mt_rng rng = {99, 0};
    if (ok) ok = mt_model_run(m, x, c->train, &rng, outs) == MT_OK;
    for (int i = 0; ok && i < no; i++) {
        ok = (ws[i] = uniform(outs[i]->ndim, outs[i]->shape, -1, 1, 100 + (uint64_t)i)) != NULL;
        mt_tensor *p = ok ? mt_mul(outs[i], ws[i]) : NULL, *s = p ? mt_sum_all(p) : NULL;
        mt_tensor *acc = !s ? NULL : loss ? mt_add(loss, s) : mt_tensor_retain(s);
        mt_tensor_release(p);
        mt_tensor_release(s);
        mt_tensor_release(loss);
        loss = acc;
        ok = ok && loss != NULL;
    }
    if (ok) ok = mt_backward(loss, NULL, 0) == MT_OK;
    if (ok) {
        f = H5Fcreate(io, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        ok = f >= 0 && write_ds(f, "x", x);
        for (int i = 0; ok && i < no; i++) {
            char nm[32];
            snprintf(nm, sizeof nm, "w%d", i);
            ok = write_ds(f, nm, ws[i]);
        }
        if (f >= 0) H5Fclose(f);
        f = -1;
    }
    if (!ok) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: medtrain side failed: %s", what, mt_last_error());
        goto done;
    }
    {
        char cmd[3000];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s --twin %s --params '%s' --checkpoint %s --io %s --out %s %s 2>&1",
                 mt_test_path("tests/twin_check.py", root, sizeof root), c->twin, params, ck, io, out,
                 c->train ? "--train" : "");
        FILE *pp = popen(cmd, "r");
        char text[4096] = "";
        size_t got = pp ? fread(text, 1, sizeof text - 1, pp) : 0;
        text[got] = '\0';
        int rc = pp ? pclose(pp) : -1;
        if (rc != 0) {
            mt_test_fail(T_, __FILE__, __LINE__, "%s: twin_check.py failed (exit %d): %s\ncommand: %s", what, rc, text, cmd);
            goto done;
        }
    }
    f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: cannot open %s", what, out);
        goto done;
    }
    for (int i = 0; i < no && !T_->failed; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "y%d", i);
        compare(T_, f, nm, outs[i], c->tol, 0, st, what);
    }
    double gmax = 0; /* the model's largest gradient: the scale of gradients that are zero in exact arithmetic */
    for (int i = 0; i < mt_model_state_count(m); i++) {
        mt_tensor *t = mt_model_state_tensor(m, i);
        for (size_t j = 0; t->grad && j < mt_numel(t->grad); j++) gmax = fmax(gmax, fabs((double)MT_DATA(t->grad)[j]));
    }
    double bmax = 0; /* the largest buffer value: the scale of running means that are zero in exact arithmetic */
    for (int i = 0; c->train && i < mt_model_state_count(m); i++) {
        mt_tensor *t = mt_model_state_tensor(m, i);
        for (size_t j = 0; !mt_model_state_is_param(m, i) && j < mt_numel(t); j++) bmax = fmax(bmax, fabs((double)MT_DATA(t)[j]));
    }
    for (int i = 0; i < mt_model_state_count(m) && !T_->failed; i++) {
        const char *name = mt_model_state_name(m, i);
        mt_tensor *t = mt_model_state_tensor(m, i);
        char ds[400];
        if (mt_model_state_is_param(m, i)) {
            if (!t->grad) {
                mt_test_fail(T_, __FILE__, __LINE__, "%s: parameter %s got no gradient", what, name);
                break;
            }
            snprintf(ds, sizeof ds, "grad/%s", name);
            compare(T_, f, ds, t->grad, sizeof(mt_real) == 4 ? fmax(c->tol, 1e-2) : c->tol, 1e-6 * gmax, st, what);
        } else if (c->train) {
            snprintf(ds, sizeof ds, "buffers/%s", name);
            compare(T_, f, ds, t, c->tol, 1e-6 * bmax, st, what);
        }
    }
done:
    if (f >= 0) H5Fclose(f);
    for (int i = 0; i < 16; i++) mt_tensor_release(outs[i]), mt_tensor_release(ws[i]);
    mt_tensor_release(x);
    mt_tensor_release(loss);
    mt_model_free(m);
}

void net_report(const char *label, const net_stats *st)
{
    printf("     %s (%s): %d tensors, max relative difference %.2g (%s)\n", label, sizeof(mt_real) == 8 ? "float64" : "float32",
           st->n_compared, st->max_rel, st->worst[0] ? st->worst : "-");
}

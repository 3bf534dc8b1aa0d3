/* tests/test_net_deconvnet.c: DeconvNet (configs/models/deconvnet.yaml,
 * models.md section 2.3): exact parameter count, forward and every gradient
 * against the PyTorch twin (experiments/twins/deconvnet.py) at the study's
 * 150x150x1 input, batch 2, training and evaluation, and unpooling that uses
 * the switches of its own forward pass. */
#include <stdlib.h>
#include <string.h>

#include "../core/ops/dnnl.h"
#include "../layers/model.h"
#include "net_check.h"
#include "test.h"

#ifndef MT_REAL_DOUBLE
TEST(net_deconvnet_count_matches_models_md)
{
    char path[512];
    mt_model_arg none = {"in_channels", "1"};
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(mt_test_path("configs/models/deconvnet.yaml", path, sizeof path), 1, &none, mt_cpu(), 0, &m));
    size_t np = mt_model_param_count(m), nb = mt_model_keras_buffer_count(m);
    int nd, s[MT_MAX_DIMS], in[4] = {1, 1, 150, 150};
    mt_status st = mt_model_shape(m, "pool5", 4, in, &nd, s);
    int ok5 = st == MT_OK && s[2] == 5 && s[3] == 5;
    st = st == MT_OK ? mt_model_shape(m, "pool2.indices", 4, in, &nd, s) : st;
    int okidx = st == MT_OK && nd == 4 && s[1] == 128 && s[2] == 38;
    st = st == MT_OK ? mt_model_shape(m, NULL, 4, in, &nd, s) : st;
    mt_model_free(m);
    CHECK(np == 151139970, "DeconvNet parameters %zu, models.md 151,139,970", np);
    CHECK(nb == 33408, "DeconvNet BN statistics %zu, models.md 33,408", nb);
    CHECK_OK(st);
    CHECK(ok5 && okidx, "ceil-mode pools must give pool5 5x5 and pool2.indices [1, 128, 38, 38]");
    CHECK(nd == 4 && s[1] == 2 && s[2] == 150 && s[3] == 150, "output [%d, %d, %d, %d], expected [1, 2, 150, 150]", s[0],
          s[1], s[2], s[3]);
}
#endif

/* float32 binary: evaluation mode; float64 binary (run_gradcheck): training mode (net_check.h) */
/* Pinned to im2col convs (MT_CONV_IMPL): a few small, cancellation-dominated bias gradients
 * of the decoder (deconv5_*, max |g| ~1e-4) move by over 1% of their max when the encoder's
 * 512-channel conv outputs move by 2.4e-7 relative (tried: an im2col run perturbed so fails
 * the same way), which is the rounding difference of the Winograd convs that `auto` picks
 * there; Winograd's accuracy is checked in tests/test_winograd.c and test_conv.c. */
TEST(net_deconvnet_matches_torch_twin)
{
    net_case c = {"configs/models/deconvnet.yaml", 0, {{0}}, "deconvnet", 2, 150, 150, -1, 1, NET_MODE, 1e-4};
    net_stats st;
    mt_conv_impl prev = mt_conv_set_impl(MT_CONV_IMPL_IM2COL);
    net_check(T_, &c, &st);
    mt_conv_set_impl(prev);
    if (!T_->failed && !T_->skipped) net_report("deconvnet " NET_MODE_NAME, &st);
}

/* S5's CPU-sized DeconvNet (experiments/s5_breast_mass/run.sh): the `width` multiplier
 * (channels 8..64), fc 256 with a 2x2 fc kernel at 64x64, against the twin built with the
 * same params */
TEST(net_deconvnet_narrow_matches_torch_twin)
{
    net_case c = {"configs/models/deconvnet.yaml", 3, {{"width", "0.125"}, {"fc_channels", "256"}, {"fc_kernel", "2"}},
                  "deconvnet", 2, 64, 64, -1, 1, NET_MODE, 1e-4};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("deconvnet width 0.125 " NET_MODE_NAME, &st);
}

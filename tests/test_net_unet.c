/* tests/test_net_unet.c: S5's unpadded 2-class U-Net with the overlap-tile
 * rule (configs/models/unet_s5.yaml, models.md 1.2 and 1.4) against the
 * PyTorch U-Net twin at the study's 160x160 input, batch 2 (float32:
 * evaluation; float64 build: training with dropout off), and its count. */
#include "../layers/model.h"
#include "net_check.h"
#include "test.h"

#ifndef MT_REAL_DOUBLE
TEST(net_unet_s5_count_and_tile_shapes)
{
    char path[512];
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(mt_test_path("configs/models/unet_s5.yaml", path, sizeof path), 0, NULL, mt_cpu(), 0, &m));
    size_t np = mt_model_param_count(m);
    int nd, s[MT_MAX_DIMS], in[4] = {2, 1, 160, 160}, a[MT_MAX_DIMS], nda;
    mt_status st = mt_model_shape(m, "score", 4, in, &nda, a);
    if (st == MT_OK) st = mt_model_shape(m, NULL, 4, in, &nd, s);
    mt_model_free(m);
    CHECK(np == 31030658, "S5 U-Net parameters %zu, models.md 31,030,658", np);
    CHECK_OK(st);
    CHECK(a[2] == 164 && a[3] == 164, "valid net on the 348 tile must output 164, got %d", a[2]);
    CHECK(nd == 4 && s[0] == 2 && s[1] == 2 && s[2] == 160 && s[3] == 160, "output must be [2, 2, 160, 160]");
}
#endif

TEST(net_unet_s5_matches_torch_twin)
{
    net_case c = {"configs/models/unet_s5.yaml", 1, {{"dropout", "0"}}, "unet", 2, 160, 160, 0, 1, NET_MODE, 1e-4};
    /* twin params: the graph's (unet_s5.yaml sets padding valid, 2 classes, tile 94) */
    c.n_args = 4;
    c.args[1] = (mt_model_arg){"padding", "valid"};
    c.args[2] = (mt_model_arg){"out_channels", "2"};
    c.args[3] = (mt_model_arg){"tile", "94"};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("unet_s5 " NET_MODE_NAME, &st);
}

/* tests/test_net_fmnist.c: the Fashion-MNIST CNN (configs/models/fmnist_cnn.yaml,
 * experiments/fashion_mnist/): parameter count 421,642 and output [N, 10], forward and every
 * gradient against its PyTorch twin (experiments/twins/fmnist_cnn.py, the model of
 * experiments/fashion_mnist/peer_torch.py) on a batch of 2 at 28x28, inputs in [0, 1]. */
#include "../layers/model.h"
#include "net_check.h"
#include "test.h"

#ifndef MT_REAL_DOUBLE
TEST(net_fmnist_cnn_count_and_output_shape)
{
    char path[512];
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(mt_test_path("configs/models/fmnist_cnn.yaml", path, sizeof path), 0, NULL, mt_cpu(), 0,
                                &m));
    size_t np = mt_model_param_count(m);
    int nd, s[MT_MAX_DIMS], in[4] = {3, 1, 28, 28};
    mt_status st = mt_model_shape(m, NULL, 4, in, &nd, s);
    mt_model_free(m);
    /* 32*1*9+32 + 64*32*9+64 + 128*3136+128 + 10*128+10 = 320 + 18,496 + 401,536 + 1,290 */
    CHECK(np == 421642, "fmnist_cnn parameters %zu, expected 421,642 (= torch sum(p.numel()))", np);
    CHECK_OK(st);
    CHECK(nd == 2 && s[0] == 3 && s[1] == 10, "output rank %d [%d, %d], expected [3, 10]", nd, s[0], s[1]);
}
#endif

/* float32 binary: evaluation mode; float64 binary (run_gradcheck): training mode (net_check.h) */
TEST(net_fmnist_cnn_matches_torch_twin)
{
    net_case c = {"configs/models/fmnist_cnn.yaml", 0, {{0}}, "fmnist_cnn", 2, 28, 28, 0, 1, NET_MODE, 1e-4};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("fmnist_cnn " NET_MODE_NAME, &st);
}

/* experiments/bench/bench_loader.c: data loader throughput (images/s) on the CPU path with
 * full rigid augmentation (rotation, translation, horizontal and vertical flips; bilinear
 * image, nearest mask) of 512x512 CT-like slices read from a gzip HDF5 dataset.
 * Not a test. Usage: bench_loader [n_samples=96] [batch=8] [workers=2] [epochs=3]
 * (`make bench-loader`). The dataset is synthetic (a body ellipse in HU with organs and Philox
 * noise, windowed to [0,1]) and written to a temporary directory that is removed at the end.
 * Prints one line per configuration and a Markdown line for experiments/bench/RESULTS.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../../core/rng.h"
#include "../../data/loader.h"

enum { H = 512, W = 512 };

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static mt_status write_dataset(const char *path, int n)
{
    mt_dataset_spec spec = {1, H, W, 1, 0, "bench_loader synthetic CT", "window [-160, 240] HU -> [0, 1]"};
    mt_dataset_writer *w = NULL;
    MT_TRY(mt_dataset_writer_open(path, &spec, &w));
    float *img = malloc(sizeof(float) * H * W);
    uint8_t *mask = malloc(H * W);
    mt_status st = img && mask ? MT_OK : MT_ERR_NOMEM;
    for (int i = 0; i < n && st == MT_OK; i++) {
        double ax = 200 + 10 * sin(i), ay = 150 + 8 * cos(i);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double dx = (x - 256.0) / ax, dy = (y - 260.0) / ay;
                double hu = -1000.0;
                if (dx * dx + dy * dy < 1) hu = 40.0;                                   /* soft tissue */
                double lx = (x - 180.0 - 3 * i % 20) / 60.0, ly = (y - 240.0) / 45.0; /* an organ */
                int organ = lx * lx + ly * ly < 1;
                if (organ) hu = 60.0;
                if (fabs(x - 256.0) < 15 && fabs(y - 330.0) < 15) hu = 700.0;         /* vertebra */
                hu += 20.0 * mt_philox_normal((uint64_t)i, (uint64_t)(y * W + x));
                double v = (hu + 160.0) / 400.0;
                img[y * W + x] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
                mask[y * W + x] = (uint8_t)organ;
            }
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = H, s.w = W, s.k = 1, s.image = img, s.mask = mask, s.label = i % 2;
        snprintf(s.meta.patient_id, sizeof s.meta.patient_id, "bench%d", i / 8);
        st = mt_dataset_writer_add(w, &s);
    }
    free(img);
    free(mask);
    mt_status cst = mt_dataset_writer_close(w, st == MT_OK, 0, 0, 0);
    return st != MT_OK ? st : cst;
}

/* Images/s (wall clock) and process CPU ms per image over epochs 1..epochs-1 (epoch 0 warms the
 * page cache and the allocator). CPU time per image does not depend on other load on the machine. */
static mt_status measure(mt_dataset *d, const mt_augment_params *aug, int bs, int workers, int epochs, double *ips,
                         double *cpu_ms)
{
    mt_loader_config c;
    mt_loader_config_init(&c);
    c.batch_size = bs, c.shuffle = 1, c.drop_last = 1, c.seed = 1, c.num_workers = workers, c.augment = aug;
    mt_loader *l = NULL;
    MT_TRY(mt_loader_create(d, &c, &l));
    double t0 = 0, c0 = 0;
    long images = 0;
    mt_status st = MT_OK;
    for (int e = 0; e < epochs && st == MT_OK; e++) {
        if (e == 1) t0 = now_s(), c0 = cpu_s(), images = 0;
        for (;;) {
            mt_batch b;
            if ((st = mt_loader_next(l, &b)) != MT_OK) break;
            int n = b.n;
            images += n;
            mt_batch_free(&b);
            if (n == 0) break;
        }
    }
    *ips = images / (now_s() - t0);
    *cpu_ms = 1e3 * (cpu_s() - c0) / (images ? images : 1);
    mt_loader_destroy(l);
    return st;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 96, bs = argc > 2 ? atoi(argv[2]) : 8;
    int workers = argc > 3 ? atoi(argv[3]) : 2, epochs = argc > 4 ? atoi(argv[4]) : 3;
    if (n < bs || bs < 1 || workers < 1 || epochs < 2) {
        fprintf(stderr, "usage: bench_loader [n_samples>=batch] [batch>=1] [workers>=1] [epochs>=2]\n");
        return 2;
    }
    char dir[] = "/tmp/medtrain-bench-XXXXXX", path[128];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/bench.h5", dir);
    double t0 = now_s();
    mt_dataset *d = NULL;
    mt_status st = write_dataset(path, n);
    double t_write = now_s() - t0;
    if (st == MT_OK) st = mt_dataset_open(path, &d);
    mt_augment_params rigid;
    mt_augment_params_init(&rigid);
    rigid.rotation_deg = 15.0f;
    rigid.translate_frac[0] = rigid.translate_frac[1] = 0.1f;
    rigid.hflip_prob = 0.5f, rigid.vflip_prob = 0.5f;
    double ips_aug = 0, ips_plain = 0, ips_aug1 = 0, cpu_aug = 0, cpu_plain = 0, cpu_aug1 = 0;
    if (st == MT_OK) st = measure(d, &rigid, bs, workers, epochs, &ips_aug, &cpu_aug);
    if (st == MT_OK) st = measure(d, NULL, bs, workers, epochs, &ips_plain, &cpu_plain);
    if (st == MT_OK) st = measure(d, &rigid, bs, 1, epochs, &ips_aug1, &cpu_aug1);
    mt_dataset_close(d);
    unlink(path);
    rmdir(dir);
    if (st != MT_OK) {
        fprintf(stderr, "bench_loader: %s\n", mt_last_error());
        return 1;
    }
    struct utsname u;
    uname(&u);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char date[32];
    time_t tt = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&tt));
    printf("dataset: %d slices 1x%dx%d + mask, gzip, written in %.2f s (%.1f slices/s)\n", n, H, W, t_write,
           n / t_write);
    double load[1] = {0};
    if (getloadavg(load, 1) != 1) load[0] = -1;
    printf("read only,            %d workers: %.1f images/s, %.1f CPU ms/image\n", workers, ips_plain, cpu_plain);
    printf("rigid augmentation,   %d workers: %.1f images/s, %.1f CPU ms/image\n", workers, ips_aug, cpu_aug);
    printf("rigid augmentation,   1 worker:  %.1f images/s, %.1f CPU ms/image\n", ips_aug1, cpu_aug1);
    printf("load average at the end: %.1f on %ld cores\n", load[0], cores);
    printf("RESULTS.md line:\n| %s | loader, CPU, 512x512 + mask, rigid aug (rot 15, shift 0.1, flips), batch %d | "
           "%s %s, %ld cores, load %.1f | %.1f images/s (%d workers), %.1f CPU ms/image; read-only %.1f images/s "
           "(%.1f CPU ms/image) |\n",
           date, bs, u.machine, u.sysname, cores, load[0], ips_aug, workers, cpu_aug, ips_plain, cpu_plain);
    return 0;
}

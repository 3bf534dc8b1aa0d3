#!/usr/bin/env python3
"""PyTorch peer of bench_unet_step.c: images/s of forward + backward + Adam of
the padded U-Net (design/models.md §1.3, base 64, 31,030,593 params) on the CPU,
float32, torch.set_num_threads(threads). Same layers as the C benchmark:
conv3x3 pad 1 + ReLU (x2), max_pool 2x2, ConvTranspose 2x2/2 + ReLU,
cat([up, skip]), 1x1 score, BCE-with-logits (mean). Dropout off.
Prints wall-clock images/s and cpu_images/s (images per CPU-second x threads:
the idle-machine rate, for when other jobs share the cores).
Also prints peak_rss_mib (resource.getrusage ru_maxrss); --infer 1 times the forward pass alone under
torch.no_grad() in eval mode (inference latency, latency_ms per batch).
--bf16: forward + loss under torch.autocast('cpu', dtype=torch.bfloat16), the peer
of bench_unet_step --precision bf16 (on a CPU without native bf16 it is very slow).
Usage: bench_unet_step.py [--batch 4] [--size 128] [--steps 5] [--warmup 2] [--threads 2] [--base 64] [--infer 0] [--bf16]"""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class UNet(nn.Module):
    def __init__(self, base=64):
        super().__init__()
        self.enc = nn.ModuleList()
        c = 1
        for l in range(5):
            o = base << l
            self.enc.append(nn.ModuleList([nn.Conv2d(c, o, 3, padding=1), nn.Conv2d(o, o, 3, padding=1)]))
            c = o
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for l in range(3, -1, -1):
            o = base << l
            self.up.append(nn.ConvTranspose2d(c, o, 2, stride=2))
            self.dec.append(nn.ModuleList([nn.Conv2d(2 * o, o, 3, padding=1), nn.Conv2d(o, o, 3, padding=1)]))
            c = o
        self.score = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        skips = []
        for l, (a, b) in enumerate(self.enc):
            x = F.relu(b(F.relu(a(x))))
            if l < 4:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for up, (a, b) in zip(self.up, self.dec):
            x = torch.cat([F.relu(up(x)), skips.pop()], 1)
            x = F.relu(b(F.relu(a(x))))
        return self.score(x)


def main():
    ap = argparse.ArgumentParser()
    for k, v in dict(batch=4, size=128, steps=5, warmup=2, threads=2, base=64, infer=0).items():
        ap.add_argument("--" + k, type=int, default=v)
    ap.add_argument("--bf16", action="store_true", help="torch.autocast('cpu', dtype=torch.bfloat16)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = UNet(a.base)
    nparam = sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.randn(a.batch, 1, a.size, a.size)
    t = (torch.rand(a.batch, 1, a.size, a.size) < 0.3).float()
    if a.infer:
        net.eval()
        torch.set_grad_enabled(False)
    for s in range(a.warmup + a.steps):
        if s == a.warmup:
            t0, c0 = time.perf_counter(), time.process_time()
        if a.infer:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                loss = net(x)[0, 0, 0, 0].float()
            continue
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            loss = F.binary_cross_entropy_with_logits(net(x), t)
        loss.backward()
        opt.step()
    dt = (time.perf_counter() - t0) / a.steps
    cpu = (time.process_time() - c0) / a.steps
    what = "inference" if a.infer else "training step"
    print(f"pytorch {torch.__version__} U-Net (base {a.base}, {nparam} params) {a.size}x{a.size} batch {a.batch}, "
          f"{a.threads} threads, {what}, {'bf16 autocast' if a.bf16 else 'fp32'}: {dt:.3f} s/step "
          f"({cpu:.3f} CPU-s/step), {'first logit' if a.infer else 'loss'} {loss.item():.4f}")
    print(f"images/s: {a.batch / dt:.3f}")
    print(f"cpu_images/s: {a.batch / cpu * a.threads:.3f}")
    if a.infer:
        print(f"latency_ms: {dt * 1e3:.2f}")
    print(f"peak_rss_mib: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")

if __name__ == "__main__":
    main()

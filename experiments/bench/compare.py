#!/usr/bin/env python3
"""Issue-13 benchmark driver: medtrain's bench_unet_step next to its PyTorch peer
(bench_unet_step.py), engines alternated (medtrain, PyTorch, medtrain, ...), ROUNDS rounds per
configuration, medians reported, as a Markdown table on stdout (paste into RESULTS.md).

Each configuration is NAME=ARGS, where ARGS go to both programs (e.g. "--batch 4 --size 128");
`--c_extra` / `--py_extra` add engine-specific flags to a configuration written NAME=ARGS|C|PY
(e.g. "bf16=--batch 4 --size 128|--precision bf16|--bf16"). The figure compared is images/s for a
training step, latency_ms for --infer 1 (lower is better); peak_rss_mib is recorded for both.
Not a test: nothing asserts a time. Standards (experiments/bench/README.md): a quiet machine (load
average under 0.5 before the start; it is printed), the environment as the machine sets it.

Usage: compare.py [--rounds 5] [--bin build/bench_unet_step] [--python /usr/bin/python3] CONFIG...
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stdout}{out.stderr}")
    vals = {}
    for line in out.stdout.splitlines():
        k, sep, v = line.partition(":")
        if sep and k in ("images/s", "latency_ms", "peak_rss_mib"):
            vals[k] = float(v)
    return vals


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bin", default="build/bench_unet_step")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("configs", nargs="+")
    a = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average before: "
          f"{open('/proc/loadavg').read().split()[0]}, OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')}, {a.rounds} rounds alternated\n")
    print("| configuration | metric | medtrain (median) | PyTorch (median) | ratio | medtrain rounds | "
          "PyTorch rounds | peak RSS MiB medtrain / PyTorch |")
    print("|---|---|---:|---:|---:|---|---|---|")
    for cfg in a.configs:
        name, _, rest = cfg.partition("=")
        common, _, extra = rest.partition("|")
        c_extra, _, py_extra = extra.partition("|")
        c_cmd = [a.bin] + shlex.split(common) + shlex.split(c_extra)
        py_cmd = [a.python, os.path.join(HERE, "bench_unet_step.py")] + shlex.split(common) + shlex.split(py_extra)
        infer = "--infer 1" in common
        metric = "latency_ms" if infer else "images/s"
        m, p, mr, pr = [], [], [], []
        for _ in range(a.rounds):
            v = run(c_cmd)
            m.append(v[metric]); mr.append(v.get("peak_rss_mib", float("nan")))
            v = run(py_cmd)
            p.append(v[metric]); pr.append(v.get("peak_rss_mib", float("nan")))
        mm, pm = statistics.median(m), statistics.median(p)
        ratio = pm / mm if infer else mm / pm  # > 1: medtrain ahead
        print(f"| {name} (`{rest}`) | {metric} | {mm:.3f} | {pm:.3f} | {ratio:.2f} | "
              f"{', '.join(f'{x:.3f}' for x in m)} | {', '.join(f'{x:.3f}' for x in p)} | "
              f"{statistics.median(mr):.0f} / {statistics.median(pr):.0f} |", flush=True)
    print(f"\nload average after: {open('/proc/loadavg').read().split()[0]}; ratio > 1 means medtrain is "
          "ahead (images/s medtrain / PyTorch; latency PyTorch / medtrain)")


if __name__ == "__main__":
    main()

"""tests/export_check.py: independent checks of `medtrain export` files (tests/test_export.c).

  check-onnx MODEL.onnx ORT_DIR X.bin N,C,H,W REF_PREFIX N_OUT [X2.bin N2,C,H,W REF2_PREFIX]
      onnx.checker.check_model(full_check=True) (python3-onnx), then ONNX Runtime (node
      tests/ort_run.js with npm onnxruntime-node) on each input; every output must match
      medtrain's evaluation output (REF_PREFIX<i>.bin, raw float32, same shape) with
      max|ort - ref| <= 1e-4 * max|ref|. Prints "ort <name> shape max_abs max_rel" lines.
      Exit 77 + "skipped: ..." when node or onnxruntime-node is missing.
  check-safetensors FILE.st CKPT.h5 TWIN_MODULE TWIN_ARGS_JSON
      reads FILE.st with numpy + json only (8-byte header length, JSON header, raw data)
      and compares every tensor bit for bit with /state_dict of the HDF5 checkpoint (h5py);
      then the PyTorch twin experiments/twins/<TWIN_MODULE>.py built with TWIN_ARGS_JSON
      loads the tensors with strict=True (skipped when TWIN_MODULE is "-").
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check_onnx(argv):
    import onnx
    model_path, ort_dir = argv[0], argv[1]
    m = onnx.load(model_path)
    onnx.checker.check_model(m, full_check=True)
    print("checker ok: opset %d, ir %d, %d nodes, %d initializers" % (
        m.opset_import[0].version, m.ir_version, len(m.graph.node), len(m.graph.initializer)))
    meta = {p.key: p.value for p in m.metadata_props}
    for key in ("medtrain.graph_name", "medtrain.graph_file", "medtrain.version", "medtrain.source_checkpoint",
                "medtrain.graph_params"):
        if key not in meta:
            print("metadata_props lacks %s: %s" % (key, meta))
            return 1
    if [i.name for i in m.graph.input] != ["input"] or m.producer_name != "medtrain":
        print("graph input %s, producer %s" % ([i.name for i in m.graph.input], m.producer_name))
        return 1
    node = shutil.which("node")
    if not node or not os.path.isdir(ort_dir):
        print("skipped: node or onnxruntime-node missing (make deps-node)")
        return 77
    n_out = int(argv[5])
    runs = [(argv[2], argv[3], argv[4])]
    if len(argv) >= 9:
        runs.append((argv[6], argv[7], argv[8]))
    worst = 0.0
    for x_path, shape, ref in runs:
        pre = ref + "ort"
        r = subprocess.run([node, os.path.join(ROOT, "tests", "ort_run.js"), os.path.abspath(ort_dir), model_path,
                            x_path, shape, pre], capture_output=True, text=True)
        if r.returncode != 0:
            print("ort failed: " + r.stderr.strip())
            return 1
        info = json.load(open(pre + ".json"))
        if len(info["names"]) != n_out:
            print("ort gave %d outputs, medtrain %d" % (len(info["names"]), n_out))
            return 1
        for i, name in enumerate(info["names"]):
            got = np.fromfile(pre + "%d.bin" % i, dtype=np.float32)
            want = np.fromfile(ref + "%d.bin" % i, dtype=np.float32)
            if got.size != want.size:
                print("output %s: ort %s (%d values), medtrain %d values" % (name, info["shapes"][i], got.size, want.size))
                return 1
            d = float(np.max(np.abs(got - want))) if got.size else 0.0
            scale = max(float(np.max(np.abs(want))), 1e-30)
            rel = d / scale
            worst = max(worst, rel)
            print("ort %s %s batch %s max_abs %.3g max_rel %.3g" % (name, "x".join(map(str, info["shapes"][i])),
                                                                   shape.split(",")[0], d, rel))
            if not np.all(np.isfinite(got)) or rel > 1e-4:
                print("output %s differs: max_rel %.3g > 1e-4" % (name, rel))
                return 1
    print("worst max_rel %.3g" % worst)
    return 0


def read_safetensors(path):
    """numpy + json only: u64 header length, JSON header, raw little-endian data."""
    dt = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4", "F16": "<f2", "U8": "u1"}
    with open(path, "rb") as f:
        blob = f.read()
    n = int(np.frombuffer(blob[:8], dtype="<u8")[0])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(blob[8 + n + a:8 + n + b], dtype=dt[v["dtype"]]).reshape(v["shape"])
    return out, meta


def check_safetensors(argv):
    import h5py
    st_path, ckpt, twin, twin_args = argv[0], argv[1], argv[2], argv[3]
    tensors, meta = read_safetensors(st_path)
    with h5py.File(ckpt, "r") as f:
        ref = {k: f["state_dict"][k][()] for k in f["state_dict"].keys()}
    if set(ref) != set(tensors):
        print("names differ: only in file %s, only in checkpoint %s" % (sorted(set(tensors) - set(ref))[:5],
                                                                         sorted(set(ref) - set(tensors))[:5]))
        return 1
    for k, v in ref.items():
        t = tensors[k]
        if t.shape != v.shape or t.tobytes() != np.ascontiguousarray(v).astype(t.dtype).tobytes() or t.dtype.kind != v.dtype.kind:
            print("tensor %s differs (%s %s vs %s %s)" % (k, t.dtype, t.shape, v.dtype, v.shape))
            return 1
    print("safetensors bit-exact: %d tensors; metadata %s" % (len(tensors), json.dumps(meta, sort_keys=True)))
    if twin == "-":
        return 0
    import importlib
    import torch
    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "experiments"))
    mod = importlib.import_module("experiments.twins." + twin)
    net = mod.build(**json.loads(twin_args))
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()}, strict=True)
    print("twin %s loaded with strict=True (%d tensors)" % (twin, len(tensors)))
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    sys.exit(check_onnx(sys.argv[2:]) if cmd == "check-onnx" else check_safetensors(sys.argv[2:]))

// tests/ort_run.js: runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU)
// on a raw float32 input and writes each output as raw float32 + a JSON shape list.
//   node tests/ort_run.js ORT_MODULE_DIR MODEL.onnx INPUT.bin N,C,H,W OUT_PREFIX
// writes OUT_PREFIX<i>.bin for output i (graph output order) and OUT_PREFIX.json
// ({"names": [...], "shapes": [[...], ...]}). Exit 1 with the error on failure.
const fs = require('fs');
const [ortDir, model, input, shapeText, prefix] = process.argv.slice(2);
const ort = require(ortDir);
(async () => {
  const shape = shapeText.split(',').map(Number);
  const buf = fs.readFileSync(input);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const sess = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  const res = await sess.run({ input: new ort.Tensor('float32', x, shape) });
  const info = { names: [], shapes: [] };
  sess.outputNames.forEach((name, i) => {
    const t = res[name];
    const data = t.type === 'float32' ? t.data : Float32Array.from(t.data, Number);
    fs.writeFileSync(prefix + i + '.bin', Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    info.names.push(name);
    info.shapes.push(t.dims.map(Number));
  });
  fs.writeFileSync(prefix + '.json', JSON.stringify(info));
})().catch((e) => { console.error('ort_run: ' + (e && e.message ? e.message : e)); process.exit(1); });

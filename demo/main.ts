// The page: reads the controls, talks to the two workers and draws. It never
// computes a gradient itself, so nothing blocks while a step runs.
import { barChart, lineChart, viridis, type Series } from './src/charts.js';
import { segmentLengths, type SpectralCurve, type TruncationComparison } from './src/exercise.js';
import type { GateCurve } from './src/gates.js';
import { perplexity } from './src/model.js';
import { DEFAULT_CONFIG, type FromExercise, type FromTrainer, type ToExercise, type ToTrainer, type TrainConfig } from './src/protocol.js';

const $ = <E extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as E;
const corpusUrl = new URL('../data/timemachine.txt', import.meta.url).href;

/** What the page shows, also read by the browser test. */
const state = {
  ready: false,
  running: false,
  backend: '',
  adapter: '' as string | null,
  step: 0,
  losses: [] as [number, number][], // [step, loss]
  validation: [] as [number, number][], // [step, loss on the held-out text]
  cell: '',
  numLayers: 0,
  trainedOn: '', // the engine of the last step
  msPerStep: [] as number[],
  tokensPerStep: [] as number[],
  heat: [] as { step: number; norms: number[] }[],
  sample: '',
  spectral: [] as SpectralCurve[],
  gates: [] as GateCurve[],
  truncation: null as TruncationComparison | null,
  errors: [] as string[],
};
(window as unknown as { demoState: typeof state }).demoState = state;

const HEAT_ROWS = 120;

// ---------------------------------------------------------------- training

const trainer = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (m: ToTrainer) => trainer.postMessage(m);

function readConfig(): TrainConfig {
  const f = new FormData($<HTMLFormElement>('controls'));
  const num = (k: string, lo: number, hi: number, fallback: number) => {
    const v = Number(f.get(k));
    return Number.isFinite(v) && v >= lo && v <= hi ? v : fallback;
  };
  const c = DEFAULT_CONFIG;
  return {
    ...c,
    cell: (['rnn', 'gru', 'lstm'] as const).find((k) => k === f.get('cell')) ?? 'rnn',
    numLayers: Math.round(num('numLayers', 1, 3, c.numLayers)),
    hiddenSize: Math.round(num('hiddenSize', 1, 1024, c.hiddenSize)),
    whhRadius: num('whhRadius', 0, 100, c.whhRadius),
    steps: Math.round(num('steps', 2, 512, c.steps)),
    batchSize: Math.round(num('batchSize', 1, 512, c.batchSize)),
    optimizer: f.get('optimizer') === 'sgd' ? 'sgd' : 'adam',
    learningRate: num('learningRate', 0, 100, c.learningRate),
    clipNorm: num('clipNorm', 0, 1e6, c.clipNorm),
    truncation: (['full', 'chunked', 'randomized', 'window'] as const).find((t) => t === f.get('truncation')) ?? 'full',
    tau: Math.round(num('tau', 1, 512, c.tau)),
    keepProbability: num('keepProbability', 0.01, 1, c.keepProbability),
  };
}

function sampleRequest(): ToTrainer {
  return {
    type: 'sample',
    prefix: $<HTMLInputElement>('prefix').value,
    length: Math.max(1, Math.min(400, Math.round(Number($<HTMLInputElement>('sample-length').value) || 60))),
    temperature: Number($<HTMLSelectElement>('temperature').value) || 0,
  };
}

function setStatus(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', error);
}

function setButtons(): void {
  $<HTMLButtonElement>('start').disabled = !state.ready || state.running;
  $<HTMLButtonElement>('pause').disabled = !state.ready || !state.running;
  $<HTMLButtonElement>('reset').disabled = !state.ready;
}

function reportError(where: string, message: string): void {
  state.errors.push(`${where}: ${message}`);
  setStatus(`${where}: ${message}`, true);
  console.error(`${where}: ${message}`);
}

let drawPending = false;
function scheduleDraw(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawStats();
    drawLoss();
    drawHeat();
  });
}

trainer.addEventListener('message', (event: MessageEvent<FromTrainer>) => {
  const m = event.data;
  switch (m.type) {
    case 'ready': {
      state.ready = true;
      state.backend = m.info.backend;
      state.adapter = m.info.adapter;
      const badge = $('backend');
      badge.dataset.state = m.info.backend;
      badge.innerHTML = '';
      const head = document.createElement('strong');
      head.textContent =
        m.info.backend === 'webgpu'
          ? 'Training on WebGPU'
          : m.info.backend === 'wasm'
            ? m.info.fellBack
              ? 'Training on the CPU in WebAssembly (no usable WebGPU)'
              : 'Training on the CPU in WebAssembly'
            : 'Training on the CPU reference';
      const body = document.createElement('span');
      body.textContent = m.info.adapter ? `adapter: ${m.info.adapter}` : m.info.reason;
      badge.append(head, body);
      badge.title = m.info.reason;
      setStatus(`ready: ${m.corpusChars.toLocaleString('en')} characters, ${m.vocab.length} symbols`);
      setButtons();
      return;
    }
    case 'step':
      state.step = m.step;
      state.cell = m.cell;
      state.numLayers = m.numLayers;
      state.trainedOn = m.backend;
      if (Number.isFinite(m.loss)) state.losses.push([m.step, m.loss]);
      state.msPerStep.push(m.ms);
      state.tokensPerStep.push(m.tokens);
      if (m.skipped) setStatus(`step ${m.step}: gradients not finite, update skipped`, true);
      scheduleDraw();
      return;
    case 'validation':
      if (Number.isFinite(m.loss)) state.validation.push([m.step, m.loss]);
      scheduleDraw();
      return;
    case 'heat':
      if (state.heat.length && state.heat[state.heat.length - 1].norms.length !== m.norms.length) state.heat = [];
      state.heat.push({ step: m.step, norms: m.norms });
      if (state.heat.length > HEAT_ROWS) state.heat.shift();
      scheduleDraw();
      return;
    case 'sample':
      state.sample = m.text;
      $('sample-prefix').textContent = m.prefix;
      $('sample-output').textContent = m.text;
      $('sample-note').textContent = m.text ? `from the weights after step ${m.step}` : 'start training first: the model is not built yet';
      return;
    case 'state':
      state.running = m.running;
      setStatus(m.note);
      setButtons();
      return;
    case 'reset':
      state.step = 0;
      state.losses = [];
      state.validation = [];
      state.msPerStep = [];
      state.tokensPerStep = [];
      state.heat = [];
      state.sample = '';
      $('sample-output').textContent = '';
      scheduleDraw();
      return;
    case 'error':
      state.running = false;
      setButtons();
      reportError('training', m.message);
      return;
  }
});
trainer.addEventListener('error', (e) => reportError('training worker', e.message || 'failed to load'));

$('start').addEventListener('click', () => {
  send({ type: 'config', config: readConfig() });
  send({ type: 'start' });
});
$('pause').addEventListener('click', () => send({ type: 'pause' }));
$('reset').addEventListener('click', () => {
  send({ type: 'reset' });
  send({ type: 'config', config: readConfig() });
});
$('controls').addEventListener('change', () => send({ type: 'config', config: readConfig() }));
$('controls').addEventListener('submit', (e) => e.preventDefault());
$('sample-form').addEventListener('submit', (e) => {
  e.preventDefault();
  send(sampleRequest());
});

function fmt(v: number, digits = 3): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

function drawStats(): void {
  $('stat-step').textContent = String(state.step);
  const recent = state.losses.slice(-10);
  const loss = recent.length ? recent.reduce((s, p) => s + p[1], 0) / recent.length : NaN;
  $('stat-loss').textContent = fmt(loss);
  $('stat-ppl').textContent = fmt(perplexity(loss), 2);
  const val = state.validation[state.validation.length - 1];
  $('stat-val').textContent = val ? fmt(perplexity(val[1]), 2) : '–';
  const ms = state.msPerStep.slice(-10).reduce((s, v) => s + v, 0);
  const tokens = state.tokensPerStep.slice(-10).reduce((s, v) => s + v, 0);
  $('stat-tps').textContent = ms > 0 ? Math.round((tokens / ms) * 1000).toLocaleString('en') : '–';
  $('stat-ms').textContent = ms > 0 ? fmt(ms / Math.min(10, state.msPerStep.length), 1) : '–';
}

function chartSize(box: HTMLElement, aspect = 0.55): { width: number; height: number } {
  const width = Math.max(280, Math.round(box.clientWidth || 560));
  return { width, height: Math.round(Math.min(340, Math.max(210, width * aspect))) };
}

/** Exponential moving average of the loss, as most training curves are shown. */
function smooth(points: [number, number][], alpha = 0.1): [number, number][] {
  let s = NaN;
  return points.map(([x, y]) => {
    s = Number.isNaN(s) ? y : s + alpha * (y - s);
    return [x, s];
  });
}

function drawLoss(): void {
  const box = $('loss-chart');
  if (state.losses.length === 0) {
    box.innerHTML = '<div class="empty">press Start: the loss appears here, step by step</div>';
    return;
  }
  const series: Series[] = [
    { label: 'loss per step', color: '#9db7e8', points: state.losses, width: 1 },
    { label: 'smoothed', color: '#2f6fdf', points: smooth(state.losses), width: 2.4 },
    { label: 'held-out text', color: '#1f8a4c', points: state.validation, width: 2.2, dots: true },
    { label: 'uniform guess (27 symbols)', color: '#c0392b', points: [[state.losses[0][0], Math.log(27)], [state.losses[state.losses.length - 1][0], Math.log(27)]], dashed: true, width: 1.2 },
  ];
  box.innerHTML = lineChart({
    ...chartSize(box),
    series,
    xLabel: 'training step',
    yLabel: 'loss (nats per char)',
    rightTicks: (y) => fmt(Math.exp(y), 1),
    rightLabel: 'perplexity',
  });
}

function drawHeat(): void {
  const canvas = $<HTMLCanvasElement>('heat');
  const rows = state.heat;
  const T = rows.length ? rows[0].norms.length : readConfig().steps;
  // one pixel per (t, measured step), stretched over the box: rows fill it from the first
  canvas.width = T;
  canvas.height = Math.max(1, rows.length);
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  $('heat-x1').textContent = `t = ${T}`;
  if (rows.length === 0) {
    for (const id of ['heat-y0', 'heat-y1', 'heat-min', 'heat-max']) $(id).textContent = '–';
    return;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    for (const v of r.norms) {
      const l = Math.log10(v);
      if (Number.isFinite(l)) {
        lo = Math.min(lo, l);
        hi = Math.max(hi, l);
      }
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  const image = ctx.createImageData(T, rows.length);
  rows.forEach((r, y) => {
    r.norms.forEach((v, t) => {
      const [R, G, B] = viridis((Math.log10(v) - lo) / (hi - lo));
      const o = (y * T + t) * 4;
      image.data[o] = R;
      image.data[o + 1] = G;
      image.data[o + 2] = B;
      image.data[o + 3] = Number.isFinite(Math.log10(v)) ? 255 : 60;
    });
  });
  ctx.putImageData(image, 0, 0);
  $('heat-y0').textContent = String(rows[0].step);
  $('heat-y1').textContent = rows.length > 1 ? String(rows[rows.length - 1].step) : '';
  $('heat-min').textContent = `1e${lo.toFixed(1)}`;
  $('heat-max').textContent = `1e${hi.toFixed(1)}`;
}

// ---------------------------------------------------------------- exercise

const exercise = new Worker(new URL('./exercise-worker.js', import.meta.url), { type: 'module' });
let requestId = 0;
let spectralId = -1;
let gatesId = -1;
let truncationId = -1;

const RADIUS_COLORS = ['#1f4e9c', '#2f7fd0', '#5a5a5a', '#d9822b', '#c0392b', '#7b3294', '#008837'];
function radiusColor(i: number, n: number, r: number): string {
  if (n <= RADIUS_COLORS.length && Math.abs(r - 1) < 1e-9) return '#444';
  return RADIUS_COLORS[i % RADIUS_COLORS.length];
}

function formValues(id: string): Record<string, string> {
  const out: Record<string, string> = {};
  new FormData($<HTMLFormElement>(id)).forEach((v, k) => (out[k] = String(v)));
  return out;
}

function runSpectral(): void {
  const f = formValues('spectral-form');
  const radii = f.radii
    .split(/[\s,;]+/)
    .map(Number)
    .filter((r) => Number.isFinite(r) && r > 0)
    .slice(0, 8);
  if (radii.length === 0) radii.push(0.8, 1, 1.2);
  spectralId = ++requestId;
  $('slope-rows').innerHTML = '<tr><td colspan="4" class="muted">running&hellip;</td></tr>';
  const m: ToExercise = {
    type: 'spectral',
    id: spectralId,
    request: {
      radii,
      kind: f.kind === 'symmetric' ? 'symmetric' : 'orthogonal',
      steps: Math.max(4, Math.min(512, Math.round(Number(f.steps)) || 64)),
      hiddenSize: Math.max(2, Math.min(256, Math.round(Number(f.hiddenSize)) || 32)),
      seed: Math.round(Number(f.seed)) || 1,
    },
  };
  exercise.postMessage(m);
}

function runTruncation(): void {
  const f = formValues('truncation-form');
  const steps = Math.max(4, Math.min(256, Math.round(Number(f.steps)) || 32));
  truncationId = ++requestId;
  $('truncation-status').textContent = 'computing the full gradient and the truncated ones…';
  const m: ToExercise = {
    type: 'truncation',
    id: truncationId,
    corpusUrl,
    request: {
      radius: Math.max(0.05, Math.min(2, Number(f.radius) || 0.95)),
      kind: f.kind === 'symmetric' ? 'symmetric' : 'orthogonal',
      hiddenSize: 16,
      steps,
      batchSize: 4,
      tau: Math.max(1, Math.min(steps, Math.round(Number(f.tau)) || 6)),
      keepProbability: Math.max(0.05, Math.min(1, Number(f.keepProbability) || 0.8)),
      draws: Math.max(2, Math.min(5000, Math.round(Number(f.draws)) || 300)),
      seed: 1,
    },
  };
  exercise.postMessage(m);
}

function drawSpectral(): void {
  const curves = state.spectral;
  const box = $('spectral-chart');
  if (curves.length === 0) return;
  const T = curves[0].logNorms.length;
  const series: Series[] = [];
  curves.forEach((c, i) => {
    const color = radiusColor(i, curves.length, c.radius);
    series.push({ label: `r = ${c.radius}`, color, width: 4, opacity: 0.45, points: Array.from(c.logNorms, (v, t) => [t + 1, v] as [number, number]) });
  });
  curves.forEach((c, i) => {
    const at1 = c.intercept + c.slope; // the fitted line's value at t = 1
    const law: [number, number][] = [[1, at1], [T, at1 + c.expectedSlope * (T - 1)]];
    series.push({ label: i === 0 ? 'power law r^(T-t)' : '', color: i === 0 ? '#1d2330' : radiusColor(i, curves.length, c.radius), dashed: true, width: 1.3, points: law });
  });
  box.innerHTML = lineChart({ ...chartSize(box, 0.6), series, xLabel: 'time step t (the loss is at t = T)', yLabel: 'log ||dL/dh_t||' });
  $('slope-rows').innerHTML = curves
    .map((c, i) => {
      const sw = `<span class="swatch" style="background:${radiusColor(i, curves.length, c.radius)}"></span>`;
      return `<tr><td>${sw}${c.radius}</td><td>${c.slope.toFixed(5)}</td><td>${c.expectedSlope.toFixed(5)}</td><td>${Math.abs(c.slope - c.expectedSlope).toExponential(1)}</td></tr>`;
    })
    .join('');
}

function runGates(): void {
  const f = formValues('gates-form');
  gatesId = ++requestId;
  $('gate-rows').innerHTML = '<tr><td colspan="4" class="muted">running&hellip;</td></tr>';
  const bias = Number(f.gateBias);
  exercise.postMessage({
    type: 'gates',
    id: gatesId,
    corpusUrl,
    request: {
      gateBias: Number.isFinite(bias) ? Math.max(-5, Math.min(10, bias)) : 2,
      steps: Math.max(4, Math.min(256, Math.round(Number(f.steps)) || 64)),
      hiddenSize: Math.max(2, Math.min(128, Math.round(Number(f.hiddenSize)) || 32)),
      seed: Math.round(Number(f.seed)) || 7,
    },
  } satisfies ToExercise);
}

const CELL_COLORS: Record<string, string> = { rnn: '#c0392b', gru: '#2f7fd0', lstm: '#1f8a4c' };

function drawGates(): void {
  const curves = state.gates;
  const box = $('gates-chart');
  if (curves.length === 0) return;
  const series: Series[] = curves.map((c) => ({ label: c.cell, color: CELL_COLORS[c.cell], width: 2.4, points: Array.from(c.logNorms, (v, t) => [t + 1, v] as [number, number]) }));
  box.innerHTML = lineChart({ ...chartSize(box, 0.6), series, xLabel: 'time step t (the loss is at t = T)', yLabel: 'log ||dL/dh_t||' });
  $('gate-rows').innerHTML = curves
    .map((c) => {
      const sw = `<span class="swatch" style="background:${CELL_COLORS[c.cell]}"></span>`;
      return `<tr><td>${sw}${c.cell}</td><td>${c.logNorms[0].toFixed(2)}</td><td>${c.logNorms[c.logNorms.length - 1].toFixed(2)}</td><td>${c.slope.toFixed(4)}</td></tr>`;
    })
    .join('');
}

function drawTruncation(text: string, chunkXi: number[]): void {
  const c = state.truncation;
  if (!c) return;
  const rows: [string, ArrayLike<number>][] = [
    ['randomized (one draw)', c.exampleXi],
    ['chunked (regular)', chunkXi],
    ['full', new Array(text.length).fill(1)],
  ];
  const seg = $('segments');
  seg.innerHTML = '';
  for (const [name, xi] of rows) {
    const label = document.createElement('div');
    label.className = 'name';
    label.textContent = name;
    const row = document.createElement('div');
    row.className = 'row';
    let start = 0;
    segmentLengths(xi).forEach((len, i) => {
      const span = document.createElement('span');
      span.className = `seg ${i % 2 ? 'b' : 'a'}`;
      span.textContent = text.slice(start, start + len);
      start += len;
      row.append(span);
    });
    seg.append(label, row);
  }
  const [chunked, windowed, randomized] = c.strategies;
  const bars = c.strategies.map((s) => ({
    label: s.label,
    values: [
      { name: 'bias', value: s.bias, color: '#2f6fdf' },
      { name: 'spread', value: s.spread, color: '#e08a3c' },
    ],
  }));
  const bbox = $('bias-chart');
  bbox.innerHTML = barChart(bars, { width: chartSize(bbox).width, xLabel: 'relative to ||g_full||' });
  const n = c.runningError.length;
  const rbox = $('running-chart');
  rbox.innerHTML = lineChart({
    ...chartSize(rbox),
    yLog: true,
    xLabel: 'randomized draws n',
    yLabel: 'relative error',
    series: [
      { label: 'mean of n draws', color: '#e08a3c', points: Array.from(c.runningError, (v, i) => [i + 1, v] as [number, number]) },
      { label: 'spread/sqrt(n)', color: '#e08a3c', dashed: true, width: 1.2, points: Array.from(c.expectedError, (v, i) => [i + 1, v] as [number, number]) },
      { label: 'chunked', color: '#2f6fdf', points: [[1, chunked.bias], [n, chunked.bias]] },
      { label: 'window', color: '#6a3d9a', dashed: true, points: [[1, windowed.bias], [n, windowed.bias]] },
    ],
  });
  $('truncation-status').textContent =
    `${randomized.draws} randomized draws on the ${lastExerciseBackend} engine; ` +
    `||g_full|| = ${c.gradNorm.toPrecision(3)}. Randomized: bias ${randomized.bias.toPrecision(2)}, spread ${randomized.spread.toPrecision(2)}; ` +
    `chunked bias ${chunked.bias.toPrecision(2)}, window bias ${windowed.bias.toPrecision(2)}.`;
}

let lastExerciseBackend = '';
let lastTruncation: { text: string; chunkXi: number[] } | null = null;
exercise.addEventListener('message', (event: MessageEvent<FromExercise>) => {
  const m = event.data;
  switch (m.type) {
    case 'spectral':
      if (m.id !== spectralId) return;
      lastExerciseBackend = m.backend;
      state.spectral = m.curves;
      $('spectral-note').textContent =
        `Computed by the ${m.backend} engine (gradNormPerStep, loss 'none', dO only at t = T). ` +
        `Slopes fitted by least squares over t = ${m.curves[0]?.fitFrom}..${m.curves[0]?.fitTo}, the half farthest from the loss.`;
      drawSpectral();
      return;
    case 'gates':
      if (m.id !== gatesId) return;
      state.gates = m.curves;
      $('gates-note').textContent =
        `Computed by the ${m.backend} engine (one SequenceModel per cell, the same inputs and dO; gradNormPerStep, loss 'none'). ` +
        'A slope near 0 is a gradient that reaches far back; a steep positive one (rising towards the loss) vanishes going back in time.';
      drawGates();
      return;
    case 'truncation':
      if (m.id !== truncationId) return;
      lastExerciseBackend = m.backend;
      state.truncation = m.comparison;
      lastTruncation = { text: m.text, chunkXi: m.chunkXi };
      drawTruncation(m.text, m.chunkXi);
      return;
    case 'progress':
      if (m.id === truncationId) $('truncation-status').textContent = `randomized draws: ${m.done} of ${m.total}…`;
      return;
    case 'error':
      reportError('exercise', m.message);
      return;
  }
});
exercise.addEventListener('error', (e) => reportError('exercise worker', e.message || 'failed to load'));

$('spectral-form').addEventListener('submit', (e) => {
  e.preventDefault();
  runSpectral();
});
$('gates-form').addEventListener('submit', (e) => {
  e.preventDefault();
  runGates();
});
$('truncation-form').addEventListener('submit', (e) => {
  e.preventDefault();
  runTruncation();
});

let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => {
    scheduleDraw();
    drawSpectral();
    drawGates();
    if (lastTruncation) drawTruncation(lastTruncation.text, lastTruncation.chunkXi);
  }, 100);
});

// By default the engine is 'auto': WebGPU on a hardware adapter, else WebAssembly (a machine without a GPU).
// ?backend=webgpu|wasm|cpu asks for one (webgpu: any adapter, SwiftShader too; cpu: the float64 reference, to compare);
// ?webgpu=off hides navigator.gpu from the worker, as a browser without WebGPU would (to see the fallback)
const query = new URLSearchParams(location.search);
const asked = query.get('backend');
const backend = asked === 'cpu' || asked === 'webgpu' || asked === 'wasm' ? asked : 'auto';
send({ type: 'init', corpusUrl, config: readConfig(), prefix: $<HTMLInputElement>('prefix').value, backend, hideWebGpu: query.get('webgpu') === 'off' });
scheduleDraw();
runSpectral();
runGates();
runTruncation();

// Messages between the page and its two workers. Everything that takes time
// (training, gradients, sampling, the exercise) runs in a worker; the page only draws.
import type { MatrixKind, SpectralCurve, TruncationComparison } from './exercise.js';
import type { BackendName, CellKind } from '../../src/index.js';
import type { GateCurve } from './gates.js';

export type TruncationName = 'full' | 'chunked' | 'randomized' | 'window';

export interface TrainConfig {
  cell: CellKind; // rnn: the chapter's vanilla tanh cell
  numLayers: number; // 1..3
  hiddenSize: number; // h
  whhRadius: number; // 0: default initialisation; else W_hh starts as whhRadius * (random orthogonal)
  steps: number; // T, tokens per sequence per step
  batchSize: number; // B, parallel streams
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  clipNorm: number; // 0: no clipping
  truncation: TruncationName;
  tau: number; // chunked and window length
  keepProbability: number; // randomized truncation's pi
  heatEvery: number; // a heat-map row every this many steps
  sampleEvery: number; // a new sample every this many steps
  validateEvery: number; // validation perplexity on the held-out text every this many steps
}

export const DEFAULT_CONFIG: TrainConfig = {
  cell: 'rnn',
  numLayers: 1,
  hiddenSize: 64,
  whhRadius: 0,
  steps: 32,
  batchSize: 16,
  optimizer: 'adam',
  learningRate: 0.01,
  clipNorm: 1,
  truncation: 'full',
  tau: 8,
  keepProbability: 0.8,
  heatEvery: 2,
  sampleEvery: 10,
  validateEvery: 10,
};

/** The held-out text: the corpus's last tenth, never trained on. */
export const HELD_OUT_FRACTION = 0.1;

export type ToTrainer =
  | { type: 'init'; corpusUrl: string; config: TrainConfig; prefix: string; backend: 'auto' | 'webgpu' | 'wasm' | 'cpu'; hideWebGpu: boolean }
  | { type: 'config'; config: TrainConfig }
  | { type: 'start' }
  | { type: 'pause' }
  | { type: 'reset' }
  | { type: 'sample'; prefix: string; length: number; temperature: number };

export interface BackendInfo {
  backend: BackendName;
  reason: string; // why: engine.backendReason, and the WebGPU error when it fell back
  adapter: string | null; // vendor, architecture, description, fallback or not
  fellBack: boolean; // WebGPU was tried and failed
}

export type FromTrainer =
  | { type: 'ready'; info: BackendInfo; corpusChars: number; heldOutChars: number; vocab: string }
  | { type: 'step'; step: number; loss: number; skipped: boolean; ms: number; tokens: number; cell: CellKind; numLayers: number; backend: BackendName }
  | { type: 'heat'; step: number; norms: number[] }
  | { type: 'validation'; step: number; loss: number; tokens: number }
  | { type: 'sample'; step: number; prefix: string; text: string }
  | { type: 'state'; running: boolean; note: string }
  | { type: 'reset' }
  | { type: 'error'; message: string };

export interface SpectralRequest {
  radii: number[];
  hiddenSize: number;
  steps: number;
  kind: MatrixKind;
  seed: number;
}

export interface TruncationRequest {
  radius: number;
  kind: MatrixKind;
  hiddenSize: number;
  steps: number;
  batchSize: number;
  tau: number;
  keepProbability: number;
  draws: number;
  seed: number;
}

export interface GateRequest {
  hiddenSize: number;
  steps: number;
  gateBias: number;
  seed: number;
}

export type ToExercise =
  | { type: 'spectral'; id: number; request: SpectralRequest }
  | { type: 'gates'; id: number; request: GateRequest; corpusUrl: string }
  | { type: 'truncation'; id: number; request: TruncationRequest; corpusUrl: string };

export type FromExercise =
  | { type: 'spectral'; id: number; curves: SpectralCurve[]; backend: string }
  | { type: 'gates'; id: number; curves: GateCurve[]; backend: string }
  | { type: 'truncation'; id: number; comparison: TruncationComparison; chunkXi: number[]; text: string; backend: string }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'error'; id: number; message: string };

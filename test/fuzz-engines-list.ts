// The engines the fuzz test runs against, one line each. `sibling` makes a
// second engine cheaply (for the WebGPU engine: on the same device, so the
// compiled pipelines are shared) to dispose at random points; `device` says
// whether the engine has a GPUDevice the child process may destroy (a
// simulated device loss). An engine joins the fuzz test with one line here.
import '../src/node.js';
import { createEngine, type Engine } from '../src/index.js';

export interface EngineFactory {
  name: string;
  create(): Promise<Engine>;
  sibling(base: Engine): Promise<Engine>;
  device: boolean;
}

export const ENGINES: EngineFactory[] = [
  { name: 'cpu', create: () => createEngine({ backend: 'cpu' }), sibling: () => createEngine({ backend: 'cpu' }), device: false },
  { name: 'webgpu', create: () => createEngine({ backend: 'webgpu' }), sibling: (base) => createEngine({ backend: 'webgpu', device: base.device! }), device: true },
  { name: 'wasm', create: () => createEngine({ backend: 'wasm', threads: 2 }), sibling: () => createEngine({ backend: 'wasm', threads: 2 }), device: false },
];

/** The float64 reference every engine is compared with. */
export const reference = (): Promise<Engine> => createEngine({ backend: 'cpu' });

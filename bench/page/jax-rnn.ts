// jax-js (@jax-js/jax) as a bench runner on its wasm and webgpu devices: the
// model of bench/lib/jax-rnn.mjs, jit(valueAndGrad(loss)) for the gradients
// mode and one jitted SGD step for the step mode. The first (checked) call
// traces and compiles; the page reports it apart (checkedCallMs).
import * as jax from '@jax-js/jax';
import { makeJaxRnn } from '../lib/jax-rnn.mjs';
import { makeJaxStack } from '../lib/jax-stack.mjs';
import type { Problem, StackProblem } from './problem.js';
import type { CaseRunner } from './runner.js';

let started: Promise<string[]> | null = null;

/** The devices jax-js could start on this page (once). */
export function jaxDevices(): Promise<string[]> {
  started ??= jax.init('wasm', 'webgpu') as Promise<string[]>;
  return started;
}

export async function jaxRunner(device: 'wasm' | 'webgpu', problem: Problem): Promise<CaseRunner> {
  const devices = await jaxDevices();
  if (!devices.includes(device)) throw new Error(`jax-js could not start its ${device} device here (it started ${devices.join(', ') || 'none'})`);
  const r = makeJaxRnn(jax, problem.spec, problem.model, problem.batch, device);
  return { async enter() {}, gradients: () => r.gradients(), step: () => r.step(), dispose: () => r.dispose() };
}

/** A gated stack (bench/lib/jax-stack.mjs) the same way. */
export async function jaxStackRunner(device: 'wasm' | 'webgpu', problem: StackProblem): Promise<CaseRunner> {
  const devices = await jaxDevices();
  if (!devices.includes(device)) throw new Error(`jax-js could not start its ${device} device here (it started ${devices.join(', ') || 'none'})`);
  if (problem.batch.lengths) throw new Error('the jax-js stack has no packed sequences: lengths are not run here');
  const r = makeJaxStack(jax, problem.spec, problem.model, problem.batch, device);
  return { async enter() {}, gradients: () => r.gradients(), step: () => r.step(), dispose: () => r.dispose() };
}

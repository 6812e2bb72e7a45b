// The shared WGSL functions (kernels/lib/) have one home: kernels take them by `//! include`,
// none defines them again, and every kernel links and reflects.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_NAMES, kernel, linkKernel } from '../src/gpu/kernels.js';

const dir = new URL('../kernels/', import.meta.url);
const LIB_FUNCTIONS = ['sigmoid', 'tanhF', 'phi', 'phiGrad', 'isFiniteF', 'gateGrads'];

describe('kernels/lib', () => {
  it('every kernel links: no include line is left and each lib function is defined once', () => {
    for (const name of KERNEL_NAMES) {
      const { source } = kernel(name);
      expect(source, name).not.toMatch(/^\/\/! include/m);
      for (const fn of LIB_FUNCTIONS) {
        const defs = source.match(new RegExp(`^fn ${fn}\\(`, 'gm'))?.length ?? 0;
        expect(defs, `${name}: fn ${fn}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('no kernel file defines a lib function or the Stats struct itself', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.wgsl'));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      for (const fn of LIB_FUNCTIONS) expect(text, `${f} defines ${fn}`).not.toMatch(new RegExp(`^fn ${fn}\\(`, 'm'));
      expect(text, `${f} declares Stats`).not.toMatch(/^struct Stats /m);
    }
  });

  it("the variants of one step kernel share its interface from one file: the same params fields and bindings", () => {
    const families = {
      cell_forward_io: ['cell_forward_step', 'cell_forward_tile4', 'cell_forward_splitk'],
      cell_backward_io: ['cell_backward_step', 'cell_backward_tile4', 'cell_backward_lanes'],
      cell_window_io: ['cell_window_backward_step', 'cell_window_backward_tile4'],
      rnn_forward_io: ['rnn_forward_step', 'rnn_forward_subgroup'],
      rnn_backward_io: ['rnn_backward_step', 'rnn_backward_small'],
      window_io: ['window_backward_step', 'window_backward_small'],
    } as const;
    for (const [lib, names] of Object.entries(families)) {
      const infos = names.map((n) => kernel(n));
      for (const [i, n] of names.entries()) {
        expect(readFileSync(new URL(`${n}.wgsl`, dir), 'utf8'), `${n} includes ${lib}`).toMatch(new RegExp(`^//! include ${lib}$`, 'm'));
        expect(readFileSync(new URL(`${n}.wgsl`, dir), 'utf8'), `${n} declares Params itself`).not.toMatch(/^struct Params /m);
        expect(infos[i].params, n).toEqual(infos[0].params);
      }
    }
  });

  it('an include of a lib that does not exist is refused, naming it', () => {
    expect(() => linkKernel('k', 'x\n//! include nothing\n')).toThrow(/kernels\/lib\/nothing\.wgsl/);
    expect(linkKernel('k', '//! include finite\n')).toMatch(/^fn isFiniteF\(/m);
  });
});

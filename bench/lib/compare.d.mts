import type { Grads } from '../page/runner.js';
import type { CheckResult, Tolerance } from '../page/types.js';
export declare function compareGrads(got: Grads, ref: Grads, tol: Tolerance): CheckResult;

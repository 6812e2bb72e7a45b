// The sequence generate twins (test/twins/sequence-generate.ts) on WebGPU: Dawn, SwiftShader where there is no GPU.
import { gpuEngine } from './gpu-setup.js';
import { defineSequenceGenerateTwins } from './twins/sequence-generate.js';

defineSequenceGenerateTwins('gpu-sequence-generate.test.ts', gpuEngine);

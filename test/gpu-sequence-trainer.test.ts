// The sequence trainer twins (test/twins/sequence-trainer.ts) on WebGPU: Dawn, SwiftShader where there is no GPU.
import { gpuEngine } from './gpu-setup.js';
import { defineSequenceTrainerTwins } from './twins/sequence-trainer.js';

defineSequenceTrainerTwins('gpu-sequence-trainer.test.ts', gpuEngine);

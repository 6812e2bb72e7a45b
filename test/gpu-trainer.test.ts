// The trainer twins (test/twins/trainer.ts) on WebGPU: Dawn, SwiftShader where there is no GPU.
import { gpuEngine } from './gpu-setup.js';
import { defineTrainerTwins } from './twins/trainer.js';

defineTrainerTwins('gpu-trainer.test.ts', gpuEngine);

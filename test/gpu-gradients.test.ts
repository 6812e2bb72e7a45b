// The gradients twins (test/twins/gradients.ts) on WebGPU: Dawn, SwiftShader where there is no GPU.
import { gpuEngine } from './gpu-setup.js';
import { defineGradientTwins } from './twins/gradients.js';

defineGradientTwins('gpu-gradients.test.ts', gpuEngine);

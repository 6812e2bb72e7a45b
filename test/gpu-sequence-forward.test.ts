// The sequence forward twins (test/twins/sequence-forward.ts) on WebGPU: Dawn, SwiftShader where there is no GPU.
import { gpuEngine } from './gpu-setup.js';
import { defineSequenceForwardTwins } from './twins/sequence-forward.js';

defineSequenceForwardTwins('gpu-sequence-forward.test.ts', gpuEngine);

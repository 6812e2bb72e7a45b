// The identities twins (test/twins/identities.ts) on WebGPU: Dawn, SwiftShader where there is no GPU.
import { gpuEngine } from './gpu-setup.js';
import { defineIdentityTwins } from './twins/identities.js';

defineIdentityTwins('gpu-identities.test.ts', gpuEngine);

// Child process: creates an engine with the backend given and prints what it
// chose and why. The parent checks that nothing at all reached stderr (Dawn
// warned about Mesa's llvmpipe there while the library probed the system's drivers).
import '../../src/node.js';
import { createEngine } from '../../src/index.js';

const { backend } = JSON.parse(process.argv[2]) as { backend: 'auto' | 'webgpu' };
const engine = await createEngine({ backend });
console.log(JSON.stringify({ backend: engine.backend, reason: engine.backendReason }));
engine.dispose();

// Types of examples/tfjs-layer/build.mjs, for the TypeScript test that imports it.
export declare const exampleRoot: string;
export declare function buildExample(): Promise<string>;

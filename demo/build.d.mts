// Types of demo/build.mjs, for the TypeScript tests that import it.
export declare const demoRoot: string;
export declare function buildDemo(options?: { minify?: boolean; librarySrc?: string }): Promise<string>;

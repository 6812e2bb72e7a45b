export declare const WASM_OUTPUTS: { st: string; mt: string };
export declare function buildWasm(options?: { force?: boolean }): void;

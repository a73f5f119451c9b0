// The one piece of node:buffer the import needs (csv-parse reads Node Buffers); the runtime
// provides the module under the nodejs_compat flag, and the project carries no Node type package.
declare module "node:buffer" {
  export const Buffer: { from(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array };
}

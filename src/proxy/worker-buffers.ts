/** Buffers cross to and from the recording worker as plain Uint8Arrays (structured clone); this makes them Buffers again, without a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

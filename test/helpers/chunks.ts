/** Splitting a stream at generated cut points, for properties that must hold however bytes are chunked. */

/** Cut points (any numbers, taken modulo the length) → chunks, 1-byte and empty pieces included. */
export function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, stream.length]) {
    chunks.push(stream.subarray(from, p));
    from = p;
  }
  return chunks;
}

// RLE Lossless decoding (DICOM PS3.5 Annex G): a 64-byte header with up to 15 segment offsets, one
// PackBits-encoded segment per byte plane (most significant byte first) of each sample.

export type RawSamples = Uint8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

/** Decodes one PackBits segment into `out` (exactly out.length bytes). Returns the bytes produced. */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let i = start;
  let o = 0;
  const n = out.length;
  while (i < end && o < n) {
    const h = src[i++];
    if (h < 128) {
      const count = h + 1;
      if (i + count > end) throw new Error(`RLE segment literal run overruns the segment (${count} bytes at ${i - 1})`);
      const take = Math.min(count, n - o);
      out.set(src.subarray(i, i + take), o);
      o += take;
      i += count;
    } else if (h > 128) {
      if (i >= end) throw new Error('RLE segment ends inside a replicate run');
      const count = 257 - h;
      const v = src[i++];
      const take = Math.min(count, n - o);
      out.fill(v, o, o + take);
      o += take;
    }
    // h === 128 (-128) is a no-op.
  }
  return o;
}

/**
 * Decodes one RLE Lossless frame into pixel-interleaved stored values: Uint8Array (8 bits allocated),
 * Uint16Array (16) or Uint32Array (32), rows * columns * samplesPerPixel elements.
 */
export function decodeRleFrame(frame: Uint8Array, rows: number, columns: number, samplesPerPixel: number, bitsAllocated: number): RawSamples {
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw new Error(`RLE Lossless with ${bitsAllocated} bits allocated is not supported`);
  }
  if (frame.length < 64) throw new Error(`RLE frame is ${frame.length} bytes, shorter than its 64-byte header`);
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const nSeg = dv.getUint32(0, true);
  const bytes = bitsAllocated / 8;
  const want = samplesPerPixel * bytes;
  if (nSeg !== want) {
    throw new Error(`RLE frame has ${nSeg} segments, expected ${want} (${samplesPerPixel} samples x ${bytes} bytes)`);
  }
  const offsets: number[] = [];
  for (let s = 0; s < nSeg; s++) offsets.push(dv.getUint32(4 + 4 * s, true));
  const n = rows * columns;
  const out = bytes === 1 ? new Uint8Array(n * samplesPerPixel) : bytes === 2 ? new Uint16Array(n * samplesPerPixel) : new Uint32Array(n * samplesPerPixel);
  const plane = new Uint8Array(n);
  for (let s = 0; s < nSeg; s++) {
    const start = offsets[s];
    const end = s + 1 < nSeg ? offsets[s + 1] : frame.length;
    if (start < 64 || start > end || end > frame.length) throw new Error(`RLE segment ${s} has an invalid offset ${start}`);
    plane.fill(0);
    const got = unpackBits(frame, start, end, plane);
    if (got < n) throw new Error(`RLE segment ${s} decodes to ${got} bytes, expected ${n}`);
    const sample = Math.floor(s / bytes);
    const shift = 8 * (bytes - 1 - (s % bytes));
    if (bytes === 1) {
      for (let p = 0, o = sample; p < n; p++, o += samplesPerPixel) out[o] = plane[p];
    } else if (shift === 0) {
      for (let p = 0, o = sample; p < n; p++, o += samplesPerPixel) out[o] = out[o] + plane[p];
    } else {
      const mul = 2 ** shift;
      for (let p = 0, o = sample; p < n; p++, o += samplesPerPixel) out[o] = out[o] + plane[p] * mul;
    }
  }
  return out;
}

// Minimal decoder for uncompressed Windows BMP files (libvips, hence sharp, has no BMP loader).
// Supported: BITMAPINFOHEADER and later headers, 1/4/8-bit palette, 24-bit, 32-bit BI_RGB (the 4th
// byte is ignored, as Pillow's 'BGRX' raw mode), and 32-bit BI_BITFIELDS with byte-aligned masks.
// Compressed variants (RLE4/RLE8, JPEG/PNG in BMP) and 16-bit pixels are rejected with a reason.

export interface BmpImage {
  width: number;
  height: number;
  /** Interleaved RGB. */
  rgb: Uint8Array;
  hadAlpha: boolean;
}

export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d;
}

/** Reads width and height without decoding pixels (for the pixel-count guard). */
export function bmpSize(buf: Uint8Array): { width: number; height: number } {
  if (buf.length < 18) throw new Error('truncated BMP header');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hdr = dv.getUint32(14, true);
  if (![12, 40, 52, 56, 64, 108, 124].includes(hdr)) throw new Error(`corrupt BMP header (header size ${hdr})`);
  if (buf.length < 14 + hdr) throw new Error('truncated BMP header');
  if (hdr === 12) return { width: dv.getUint16(18, true), height: dv.getUint16(20, true) };
  return { width: Math.abs(dv.getInt32(18, true)), height: Math.abs(dv.getInt32(22, true)) };
}

function maskShift(mask: number): number {
  const shifts = [0, 8, 16, 24];
  for (const s of shifts) if (mask >>> 0 === (0xff << s) >>> 0) return s;
  throw new Error(`unsupported BMP bit field mask 0x${(mask >>> 0).toString(16)}`);
}

export function decodeBmp(buf: Uint8Array): BmpImage {
  if (!isBmp(buf)) throw new Error('not a BMP file');
  if (buf.length < 54) throw new Error('truncated BMP header');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const hdr = dv.getUint32(14, true);
  if (hdr < 40) throw new Error(`unsupported BMP header size ${hdr} (OS/2 bitmaps are not supported)`);
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  let colorsUsed = dv.getUint32(46, true);
  if (width <= 0 || rawHeight === 0) throw new Error(`invalid BMP size ${width}x${rawHeight}`);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  let shifts: [number, number, number] | null = null;
  let hadAlpha = false;
  if (compression === 3 && bpp === 32) {
    const maskAt = hdr >= 52 ? 54 : 14 + hdr;
    if (buf.length < maskAt + 12) throw new Error('truncated BMP bit field masks');
    shifts = [maskShift(dv.getUint32(maskAt, true)), maskShift(dv.getUint32(maskAt + 4, true)), maskShift(dv.getUint32(maskAt + 8, true))];
    hadAlpha = hdr >= 56 && buf.length >= 70 && dv.getUint32(66, true) !== 0; // alpha mask present
  } else if (compression !== 0) {
    const names: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 3: 'BITFIELDS', 4: 'JPEG', 5: 'PNG' };
    throw new Error(`unsupported BMP compression ${names[compression] ?? compression} at ${bpp} bits per pixel`);
  }
  if (![1, 4, 8, 24, 32].includes(bpp)) throw new Error(`unsupported BMP bit depth ${bpp}`);
  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    if (colorsUsed === 0 || colorsUsed > 1 << bpp) colorsUsed = 1 << bpp;
    const palAt = 14 + hdr;
    if (buf.length < palAt + colorsUsed * 4) throw new Error('truncated BMP palette');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < colorsUsed; i++) {
      palette[i * 3] = buf[palAt + i * 4 + 2];
      palette[i * 3 + 1] = buf[palAt + i * 4 + 1];
      palette[i * 3 + 2] = buf[palAt + i * 4];
    }
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * (height - 1) + Math.ceil((bpp * width) / 8) > buf.length) {
    throw new Error('truncated BMP pixel data');
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    const o = y * width * 3;
    for (let x = 0; x < width; x++) {
      const q = o + x * 3;
      if (palette) {
        const bit = x * bpp;
        const byte = buf[row + (bit >> 3)];
        const idx = bpp === 8 ? byte : (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        rgb[q] = palette[idx * 3];
        rgb[q + 1] = palette[idx * 3 + 1];
        rgb[q + 2] = palette[idx * 3 + 2];
      } else if (shifts) {
        const v = dv.getUint32(row + x * 4, true);
        rgb[q] = (v >>> shifts[0]) & 0xff;
        rgb[q + 1] = (v >>> shifts[1]) & 0xff;
        rgb[q + 2] = (v >>> shifts[2]) & 0xff;
      } else {
        const p = row + x * (bpp >> 3);
        rgb[q] = buf[p + 2];
        rgb[q + 1] = buf[p + 1];
        rgb[q + 2] = buf[p];
      }
    }
  }
  return { width, height, rgb, hadAlpha };
}

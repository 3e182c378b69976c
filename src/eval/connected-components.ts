/**
 * Connected-component labelling of a binary mask with 8-connectivity (the 3 × 3 structuring element
 * of `scipy.ndimage.label(mask, np.ones((3, 3)))`, which the MVTec AD evaluation code uses for
 * AU-PRO regions; OpenCV's default `connectedComponents` connectivity in anomalib is also 8).
 */

/** Result of {@link labelComponents8}. */
export interface Components {
  /** Per pixel, 0 for background or the component number 1..count. */
  labels: Int32Array;
  /** Number of components. */
  count: number;
  /** `sizes[k]` is the pixel count of component k (index 0 counts background pixels). */
  sizes: Float64Array;
}

/**
 * Labels the nonzero pixels of a row-major `width × height` mask. Components are numbered 1, 2, ...
 * in raster order of their first pixel (top row first, left to right), like scipy.ndimage.label.
 */
export function labelComponents8(mask: Uint8Array, width: number, height: number): Components {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError(`invalid mask size ${width} × ${height}`);
  }
  if (mask.length !== width * height) {
    throw new RangeError(`mask has ${mask.length} pixels, expected ${width} × ${height} = ${width * height}`);
  }
  const n = mask.length;
  const labels = new Int32Array(n);
  // Union-find over provisional labels; the root of a set is its smallest label, which is the
  // provisional label of the set's first pixel in raster order.
  const parent = new Int32Array(n + 1);
  let nextLabel = 1;
  const find = (a: number): number => {
    let r = a;
    while (parent[r] !== r) r = parent[r];
    while (parent[a] !== r) {
      const up = parent[a];
      parent[a] = r;
      a = up;
    }
    return r;
  };
  const union = (a: number, b: number): number => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return ra;
    if (ra < rb) {
      parent[rb] = ra;
      return ra;
    }
    parent[ra] = rb;
    return rb;
  };
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (mask[i] === 0) continue;
      let l = 0;
      const take = (j: number): void => {
        const m = labels[j];
        if (m !== 0) l = l === 0 ? m : union(l, m);
      };
      if (x > 0) take(i - 1);
      if (y > 0) {
        if (x > 0) take(i - width - 1);
        take(i - width);
        if (x + 1 < width) take(i - width + 1);
      }
      if (l === 0) {
        l = nextLabel++;
        parent[l] = l;
      }
      labels[i] = l;
    }
  }
  // Final numbering in raster order of first pixels.
  const final = new Int32Array(nextLabel);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l === 0) continue;
    const r = find(l);
    if (final[r] === 0) final[r] = ++count;
    labels[i] = final[r];
  }
  const sizes = new Float64Array(count + 1);
  for (let i = 0; i < n; i++) sizes[labels[i]]++;
  return { labels, count, sizes };
}

// Results of this server run: a metadata list (bounded), overlay PNGs in an LRU bounded by count and bytes,
// and the CSV/JSON downloads.
import { randomBytes } from 'node:crypto';

export interface PredictionResult {
  /** Random hex id; the overlay is at /api/results/<id>.png while it is kept. */
  id: string;
  name: string;
  /** Calibrated anomaly score (about 0 = like the normal examples, 1 = like the most unusual training image); null without calibration. */
  score: number | null;
  /** Zero-shot (text prompt) image score, uncalibrated. */
  zero_det: number;
  /** Few-shot (memory bank) image score, uncalibrated; null without support images. */
  few_det: number | null;
  /** Size of the uploaded image. */
  width: number;
  height: number;
  organ: string;
  adapters: string;
  /** Seconds of compute for this image. */
  seconds: number;
  created: string;
}

export interface ListedResult extends PredictionResult {
  /** URL of the overlay PNG, or null once it has been dropped from memory. */
  overlay: string | null;
}

export const RESULT_ID = /^[0-9a-f]{32}$/;

export function newResultId(): string {
  return randomBytes(16).toString('hex');
}

export function overlayUrl(id: string): string {
  return `/api/results/${id}.png`;
}

export class ResultStore {
  private readonly meta: PredictionResult[] = [];
  /** Insertion order = recency order (re-inserted on access). */
  private readonly pngs = new Map<string, Buffer>();
  private bytes = 0;

  constructor(
    readonly maxImages = 256,
    readonly maxBytes = 256 * 1024 * 1024,
    readonly maxEntries = 10000,
  ) {}

  add(r: PredictionResult, png: Buffer): void {
    if (!RESULT_ID.test(r.id)) throw new RangeError(`invalid result id ${r.id}`);
    this.meta.push(r);
    if (this.meta.length > this.maxEntries) this.meta.splice(0, this.meta.length - this.maxEntries);
    this.pngs.set(r.id, png);
    this.bytes += png.length;
    while (this.pngs.size > this.maxImages || (this.bytes > this.maxBytes && this.pngs.size > 1)) {
      const [oldest, buf] = this.pngs.entries().next().value as [string, Buffer];
      this.pngs.delete(oldest);
      this.bytes -= buf.length;
    }
  }

  png(id: string): Buffer | undefined {
    const b = this.pngs.get(id);
    if (b) {
      this.pngs.delete(id);
      this.pngs.set(id, b);
    }
    return b;
  }

  get size(): number {
    return this.meta.length;
  }

  get imageCount(): number {
    return this.pngs.size;
  }

  get imageBytes(): number {
    return this.bytes;
  }

  list(): ListedResult[] {
    return this.meta.map((r) => ({ ...r, overlay: this.pngs.has(r.id) ? overlayUrl(r.id) : null }));
  }

  csv(): string {
    const cols = ['name', 'anomaly_score', 'zero_shot_score', 'few_shot_score', 'width', 'height', 'organ', 'adapters', 'seconds', 'created', 'id'] as const;
    const rows = this.meta.map((r) => [
      r.name,
      num(r.score),
      num(r.zero_det),
      num(r.few_det),
      String(r.width),
      String(r.height),
      r.organ,
      r.adapters,
      r.seconds.toFixed(3),
      r.created,
      r.id,
    ]);
    return [cols.join(','), ...rows.map((row) => row.map(csvCell).join(','))].join('\r\n') + '\r\n';
  }
}

function num(v: number | null): string {
  return v === null ? '' : String(v);
}

/**
 * One CSV cell: quoted when needed, and text that a spreadsheet would run as a formula (=, +, -, @, tab, CR at
 * the start) is prefixed with an apostrophe. Plain numbers are left as they are.
 */
export function csvCell(v: string): string {
  let s = v;
  if (/^[=+\-@\t\r]/.test(s) && !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// The JSON API: status, model choice (allow-list only), training from uploads, predictions, results.
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type AugmentMode } from '../data/training-set.ts';
import { MVFA_DEFAULTS } from '../mvfa/defaults.ts';
import { HttpError, describeError, mediaType, queryOf, readJsonObject, send, sendJson } from './http.ts';
import { checkUploadPixels } from './imaging.ts';
import { type ModelHost, checkOrgan } from './model-host.ts';
import { type Job, type Reservation, type WorkQueue } from './queue.ts';
import { type ResultStore, overlayUrl } from './results.ts';
import { checkImageUpload, cleanName } from './sniff.ts';
import { type TrainingProgress, type TrainingUpload, idleProgress, planFiles, trainFromUploads } from './training.ts';
import { parseMultipart, readRawImage, type UploadedFile } from './upload.ts';

export interface ApiLimits {
  /** Largest image upload, and largest body of a prediction request. */
  maxUploadBytes: number;
  /** Largest body of a training request. */
  maxTrainBytes: number;
  /** Most files of each kind in a training request. */
  maxTrainFiles: number;
  maxEpochs: number;
  timeoutMs: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, started: number) => Promise<void>;

const PREDICT_FIELDS = ['image', 'file', 'image[]'];
const TRAIN_FIELDS = ['normal', 'normal[]', 'abnormal', 'abnormal[]', 'mask', 'mask[]', 'masks', 'masks[]'];

export class Api {
  training: TrainingProgress = idleProgress();
  private trained: { bytes: Buffer; name: string } | null = null;
  /** What the worker is doing besides predictions, in plain words. */
  activity: string | null = null;
  /** Model loads queued or running: predictions sent meanwhile wait for them instead of being refused. */
  private loads = 0;
  /** A training upload is being read (set before the body is parsed, so only one is ever read at a time). */
  private trainingUpload = false;
  /** Private folder for the files of training runs (removed when the server stops). */
  scratchDir: string | undefined;

  constructor(
    readonly host: ModelHost,
    readonly queue: WorkQueue,
    readonly results: ResultStore,
    readonly limits: ApiLimits,
    readonly log: (msg: string) => void = () => {},
  ) {}

  /** Waits for a job within the request's time; cancels it when the client goes away or the time runs out. */
  private async finish<T>(job: Job<T>, res: ServerResponse, started: number, what: string): Promise<T> {
    const left = Math.max(1000, this.limits.timeoutMs - (Date.now() - started));
    let timer: NodeJS.Timeout | undefined;
    const onClose = () => {
      if (!res.writableFinished) job.cancel();
    };
    res.on('close', onClose);
    try {
      return await Promise.race([
        job.result,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const waited = job.cancel();
            reject(
              this.queue.busyError(
                `${what} did not finish within ${Math.round(this.limits.timeoutMs / 1000)} s (${waited ? 'it was still waiting for its turn' : 'it is still being computed'}); try again shortly`,
              ),
            );
          }, left);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      res.off('close', onClose);
    }
  }

  private trainingActive(): boolean {
    return ['waiting', 'loading images', 'training', 'calibrating'].includes(this.training.phase);
  }

  /** Whether a model load is queued or running. */
  get loading(): boolean {
    return this.loads > 0;
  }

  /** Queues a model load; predictions that arrive meanwhile are queued behind it rather than refused. */
  loadModel(run: () => Promise<void>): Job<void> {
    const job = this.queue.submit('task', async () => {
      this.activity = 'loading the model';
      try {
        await run();
      } finally {
        this.activity = null;
      }
    });
    this.loads++;
    void job.result.then(
      () => this.loads--,
      () => this.loads--,
    );
    return job;
  }

  status: Handler = async (_req, res) => {
    const q = this.queue.stats();
    const model = this.host.status();
    if (!model.ready && this.loading) model.message = 'The model is loading. Images dropped now are held and checked as soon as it is ready.';
    sendJson(res, 200, {
      ...model,
      loading: this.loading,
      busy: this.activity,
      queue: {
        length: q.pending,
        limit: q.limit,
        waiting: q.waiting,
        running: q.running,
        seconds_per_image: Number(q.avgPredictS.toFixed(3)),
        served: q.served,
        refused: q.refused,
      },
      training: this.training,
      trained_adapters: this.trained ? '/api/adapters' : null,
      results: this.results.size,
      limits: {
        max_upload_mb: this.limits.maxUploadBytes / (1024 * 1024),
        max_train_upload_mb: this.limits.maxTrainBytes / (1024 * 1024),
        max_train_files: this.limits.maxTrainFiles,
        max_epochs: this.limits.maxEpochs,
        timeout_s: this.limits.timeoutMs / 1000,
      },
    });
  };

  model: Handler = async (req, res, started) => {
    const body = await readJsonObject(req, 16 * 1024, this.limits.timeoutMs);
    const ask: { clip?: string; adapters?: string; organ?: string } = {};
    if (body.clip !== undefined && body.clip !== null) ask.clip = this.host.allowed('clip', body.clip);
    if (body.adapters !== undefined && body.adapters !== null) ask.adapters = this.host.allowed('adapters', body.adapters);
    if (body.organ !== undefined && body.organ !== null && body.organ !== '') ask.organ = checkOrgan(body.organ);
    if (!ask.clip && !ask.adapters && !ask.organ) throw new HttpError(400, "give at least one of 'clip', 'adapters' or 'organ'");
    if (ask.organ) this.host.admitOrgan(ask.organ);
    const job = this.loadModel(() => this.host.load(ask));
    await this.finish(job, res, started, 'loading the model');
    sendJson(res, 200, this.host.status());
  };

  predict: Handler = async (req, res, started) => {
    const q = queryOf(req.url ?? '');
    if (!this.host.ready && !this.loading) throw new HttpError(409, this.host.status().message);
    if (this.trainingActive())
      throw new HttpError(503, 'the model is being trained; images can be checked again when training has finished', { 'Retry-After': '10' });
    // The slot is held before the body is read: at most `queue` uploads are ever held in memory at once.
    const slot = this.queue.reserve();
    try {
      await this.predictUpload(req, res, started, q, slot);
    } finally {
      slot.release();
    }
  };

  private async predictUpload(req: IncomingMessage, res: ServerResponse, started: number, q: URLSearchParams, slot: Reservation): Promise<void> {
    let file: UploadedFile;
    if (mediaType(req) === 'multipart/form-data') {
      const form = await parseMultipart(req, {
        fileBytes: this.limits.maxUploadBytes,
        totalBytes: this.limits.maxUploadBytes + 64 * 1024,
        files: 1,
        fileFields: PREDICT_FIELDS,
        fields: [],
        timeoutMs: this.limits.timeoutMs,
      });
      if (form.files.length === 0) throw new HttpError(400, "no image in the upload (send it in the form field 'image')");
      file = form.files[0];
    } else file = await readRawImage(req, this.limits.maxUploadBytes, this.limits.timeoutMs);
    const kind = checkImageUpload(file.name, file.type, file.data);
    await checkUploadPixels(file.name, kind, file.data);
    const job = this.queue.submit('predict', () => this.host.predict(file.name, kind, file.data), slot);
    const { result, png } = await this.finish(job, res, started, `scoring ${file.name}`);
    this.results.add(result, png);
    const body: Record<string, unknown> = { ...result, overlay: overlayUrl(result.id) };
    if (q.get('overlay') === 'base64') body.overlay_png_base64 = png.toString('base64');
    sendJson(res, 200, body);
  }

  train: Handler = async (req, res) => {
    // Checked and claimed in one step before the body is read: one training upload at a time, one run at a time.
    if (this.trainingActive() || this.trainingUpload) {
      throw new HttpError(409, 'a training run is already in progress; wait for it to finish');
    }
    this.trainingUpload = true;
    try {
      await this.startTraining(req, res);
    } finally {
      this.trainingUpload = false;
    }
  };

  private async startTraining(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const defaults = this.host.trainingDefaults();
    const l = this.limits;
    const form = await parseMultipart(req, {
      fileBytes: l.maxUploadBytes,
      totalBytes: l.maxTrainBytes,
      files: 3 * l.maxTrainFiles,
      fileFields: TRAIN_FIELDS,
      fields: ['organ', 'epochs', 'augment'],
      timeoutMs: l.timeoutMs,
    });
    const pick = (kind: string): TrainingUpload[] => {
      const list = form.files.filter((f) => f.field.replace(/s?\[\]$|s$/, '') === kind);
      if (list.length > l.maxTrainFiles) throw new HttpError(413, `too many ${kind} images: at most ${l.maxTrainFiles}`);
      return list.map((file) => ({ file, kind: checkImageUpload(file.name, file.type, file.data) }));
    };
    const normal = pick('normal');
    const abnormal = pick('abnormal');
    const masks = pick('mask');
    for (const u of [...normal, ...abnormal, ...masks]) await checkUploadPixels(u.file.name, u.kind, u.file.data);
    const organ = checkOrgan(form.fields.get('organ') || this.host.organ || '');
    this.host.admitOrgan(organ);
    const epochsRaw = form.fields.get('epochs') ?? '5';
    const epochs = Number(epochsRaw);
    if (!Number.isInteger(epochs) || epochs < 1 || epochs > l.maxEpochs)
      throw new HttpError(400, `epochs must be a whole number from 1 to ${l.maxEpochs}, got '${cleanName(epochsRaw, '')}'`);
    const augment = (form.fields.get('augment') ?? 'mvfa') as AugmentMode;
    if (augment !== 'none' && augment !== 'mvfa') throw new HttpError(400, "augment must be 'none' or 'mvfa'");
    planFiles({ normal, abnormal, masks });
    const progress: TrainingProgress = {
      ...idleProgress(),
      phase: 'waiting',
      message: 'waiting for the model to be free',
      epochs,
      started: new Date().toISOString(),
    };
    const request = {
      normal,
      abnormal,
      masks,
      organ,
      epochs,
      augment,
      lr: MVFA_DEFAULTS.lr,
      seed: MVFA_DEFAULTS.seed,
      scratchDir: this.scratchDir,
      ...defaults,
    };
    const job = this.queue.submit('task', async () => {
      this.activity = 'training';
      try {
        const out = await this.host.train(organ, (clip, text) => trainFromUploads(clip, text, request, progress));
        const tag =
          organ
            .replace(/[^A-Za-z0-9]+/g, '-')
            .replace(/^-|-$/g, '')
            .toLowerCase() || 'model';
        this.trained = { bytes: out.bytes, name: `mvfa-adapters-${tag}-${new Date().toISOString().slice(0, 10)}.safetensors` };
        Object.assign(progress, {
          phase: 'done',
          message: `finished: the new adapters are in use (${out.normalCount} normal images in the memory bank)`,
          fraction: 1,
          finished: new Date().toISOString(),
        });
      } catch (e) {
        const { message } = describeError(e);
        Object.assign(progress, { phase: 'failed', message: `training failed: ${message}`, error: message, finished: new Date().toISOString() });
        this.log(`training failed: ${message}`);
      } finally {
        this.activity = null;
      }
    });
    this.training = progress;
    void job.result.catch(() => {});
    sendJson(res, 202, { training: progress, status: '/api/train' });
  }

  trainStatus: Handler = async (_req, res) => {
    sendJson(res, 200, this.training);
  };

  adapters: Handler = async (_req, res) => {
    if (!this.trained) throw new HttpError(404, 'no adapters were trained since the server started');
    send(res, 200, 'application/octet-stream', this.trained.bytes, { 'Content-Disposition': `attachment; filename="${this.trained.name}"` });
  };

  resultPng = async (res: ServerResponse, id: string): Promise<void> => {
    const png = this.results.png(id);
    if (!png) throw new HttpError(404, 'no such result image (results are kept in memory for a limited number of images)');
    send(res, 200, 'image/png', png);
  };

  resultsJson: Handler = async (req, res) => {
    const download = queryOf(req.url ?? '').has('download');
    sendJson(res, 200, { results: this.results.list() }, download ? { 'Content-Disposition': 'attachment; filename="mvfa-results.json"' } : {});
  };

  resultsCsv: Handler = async (_req, res) => {
    send(res, 200, 'text/csv; charset=utf-8', this.results.csv(), { 'Content-Disposition': 'attachment; filename="mvfa-results.csv"' });
  };
}

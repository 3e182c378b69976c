// Worker side of dicom-isolated.ts: parses a DICOM file and decodes one frame, away from the caller's event loop.
import { parentPort } from 'node:worker_threads';

import { DicomError, openDicom, readDicom, type DicomImage } from './dicom.ts';
import type { IsolatedReply, IsolatedRequest } from './dicom-isolated.ts';

async function handle(req: IsolatedRequest): Promise<DicomImage> {
  const { frame, ...open } = req.options;
  if (frame === 'none') {
    const { decodeFrame, ...info } = await openDicom(req.bytes, open);
    void decodeFrame;
    return { ...info, frames: [] };
  }
  return readDicom(req.bytes, { ...open, frame });
}

parentPort!.on('message', (req: IsolatedRequest) => {
  handle(req).then(
    (image) => {
      const transfer = image.frames.map((f) => f.pixels.buffer as ArrayBuffer);
      parentPort!.postMessage({ id: req.id, image } satisfies IsolatedReply, transfer);
    },
    (err: unknown) => {
      const reason = err instanceof DicomError ? err.reason : `cannot read the file (${(err as Error).message})`;
      parentPort!.postMessage({ id: req.id, error: reason } satisfies IsolatedReply);
    },
  );
});

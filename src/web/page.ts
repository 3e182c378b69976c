// The single web page: markup with the inlined style sheet and script, and their CSP hashes.
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './page-script.ts';
import { PAGE_STYLE } from './page-style.ts';

export interface Page {
  html: string;
  /** CSP source expressions ('sha256-…') of the inline script and style. */
  scriptHash: string;
  styleHash: string;
}

const ACCEPT = '.png,.jpg,.jpeg,.tif,.tiff,.bmp,.webp,.dcm,.dicom,image/png,image/jpeg,image/tiff,image/bmp,image/webp,application/dicom';

function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

const BODY = `
<header>
  <h1>Anomaly detection in medical images</h1>
  <p id="status" class="status" role="status" aria-live="polite">Connecting to the server…</p>
</header>
<main>
  <section class="panel" aria-labelledby="h-check">
    <h2 id="h-check">Check images</h2>
    <div id="drop" class="drop" tabindex="0" aria-label="Drop images here or choose files">
      <p><strong>Drop images here</strong> or</p>
      <label class="button" for="file-input">Choose images…</label>
      <input id="file-input" class="visually-hidden" type="file" multiple accept="${ACCEPT}">
      <p class="hint">PNG, JPEG, TIFF, BMP, WebP or DICOM files, up to <span id="max-mb">20</span> MB each. The images are processed on this computer only.</p>
    </div>
    <div class="downloads">Download all results: <a id="csv-link" href="/api/results.csv" download>spreadsheet (CSV)</a> · <a id="json-link" href="/api/results.json?download" download>JSON</a></div>
    <table>
      <thead><tr><th>Heatmap</th><th>Image</th><th>Anomaly score</th><th>Details</th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <p id="empty" class="hint">No images checked yet.</p>
    <div class="legend"><span>Heatmap colours: normal</span><span class="bar"></span><span>unusual</span></div>
  </section>

  <section class="panel" aria-labelledby="h-train">
    <h2 id="h-train">Train on your own examples (optional)</h2>
    <p class="hint">Give a few images without findings (normal) and a few with findings (abnormal). Outlines of the findings (masks: black background, white finding, same file name as the abnormal image) are optional and improve the heatmaps. Training replaces the model in use.</p>
    <form id="train-form" class="grid">
      <label>Normal images (no finding)<input id="normal" type="file" multiple accept="${ACCEPT}"></label>
      <label>Abnormal images (with a finding)<input id="abnormal" type="file" multiple accept="${ACCEPT}"></label>
      <label>Outlines of the findings (optional)<input id="mask" type="file" multiple accept="${ACCEPT}"></label>
      <label>Organ or body part<input id="organ" type="text" placeholder="for example: breast ultrasound" maxlength="80"></label>
      <label>Training rounds (epochs)<input id="epochs" type="number" min="1" max="20" value="5"></label>
      <label><span><input id="augment" type="checkbox" checked> also learn from rotated and flipped copies (slower, usually better)</span></label>
      <div><button id="train-start" type="submit">Start training</button></div>
    </form>
    <progress id="train-progress" max="1" value="0" hidden></progress>
    <p id="train-message" role="status" aria-live="polite"></p>
    <p><a id="adapters-link" href="/api/adapters" download hidden>Download the trained model (adapters file, .safetensors)</a></p>
  </section>

  <section class="panel" aria-labelledby="h-model">
    <h2 id="h-model">Model in use</h2>
    <dl id="model-info" class="info"></dl>
    <form id="model-form" class="grid" hidden>
      <label>CLIP weights<select id="choose-clip"></select></label>
      <label>Adapters<select id="choose-adapters"></select></label>
      <label>Organ (optional)<input id="model-organ" type="text" maxlength="80"></label>
      <div><button type="submit">Use these</button> <span id="model-message" class="small"></span></div>
    </form>
  </section>

  <section class="panel" aria-labelledby="h-help">
    <h2 id="h-help">How to read the results</h2>
    <p><strong>Anomaly score</strong>: how unusual the image looks compared with the normal examples the model was given. About 0 means “like the normal examples”, about 1 means “as unusual as the most unusual training example”; values outside 0–1 are possible. The score ranks images; it is not a diagnosis.</p>
    <p><strong>Heatmap</strong>: the colours over the image show where the model sees unusual tissue, from blue (normal) to red (most unusual). Click a heatmap to see it large.</p>
    <p class="small">MVFA (CVPR 2024) zero-/few-shot anomaly detection. For research use only; not a medical device.</p>
  </section>
</main>
<dialog id="viewer" aria-label="Heatmap, large view">
  <figure><img id="viewer-img" alt="heatmap, large view"><figcaption id="viewer-caption"></figcaption></figure>
  <button id="viewer-close" type="button">Close</button>
</dialog>
`;

export function renderPage(): Page {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MVFA — anomaly detection in medical images</title>
<style>${PAGE_STYLE}</style>
</head>
<body>${BODY}<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
  return { html, scriptHash: cspHash(PAGE_SCRIPT), styleHash: cspHash(PAGE_STYLE) };
}

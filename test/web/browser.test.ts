import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import sharp from 'sharp';
import { type RunningServer } from '../../src/web/server.ts';
import { ORGAN, type WebFixture, dispose, makeFixture, serve } from './fixture.ts';
import { e2eRef } from '../support/e2e.ts';

// The page in a real headless Chromium (Debian's `chromium` package, driven by playwright-core): upload through the
// file input, wait for the result row, screenshot, and check that the heatmap is coloured. Without Chromium this
// test fails: install it with `apt-get install -y chromium`.
const CHROMIUM = process.env.MVFA_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots are kept here for inspection. */
export const SHOTS = process.env.MVFA_WEB_SCREENSHOTS ?? join(tmpdir(), 'mvfa-web-screenshots');

let fx: WebFixture;
let srv: RunningServer;
let ctx: BrowserContext;
let page: Page;
let profile: string;
const problems: string[] = [];

before(async () => {
  if (!existsSync(CHROMIUM)) assert.fail(`Chromium is not installed at ${CHROMIUM}: install it with 'apt-get install -y chromium' (or set MVFA_CHROMIUM)`);
  fx = await makeFixture('browser');
  srv = await serve(fx, { timeoutMs: 60_000 });
  mkdirSync(SHOTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'mvfa-chromium-profile-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 1000 },
    deviceScaleFactor: 1,
    timeout: 60_000,
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('console', (m) => {
    // The refused broken upload (415) is expected; anything else logged as an error is a problem.
    if (m.type() === 'error' && !/status of 415/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // The page must not try to reach anything but the server.
  page.on('request', (r) => {
    if (!r.url().startsWith(srv.url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) problems.push(`external request: ${r.url()}`);
  });
});

after(async () => {
  await ctx?.close();
  await srv?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  dispose(fx);
});

interface Loadable {
  complete: boolean;
  naturalWidth: number;
}

/** Polls from here (the page's CSP forbids the string evaluation that page.waitForFunction uses). */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) assert.fail(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Pixels of a region whose channels differ clearly (colour, not grey), as a fraction. */
async function colourFraction(
  png: Buffer,
  box: { x: number; y: number; width: number; height: number },
): Promise<{ fraction: number; width: number; height: number }> {
  const meta = await sharp(png).metadata();
  const left = Math.max(0, Math.round(box.x));
  const top = Math.max(0, Math.round(box.y));
  const width = Math.min(meta.width! - left, Math.round(box.width));
  const height = Math.min(meta.height! - top, Math.round(box.height));
  const { data, info } = await sharp(png).extract({ left, top, width, height }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let coloured = 0;
  const n = info.width * info.height;
  for (let i = 0; i < n; i++) {
    const r = data[i * 3];
    const g = data[i * 3 + 1];
    const b = data[i * 3 + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
  }
  return { fraction: coloured / n, width: info.width, height: info.height };
}

test('page in headless Chromium: upload through the file input, result row with the reference score, coloured heatmap, large view', async (t) => {
  await page.goto(srv.url, { waitUntil: 'load' });
  await page.locator('#status', { hasText: 'Ready' }).waitFor({ timeout: 30_000 });
  // The first reference image: its score has a PyTorch/numpy value (fixtures/e2e-ref).
  const image = fx.test[0];
  await page.setInputFiles('#file-input', image);
  const thumb = page.locator('tr.result td.thumb img').first();
  await thumb.waitFor({ state: 'visible', timeout: 60_000 });
  await waitUntil(() => thumb.evaluate((img) => (img as unknown as Loadable).complete && (img as unknown as Loadable).naturalWidth > 0), 30_000);
  const row = page.locator('tr.result').first();
  assert.match((await row.textContent()) ?? '', new RegExp(basename(image).replace('.', '\\.')));
  const score = Number(await row.locator('.score').textContent());
  const want = e2eRef().predict[0].score_acas;
  assert.equal((await row.locator('.score').textContent())?.trim(), want.toFixed(3), `the page shows the reference score ${want} to 3 decimals`);
  const shot = await page.screenshot();
  writeFileSync(join(SHOTS, 'page.png'), shot);
  const box = (await thumb.boundingBox())!;
  const c = await colourFraction(shot, box);
  t.diagnostic(
    `heatmap thumbnail ${c.width}x${c.height} px on screen: ${(100 * c.fraction).toFixed(1)}% coloured pixels; score ${score}; screenshot ${join(SHOTS, 'page.png')}`,
  );
  assert.ok(c.fraction > 0.3, `the heatmap is coloured (${(100 * c.fraction).toFixed(1)}% coloured pixels)`);
  // A grey control region (the page background) is not.
  const header = (await page.locator('#h-check').boundingBox())!;
  assert.ok((await colourFraction(shot, header)).fraction < 0.05);
  // Large view on click.
  await thumb.click();
  const big = page.locator('#viewer-img');
  await big.waitFor({ state: 'visible' });
  await waitUntil(() => big.evaluate((img) => (img as unknown as Loadable).complete && (img as unknown as Loadable).naturalWidth > 0), 30_000);
  const shot2 = await page.screenshot();
  writeFileSync(join(SHOTS, 'viewer.png'), shot2);
  const bigBox = (await big.boundingBox())!;
  assert.ok(bigBox.width > 2 * box.width, 'the large view is larger');
  assert.ok((await colourFraction(shot2, bigBox)).fraction > 0.3);
  await page.click('#viewer-close');
  await big.waitFor({ state: 'hidden' });
});

test('page: a broken file shows a plain error in its row; training from the panel replaces the model', async (t) => {
  const broken = join(fx.dir, 'broken_scan.png');
  writeFileSync(broken, 'this is not an image');
  await page.setInputFiles('#file-input', broken);
  const bad = page.locator('tr.row-error').first();
  await bad.waitFor({ timeout: 30_000 });
  assert.match((await bad.textContent()) ?? '', /broken_scan\.png.*not a PNG, JPEG, TIFF, BMP, WebP or DICOM image/);

  await page.setInputFiles('#normal', fx.normal);
  await page.setInputFiles('#abnormal', fx.abnormal);
  await page.setInputFiles('#mask', fx.masks);
  await page.fill('#organ', ORGAN);
  await page.fill('#epochs', '1');
  await page.uncheck('#augment');
  await page.click('#train-start');
  await page.locator('#train-message', { hasText: /finished|failed/ }).waitFor({ timeout: 120_000 });
  const msg = (await page.locator('#train-message').textContent()) ?? '';
  t.diagnostic(`training message: ${msg}`);
  assert.match(msg, /finished/);
  await page.locator('#adapters-link').waitFor({ state: 'visible' });
  await page.locator('#model-info', { hasText: 'trained in this session' }).waitFor({ timeout: 30_000 });
  writeFileSync(join(SHOTS, 'trained.png'), await page.screenshot({ fullPage: true }));
  assert.deepEqual(problems, [], 'no console errors, CSP violations or external requests');
});

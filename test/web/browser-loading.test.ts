// #10 in a real headless Chromium: the page opened while the model is still loading says so, holds an image chosen
// meanwhile (no upload is sent yet), and checks it once the model is ready. Without Chromium this test fails:
// install it with `apt-get install -y chromium` (or set MVFA_CHROMIUM).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium } from 'playwright-core';
import sharp from 'sharp';
import { initAdapters } from '../../src/mvfa/adapters.ts';
import { saveAdapters } from '../../src/mvfa/checkpoint.ts';
import { ModelHost } from '../../src/web/model-host.ts';
import { type RunningServer, type ServeOptions, startServer } from '../../src/web/server.ts';
import { TINY_CLIP, writeTinyClip } from '../support/tiny-clip.ts';

const CHROMIUM = process.env.MVFA_CHROMIUM ?? '/usr/bin/chromium';
let dir: string;
let ctx: BrowserContext | undefined;

before(async () => {
  if (!existsSync(CHROMIUM)) assert.fail(`Chromium is not installed at ${CHROMIUM}: install it with 'apt-get install -y chromium' (or set MVFA_CHROMIUM)`);
  dir = mkdtempSync(join(tmpdir(), 'mvfa-browser-loading-'));
});
after(async () => {
  await ctx?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('#10: images chosen while the model loads are held by the page, then checked when it is ready', async () => {
  const clip = await writeTinyClip(dir);
  const adapters = join(dir, 'adapters.safetensors');
  await saveAdapters(adapters, { adapters: initAdapters(TINY_CLIP.vwidth, TINY_CLIP.embed, [1, 2], 7), info: { organ: 'breast ultrasound', imageSize: '56' } });
  const image = join(dir, 'early.png');
  await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 13) % 256)), { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toFile(image);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  class LoadingHost extends ModelHost {
    override async init(): Promise<void> {
      await gate;
      await super.init();
    }
  }
  const o: ServeOptions = { clipPaths: [clip], adapterPaths: [adapters], cacheDir: join(dir, 'cache'), host: '127.0.0.1', port: 0, scratchParent: dir };
  let listening!: (url: string) => void;
  const url = new Promise<string>((r) => (listening = r));
  const starting = startServer({ ...o, model: new LoadingHost(o), onListening: listening });
  const base = await url;
  let srv: RunningServer | undefined;
  try {
    ctx = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 60_000,
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const predictions: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/api/predict')) predictions.push(r.url());
    });
    await page.goto(base, { waitUntil: 'load' });
    await page.locator('#status', { hasText: 'The model is loading' }).waitFor({ timeout: 30_000 });
    await page.setInputFiles('#file-input', image);
    const row = page.locator('#rows tr').first();
    await row.locator('text=waiting for the model to load').waitFor({ timeout: 30_000 });
    assert.deepEqual(predictions, [], 'nothing is sent while the model loads');
    release();
    srv = await starting;
    await page.locator('tr.result').first().waitFor({ timeout: 60_000 });
    assert.match((await page.locator('tr.result').first().textContent()) ?? '', /early\.png/);
    assert.equal(predictions.length, 1);
    assert.equal(await page.locator('tr.row-error').count(), 0, 'no row says "could not check"');
  } finally {
    release();
    await (srv ?? (await starting)).close();
  }
});

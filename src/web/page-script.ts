// Script of the web page (inlined; allowed by its hash in the Content-Security-Policy). Plain browser
// JavaScript: no libraries, no external requests, user-provided text only ever set as textContent.
export const PAGE_SCRIPT = `
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var state = { status: null, uploading: 0, queue: [], trainPoll: null, loadPoll: null };
  var MAX_PARALLEL = 2;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v) { return (typeof v === 'number' && isFinite(v)) ? v.toFixed(3) : '–'; }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function errorText(body, res) {
    if (body && body.error) return body.error;
    return 'the server answered ' + res.status;
  }
  async function getJson(url) {
    var res = await fetch(url, { cache: 'no-store' });
    var body = await res.json().catch(function () { return null; });
    if (!res.ok) throw new Error(errorText(body, res));
    return body;
  }

  // ---- status line and model panel ----
  function showStatus(s) {
    state.status = s;
    var line = $('status');
    var parts = [];
    if (s.busy) parts.push('Busy: ' + s.busy + '…');
    parts.push(s.message);
    if (s.ready) {
      parts.push('organ: ' + (s.organ || '?'));
      parts.push(s.calibration ? 'calibrated scores' : 'uncalibrated scores');
    }
    if (s.queue && s.queue.length) parts.push(s.queue.length + ' image(s) being checked');
    line.textContent = parts.join(' · ');
    line.className = 'status' + (s.ready ? '' : ' bad');
    var info = $('model-info');
    info.textContent = '';
    var rows = [['CLIP weights', s.clip || 'none'], ['Adapters', s.adapters || 'none'], ['Organ', s.organ || '–'],
      ['Model input size', s.image_size ? s.image_size + ' × ' + s.image_size + ' pixels' : '–'],
      ['Calibration', s.calibration ? 'yes (' + s.task + ')' : 'no'], ['Normal examples in memory', String(s.support_images)]];
    rows.forEach(function (r) { info.appendChild(el('dt', '', r[0])); info.appendChild(el('dd', '', r[1])); });
    fillSelect($('choose-clip'), s.choices.clip, s.clip);
    fillSelect($('choose-adapters'), s.choices.adapters, s.adapters);
    $('model-form').hidden = s.choices.clip.length + s.choices.adapters.length === 0;
    $('max-mb').textContent = String(s.limits.max_upload_mb);
    $('epochs').max = String(s.limits.max_epochs);
    if (!$('organ').value && s.organ) $('organ').value = s.organ;
    $('adapters-link').hidden = !s.trained_adapters;
    showTraining(s.training);
  }
  function fillSelect(sel, list, current) {
    var want = ['(keep)'].concat(list);
    if (sel.options.length === want.length) return;
    sel.textContent = '';
    want.forEach(function (p, i) {
      var o = el('option', '', i === 0 ? '(keep the current one)' : p);
      o.value = i === 0 ? '' : p;
      sel.appendChild(o);
    });
  }
  async function refreshStatus() {
    try { showStatus(await getJson('/api/status')); }
    catch (e) { $('status').textContent = 'Cannot reach the server: ' + e.message; $('status').className = 'status bad'; }
  }

  // ---- results ----
  function openViewer(src, caption) {
    $('viewer-img').src = src;
    $('viewer-caption').textContent = caption;
    var d = $('viewer');
    if (typeof d.showModal === 'function') d.showModal(); else d.setAttribute('open', '');
  }
  function addRow(name) {
    $('empty').hidden = true;
    var tr = el('tr', 'pending');
    var thumb = el('td', 'thumb');
    var nameTd = el('td', '', name);
    var scoreTd = el('td', '', 'waiting…');
    var detail = el('td', 'small', '');
    tr.appendChild(thumb); tr.appendChild(nameTd); tr.appendChild(scoreTd); tr.appendChild(detail);
    var body = $('rows');
    body.insertBefore(tr, body.firstChild);
    return { tr: tr, thumb: thumb, score: scoreTd, detail: detail };
  }
  function fillRow(row, r) {
    row.tr.className = 'result';
    row.tr.dataset.id = r.id;
    row.thumb.textContent = '';
    var caption = r.name + ' — anomaly score ' + fmt(r.score);
    if (r.overlay) {
      var img = el('img');
      img.src = r.overlay;
      img.alt = 'heatmap of ' + r.name;
      img.title = 'Click to enlarge';
      img.addEventListener('click', function () { openViewer(r.overlay, caption); });
      row.thumb.appendChild(img);
    }
    row.score.textContent = '';
    var s = el('div', 'score', r.score === null ? 'not calibrated' : fmt(r.score));
    row.score.appendChild(s);
    if (r.score !== null) {
      var m = el('div', 'meter'); var bar = el('span');
      bar.style.width = Math.max(0, Math.min(100, r.score * 100)).toFixed(0) + '%';
      m.appendChild(bar); row.score.appendChild(m);
    }
    row.detail.textContent = 'zero-shot ' + fmt(r.zero_det) + (r.few_det === null ? '' : ' · few-shot ' + fmt(r.few_det)) +
      ' · ' + r.width + '×' + r.height + ' px · ' + r.seconds.toFixed(2) + ' s';
  }
  function failRow(row, msg) {
    row.tr.className = 'row-error';
    row.score.textContent = 'could not check';
    row.detail.textContent = msg;
  }
  async function upload(file, row) {
    for (var attempt = 0; attempt < 30; attempt++) {
      var fd = new FormData();
      fd.append('image', file, file.name);
      var res;
      try { res = await fetch('/api/predict', { method: 'POST', body: fd }); }
      catch (e) { failRow(row, 'the upload failed: ' + e.message); return; }
      var body = await res.json().catch(function () { return null; });
      if (res.status === 503) {
        var wait = Number(res.headers.get('Retry-After')) || 2;
        row.score.textContent = 'waiting (server busy)…';
        row.detail.textContent = body && body.error ? body.error : '';
        await sleep(Math.min(30, wait) * 1000);
        continue;
      }
      if (!res.ok) { failRow(row, errorText(body, res)); return; }
      fillRow(row, body);
      return;
    }
    failRow(row, 'the server stayed busy; try again later');
  }
  function modelLoading() { return !!(state.status && !state.status.ready && state.status.loading); }
  function pump() {
    // While the model loads, dropped images are held here (the server would queue them too) and sent once it is ready.
    if (modelLoading()) {
      state.queue.forEach(function (job) { job.row.score.textContent = 'waiting for the model to load…'; });
      if (!state.loadPoll) state.loadPoll = setInterval(function () {
        refreshStatus().then(function () {
          if (modelLoading()) return;
          clearInterval(state.loadPoll); state.loadPoll = null; pump();
        });
      }, 1000);
      return;
    }
    while (state.uploading < MAX_PARALLEL && state.queue.length) {
      var job = state.queue.shift();
      state.uploading++;
      job.row.score.textContent = 'checking…';
      upload(job.file, job.row).finally(function () { state.uploading--; pump(); refreshStatus(); });
    }
  }
  function addFiles(list) {
    Array.prototype.forEach.call(list, function (f) { state.queue.push({ file: f, row: addRow(f.name) }); });
    pump();
  }
  async function loadResults() {
    try {
      var data = await getJson('/api/results.json');
      data.results.forEach(function (r) { fillRow(addRow(r.name), r); });
    } catch (e) { /* shown by the status line */ }
  }

  // ---- training ----
  function showTraining(t) {
    var running = ['waiting', 'loading images', 'training', 'calibrating'].indexOf(t.phase) >= 0;
    $('train-start').disabled = running;
    var p = $('train-progress');
    p.hidden = t.phase === 'idle';
    p.value = t.fraction;
    var msg = $('train-message');
    msg.textContent = t.phase === 'idle' ? '' : t.message + (t.phase === 'training' && t.loss !== null ? ' (loss ' + t.loss.toFixed(3) + ')' : '');
    msg.className = t.phase === 'failed' ? 'bad' : t.phase === 'done' ? 'ok' : '';
    if (running && !state.trainPoll) state.trainPoll = setInterval(refreshStatus, 1000);
    if (!running && state.trainPoll) { clearInterval(state.trainPoll); state.trainPoll = null; }
  }
  async function startTraining(ev) {
    ev.preventDefault();
    var fd = new FormData();
    var add = function (id, field) { Array.prototype.forEach.call($(id).files, function (f) { fd.append(field, f, f.name); }); };
    add('normal', 'normal[]'); add('abnormal', 'abnormal[]'); add('mask', 'mask[]');
    fd.append('organ', $('organ').value);
    fd.append('epochs', $('epochs').value);
    fd.append('augment', $('augment').checked ? 'mvfa' : 'none');
    $('train-message').textContent = 'uploading the training images…';
    $('train-message').className = '';
    $('train-start').disabled = true;
    try {
      var res = await fetch('/api/train', { method: 'POST', body: fd });
      var body = await res.json().catch(function () { return null; });
      if (!res.ok) throw new Error(errorText(body, res));
      showTraining(body.training);
    } catch (e) {
      $('train-message').textContent = 'Training could not start: ' + e.message;
      $('train-message').className = 'bad';
      $('train-start').disabled = false;
    }
    refreshStatus();
  }

  async function chooseModel(ev) {
    ev.preventDefault();
    var req = {};
    if ($('choose-clip').value) req.clip = $('choose-clip').value;
    if ($('choose-adapters').value) req.adapters = $('choose-adapters').value;
    if ($('model-organ').value.trim()) req.organ = $('model-organ').value.trim();
    $('model-message').textContent = 'loading…';
    try {
      var res = await fetch('/api/model', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req) });
      var body = await res.json().catch(function () { return null; });
      if (!res.ok) throw new Error(errorText(body, res));
      $('model-message').textContent = 'done';
    } catch (e) { $('model-message').textContent = 'Could not load: ' + e.message; }
    refreshStatus();
  }

  // ---- wiring ----
  var drop = $('drop');
  ['dragenter', 'dragover'].forEach(function (t) { drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add('over'); }); });
  ['dragleave', 'drop'].forEach(function (t) { drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove('over'); }); });
  drop.addEventListener('drop', function (e) { if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files); });
  drop.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file-input').click(); } });
  $('file-input').addEventListener('change', function () { addFiles(this.files); this.value = ''; });
  $('train-form').addEventListener('submit', startTraining);
  $('model-form').addEventListener('submit', chooseModel);
  $('viewer-close').addEventListener('click', function () { $('viewer').close(); });
  $('viewer').addEventListener('click', function (e) { if (e.target === this) this.close(); });
  refreshStatus().then(loadResults);
  setInterval(refreshStatus, 5000);
})();
`;

// Edge review page: flagged queue, face + heatmap overlay, scores, review actions, kiosk timeline and drift. No dependencies.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const classes = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
  const driftOrder = { alert: 0, warn: 1, insufficient: 2, ok: 3 };
  const driftRefreshMs = 60e3;
  const state = {
    token: sessionStorage.getItem('edge-token') || '', items: [], index: -1, cursor: null, detail: null,
    drift: new Map(), driftTimer: 0, selecting: 0, reviewing: false,
  };

  async function api(path, options = {}) {
    const headers = { Authorization: 'Bearer ' + state.token, ...(options.headers || {}) };
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401) { showStatus('Sign in with a valid token.'); throw new Error('401'); }
    if (!response.ok) {
      let detail = response.statusText;
      try { const p = await response.json(); detail = p.detail || p.title || JSON.stringify(p.errors || p); } catch { /* not JSON */ }
      throw new Error(response.status + ' ' + detail);
    }
    return response.status === 204 ? null : response.json();
  }

  function showStatus(text) { $('review-status').textContent = text; }
  function text(tag, content, cls) { const e = document.createElement(tag); e.textContent = content; if (cls) e.className = cls; return e; }
  function time(iso) { return new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + 'Z'; }

  async function signIn() {
    state.token = $('token').value.trim() || state.token;
    sessionStorage.setItem('edge-token', state.token);
    try {
      const me = await api('/api/v1/me');
      $('whoami').textContent = me.owner + ' (' + me.role + ')';
      await loadDrift();
      clearInterval(state.driftTimer);
      state.driftTimer = setInterval(loadDrift, driftRefreshMs);
      await loadQueue(true);
    } catch (e) { $('whoami').textContent = 'not signed in: ' + e.message; }
  }

  async function loadQueue(reset) {
    if (reset) { state.items = []; state.cursor = null; state.index = -1; }
    const q = new URLSearchParams({ limit: '50', state: $('filter-state').value });
    if ($('filter-site').value) q.set('site', $('filter-site').value);
    if ($('filter-kiosk').value) q.set('kiosk', $('filter-kiosk').value);
    if (state.cursor) q.set('cursor', state.cursor);
    const page = await api('/api/v1/flagged?' + q);
    state.items.push(...page.items);
    state.cursor = page.nextCursor;
    $('more').hidden = !page.nextCursor;
    renderQueue();
    if (state.index < 0 && state.items.length) await select(0);
    if (!state.items.length) { $('event').hidden = true; $('empty').hidden = false; }
  }

  function renderQueue() {
    const list = $('queue');
    list.replaceChildren(...state.items.map((item, i) => {
      const li = document.createElement('li');
      li.dataset.eventId = item.eventId;
      li.append(text('strong', item.siteId + ' / ' + item.kioskId + ' '), text('span', item.flagReason || 'flagged', 'reason'),
        text('small', time(item.capturedAt) + ' · top ' + item.topClass + ' · ' + item.reviewState));
      if (i === state.index) li.className = 'selected';
      li.addEventListener('click', () => select(i));
      return li;
    }));
    $('queue-count').textContent = '(' + state.items.length + (state.cursor ? '+' : '') + ')';
  }

  // Only the latest selection's detail is shown (a slower, earlier response is dropped), and until it is shown there
  // is no detail: a review always goes to the event on screen.
  async function select(i) {
    if (i < 0 || i >= state.items.length) return;
    const ticket = ++state.selecting;
    state.index = i;
    state.detail = null;
    renderQueue();
    const li = $('queue').children[i];
    if (li) li.scrollIntoView({ block: 'nearest' });
    const detail = await api('/api/v1/events/' + encodeURIComponent(state.items[i].eventId));
    if (ticket !== state.selecting) return;
    state.detail = detail;
    renderEvent(detail);
    renderKioskDrift(detail.event);
    await renderTimeline(detail.event);
  }

  function renderEvent(d) {
    const e = d.event;
    $('empty').hidden = true;
    $('event').hidden = false;
    $('event-title').textContent = e.siteId + ' / ' + e.kioskId + ' — ' + (e.flagReason || 'flagged');
    $('event-meta').textContent = time(e.capturedAt) + ' · ' + e.eventId + ' · model ' + d.modelId + ' · state ' + e.reviewState;
    const crop = $('crop');
    if (d.faceCropPngBase64) { crop.src = 'data:image/png;base64,' + d.faceCropPngBase64; crop.hidden = false; }
    else { crop.removeAttribute('src'); crop.hidden = true; }

    const select = $('heatmap-class');
    select.replaceChildren(...d.heatmaps.map((h, k) => { const o = text('option', h.targetClass); o.value = String(k); return o; }));
    const preferred = d.heatmaps.findIndex((h) => h.targetClass === e.topClass);
    if (preferred >= 0) select.value = String(preferred);
    drawOverlay();

    const scores = $('scores');
    scores.replaceChildren(...classes.map((c) => {
      const v = e.scores[c];
      const row = document.createElement('div');
      row.className = 'score' + (c === e.topClass ? ' top' : '');
      row.dataset.class = c;
      const bar = document.createElement('div');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = (Math.max(0, Math.min(1, v)) * 100).toFixed(1) + '%';
      bar.append(fill);
      row.append(text('span', c), bar, text('span', v.toFixed(3)));
      return row;
    }));
    $('trail').replaceChildren(...d.reviews.map((r) => text('li', time(r.at) + ' ' + r.actor + ': ' + r.action + (r.comment ? ' — ' + r.comment : ''))));
    $('comment').value = '';
  }

  // Relevance → colour: positive red, negative blue, alpha by magnitude relative to the largest |value|.
  function drawOverlay() {
    const canvas = $('overlay');
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const d = state.detail;
    const h = d && d.heatmaps[Number($('heatmap-class').value)];
    const none = !h || !h.values;
    $('no-heatmap').hidden = !none;
    if (none) { $('no-heatmap').textContent = (h && h.note) || 'no heatmap'; return; }
    let max = 0;
    for (const v of h.values) max = Math.max(max, Math.abs(v));
    if (max === 0) max = 1;
    const small = document.createElement('canvas');
    small.width = h.width; small.height = h.height;
    const sctx = small.getContext('2d');
    const img = sctx.createImageData(h.width, h.height);
    for (let i = 0; i < h.values.length; i++) {
      const v = h.values[i] / max;
      img.data[i * 4] = v > 0 ? 230 : 30;
      img.data[i * 4 + 1] = 40;
      img.data[i * 4 + 2] = v > 0 ? 30 : 230;
      img.data[i * 4 + 3] = Math.round(Math.min(1, Math.abs(v)) * 255);
    }
    sctx.putImageData(img, 0, 0);
    ctx.globalAlpha = Number($('opacity').value) / 100;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 1;
  }

  async function renderTimeline(e) {
    const canvas = $('timeline');
    const ctx = canvas.getContext('2d');
    const to = new Date(new Date(e.capturedAt).getTime() + 3600e3);
    const from = new Date(to.getTime() - 48 * 3600e3);
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    let points = [];
    try { points = await api('/api/v1/kiosks/' + encodeURIComponent(e.siteId) + '/' + encodeURIComponent(e.kioskId) + '/timeline?' + q); } catch { points = []; }
    const w = canvas.width, h = canvas.height, pad = 24;
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = '#ccd'; ctx.fillStyle = '#667'; ctx.font = '10px sans-serif';
    ctx.beginPath(); ctx.moveTo(pad, pad / 2); ctx.lineTo(pad, h - pad); ctx.lineTo(w - 4, h - pad); ctx.stroke();
    ctx.fillText('1', 8, pad / 2 + 4); ctx.fillText('0', 8, h - pad);
    ctx.fillText(time(from.toISOString()).slice(5, 16), pad, h - 6);
    ctx.fillText(time(to.toISOString()).slice(5, 16), w - 80, h - 6);
    const x = (t) => pad + (new Date(t).getTime() - from.getTime()) / (to.getTime() - from.getTime()) * (w - pad - 8);
    const y = (v) => h - pad - v * (h - pad * 1.5);
    for (const [key, colour] of [['happyMean', '#2a9d5c'], ['flagRate', '#d04a4a']]) {
      ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.lineWidth = 2;
      ctx.beginPath();
      points.forEach((p, i) => { if (i === 0) ctx.moveTo(x(p.hour), y(p[key])); else ctx.lineTo(x(p.hour), y(p[key])); });
      ctx.stroke();
      points.forEach((p) => { ctx.beginPath(); ctx.arc(x(p.hour), y(p[key]), 2.5, 0, Math.PI * 2); ctx.fill(); });
    }
    canvas.dataset.points = String(points.length);
  }

  // Drift: every kiosk's retained DriftStatus (GET /api/v1/drift), worst level first, and the selected event's kiosk
  // beside its timeline. Reloaded at sign-in and every minute; a failure leaves the last list and says so.
  async function loadDrift() {
    let list;
    try { list = await api('/api/v1/drift'); } catch (e) { $('drift-updated').textContent = 'unavailable: ' + e.message; return; }
    state.drift = new Map(list.map((d) => [d.siteId + '/' + d.kioskId, d]));
    renderDriftList(list);
    if (state.detail) renderKioskDrift(state.detail.event);
  }

  function badge(level) { return text('span', level in driftOrder ? level : 'no report', 'badge ' + (level in driftOrder ? level : 'none')); }
  function worstPsi(d) { return d.worstSignal ? d.worstPsi.toFixed(2) + ' (' + d.worstSignal + ')' : '–'; }

  function renderDriftList(list) {
    const rank = (d) => driftOrder[d.level] ?? 9;
    const sorted = [...list].sort((a, b) => rank(a) - rank(b) || (a.siteId + '/' + a.kioskId).localeCompare(b.siteId + '/' + b.kioskId));
    $('drift-list').replaceChildren(...sorted.map((d) => {
      const li = document.createElement('li');
      li.dataset.kiosk = d.siteId + '/' + d.kioskId;
      li.dataset.level = d.level;
      li.title = d.flagReason || 'show this kiosk\'s flagged events';
      li.append(badge(d.level), text('strong', ' ' + d.siteId + ' / ' + d.kioskId),
        text('small', 'worst PSI ' + worstPsi(d) + ' · reported ' + time(d.time)));
      li.addEventListener('click', () => { $('filter-site').value = d.siteId; $('filter-kiosk').value = d.kioskId; loadQueue(true); });
      return li;
    }));
    $('drift-empty').hidden = list.length > 0;
    $('drift-updated').textContent = '(' + list.filter((d) => d.flagged).length + ' flagged)';
  }

  function renderKioskDrift(e) {
    const box = $('kiosk-drift');
    const d = state.drift.get(e.siteId + '/' + e.kioskId);
    box.dataset.level = d ? d.level : 'none';
    if (!d) { box.replaceChildren(text('h4', 'Drift'), badge('none'), text('p', 'no drift report from this kiosk')); return; }
    const facts = document.createElement('dl');
    const fact = (name, value) => facts.append(text('dt', name), text('dd', value));
    fact('worst PSI', worstPsi(d));
    fact('reported', time(d.time));
    fact('window', d.windowFaces + ' faces');
    if (d.occlusionChecks > 0) fact('occlusion', d.occlusionDisagreements + '/' + d.occlusionChecks + ' disagree');
    const psi = document.createElement('ol');
    psi.className = 'psi';
    psi.append(...Object.entries(d.psi).sort((a, b) => b[1] - a[1])
      .map(([name, v]) => text('li', name + ' ' + v.toFixed(2), name === d.worstSignal ? 'worst' : '')));
    box.replaceChildren(text('h4', 'Drift'), badge(d.level), facts, psi);
    if (d.flagged) box.append(text('p', d.flagReason, 'reason'));
  }

  // One review at a time, for the event shown: a key pressed again while it is recorded, or before the next event is
  // shown, does nothing.
  async function review(action) {
    const eventId = state.detail?.event.eventId;
    if (!eventId || state.reviewing) return;
    state.reviewing = true;
    try {
      await api('/api/v1/events/' + encodeURIComponent(eventId) + '/reviews', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ action, comment: $('comment').value }),
      });
    } catch (e) { showStatus('failed: ' + e.message); return; } finally { state.reviewing = false; }
    showStatus(action + ' recorded for ' + eventId);
    const at = state.items.findIndex((item) => item.eventId === eventId);
    if (at >= 0) state.items.splice(at, 1);
    const next = Math.min(at >= 0 ? at : state.index, state.items.length - 1);
    state.index = -1;
    state.detail = null;
    renderQueue();
    if (next >= 0) await select(next); else { $('event').hidden = true; $('empty').hidden = false; }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('token').value = '';
    $('signin').addEventListener('submit', (ev) => { ev.preventDefault(); signIn(); });
    $('queue-filter').addEventListener('submit', (ev) => { ev.preventDefault(); loadQueue(true); });
    $('more').addEventListener('click', () => loadQueue(false));
    $('opacity').addEventListener('input', drawOverlay);
    $('heatmap-class').addEventListener('change', drawOverlay);
    for (const b of document.querySelectorAll('#review button')) b.addEventListener('click', () => review(b.dataset.action));
    document.addEventListener('keydown', (ev) => {
      if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement) {
        if (ev.key === 'Escape') ev.target.blur();
        return;
      }
      const keys = {
        j: () => select(state.index + 1), k: () => select(state.index - 1),
        r: () => review('reviewed'), e: () => review('escalate'), d: () => review('dismiss'),
        c: () => $('comment').focus(),
        '[': () => { $('opacity').value = String(Number($('opacity').value) - 10); drawOverlay(); },
        ']': () => { $('opacity').value = String(Number($('opacity').value) + 10); drawOverlay(); },
        h: () => { $('overlay').hidden = !$('overlay').hidden; },
      };
      const f = keys[ev.key];
      if (f) { ev.preventDefault(); f(); }
    });
    if (state.token) signIn();
  });
})();

// Tessera coordinator dashboard: plain JS, no build step, no dependencies
// except hls.js (served by the coordinator at /dashboard/hls.min.js).
//
// Polls the coordinator's own API (same origin) every POLL_MS:
//   GET /v1/jobs?limit=50, GET /v1/cluster, GET /v1/live,
//   and while a detail panel is open GET /v1/jobs/{id} (+ /report once
//   completed) or GET /v1/live/{id}.
// Tables are updated in place (rows keyed by id, text only rewritten when it
// changed), so refreshing does not flicker or lose hover/focus/selection.
//
// Stable DOM hooks (used by tests/browser/dashboard.mjs; keep them):
//   tr[data-job-id=ID][data-state]           a job row; [data-progress] in it
//                                              carries the percentage (attr + text)
//   [data-detail][data-detail-job=ID]        the open job detail panel
//   [data-rendition-row][data-rendition=N]   per-rendition progress rows
//   video[data-player], select[data-rendition-picker]
//   [data-report-row][data-rendition=N]      report.json rows
//   [data-worker-id] [data-worker-class] [data-worker-codecs]
//   [data-queue-row][data-queue-class][data-queue-codec]
//   [data-api-status][data-state=ok|error|unreachable|unauthorized|loading]
//   window.tesseraDashboard: { hls, player, playerErrors, refresh() }
'use strict';

(() => {
  const POLL_MS = 2000;
  const HIDDEN_POLL_MS = 10000;
  const FETCH_TIMEOUT_MS = 8000;
  const JOB_LIMIT = 50;
  const TOKEN_KEY = 'tessera.apiToken';
  const REPORT_RETRY_MS = 5000;

  // ---- small helpers --------------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  /** Creates an element: el('td', {class: 'x', 'data-y': ''}, child, 'text'). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function setText(node, text) {
    text = text === null || text === undefined ? '' : String(text);
    if (node && node.textContent !== text) node.textContent = text;
  }

  function setAttr(node, name, value) {
    if (!node) return;
    if (value === null || value === undefined || value === false) {
      if (node.hasAttribute(name)) node.removeAttribute(name);
      return;
    }
    value = value === true ? '' : String(value);
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }

  function setHidden(node, hidden) {
    if (node && node.hidden !== !!hidden) node.hidden = !!hidden;
  }

  function setClass(node, cls, on) {
    if (node && node.classList.contains(cls) !== !!on) node.classList.toggle(cls, !!on);
  }

  /** Replaces the classes of `node` that start with `prefix` by `prefix + value`. */
  function setVariant(node, prefix, value) {
    const want = value ? prefix + value : null;
    for (const c of Array.from(node.classList)) {
      if (c.startsWith(prefix) && c !== want) node.classList.remove(c);
    }
    if (want && !node.classList.contains(want)) node.classList.add(want);
  }

  /**
   * Keyed, in-place list update: reuses the child with the same data-key,
   * creates missing ones, removes stale ones and fixes the order.
   */
  function syncList(parent, items, keyOf, create, update) {
    const existing = new Map();
    for (const child of Array.from(parent.children)) {
      if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
    }
    const keep = new Set();
    let prev = null;
    for (const item of items) {
      const key = String(keyOf(item));
      let node = existing.get(key);
      if (!node) {
        node = create(item);
        node.dataset.key = key;
      }
      update(node, item);
      keep.add(key);
      const want = prev ? prev.nextSibling : parent.firstChild;
      if (node !== want) parent.insertBefore(node, want);
      prev = node;
    }
    for (const [key, node] of existing) if (!keep.has(key)) node.remove();
  }

  const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const nf1 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const nf2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const num = (x) => (Number.isFinite(x) ? nf0.format(x) : '–');

  function fmtPercent(p) {
    if (!Number.isFinite(p)) return '–';
    return (p >= 100 || p === 0 ? nf0 : nf1).format(p) + '%';
  }

  function fmtBytes(b) {
    if (!Number.isFinite(b)) return '–';
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (b >= 1000 && i < units.length - 1) {
      b /= 1000;
      i++;
    }
    return (i === 0 ? nf0 : b < 10 ? nf2 : nf1).format(b) + ' ' + units[i];
  }

  function fmtKbps(k) {
    if (!Number.isFinite(k)) return '–';
    return k >= 10000 ? nf1.format(k / 1000) + ' Mbps' : nf0.format(k) + ' kbps';
  }

  const pad2 = (n) => String(n).padStart(2, '0');

  /** Seconds as a compact duration: "42 s", "3 min 05 s", "2 h 04 min", "3 d 2 h". */
  function fmtDuration(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${pad2(s % 60)} s`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ${pad2(m % 60)} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  /** Seconds as a coarse "ago" duration: "3 s", "4 min", "2 h 10 min", "3 d". */
  function fmtAgoSecs(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
    const d = Math.floor(h / 24);
    return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
  }

  function fmtMediaTime(secs) {
    if (!Number.isFinite(secs)) return '–';
    const m = Math.floor(secs / 60);
    const s = secs - m * 60;
    return m ? `${m}:${s.toFixed(1).padStart(4, '0')}` : `${s.toFixed(1)} s`;
  }

  function parseTime(iso) {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? t : null;
  }

  // The coordinator's clock, estimated from the Date header, so "3 s ago"
  // stays right when this browser's clock is off. Ignored when within 2 s.
  let skewMs = 0;
  const now = () => Date.now() + skewMs;

  /** Text of a <time data-time data-time-mode="ago|for"> element. */
  function timeText(iso, mode) {
    const t = parseTime(iso);
    if (t === null) return '–';
    const secs = (now() - t) / 1000;
    if (mode === 'for') return fmtDuration(secs);
    if (secs < -2) return 'in ' + fmtAgoSecs(-secs);
    return fmtAgoSecs(secs) + ' ago';
  }

  /** Points a <time> element at an RFC 3339 time (or none). */
  function setTime(node, iso, mode = 'ago') {
    if (!iso) {
      setAttr(node, 'data-time', null);
      setAttr(node, 'datetime', null);
      setAttr(node, 'title', null);
      setText(node, '–');
      return;
    }
    if (node.getAttribute('data-time') !== iso) {
      node.setAttribute('data-time', iso);
      node.setAttribute('datetime', iso);
      node.setAttribute('data-time-mode', mode);
      const t = parseTime(iso);
      node.title = t === null ? iso : `${new Date(t).toLocaleString()}  (${iso})`;
    }
    setText(node, timeText(iso, mode));
  }

  function tickTimes() {
    for (const node of $$('[data-time]')) setText(node, timeText(node.getAttribute('data-time'), node.getAttribute('data-time-mode')));
  }

  /** A URL the page may link to / play: http(s) absolute or root-relative. */
  function safeUrl(u) {
    if (typeof u !== 'string' || !u) return null;
    if (u.startsWith('/') && !u.startsWith('//')) return u;
    if (/^https?:\/\//i.test(u)) return u;
    return null;
  }

  function sameOrigin(u) {
    try {
      return new URL(u, location.href).origin === location.origin;
    } catch {
      return false;
    }
  }

  const enc = encodeURIComponent;

  // ---- API access -------------------------------------------------------------

  function getToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  }

  function setToken(token) {
    try {
      if (token) localStorage.setItem(TOKEN_KEY, token);
      else localStorage.removeItem(TOKEN_KEY);
    } catch {
      /* storage disabled: the token lives until reload */
    }
    memoryToken = token || '';
  }
  let memoryToken = '';
  const token = () => getToken() || memoryToken;

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status; // 0: no answer
      this.code = code;
    }
  }

  async function api(path) {
    const headers = { Accept: 'application/json' };
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    let res;
    let text;
    try {
      res = await fetch(path, { headers, signal: ctl.signal, cache: 'no-store', credentials: 'same-origin' });
      text = await res.text();
    } catch (e) {
      const why = e && e.name === 'AbortError' ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s` : (e && e.message) || String(e);
      throw new ApiError(0, 'unreachable', why);
    } finally {
      clearTimeout(timer);
    }
    const date = parseTime(res.headers.get('date'));
    if (date !== null) {
      const skew = date + 500 - Date.now();
      skewMs = Math.abs(skew) > 2000 ? skew : 0;
    }
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!res.ok) {
      const err = body && body.error;
      const message = (err && err.message) || (text || '').trim().slice(0, 200) || res.statusText || 'error';
      throw new ApiError(res.status, (err && err.code) || `http_${res.status}`, message);
    }
    if (body === null || typeof body !== 'object') throw new ApiError(res.status, 'bad_answer', `${path} did not answer JSON`);
    return body;
  }

  function describeError(e, what) {
    if (!e) return '';
    if (e.status === 0) return `Cannot reach the coordinator API (${e.message}).`;
    if (e.status === 401) return 'Unauthorized: set the API token.';
    if (e.status === 404 && e.code === 'not_found' && /no such route/i.test(e.message)) {
      return `This coordinator does not serve ${what} (an older version?).`;
    }
    return `${what}: HTTP ${e.status} ${e.code}: ${e.message}`;
  }

  // ---- state ------------------------------------------------------------------

  const state = {
    jobs: null, // JobView[]
    jobsNext: null,
    jobsError: null,
    cluster: null, // {workers, queues}
    clusterError: null,
    live: null, // ChannelView[]
    liveError: null,
    detail: null, // {kind: 'job'|'channel', id}
    detailData: null,
    detailError: null,
    reports: new Map(), // job id -> {data, error, at}
    lastOk: 0,
    lastAttempt: 0,
    connection: 'loading', // ok | error | unreachable | unauthorized | loading
    connectionError: null,
    authNeeded: false, // the last refresh got a 401
    authRejected: false, // ... while a token was set
    authFormOpen: false, // opened with the Token button
    authDismissed: false, // the 401 form was cancelled (the Token button reopens it)
  };

  // ---- polling ------------------------------------------------------------------

  let pollTimer = null;
  let polling = false;
  let pollAgain = false;

  function schedule(ms) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(refresh, ms);
  }

  async function refresh() {
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    clearTimeout(pollTimer);
    const detail = state.detail;
    try {
      const calls = [api(`/v1/jobs?limit=${JOB_LIMIT}`), api('/v1/cluster'), api('/v1/live')];
      if (detail) calls.push(api(detail.kind === 'job' ? `/v1/jobs/${enc(detail.id)}` : `/v1/live/${enc(detail.id)}`));
      const [jobs, cluster, live, det] = await Promise.allSettled(calls);
      state.lastAttempt = Date.now();

      if (jobs.status === 'fulfilled') {
        state.jobs = Array.isArray(jobs.value.jobs) ? jobs.value.jobs : [];
        state.jobsNext = jobs.value.next || null;
        state.jobsError = null;
      } else state.jobsError = jobs.reason;

      if (cluster.status === 'fulfilled') {
        state.cluster = {
          workers: Array.isArray(cluster.value.workers) ? cluster.value.workers : [],
          queues: Array.isArray(cluster.value.queues) ? cluster.value.queues : [],
        };
        state.clusterError = null;
      } else state.clusterError = cluster.reason;

      if (live.status === 'fulfilled') {
        state.live = Array.isArray(live.value.channels) ? live.value.channels : [];
        state.liveError = null;
      } else state.liveError = live.reason;

      // The detail answer is only used if the same panel is still open.
      if (det && state.detail === detail) {
        if (det.status === 'fulfilled') {
          state.detailData = det.value;
          state.detailError = null;
        } else state.detailError = det.reason;
      }

      if (detail && state.detail === detail && detail.kind === 'job') await maybeFetchReport(detail.id);

      const results = [jobs, cluster, live, det].filter(Boolean);
      const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
      const unauthorized = errors.find((e) => e.status === 401);
      if (unauthorized) {
        state.connection = 'unauthorized';
        state.connectionError = unauthorized;
        state.authRejected = !!token();
        state.authNeeded = true;
      } else {
        state.authNeeded = false;
        if (errors.length === results.length && errors.every((e) => e.status === 0)) {
          state.connection = 'unreachable';
          state.connectionError = errors[0];
        } else if (jobs.status === 'rejected') {
          state.connection = jobs.reason.status === 0 ? 'unreachable' : 'error';
          state.connectionError = jobs.reason;
        } else {
          state.connection = 'ok';
          state.connectionError = null;
          state.lastOk = Date.now();
        }
      }
    } catch (e) {
      // A bug in rendering must not stop the polling.
      console.error('dashboard refresh failed', e);
    } finally {
      polling = false;
      try {
        render();
      } catch (e) {
        console.error('dashboard render failed', e);
      }
      if (pollAgain) {
        pollAgain = false;
        schedule(0);
      } else schedule(document.hidden ? HIDDEN_POLL_MS : POLL_MS);
    }
  }

  async function maybeFetchReport(id) {
    const job = state.detailData;
    if (!job || job.id !== id || job.state !== 'completed') return;
    const cached = state.reports.get(id);
    if (cached && (cached.data || Date.now() - cached.at < REPORT_RETRY_MS)) return;
    try {
      const data = await api(`/v1/jobs/${enc(id)}/report`);
      state.reports.set(id, { data, error: null, at: Date.now() });
    } catch (e) {
      state.reports.set(id, { data: null, error: e, at: Date.now() });
    }
  }

  // ---- rendering: status, banner, auth -------------------------------------------------

  function render() {
    renderStatus();
    renderAuth();
    renderSummary();
    renderJobs();
    renderLive();
    renderQueues();
    renderWorkers();
    renderDetail();
    tickTimes();
  }

  function renderStatus() {
    const box = $('[data-api-status]');
    setAttr(box, 'data-state', state.connection);
    const text = $('[data-api-status-text]');
    const since = state.lastOk ? fmtAgoSecs((Date.now() - state.lastOk) / 1000) + ' ago' : 'never';
    let status;
    let banner = null;
    switch (state.connection) {
      case 'ok':
        status = `live · updated ${since}`;
        break;
      case 'loading':
        status = 'connecting…';
        break;
      case 'unauthorized':
        status = 'unauthorized';
        break;
      case 'unreachable':
        status = `API unreachable · last update ${since}`;
        banner =
          `Cannot reach the coordinator API (${state.connectionError ? state.connectionError.message : 'no answer'}). ` +
          (state.lastOk ? `Showing data from ${since}; ` : '') +
          `retrying every ${POLL_MS / 1000} s.`;
        break;
      default:
        status = `API error · last update ${since}`;
        banner = describeError(state.connectionError, 'GET /v1/jobs') + ' Retrying…';
    }
    setText(text, status);
    const b = $('[data-banner]');
    setText(b, banner || '');
    setHidden(b, !banner);
    setClass(document.body, 'stale', state.connection === 'unreachable' || state.connection === 'error');

    const running = (state.jobs || []).filter((j) => j.state === 'running').length;
    const title = state.connection === 'unreachable' ? 'Tessera · API unreachable' : running ? `Tessera · ${running} running` : 'Tessera coordinator';
    if (document.title !== title) document.title = title;
  }

  function renderAuth() {
    const form = $('[data-auth-form]');
    const wasHidden = form.hidden;
    setHidden(form, !(state.authFormOpen || (state.authNeeded && !state.authDismissed)));
    if (wasHidden && !form.hidden && !document.activeElement?.closest?.('input, select, textarea')) $('[data-token-input]').focus();
    const title = $('[data-auth-title]');
    if (state.authNeeded && state.authRejected) setText(title, 'The API token was rejected (401). Enter a valid one.');
    else if (state.authNeeded) setText(title, 'This coordinator needs an API token.');
    else setText(title, token() ? 'An API token is set for this coordinator.' : 'No API token set (this coordinator does not ask for one).');
    setHidden($('[data-token-forget]'), !token());
  }

  // ---- rendering: summary -------------------------------------------------------

  function renderSummary() {
    const jobs = state.jobs;
    const count = (s) => (jobs ? jobs.filter((j) => j.state === s).length : null);
    setText($('[data-jobs-running]'), jobs ? count('running') : '–');
    setText($('[data-jobs-queued]'), jobs ? count('queued') : '–');
    const failed = $('[data-jobs-failed]');
    setText(failed, jobs ? count('failed') : '–');
    setClass(failed, 'state-failed', !!(jobs && count('failed')));

    const cluster = state.cluster;
    const depthNode = $('[data-queue-depth]');
    if (cluster) {
      const pending = cluster.queues.reduce((s, q) => s + (Number(q.waiting) || 0), 0);
      const inFlight = cluster.queues.reduce((s, q) => s + (Number(q.in_flight) || 0), 0);
      setText(depthNode, num(pending + inFlight));
      setAttr(depthNode, 'data-pending', pending);
      setAttr(depthNode, 'data-in-flight', inFlight);
      setText($('[data-queue-depth-hint]'), `${num(pending)} waiting · ${num(inFlight)} in flight`);
      const slots = cluster.workers.reduce((s, w) => s + (Number(w.slots) || 0), 0);
      const busy = cluster.workers.reduce((s, w) => s + (Array.isArray(w.tasks) ? w.tasks.length : 0), 0);
      setText($('[data-workers-count]'), num(cluster.workers.length));
      setText($('[data-slots-hint]'), `${num(busy)} / ${num(slots)} slots busy`);
    } else {
      setText(depthNode, '–');
      setText($('[data-queue-depth-hint]'), state.clusterError ? 'unavailable' : 'tasks');
      setText($('[data-workers-count]'), '–');
      setText($('[data-slots-hint]'), '');
    }

    const live = state.live;
    setText($('[data-live-count]'), live ? num(live.filter((c) => c.state === 'live').length) : '–');
    setText($('[data-live-hint]'), live ? `on air · ${num(live.length)} channels` : '');
  }

  // ---- rendering: panels shared bits -----------------------------------------------

  function panelMessage(panel, { error, what, loading, empty, emptyText }) {
    const errBox = $('[data-panel-error]', panel);
    const emptyBox = $('[data-empty]', panel);
    const errText = error ? describeError(error, what) : '';
    // A failed refresh keeps the last data visible with the error above it.
    // Unreachable and unauthorized are said once, at the top of the page.
    setText(errBox, errText);
    setHidden(errBox, !error || error.status === 401 || error.status === 0);
    setClass(panel, 'panel-stale', !!error);
    if (loading) {
      setText(emptyBox, error ? (error.status === 0 ? 'Cannot reach the coordinator API.' : describeError(error, what)) : 'Loading…');
      setHidden(emptyBox, false);
      setClass(emptyBox, 'empty-error', !!error);
    } else {
      setText(emptyBox, emptyText);
      setHidden(emptyBox, !empty);
      setClass(emptyBox, 'empty-error', false);
    }
  }

  function badge(node, value) {
    setText(node, value || '–');
    setVariant(node, 'state-', value || 'unknown');
  }

  function progressBar() {
    return el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, el('div', { class: 'bar-fill' }));
  }

  function setBar(bar, percent, variant) {
    const p = Number.isFinite(percent) ? Math.max(0, Math.min(100, percent)) : 0;
    const fill = bar.firstChild;
    const width = p.toFixed(1) + '%';
    if (fill.style.width !== width) fill.style.width = width;
    setAttr(bar, 'aria-valuenow', p.toFixed(1));
    setVariant(bar, 'bar-', variant);
  }

  // ---- rendering: jobs ----------------------------------------------------------------

  function jobMatchesFilter(job) {
    const text = $('[data-jobs-filter]').value.trim().toLowerCase();
    const st = $('[data-jobs-state-filter]').value;
    if (text && !String(job.id).toLowerCase().includes(text)) return false;
    if (st === 'active') return job.state === 'queued' || job.state === 'running';
    if (st) return job.state === st;
    return true;
  }

  function createJobRow(job) {
    const tr = el('tr', { class: 'job-row', tabindex: 0, 'data-job-id': job.id });
    tr.append(
      el('td', { class: 'cell-id' }, el('span', { class: 'mono id-text', 'data-job-id-text': true })),
      el('td', {}, el('span', { class: 'badge', 'data-job-state': true })),
      el(
        'td',
        { class: 'col-progress' },
        el(
          'div',
          { class: 'progress' },
          progressBar(),
          el('span', { class: 'pct', 'data-progress': '0' }),
          el('span', { class: 'frac', 'data-progress-count': true }),
        ),
      ),
      el('td', { class: 'cell-time' }, el('time', { 'data-created': true })),
      el('td', { class: 'cell-time' }, el('time', { 'data-updated': true })),
      el('td', { class: 'cell-note', 'data-job-note': true }, el('span')),
    );
    tr.addEventListener('click', (e) => {
      if (e.target.closest('a')) return;
      openDetail('job', job.id);
    });
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        openDetail('job', job.id);
      }
    });
    return tr;
  }

  function progressVariant(st) {
    return { completed: 'done', failed: 'failed', cancelled: 'cancelled', running: 'running', queued: 'queued' }[st] || 'queued';
  }

  function updateJobProgress(root, job) {
    const p = job.progress || {};
    const total = Number(p.total) || 0;
    const done = Number(p.done) || 0;
    const percent = Number.isFinite(Number(p.percent)) ? Number(p.percent) : total ? (done * 100) / total : 0;
    setBar($('.bar', root), job.state === 'completed' ? 100 : percent, progressVariant(job.state));
    const pct = $('[data-progress]', root);
    setAttr(pct, 'data-progress', String(percent));
    setText(pct, total ? fmtPercent(percent) : job.state === 'completed' ? '100%' : '–');
    setText($('[data-progress-count]', root), total ? `${num(done)}/${num(total)}` : job.state === 'queued' || job.state === 'running' ? 'planning' : '');
  }

  function jobNote(job) {
    if (job.error && job.error.reason) return { text: (job.error.bad_input ? 'bad input: ' : '') + job.error.reason, cls: 'note-error' };
    if (job.last_retry) return { text: 'retrying: ' + job.last_retry, cls: 'note-warn' };
    if (job.webhook === 'failed') return { text: 'webhook delivery failed', cls: 'note-warn' };
    if (job.webhook === 'pending' && (job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled')) {
      return { text: 'webhook pending', cls: 'note-muted' };
    }
    return { text: '', cls: '' };
  }

  function updateJobRow(tr, job) {
    setAttr(tr, 'data-state', job.state);
    setClass(tr, 'selected', !!(state.detail && state.detail.kind === 'job' && state.detail.id === job.id));
    const idNode = $('[data-job-id-text]', tr);
    setText(idNode, job.id);
    setAttr(idNode, 'title', job.id);
    badge($('[data-job-state]', tr), job.state);
    updateJobProgress(tr, job);
    setTime($('[data-created]', tr), job.created_at);
    setTime($('[data-updated]', tr), job.updated_at);
    const noteCell = $('[data-job-note]', tr);
    const note = jobNote(job);
    setText(noteCell.firstChild, note.text);
    setAttr(noteCell, 'title', note.text || null);
    setVariant(noteCell, 'note-', note.cls ? note.cls.slice(5) : null);
  }

  function renderJobs() {
    const panel = $('[data-panel="jobs"]');
    const all = state.jobs || [];
    const sorted = all
      .slice()
      .sort((a, b) => (parseTime(b.created_at) || 0) - (parseTime(a.created_at) || 0) || String(b.id).localeCompare(String(a.id)));
    const shown = sorted.filter(jobMatchesFilter);
    syncList($('[data-jobs-body]'), shown, (j) => j.id, createJobRow, updateJobRow);
    setText($('[data-jobs-count]'), state.jobs ? (shown.length === all.length ? num(all.length) : `${num(shown.length)} of ${num(all.length)}`) : '');
    panelMessage(panel, {
      error: state.jobsError,
      what: 'GET /v1/jobs',
      loading: state.jobs === null,
      empty: shown.length === 0,
      emptyText: all.length
        ? 'No job matches the filter.'
        : 'No jobs yet. Submit one with `tessera submit FILE --server URL` or POST /v1/jobs.',
    });
    const foot = $('[data-jobs-foot]');
    setText(foot, state.jobsNext ? `Showing the ${num(all.length)} most recent jobs; older ones exist (GET /v1/jobs?after=…).` : '');
    setHidden(foot, !state.jobsNext);
  }

  // ---- rendering: live channels -------------------------------------------------------

  function linkCell(node, playback) {
    // Rebuilt only when the URLs change.
    const key = JSON.stringify(playback || null);
    if (node.dataset.links === key) return;
    node.dataset.links = key;
    node.replaceChildren();
    if (!playback) return;
    let any = false;
    for (const [label, u] of [['HLS', playback.hls], ['DASH', playback.dash]]) {
      const href = safeUrl(u);
      if (href) {
        node.append(el('a', { href, target: '_blank', rel: 'noopener', class: 'link-chip', title: u }, label));
        any = true;
      }
    }
    if (!any && (playback.hls || playback.dash)) {
      node.append(el('span', { class: 'muted', title: `${playback.hls || ''}\n${playback.dash || ''}` }, 'store keys only'));
    }
  }

  function createChannelRow(c) {
    const tr = el('tr', { class: 'channel-row', 'data-channel-id': c.id, tabindex: 0 });
    tr.append(
      el('td', { class: 'cell-id' }, el('span', { class: 'mono id-text', 'data-channel-id-text': true })),
      el('td', {}, el('span', { class: 'badge', 'data-channel-state': true })),
      el('td', { class: 'num', 'data-channel-segments': true }),
      el('td', { class: 'cell-time' }, el('time', { 'data-started': true })),
      el('td', { class: 'cell-time' }, el('time', { 'data-ended': true })),
      el('td', { class: 'cell-links', 'data-channel-links': true }),
      el('td', { class: 'cell-actions' }, el('button', { type: 'button', class: 'btn small', 'data-channel-open': true }, 'Open')),
    );
    tr.addEventListener('click', (e) => {
      if (e.target.closest('a')) return;
      openDetail('channel', c.id);
    });
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') openDetail('channel', c.id);
    });
    return tr;
  }

  function channelPlayable(c) {
    return !!(c && c.playback && safeUrl(c.playback.hls) && (c.state === 'live' || c.state === 'ended'));
  }

  function updateChannelRow(tr, c) {
    setAttr(tr, 'data-state', c.state);
    setClass(tr, 'selected', !!(state.detail && state.detail.kind === 'channel' && state.detail.id === c.id));
    const idNode = $('[data-channel-id-text]', tr);
    setText(idNode, c.id);
    setAttr(idNode, 'title', c.error ? `${c.id}\nerror: ${c.error}` : c.id);
    badge($('[data-channel-state]', tr), c.state);
    const segs = Number(c.segments) || 0;
    const cell = $('[data-channel-segments]', tr);
    setText(cell, num(segs));
    setAttr(cell, 'title', c.segment_duration ? `~${fmtDuration(segs * c.segment_duration)} of media, ${c.segment_duration} s segments, window ${c.window}` : null);
    setTime($('[data-started]', tr), c.started_at);
    setTime($('[data-ended]', tr), c.ended_at);
    linkCell($('[data-channel-links]', tr), c.playback);
    setText($('[data-channel-open]', tr), channelPlayable(c) ? '▶ Play' : 'Open');
  }

  function renderLive() {
    const panel = $('[data-panel="live"]');
    const channels = (state.live || [])
      .slice()
      .sort((a, b) => {
        const rank = { live: 0, idle: 1, ended: 2 };
        return (rank[a.state] ?? 3) - (rank[b.state] ?? 3) || (parseTime(b.created_at) || 0) - (parseTime(a.created_at) || 0);
      });
    syncList($('[data-live-body]'), channels, (c) => c.id, createChannelRow, updateChannelRow);
    setText($('[data-live-channels-count]'), state.live ? num(channels.length) : '');
    panelMessage(panel, {
      error: state.liveError,
      what: 'GET /v1/live',
      loading: state.live === null,
      empty: channels.length === 0,
      emptyText: 'No live channels. Create one with POST /v1/live, then publish RTMP to its rtmp_url.',
    });
  }

  // ---- rendering: queues ------------------------------------------------------------------

  function createQueueRow() {
    const tr = el('tr', { 'data-queue-row': true });
    tr.append(
      el('td', { 'data-queue-class-text': true }),
      el('td', { 'data-queue-codec-text': true }),
      el('td', { class: 'mono small', 'data-queue-consumer': true }),
      el('td', { class: 'num' }, el('div', { class: 'qbar-wrap' }, el('div', { class: 'qbar-track' }, el('div', { class: 'qbar' })), el('span', { 'data-queue-pending': true }))),
      el('td', { class: 'num', 'data-queue-in-flight': true }),
    );
    return tr;
  }

  function renderQueues() {
    const panel = $('[data-panel="queues"]');
    const queues = state.cluster ? state.cluster.queues.slice() : [];
    queues.sort((a, b) => String(a.class).localeCompare(String(b.class)) || String(a.codec).localeCompare(String(b.codec)));
    const max = Math.max(1, ...queues.map((q) => Number(q.waiting) || 0));
    syncList(
      $('[data-queues-body]'),
      queues,
      (q) => `${q.class}/${q.codec}/${q.consumer}`,
      createQueueRow,
      (tr, q) => {
        setAttr(tr, 'data-queue-class', q.class);
        setAttr(tr, 'data-queue-codec', q.codec);
        setText($('[data-queue-class-text]', tr), q.class);
        setText($('[data-queue-codec-text]', tr), q.codec);
        setText($('[data-queue-consumer]', tr), q.consumer);
        const pending = Number(q.waiting) || 0;
        setText($('[data-queue-pending]', tr), num(pending));
        const bar = $('.qbar', tr);
        const width = ((pending / max) * 100).toFixed(1) + '%';
        if (bar.style.width !== width) bar.style.width = width;
        setText($('[data-queue-in-flight]', tr), num(Number(q.in_flight) || 0));
        setClass(tr, 'idle-row', !pending && !Number(q.in_flight));
      },
    );
    setText($('[data-queues-count]'), state.cluster ? num(queues.length) : '');
    panelMessage(panel, {
      error: state.clusterError,
      what: 'GET /v1/cluster',
      loading: state.cluster === null,
      empty: queues.length === 0,
      emptyText: 'No work queues yet: they appear when the first worker connects.',
    });
  }

  // ---- rendering: workers -----------------------------------------------------------------

  function createWorkerCard(w) {
    const card = el('div', { class: 'worker', 'data-worker-id': w.id });
    card.append(
      el(
        'div',
        { class: 'worker-head' },
        el('span', { class: 'mono worker-id', 'data-worker-id-text': true }),
        el('span', { class: 'chip chip-class', 'data-worker-class': true }),
        el('span', { class: 'chips', 'data-worker-codecs': true }),
        el('span', { class: 'worker-seen' }, 'seen ', el('time', { 'data-worker-last-seen': true })),
      ),
      el(
        'div',
        { class: 'worker-sub' },
        el('span', { class: 'muted', 'data-worker-host': true }),
        el('span', { class: 'slots' }, el('span', { class: 'slot-pips', 'data-worker-pips': true }), el('span', { 'data-worker-slots': true })),
        el('span', { class: 'muted' }, 'up ', el('time', { 'data-worker-up': true })),
      ),
      el('ul', { class: 'tasks', 'data-worker-tasks': true }),
    );
    return card;
  }

  function createTaskItem(t) {
    const li = el('li', { class: 'task', 'data-worker-task': true });
    const jobLink = el('a', { href: '#', class: 'mono', 'data-task-job': true });
    jobLink.addEventListener('click', (e) => {
      e.preventDefault();
      openDetail('job', li.dataset.job);
    });
    li.append(
      jobLink,
      el('span', { class: 'task-seg', 'data-task-segment': true }),
      el('span', { class: 'task-rendition', 'data-task-rendition': true }),
      el('time', { class: 'task-for', 'data-task-for': true }),
    );
    return li;
  }

  function updateWorkerCard(card, w) {
    const idNode = $('[data-worker-id-text]', card);
    setText(idNode, w.id);
    setAttr(idNode, 'title', w.id);
    const cls = $('[data-worker-class]', card);
    setText(cls, w.class || '?');
    setVariant(cls, 'class-', w.class === 'gpu' ? 'gpu' : 'cpu');
    const codecs = Array.isArray(w.codecs) ? w.codecs : [];
    const codecsNode = $('[data-worker-codecs]', card);
    setAttr(codecsNode, 'data-worker-codecs', codecs.join(','));
    syncList(codecsNode, codecs, (c) => c, (c) => el('span', { class: 'chip chip-codec' }, c), () => {});
    setText($('[data-worker-host]', card), w.host || '');
    const tasks = Array.isArray(w.tasks) ? w.tasks : [];
    const slots = Number(w.slots) || 0;
    setText($('[data-worker-slots]', card), `${tasks.length}/${slots} slots`);
    const pips = $('[data-worker-pips]', card);
    const pipKeys = Array.from({ length: Math.min(slots, 32) }, (_, i) => i);
    syncList(pips, pipKeys, (i) => i, () => el('i', {}), (pip, i) => setClass(pip, 'busy', i < tasks.length));
    setTime($('[data-worker-up]', card), w.started_at, 'for');
    const seen = $('[data-worker-last-seen]', card);
    setTime(seen, w.last_seen);
    const age = w.last_seen ? (now() - (parseTime(w.last_seen) || 0)) / 1000 : Infinity;
    setVariant(card, 'seen-', age > 60 ? 'lost' : age > 15 ? 'late' : 'ok');
    syncList(
      $('[data-worker-tasks]', card),
      tasks,
      (t) => `${t.job}/${t.segment}/${t.rendition}`,
      createTaskItem,
      (li, t) => {
        li.dataset.job = t.job;
        const a = $('[data-task-job]', li);
        setText(a, t.job);
        setAttr(a, 'title', `job ${t.job}`);
        setText($('[data-task-segment]', li), `seg ${t.segment}`);
        setText($('[data-task-rendition]', li), t.rendition);
        setTime($('[data-task-for]', li), t.started_at, 'for');
      },
    );
  }

  function renderWorkers() {
    const panel = $('[data-panel="workers"]');
    const workers = state.cluster ? state.cluster.workers.slice() : [];
    workers.sort((a, b) => String(a.class).localeCompare(String(b.class)) || String(a.id).localeCompare(String(b.id)));
    syncList($('[data-workers-list]'), workers, (w) => w.id, createWorkerCard, updateWorkerCard);
    setText($('[data-workers-panel-count]'), state.cluster ? num(workers.length) : '');
    panelMessage(panel, {
      error: state.clusterError,
      what: 'GET /v1/cluster',
      loading: state.cluster === null,
      empty: workers.length === 0,
      emptyText: 'No workers connected: tasks wait in the queues until one starts.',
    });
  }

  // ---- detail panel ---------------------------------------------------------------------

  let built = null; // {kind, id, body}

  function openDetail(kind, id) {
    if (!id) return;
    const hash = `#${kind === 'job' ? 'job' : 'live'}=${enc(id)}`;
    if (location.hash !== hash) history.pushState(null, '', hash);
    setDetail(kind, id);
  }

  function closeDetail() {
    if (location.hash) history.pushState(null, '', location.pathname + location.search);
    setDetail(null);
  }

  function setDetail(kind, id) {
    const same = state.detail && kind && state.detail.kind === kind && state.detail.id === id;
    if (same) return;
    state.detail = kind ? { kind, id } : null;
    state.detailData = null;
    state.detailError = null;
    // Show what the lists already know at once, then fetch the full record.
    if (kind === 'job') state.detailData = (state.jobs || []).find((j) => j.id === id) || null;
    if (kind === 'channel') state.detailData = (state.live || []).find((c) => c.id === id) || null;
    render();
    if (kind) refresh();
  }

  function detailFromHash() {
    const m = /^#(job|live)=(.+)$/.exec(location.hash);
    if (!m) return setDetail(null);
    let id;
    try {
      id = decodeURIComponent(m[2]);
    } catch {
      return setDetail(null);
    }
    setDetail(m[1] === 'job' ? 'job' : 'channel', id);
  }

  function dlRow(label, hook) {
    return [el('dt', {}, label), el('dd', { [hook]: true })];
  }

  function buildJobDetail(body) {
    body.append(
      el('div', { class: 'alert alert-error', 'data-detail-error': true, hidden: true }),
      el(
        'dl',
        { class: 'meta' },
        ...dlRow('Created', 'data-d-created'),
        ...dlRow('Updated', 'data-d-updated'),
        ...dlRow('Progress', 'data-d-progress'),
        ...dlRow('Output prefix', 'data-d-prefix'),
        ...dlRow('Webhook', 'data-d-webhook'),
        ...dlRow('Outputs', 'data-d-outputs'),
      ),
      el('div', { class: 'alert alert-error', 'data-d-error': true, hidden: true }),
      el('div', { class: 'alert alert-warn', 'data-d-retry': true, hidden: true }),
      el(
        'section',
        { class: 'subsection' },
        el('h3', {}, 'Renditions'),
        el(
          'table',
          { class: 'table compact', 'data-renditions': true },
          el('thead', {}, el('tr', {}, el('th', {}, 'Rendition'), el('th', { class: 'col-progress' }, 'Segments'), el('th', {}, 'State'))),
          el('tbody', { 'data-renditions-body': true }),
        ),
        el('div', { class: 'empty', 'data-renditions-empty': true, hidden: true }, 'Not planned yet: renditions appear once the source is probed and segmented.'),
      ),
      el('section', { class: 'subsection' }, el('h3', {}, 'Playback'), el('div', { 'data-playback': true })),
      el(
        'section',
        { class: 'subsection', 'data-report-section': true },
        el('h3', {}, 'Report'),
        el('div', { class: 'source-info', 'data-source-info': true }),
        el(
          'div',
          { class: 'table-wrap' },
          el(
            'table',
            { class: 'table compact report', 'data-report': true, hidden: true },
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                ...[
                  ['Rendition'],
                  ['Codec'],
                  ['W×H', 'Resolution (width × height)'],
                  ['Segs', 'Segments'],
                  ['Dur s', 'Media duration, seconds'],
                  ['Bytes', 'Bytes of all fragments'],
                  ['Avg kbps', 'Average bitrate, kbit/s'],
                  ['Peak kbps', 'Highest segment bitrate, kbit/s'],
                  ['PSNR dB', 'Mean PSNR against the source scaled to the rendition size'],
                  ['CPU s', 'CPU seconds spent encoding'],
                ].map(([h, title], i) => el('th', { class: i >= 3 ? 'num' : '', title }, h)),
              ),
            ),
            el('tbody', { 'data-report-body': true }),
            el('tfoot', { 'data-report-foot': true }),
          ),
        ),
        el('div', { class: 'empty', 'data-report-empty': true }),
      ),
    );
  }

  function buildChannelDetail(body) {
    body.append(
      el('div', { class: 'alert alert-error', 'data-detail-error': true, hidden: true }),
      el(
        'dl',
        { class: 'meta' },
        ...dlRow('Created', 'data-d-created'),
        ...dlRow('Started', 'data-d-started'),
        ...dlRow('Ended', 'data-d-ended'),
        ...dlRow('Segments', 'data-d-segments'),
        ...dlRow('RTMP server', 'data-d-rtmp'),
      ),
      el('div', { class: 'alert alert-error', 'data-d-error': true, hidden: true }),
      el('section', { class: 'subsection' }, el('h3', {}, 'Playback'), el('div', { 'data-playback': true })),
    );
  }

  function renderDetail() {
    const drawer = $('[data-detail]');
    const d = state.detail;
    setClass(document.body, 'drawer-open', !!d);
    if (!d) {
      setHidden(drawer, true);
      if (built) {
        destroyPlayer();
        $('[data-detail-body]').replaceChildren();
        built = null;
      }
      setAttr(drawer, 'data-detail-job', null);
      setAttr(drawer, 'data-detail-channel', null);
      return;
    }
    setHidden(drawer, false);
    if (!built || built.kind !== d.kind || built.id !== d.id) {
      destroyPlayer();
      const body = $('[data-detail-body]');
      body.replaceChildren();
      if (d.kind === 'job') buildJobDetail(body);
      else buildChannelDetail(body);
      built = { kind: d.kind, id: d.id, body };
      body.scrollTop = 0;
    }
    setAttr(drawer, 'data-detail-job', d.kind === 'job' ? d.id : null);
    setAttr(drawer, 'data-detail-channel', d.kind === 'channel' ? d.id : null);
    setText($('[data-detail-kind]'), d.kind === 'job' ? 'Job' : 'Live channel');
    setText($('[data-detail-id]'), d.id);
    const data = state.detailData;
    badge($('[data-detail-state]'), data ? data.state : state.detailError ? 'unknown' : '…');

    const body = built.body;
    const errBox = $('[data-detail-error]', body);
    const err = state.detailError;
    const errText = !err
      ? ''
      : err.status === 404
        ? `No ${d.kind === 'job' ? 'job' : 'channel'} "${d.id}" on this coordinator.`
        : describeError(err, d.kind === 'job' ? 'GET /v1/jobs/{id}' : 'GET /v1/live/{id}');
    setText(errBox, errText);
    setHidden(errBox, !err || err.status === 0 || err.status === 401);
    if (!data) return;
    if (d.kind === 'job') renderJobDetail(body, data);
    else renderChannelDetail(body, data);
  }

  function renderJobDetail(body, job) {
    setTime($('[data-d-created]', body), job.created_at);
    setTime($('[data-d-updated]', body), job.updated_at);
    const p = job.progress || {};
    setText($('[data-d-progress]', body), p.total ? `${fmtPercent(Number(p.percent))} · ${num(p.done)}/${num(p.total)} tasks` : 'not planned yet');
    setText($('[data-d-prefix]', body), job.output_prefix || '–');
    setText($('[data-d-webhook]', body), job.webhook || 'none');
    const outputs = Array.isArray(job.outputs) ? job.outputs : [];
    const outNode = $('[data-d-outputs]', body);
    const prefix = job.output_prefix ? job.output_prefix.replace(/\/+$/, '') + '/' : '';
    const short = outputs.map((o) => (prefix && o.startsWith(prefix) ? o.slice(prefix.length) : o));
    setText(outNode, short.length ? short.join(', ') : '–');
    setAttr(outNode, 'title', outputs.join('\n') || null);

    const errNode = $('[data-d-error]', body);
    setText(errNode, job.error ? `${job.error.bad_input ? 'Bad input: ' : 'Failed: '}${job.error.reason}` : '');
    setHidden(errNode, !job.error);
    const retry = $('[data-d-retry]', body);
    setText(retry, job.last_retry ? `Retrying after a transient failure: ${job.last_retry}` : '');
    setHidden(retry, !job.last_retry);

    const renditions = Array.isArray(job.renditions) ? job.renditions : [];
    syncList(
      $('[data-renditions-body]', body),
      renditions,
      (r) => r.name,
      (r) =>
        el(
          'tr',
          { 'data-rendition-row': true, 'data-rendition': r.name },
          el('td', { class: 'mono' }, r.name),
          el('td', { class: 'col-progress' }, el('div', { class: 'progress' }, progressBar(), el('span', { class: 'frac', 'data-r-count': true }))),
          el('td', {}, el('span', { class: 'badge', 'data-r-state': true })),
        ),
      (tr, r) => {
        const total = Number(r.total) || 0;
        const done = Number(r.done) || 0;
        const variant = r.state === 'done' ? 'done' : job.state === 'failed' ? 'failed' : job.state === 'cancelled' ? 'cancelled' : r.state === 'running' ? 'running' : 'queued';
        setBar($('.bar', tr), total ? (done * 100) / total : 0, variant);
        setText($('[data-r-count]', tr), `${num(done)}/${num(total)}`);
        setAttr(tr, 'data-state', r.state);
        badge($('[data-r-state]', tr), r.state);
      },
    );
    setHidden($('[data-renditions]', body), !renditions.length);
    setHidden($('[data-renditions-empty]', body), !!renditions.length);

    // Playback.
    const slot = $('[data-playback]', body);
    const hls = job.playback && safeUrl(job.playback.hls);
    // Watch while it transcodes: the first rendition plays before the job completes.
    const playable = job.state === 'completed' || (job.state === 'running' && !!job.playable_at);
    if (!playable) {
      playbackMessage(
        slot,
        job.state === 'failed' || job.state === 'cancelled'
          ? `Nothing to play: the job ${job.state}.`
          : 'The player appears when the first rendition is playable.',
        'pending',
      );
    } else if (!job.playback) {
      playbackMessage(
        slot,
        'No playback URLs: this coordinator needs --playback-base-url (the public base URL of the outputs store) to play outputs here.',
        'missing',
      );
    } else if (!hls) {
      playbackMessage(slot, `The playback URL "${job.playback.hls}" is not an http(s) or root-relative URL: set --playback-base-url.`, 'missing');
    } else {
      ensurePlayer(slot, { url: hls, dash: job.playback.dash, live: false });
    }

    renderReport(body, job);
  }

  function playbackMessage(slot, text, kind) {
    if (player && player.slot === slot) destroyPlayer();
    let box = $('[data-playback-message]', slot);
    if (!box) {
      slot.replaceChildren();
      box = el('div', { class: 'empty', 'data-playback-message': true });
      slot.append(box);
    }
    setText(box, text);
    setAttr(box, 'data-playback-missing', kind === 'missing' ? true : null);
    setClass(box, 'empty-warn', kind === 'missing');
  }

  function renderReport(body, job) {
    const table = $('[data-report]', body);
    const info = $('[data-source-info]', body);
    const empty = $('[data-report-empty]', body);
    const cached = state.reports.get(job.id);
    const report = cached && cached.data;
    if (!report) {
      setHidden(table, true);
      setText(info, '');
      let msg;
      if (job.state !== 'completed') msg = 'The report (report.json) is written when the job completes.';
      else if (!cached) msg = 'Loading the report…';
      else if (cached.error && cached.error.status === 404) msg = `No report yet (${cached.error.message}).`;
      else msg = describeError(cached.error, 'GET /v1/jobs/{id}/report');
      setText(empty, msg);
      setHidden(empty, false);
      return;
    }
    setHidden(empty, true);
    setHidden(table, false);
    const s = report.source || {};
    const parts = [];
    if (s.width && s.height) parts.push(`${s.width}×${s.height}`);
    if (Number.isFinite(s.frame_rate) && s.frame_rate) parts.push(`${nf2.format(s.frame_rate)} fps`);
    if (Number.isFinite(s.duration_secs)) parts.push(fmtMediaTime(s.duration_secs));
    if (Number.isFinite(s.frames)) parts.push(`${num(s.frames)} frames`);
    for (const [k, v] of Object.entries(s)) {
      if (!['width', 'height', 'frame_rate', 'duration_secs', 'frames'].includes(k) && (typeof v === 'string' || typeof v === 'number')) parts.push(`${k} ${v}`);
    }
    setText(info, parts.length ? 'Source: ' + parts.join(' · ') : '');

    const rows = Array.isArray(report.renditions) ? report.renditions : [];
    syncList(
      $('[data-report-body]', body),
      rows,
      (r) => r.name,
      (r) => {
        const tr = el('tr', { 'data-report-row': true, 'data-rendition': r.name });
        for (let i = 0; i < 10; i++) tr.append(el('td', { class: i === 0 ? 'mono' : i === 1 ? 'mono small' : i >= 3 ? 'num' : '' }));
        return tr;
      },
      (tr, r) => {
        const video = Number(r.width) > 0 && Number(r.height) > 0;
        const cells = [
          r.name,
          r.codec,
          video ? `${r.width}×${r.height}` : 'audio',
          num(r.segments),
          Number.isFinite(r.duration_secs) ? nf1.format(r.duration_secs) : '–',
          fmtBytes(r.bytes),
          Number.isFinite(r.average_bitrate_kbps) ? nf0.format(r.average_bitrate_kbps) : '–',
          Number.isFinite(r.peak_bitrate_kbps) ? nf0.format(r.peak_bitrate_kbps) : '–',
          Number.isFinite(r.psnr_db) ? nf2.format(r.psnr_db) : '–',
          Number.isFinite(r.encode_cpu_secs) ? nf1.format(r.encode_cpu_secs) : '–',
        ];
        Array.from(tr.children).forEach((td, i) => setText(td, cells[i]));
        setAttr(tr, 'data-height', video ? r.height : 0);
      },
    );
    renderThumbnails(body, job, report);
    const foot = $('[data-report-foot]', body);
    const totalBytes = rows.reduce((a, r) => a + (Number(r.bytes) || 0), 0);
    const totalCpu = rows.reduce((a, r) => a + (Number(r.encode_cpu_secs) || 0), 0);
    const footKey = `${rows.length}/${totalBytes}/${totalCpu}`;
    if (foot.dataset.key !== footKey) {
      foot.dataset.key = footKey;
      const cells = ['Total', '', '', '', '', fmtBytes(totalBytes), '', '', '', nf1.format(totalCpu)];
      foot.replaceChildren(el('tr', {}, ...cells.map((c, i) => el('td', { class: i >= 3 ? 'num' : '' }, c))));
    }
  }

  // The poster on the player and the seek-bar thumbnails (thumbnails.vtt) as a strip under it: a click seeks there.
  const storyboards = new Map(); // job id -> {cues} or {error}
  function renderThumbnails(body, job, report) {
    const t = report && report.thumbnails;
    const hls = job.playback && safeUrl(job.playback.hls);
    if (!t || !hls || !player || !player.slot.isConnected || !body.contains(player.slot)) return;
    const base = hls.replace(/[^/]*$/, '');
    const poster = base + t.poster;
    if (player.video.getAttribute('poster') !== poster) player.video.setAttribute('poster', poster);
    let strip = $('[data-thumbnails]', player.slot);
    if (strip && strip.dataset.job === job.id) return;
    if (!strip) {
      strip = el('div', { class: 'storyboard', 'data-thumbnails': true });
      player.slot.append(strip);
    }
    strip.dataset.job = job.id;
    const cached = storyboards.get(job.id);
    const draw = (cues) => {
      strip.replaceChildren(
        ...cues.map((c) => {
          const tile = el('button', {
            type: 'button',
            class: 'thumb',
            'data-thumb': true,
            'data-at': String(c.start),
            title: fmtMediaTime(c.start),
          });
          tile.style.width = `${c.w}px`;
          tile.style.height = `${c.h}px`;
          tile.style.backgroundImage = `url("${base + c.file}")`;
          tile.style.backgroundPosition = `-${c.x}px -${c.y}px`;
          tile.addEventListener('click', () => {
            if (player) player.video.currentTime = c.start;
          });
          return tile;
        }),
      );
    };
    if (cached && cached.cues) return draw(cached.cues);
    const headers = {};
    const tk = token();
    if (tk && sameOrigin(base + t.track)) headers.Authorization = `Bearer ${tk}`;
    fetch(base + t.track, { headers })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((text) => {
        const cues = [];
        for (const block of text.split(/\n\n+/)) {
          const m = /(\d+):(\d+):(\d+)\.(\d+) --> [^\n]*\n([^#\n]+)#xywh=(\d+),(\d+),(\d+),(\d+)/.exec(block);
          if (m) {
            cues.push({
              start: Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000,
              file: m[5],
              x: Number(m[6]),
              y: Number(m[7]),
              w: Number(m[8]),
              h: Number(m[9]),
            });
          }
        }
        storyboards.set(job.id, { cues });
        if (strip.isConnected && strip.dataset.job === job.id) draw(cues);
      })
      .catch((e) => {
        storyboards.set(job.id, { cues: [] });
        strip.replaceChildren(el('span', { class: 'muted' }, `Thumbnails unavailable: ${e.message}`));
      });
  }

  function renderChannelDetail(body, c) {
    setTime($('[data-d-created]', body), c.created_at);
    setTime($('[data-d-started]', body), c.started_at);
    setTime($('[data-d-ended]', body), c.ended_at);
    const segs = Number(c.segments) || 0;
    setText(
      $('[data-d-segments]', body),
      `${num(segs)}` + (c.segment_duration ? ` × ${c.segment_duration} s (≈${fmtDuration(segs * c.segment_duration)}), window ${c.window}` : ''),
    );
    setText($('[data-d-rtmp]', body), c.rtmp_server || '–');
    const errNode = $('[data-d-error]', body);
    setText(errNode, c.error ? `Stopped: ${c.error}` : '');
    setHidden(errNode, !c.error);
    const slot = $('[data-playback]', body);
    const hls = c.playback && safeUrl(c.playback.hls);
    if (c.state === 'idle') {
      playbackMessage(slot, 'Waiting for a publisher: the player appears when the broadcast starts.', 'pending');
    } else if (!hls) {
      playbackMessage(
        slot,
        `The playback URLs are store keys (${c.playback ? c.playback.hls : '?'}): this coordinator needs --playback-base-url to play them here.`,
        'missing',
      );
    } else {
      ensurePlayer(slot, { url: hls, dash: c.playback.dash, live: c.state === 'live' });
    }
  }

  // ---- player -------------------------------------------------------------------------------

  let player = null; // {slot, url, hls, video, select, errorBox, statusBox}
  const playerErrors = []; // every hls.js / <video> error seen, for people and tests

  function destroyPlayer() {
    if (!player) return;
    const p = player;
    player = null;
    try {
      if (p.hls) p.hls.destroy();
    } catch (e) {
      console.warn('hls.js destroy failed', e);
    }
    try {
      p.video.removeAttribute('src');
      p.video.load();
    } catch {
      /* ignore */
    }
    p.slot.replaceChildren();
  }

  function ensurePlayer(slot, { url, dash, live }) {
    if (player && player.slot === slot && player.url === url) {
      player.live = live;
      return;
    }
    destroyPlayer();
    slot.replaceChildren();
    playerErrors.length = 0;

    const video = el('video', { 'data-player': true, controls: true, muted: true, playsinline: true, autoplay: true, preload: 'auto' });
    video.muted = true; // the attribute alone does not mute a script-made element
    const select = el('select', { 'data-rendition-picker': true, disabled: true, 'aria-label': 'Rendition' }, el('option', { value: '-1', 'data-level': '-1', 'data-key': '-1' }, 'Auto'));
    const statusBox = el('span', { class: 'player-status', 'data-player-status': true }, 'loading…');
    const links = el('span', { class: 'player-links' });
    const masterHref = safeUrl(url);
    if (masterHref) links.append(el('a', { href: masterHref, target: '_blank', rel: 'noopener', class: 'link-chip', 'data-link-hls': true, title: url }, 'master.m3u8'));
    const dashHref = safeUrl(dash);
    if (dashHref) links.append(el('a', { href: dashHref, target: '_blank', rel: 'noopener', class: 'link-chip', 'data-link-dash': true, title: dash }, 'manifest.mpd'));
    const errorBox = el('div', { class: 'alert alert-error player-error', 'data-player-error': true, hidden: true });
    const retry = el('button', { type: 'button', class: 'btn small', hidden: true, 'data-player-retry': true }, 'Retry');
    retry.addEventListener('click', () => {
      const target = { url, dash, live: player ? player.live : live };
      destroyPlayer();
      ensurePlayer(slot, target);
    });
    slot.append(
      el('div', { class: 'player' }, video),
      el('div', { class: 'player-bar' }, el('label', { class: 'picker' }, 'Rendition ', select), statusBox, links, retry),
      errorBox,
    );
    const p = { slot, url, live, hls: null, video, select, statusBox, errorBox, retry, mediaRecoveries: 0 };
    player = p;

    const fail = (e) => {
      if (playerErrors.length < 50) playerErrors.push({ at: new Date().toISOString(), ...e });
      if (e.fatal && player === p) {
        setText(errorBox, `Playback failed: ${e.details || e.message || e.type || 'error'}` + (e.url ? ` (${e.url})` : '') + (e.code ? ` [HTTP ${e.code}]` : ''));
        setHidden(errorBox, false);
        setHidden(retry, false);
      }
    };
    video.addEventListener('error', () => {
      const err = video.error;
      fail({ fatal: true, source: 'video', code: err && err.code, message: (err && err.message) || 'media error' });
    });
    for (const ev of ['resize', 'playing', 'pause', 'waiting', 'ended', 'loadedmetadata']) video.addEventListener(ev, () => updatePlayerStatus(p));

    if (!window.Hls) {
      fail({ fatal: true, source: 'page', message: 'hls.js did not load (/dashboard/hls.min.js)' });
      return;
    }
    if (!window.Hls.isSupported()) {
      if (video.canPlayType('application/vnd.apple.mpegurl')) {
        // Safari without MSE: native HLS (no rendition picker, no token header).
        video.src = url;
        setText(statusBox, 'native HLS');
        video.play().catch(() => {});
      } else fail({ fatal: true, source: 'page', message: 'this browser has no Media Source Extensions' });
      return;
    }
    const Hls = window.Hls;
    const hls = new Hls({
      // A dashboard preview: modest buffers, quick failure on a dead link.
      maxBufferLength: 20,
      backBufferLength: 30,
      lowLatencyMode: false,
      xhrSetup(xhr, u) {
        const t = token();
        if (t && sameOrigin(u)) {
          xhr.open('GET', u, true);
          xhr.setRequestHeader('Authorization', `Bearer ${t}`);
        }
      },
    });
    p.hls = hls;
    hls.on(Hls.Events.ERROR, (_, d) => {
      const e = {
        fatal: !!d.fatal,
        source: 'hls.js',
        type: d.type,
        details: d.details,
        message: d.reason || (d.error && d.error.message) || undefined,
        url: (d.frag && d.frag.url) || d.url || (d.context && d.context.url) || undefined,
        code: d.response && d.response.code ? d.response.code : undefined,
      };
      if (d.fatal && d.type === Hls.ErrorTypes.MEDIA_ERROR && p.mediaRecoveries < 1) {
        // One attempt at recovering a decode/append error before giving up.
        p.mediaRecoveries++;
        if (playerErrors.length < 50) playerErrors.push({ at: new Date().toISOString(), ...e, fatal: false, recovered: true });
        hls.recoverMediaError();
        return;
      }
      fail(e);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      fillPicker(p);
      video.play().catch((e) => fail({ fatal: false, source: 'play()', message: String(e) }));
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, () => updatePlayerStatus(p));
    hls.on(Hls.Events.LEVELS_UPDATED, () => fillPicker(p));
    select.addEventListener('change', () => {
      const level = Number(select.value);
      if (!Number.isInteger(level)) return;
      if (level < 0) hls.loadLevel = -1; // back to automatic switching, no buffer flush
      else hls.currentLevel = level; // immediate switch: flushes what is buffered
      updatePlayerStatus(p);
    });
    hls.attachMedia(video);
    hls.loadSource(url);
  }

  function levelLabel(l) {
    const parts = [];
    if (l.height) parts.push(`${l.height}p`);
    else if (l.width) parts.push(`${l.width}w`);
    const codec = (l.videoCodec || '').split('.')[0];
    if (codec) parts.push({ avc1: 'h264', avc3: 'h264', hvc1: 'h265', hev1: 'h265', av01: 'av1', vp09: 'vp9' }[codec] || codec);
    if (l.bitrate) parts.push(fmtKbps(l.bitrate / 1000));
    return parts.join(' · ') || `level ${l.id}`;
  }

  function fillPicker(p) {
    const levels = (p.hls && p.hls.levels) || [];
    const order = levels.map((l, i) => ({ l, i })).sort((a, b) => (b.l.height || 0) - (a.l.height || 0) || (b.l.bitrate || 0) - (a.l.bitrate || 0));
    const keep = p.select.value;
    const options = [{ i: -1, l: null }, ...order];
    syncList(
      p.select,
      options,
      (o) => o.i,
      (o) => el('option', { value: String(o.i), 'data-level': String(o.i) }, o.i < 0 ? 'Auto' : ''),
      (opt, o) => {
        if (o.l) {
          setText(opt, levelLabel(o.l));
          setAttr(opt, 'data-height', o.l.height || 0);
          setAttr(opt, 'data-width', o.l.width || 0);
          setAttr(opt, 'data-bitrate', o.l.bitrate || 0);
        }
      },
    );
    if (Array.from(p.select.options).some((o) => o.value === keep)) p.select.value = keep;
    p.select.disabled = levels.length === 0;
    updatePlayerStatus(p);
  }

  function updatePlayerStatus(p) {
    if (!p || player !== p) return;
    const v = p.video;
    const hls = p.hls;
    const parts = [];
    if (v.videoWidth) parts.push(`${v.videoWidth}×${v.videoHeight}`);
    if (hls && hls.currentLevel >= 0 && hls.levels[hls.currentLevel]) {
      const l = hls.levels[hls.currentLevel];
      parts.push(`${hls.autoLevelEnabled ? 'auto' : 'fixed'} → ${levelLabel(l)}`);
      // The Auto option says what auto picked.
      const auto = p.select.options[0];
      setText(auto, hls.autoLevelEnabled ? `Auto (${l.height ? l.height + 'p' : levelLabel(l)})` : 'Auto');
    }
    if (Number.isFinite(v.currentTime) && (v.currentTime > 0 || v.duration)) {
      parts.push(Number.isFinite(v.duration) ? `${fmtMediaTime(v.currentTime)} / ${fmtMediaTime(v.duration)}` : fmtMediaTime(v.currentTime));
    }
    if (v.buffered && v.buffered.length) {
      const ahead = v.buffered.end(v.buffered.length - 1) - v.currentTime;
      if (ahead > 0) parts.push(`buffer ${ahead.toFixed(1)} s`);
    }
    if (p.live) parts.unshift('LIVE');
    if (v.ended) parts.push('ended');
    else if (v.paused && v.currentTime > 0) parts.push('paused');
    setText(p.statusBox, parts.join(' · ') || 'loading…');
  }

  // ---- wiring -------------------------------------------------------------------------------

  function wire() {
    $('[data-detail-close]').addEventListener('click', closeDetail);
    $('[data-copy-id]').addEventListener('click', async () => {
      const id = state.detail && state.detail.id;
      if (!id) return;
      const b = $('[data-copy-id]');
      try {
        await navigator.clipboard.writeText(id);
        setText(b, 'Copied');
      } catch {
        // No clipboard permission (plain http): select the id instead.
        const range = document.createRange();
        range.selectNodeContents($('[data-detail-id]'));
        const sel = getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        setText(b, 'Selected');
      }
      setTimeout(() => setText(b, 'Copy'), 1200);
    });
    document.addEventListener('keydown', (e) => {
      const typing = e.target.closest && e.target.closest('input, select, textarea');
      if (e.key === 'Escape' && state.detail && !typing) closeDetail();
      else if (e.key === 'r' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) refresh();
      else if (e.key === '/' && !typing) {
        e.preventDefault();
        $('[data-jobs-filter]').focus();
      }
    });
    window.addEventListener('popstate', detailFromHash);
    window.addEventListener('hashchange', detailFromHash);
    $('[data-refresh-button]').addEventListener('click', () => refresh());
    $('[data-jobs-filter]').addEventListener('input', renderJobs);
    $('[data-jobs-state-filter]').addEventListener('change', renderJobs);

    const form = $('[data-auth-form]');
    const input = $('[data-token-input]');
    $('[data-token-button]').addEventListener('click', () => {
      const open = !form.hidden;
      state.authFormOpen = !open;
      state.authDismissed = open;
      renderAuth();
      if (!form.hidden) input.focus();
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return input.focus();
      setToken(t);
      input.value = '';
      state.authFormOpen = false;
      state.authDismissed = false;
      renderAuth();
      refresh();
    });
    $('[data-token-forget]').addEventListener('click', () => {
      setToken('');
      input.value = '';
      renderAuth();
      refresh();
    });
    $('[data-token-cancel]').addEventListener('click', () => {
      state.authFormOpen = false;
      state.authDismissed = true;
      renderAuth();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) refresh();
    });
    // Relative times and the player status tick every second between polls.
    setInterval(() => {
      tickTimes();
      renderStatus();
      if (player) updatePlayerStatus(player);
    }, 1000);
  }

  window.tesseraDashboard = {
    get hls() {
      return player ? player.hls : null;
    },
    get player() {
      return player ? { url: player.url, live: player.live, video: player.video, select: player.select } : null;
    },
    playerErrors,
    state,
    refresh,
    open: openDetail,
    close: closeDetail,
  };

  wire();
  detailFromHash(); // a #job=ID / #live=ID link opens its panel (and starts polling)
  render();
  if (!polling) refresh();
})();

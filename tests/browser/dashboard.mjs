#!/usr/bin/env node
// Headless-browser check of the coordinator's operator dashboard (served at /).
//
// Opens the dashboard of a running coordinator in headless Debian Chromium
// (driven by playwright-core) and, for one job that is running when the check
// starts, asserts that:
//   1. the jobs table lists the job (tr[data-job-id=ID]);
//   2. its progress ([data-progress] in that row, a percentage) is seen
//      increasing while the job runs, and the job reaches `completed`;
//   3. the workers panel lists at least one worker with a class and codecs,
//      and the queues panel shows at least one queue row;
//   4. clicking the job opens its detail panel, where the hls.js player plays
//      the output (video.currentTime passes --play-seconds, no fatal hls.js
//      or <video> error);
//   5. the rendition picker lists Auto plus every video level hls.js parsed,
//      one per video rendition of report.json; choosing the lowest rung sets
//      hls.currentLevel to it and the decoded video.videoHeight becomes its
//      height; choosing Auto turns automatic switching back on;
//   6. the report table has one row per rendition of GET /v1/jobs/{id}/report;
//   7. the page threw no uncaught exception.
//
// Usage:
//   node tests/browser/dashboard.mjs <base_url> <job_id> [options]
//   (or DASHBOARD_URL / DASHBOARD_JOB in the environment)
// Options (each also settable through the environment variable shown):
//   --timeout S            overall limit for the job to complete (DASHBOARD_TIMEOUT, 180)
//   --progress-timeout S   longest wait for the next progress change (DASHBOARD_PROGRESS_TIMEOUT, 60)
//   --play-seconds S       playback must pass this position (DASHBOARD_PLAY_SECONDS, 1)
//   --token T              API bearer token, put in the page's localStorage (TESSERA_TOKEN)
//   --screenshot FILE      PNG of the page at the end, also on failure (DASHBOARD_SCREENSHOT)
//   --allow-completed      pass even if the job had already completed when first
//                          seen (no progress increase observable) (DASHBOARD_ALLOW_COMPLETED=1)
//
// Prints exactly one JSON line to stdout:
//   {"ok":true,"url":"http://127.0.0.1:8080/","job":"...","state":"completed",
//    "progress":{"increased":true,"samples":[{"ms":0,"state":"running","percent":8.3},...]},
//    "workers":2,"queues":3,"player":{"currentTime":1.2,"width":320,"height":180,
//    "levels":[{"index":0,"width":320,"height":180,"bitrate":400400}],"picker":["-1","0","1"],
//    "switched":{"level":1,"height":144},"auto":true},"report":{"rows":["h264-180p",...]},
//    "errors":[],"ms":12345}
// On failure "ok" is false and "problems" says which checks failed.
// Browser console errors/warnings, failed requests and the failure go to stderr.
// Exit codes: 0 pass, 1 a check failed, 2 setup problem (bad arguments,
// `npm ci` not run in tests/browser, no /usr/bin/chromium).

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TOKEN_KEY = 'tessera.apiToken'; // what dashboard.js reads
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function setupError(msg) {
  process.stderr.write(`dashboard.mjs: ${msg}\n`);
  process.exit(2);
}

const USAGE =
  'usage: node dashboard.mjs <base_url> <job_id> [--timeout 180] [--progress-timeout 60] ' +
  '[--play-seconds 1] [--token T] [--screenshot FILE] [--allow-completed]';

function parseCli() {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      allowPositionals: true,
      options: {
        timeout: { type: 'string' },
        'progress-timeout': { type: 'string' },
        'play-seconds': { type: 'string' },
        token: { type: 'string' },
        screenshot: { type: 'string' },
        'allow-completed': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    setupError(`${e.message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const env = process.env;
  const base = positionals[0] || env.DASHBOARD_URL;
  const job = positionals[1] || env.DASHBOARD_JOB;
  if (!base || !job) setupError(`missing ${base ? 'job id' : 'base url'}\n${USAGE}`);
  if (positionals.length > 2) setupError(`unexpected arguments: ${positionals.slice(2).join(' ')}\n${USAGE}`);
  let url;
  try {
    url = new URL(base);
  } catch {
    setupError(`"${base}" is not a URL (want e.g. http://127.0.0.1:8080)`);
  }
  if (!/^https?:$/.test(url.protocol)) setupError(`"${base}" is not an http(s) URL`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(job)) setupError(`"${job}" is not a job id (1-64 of A-Z a-z 0-9 - _)`);
  const number = (name, envName, dflt) => {
    const raw = values[name] ?? env[envName] ?? String(dflt);
    const n = Number(raw);
    if (!(n > 0)) setupError(`--${name} must be a positive number, not "${raw}"`);
    return n;
  };
  return {
    // The dashboard is served at / of the coordinator.
    url: new URL('/', url).href,
    job,
    timeout: number('timeout', 'DASHBOARD_TIMEOUT', 180),
    progressTimeout: number('progress-timeout', 'DASHBOARD_PROGRESS_TIMEOUT', 60),
    playSeconds: number('play-seconds', 'DASHBOARD_PLAY_SECONDS', 1),
    token: values.token ?? env.TESSERA_TOKEN ?? '',
    screenshot: values.screenshot ?? env.DASHBOARD_SCREENSHOT ?? '',
    allowCompleted: !!values['allow-completed'] || ['1', 'true', 'yes'].includes(String(env.DASHBOARD_ALLOW_COMPLETED || '').toLowerCase()),
  };
}

class CheckFailed extends Error {}

// ---- what runs inside the page ------------------------------------------------

/** The job row's state and progress, or null when it is not listed. */
function readRow(job) {
  const row = document.querySelector(`tr[data-job-id="${CSS.escape(job)}"]`);
  if (!row) return null;
  const p = row.querySelector('[data-progress]');
  return {
    state: row.getAttribute('data-state'),
    percent: p ? Number(p.getAttribute('data-progress')) : NaN,
    text: p ? p.textContent : null,
    note: (row.querySelector('[data-job-note]') || {}).textContent || '',
  };
}

/** Workers and queues as the panels show them. */
function readCluster() {
  const workers = Array.from(document.querySelectorAll('[data-worker-id]')).map((w) => ({
    id: w.getAttribute('data-worker-id'),
    class: ((w.querySelector('[data-worker-class]') || {}).textContent || '').trim(),
    codecs: ((w.querySelector('[data-worker-codecs]') || { getAttribute: () => '' }).getAttribute('data-worker-codecs') || '')
      .split(',')
      .filter(Boolean),
  }));
  const queues = Array.from(document.querySelectorAll('[data-queue-row]')).map((q) => ({
    class: q.getAttribute('data-queue-class'),
    codec: q.getAttribute('data-queue-codec'),
  }));
  return { workers, queues };
}

/** The player, picker and report of the open detail panel. */
function readPlayer() {
  const d = window.tesseraDashboard;
  const hls = d && d.hls;
  const v = document.querySelector('[data-detail] video[data-player]');
  const picker = document.querySelector('[data-detail] select[data-rendition-picker]');
  const missing = document.querySelector('[data-detail] [data-playback-missing]');
  const message = document.querySelector('[data-detail] [data-playback-message]');
  return {
    hasHls: !!hls,
    video: !!v,
    currentTime: v ? v.currentTime : 0,
    width: v ? v.videoWidth : 0,
    height: v ? v.videoHeight : 0,
    ended: v ? v.ended : false,
    paused: v ? v.paused : true,
    readyState: v ? v.readyState : 0,
    currentLevel: hls ? hls.currentLevel : null,
    autoLevelEnabled: hls ? hls.autoLevelEnabled : null,
    levels: hls ? hls.levels.map((l, index) => ({ index, width: l.width, height: l.height, bitrate: l.bitrate })) : [],
    picker: picker
      ? Array.from(picker.options).map((o) => ({ value: o.value, text: o.textContent, height: Number(o.getAttribute('data-height') || 0) }))
      : [],
    pickerValue: picker ? picker.value : null,
    pickerDisabled: picker ? picker.disabled : true,
    errors: d ? d.playerErrors.slice() : [],
    missing: missing ? missing.textContent : null,
    message: message ? message.textContent : null,
    errorBox: (() => {
      const e = document.querySelector('[data-detail] [data-player-error]');
      return e && !e.hidden ? e.textContent : null;
    })(),
  };
}

async function fetchReport(job) {
  const headers = { Accept: 'application/json' };
  const t = localStorage.getItem('tessera.apiToken');
  if (t) headers.Authorization = `Bearer ${t}`;
  const res = await fetch(`/v1/jobs/${encodeURIComponent(job)}/report`, { headers, cache: 'no-store' });
  const text = await res.text();
  return { status: res.status, text };
}

// ---- main ---------------------------------------------------------------------------

async function main() {
  const opt = parseCli();
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    setupError(`cannot load playwright-core (${e.message}): run "npm ci" in tests/browser (scripts/test.sh does it)`);
  }
  if (!existsSync(CHROMIUM)) setupError(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does it)`);

  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const log = [];
  const pageErrors = [];
  const problems = [];
  const result = { ok: false, url: opt.url, job: opt.job, state: null, progress: { increased: false, samples: [] } };

  // Last resort if something hangs outside the page waits.
  const watchdog = setTimeout(() => {
    process.stderr.write(`dashboard.mjs: FAIL: hard timeout after ${opt.timeout + 180}s\n`);
    process.stdout.write(JSON.stringify({ ...result, ok: false, problems: ['hard timeout'], ms: elapsed() }) + '\n');
    process.exit(1);
  }, (opt.timeout + 180) * 1000);
  watchdog.unref();

  const profile = mkdtempSync(join(tmpdir(), 'tessera-dashboard-'));
  let context;
  let page;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1600, height: 1000 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
    page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') log.push(`[console.${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => {
      pageErrors.push(e.message);
      log.push(`[pageerror] ${e.stack || e.message}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) log.push(`[http ${r.status()}] ${r.request().method()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => {
      const why = (r.failure() && r.failure().errorText) || 'failed';
      if (why !== 'net::ERR_ABORTED') log.push(`[request failed] ${r.method()} ${r.url()}: ${why}`);
    });
    if (opt.token) await page.addInitScript(([k, t]) => localStorage.setItem(k, t), [TOKEN_KEY, opt.token]);

    let res;
    try {
      res = await page.goto(opt.url, { waitUntil: 'load', timeout: 30000 });
    } catch (e) {
      throw new CheckFailed(`cannot open ${opt.url}: ${e.message.split('\n')[0]}`);
    }
    if (!res || !res.ok()) throw new CheckFailed(`GET ${opt.url} answered ${res ? res.status() : 'nothing'}`);
    const hasDashboard = await page.evaluate(() => !!document.querySelector('[data-jobs-table]') && !!window.tesseraDashboard);
    if (!hasDashboard) throw new CheckFailed(`${opt.url} is not the Tessera dashboard (no [data-jobs-table] / window.tesseraDashboard)`);

    // Callers may submit the job only now (so that it cannot finish before the page watches it).
    process.stderr.write(`dashboard.mjs: page open, waiting for job ${opt.job}\n`);

    // 1. The job is listed.
    const listedBy = Date.now() + Math.min(60, opt.timeout) * 1000;
    let row = null;
    while (!(row = await page.evaluate(readRow, opt.job))) {
      if (Date.now() > listedBy) {
        const status = await page.evaluate(() => {
          const s = document.querySelector('[data-api-status]');
          const ids = Array.from(document.querySelectorAll('tr[data-job-id]')).map((r) => r.getAttribute('data-job-id'));
          return { api: s && s.getAttribute('data-state'), text: s && s.textContent.trim(), ids };
        });
        throw new CheckFailed(
          `job ${opt.job} is not in the jobs table after ${Math.min(60, opt.timeout)}s ` +
            `(API status ${status.api}: "${status.text}"; listed: ${status.ids.slice(0, 10).join(', ') || 'none'})`,
        );
      }
      await sleep(200);
    }

    // 2. Progress increases while running; the job completes.
    const samples = result.progress.samples;
    const note = (r) => {
      const last = samples[samples.length - 1];
      if (!last || last.state !== r.state || last.percent !== r.percent) samples.push({ ms: elapsed(), state: r.state, percent: r.percent });
    };
    note(row);
    const first = row;
    if (first.state === 'completed' && !opt.allowCompleted) {
      problems.push(`job ${opt.job} was already completed when the dashboard first listed it: no progress increase could be observed (start the check while it runs, or pass --allow-completed)`);
    }
    const doneBy = Date.now() + opt.timeout * 1000;
    let lastChange = Date.now();
    let lastPercent = row.percent;
    while (!['completed', 'failed', 'cancelled'].includes(row.state)) {
      if (Date.now() > doneBy) throw new CheckFailed(`job ${opt.job} did not complete within ${opt.timeout}s (last: ${row.state} ${row.text})`);
      if (Date.now() - lastChange > opt.progressTimeout * 1000) {
        throw new CheckFailed(`the progress of job ${opt.job} shown by the dashboard did not change for ${opt.progressTimeout}s (stuck at ${row.state} ${row.text})`);
      }
      await sleep(200);
      const next = await page.evaluate(readRow, opt.job);
      if (!next) throw new CheckFailed(`job ${opt.job} disappeared from the jobs table`);
      if (next.percent !== lastPercent || next.state !== row.state) lastChange = Date.now();
      lastPercent = next.percent;
      row = next;
      note(row);
    }
    result.state = row.state;
    if (row.state !== 'completed') throw new CheckFailed(`job ${opt.job} ended ${row.state}${row.note ? `: ${row.note}` : ''}`);
    // An increase seen from a queued/running sample to a later, higher one.
    let low = Infinity;
    for (const s of samples) {
      if (s.percent > low) result.progress.increased = true;
      if (s.state === 'queued' || s.state === 'running') low = Math.min(low, s.percent);
    }
    if (!result.progress.increased && first.state !== 'completed') {
      problems.push(`the progress of job ${opt.job} was never seen increasing (samples: ${samples.map((s) => `${s.state} ${s.percent}`).join(', ')})`);
    }
    if (row.percent !== 100) problems.push(`completed job shows ${row.percent}% (${row.text}), not 100%`);

    // 3. Workers and queues panels (they refresh every 1-2 s: give them a few rounds).
    let cluster = await page.evaluate(readCluster);
    const clusterBy = Date.now() + 15000;
    const goodWorker = (c) => c.workers.some((w) => w.class && w.codecs.length > 0);
    while ((!goodWorker(cluster) || cluster.queues.length === 0) && Date.now() < clusterBy) {
      await sleep(300);
      cluster = await page.evaluate(readCluster);
    }
    result.workers = cluster.workers.length;
    result.queues = cluster.queues.length;
    if (!goodWorker(cluster)) {
      problems.push(`the workers panel lists no worker with a class and codecs (${JSON.stringify(cluster.workers)})`);
    }
    if (cluster.queues.length === 0) problems.push('the queues panel shows no queue row');

    // 4. Detail panel and playback.
    await page.click(`tr[data-job-id="${opt.job}"] [data-job-id-text]`);
    try {
      await page.waitForSelector(`[data-detail][data-detail-job="${opt.job}"]`, { state: 'visible', timeout: 10000 });
    } catch {
      throw new CheckFailed(`clicking job ${opt.job} did not open its detail panel`);
    }
    try {
      await page.waitForSelector('[data-detail] video[data-player], [data-detail] [data-playback-missing]', { timeout: 20000 });
    } catch {
      const msg = await page.evaluate(() => {
        const m = document.querySelector('[data-detail] [data-playback-message]');
        return m ? m.textContent : null;
      });
      throw new CheckFailed(`the detail panel of job ${opt.job} shows no player after 20s${msg ? `: "${msg}"` : ''}`);
    }
    let p = await page.evaluate(readPlayer);
    if (p.missing) throw new CheckFailed(`the detail panel has no player: "${p.missing}"`);

    const fatalOf = (st) => st.errors.filter((e) => e.fatal);
    const playBy = Date.now() + 60000;
    while (p.currentTime <= opt.playSeconds && fatalOf(p).length === 0 && Date.now() < playBy) {
      await sleep(200);
      p = await page.evaluate(readPlayer);
    }
    if (fatalOf(p).length) throw new CheckFailed(`fatal player error: ${JSON.stringify(fatalOf(p)[0])}`);
    if (!(p.currentTime > opt.playSeconds)) {
      throw new CheckFailed(
        `playback did not pass ${opt.playSeconds}s within 60s (currentTime ${p.currentTime.toFixed(2)}, readyState ${p.readyState}, ` +
          `paused ${p.paused}${p.errorBox ? `, player says "${p.errorBox}"` : ''})`,
      );
    }
    result.player = { currentTime: Math.round(p.currentTime * 1000) / 1000, width: p.width, height: p.height, levels: p.levels };

    // The poster and the seek-bar thumbnails under the player (the job's report lists them).
    const thumbsBy = Date.now() + 15000;
    let thumbs = { poster: null, tiles: 0 };
    while (Date.now() < thumbsBy) {
      thumbs = await page.evaluate(() => ({
        poster: (document.querySelector('[data-detail] video[data-player]') || { getAttribute: () => null }).getAttribute('poster'),
        tiles: document.querySelectorAll('[data-detail] [data-thumbnails] [data-thumb]').length,
      }));
      if (thumbs.poster && thumbs.tiles > 0) break;
      await sleep(200);
    }
    result.thumbnails = thumbs;
    if (!thumbs.poster || !thumbs.poster.endsWith('/poster.jpg')) problems.push(`the player has no poster (${thumbs.poster})`);
    if (thumbs.tiles === 0) problems.push('no seek-bar thumbnail under the player');

    // 5. Rendition picker: Auto + one option per hls.js level.
    const pickerBy = Date.now() + 10000;
    while ((p.pickerDisabled || p.picker.length < p.levels.length + 1) && Date.now() < pickerBy) {
      await sleep(200);
      p = await page.evaluate(readPlayer);
    }
    result.player.picker = p.picker.map((o) => o.value);
    const levelOptions = p.picker.filter((o) => o.value !== '-1');
    if (!p.picker.some((o) => o.value === '-1' && /auto/i.test(o.text))) problems.push('the rendition picker has no Auto option');
    if (p.levels.length === 0) problems.push('hls.js parsed no levels');
    const optionLevels = levelOptions.map((o) => Number(o.value)).sort((a, b) => a - b);
    const hlsLevels = p.levels.map((l) => l.index);
    if (JSON.stringify(optionLevels) !== JSON.stringify(hlsLevels)) {
      problems.push(`the rendition picker lists levels ${JSON.stringify(optionLevels)}, hls.js has ${JSON.stringify(hlsLevels)}`);
    }
    if (p.levels.length > 0) {
      const lowest = p.levels.reduce((a, b) => (b.height < a.height || (b.height === a.height && b.bitrate < a.bitrate) ? b : a));
      await page.selectOption('[data-detail] select[data-rendition-picker]', String(lowest.index));
      const switchBy = Date.now() + 30000;
      let restarted = false;
      let t0 = null;
      for (;;) {
        p = await page.evaluate(readPlayer);
        if (fatalOf(p).length) throw new CheckFailed(`fatal player error after switching to level ${lowest.index}: ${JSON.stringify(fatalOf(p)[0])}`);
        const onLevel = p.currentLevel === lowest.index && p.height === lowest.height;
        if (onLevel && t0 === null) t0 = p.currentTime;
        // On the lowest rung and still playing (a short output may have ended: then it restarts it).
        if (onLevel && !p.paused && p.currentTime > t0) break;
        if (p.ended && !restarted) {
          restarted = true;
          t0 = null;
          await page.evaluate(() => {
            const v = document.querySelector('[data-detail] video[data-player]');
            v.currentTime = 0;
            return v.play().catch(() => {});
          });
        }
        if (Date.now() > switchBy) {
          problems.push(
            `after picking level ${lowest.index} (${lowest.width}x${lowest.height}) hls.currentLevel is ${p.currentLevel} and the video ` +
              `${p.width}x${p.height} (paused ${p.paused}, ended ${p.ended}, currentTime ${p.currentTime.toFixed(2)})`,
          );
          break;
        }
        await sleep(200);
      }
      result.player.switched = { level: p.currentLevel, height: p.height, want: { level: lowest.index, height: lowest.height } };
      if (p.autoLevelEnabled) problems.push('hls.js still switches automatically after a rendition was picked');

      await page.selectOption('[data-detail] select[data-rendition-picker]', '-1');
      await page.waitForFunction(() => window.tesseraDashboard.hls && window.tesseraDashboard.hls.autoLevelEnabled, null, { timeout: 5000 }).catch(() => {});
      p = await page.evaluate(readPlayer);
      result.player.auto = p.autoLevelEnabled;
      if (!p.autoLevelEnabled) problems.push('picking Auto did not turn automatic level switching back on');
    }

    // 6. Report table: one row per rendition of the report.
    const rep = await page.evaluate(fetchReport, opt.job);
    if (rep.status !== 200) throw new CheckFailed(`GET /v1/jobs/${opt.job}/report answered ${rep.status}: ${rep.text.slice(0, 300)}`);
    let report;
    try {
      report = JSON.parse(rep.text);
    } catch {
      throw new CheckFailed(`GET /v1/jobs/${opt.job}/report is not JSON: ${rep.text.slice(0, 300)}`);
    }
    const want = (report.renditions || []).map((r) => r.name);
    let rows = [];
    const reportBy = Date.now() + 15000;
    for (;;) {
      rows = await page.evaluate(() => Array.from(document.querySelectorAll('[data-detail] [data-report-row]')).map((r) => r.getAttribute('data-rendition')));
      if (rows.length === want.length || Date.now() > reportBy) break;
      await sleep(300);
    }
    result.report = { rows };
    if (want.length === 0) problems.push('report.json lists no renditions');
    if (JSON.stringify([...rows].sort()) !== JSON.stringify([...want].sort())) {
      problems.push(`the report table shows rows ${JSON.stringify(rows)}, report.json has ${JSON.stringify(want)}`);
    }
    const videoRenditions = (report.renditions || []).filter((r) => r.height > 0);
    if (p.levels.length && videoRenditions.length !== p.levels.length) {
      problems.push(`report.json has ${videoRenditions.length} video renditions, the player/picker ${p.levels.length} levels`);
    }

    p = await page.evaluate(readPlayer);
    result.errors = p.errors;
    if (fatalOf(p).length) problems.push(`fatal player error: ${JSON.stringify(fatalOf(p)[0])}`);
  } catch (e) {
    if (e instanceof CheckFailed) problems.push(e.message);
    else problems.push(`harness error: ${e.message}`);
  } finally {
    if (pageErrors.length) problems.push(`the page threw: ${pageErrors.slice(0, 3).join(' | ')}`);
    if (opt.screenshot && page) {
      await page.screenshot({ path: opt.screenshot, fullPage: false }).catch((e) => log.push(`[screenshot failed] ${e.message}`));
    }
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }

  result.ok = problems.length === 0;
  result.ms = elapsed();
  if (problems.length) result.problems = problems;
  // The page polls: the same failing request repeats every 1.5 s. Say each once, with a count.
  const counts = new Map();
  for (const l of log) counts.set(l, (counts.get(l) || 0) + 1);
  for (const [l, n] of [...counts].slice(0, 200)) process.stderr.write(l + (n > 1 ? ` (x${n})` : '') + '\n');
  process.stdout.write(JSON.stringify(result) + '\n');
  if (!result.ok) process.stderr.write(`dashboard.mjs: FAIL job ${opt.job} at ${opt.url}: ${problems.join('; ')}\n`);
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`dashboard.mjs: ${e.stack || e}\n`);
    process.exit(1);
  },
);

#!/usr/bin/env node
// Headless-browser playback check for Tessera's HLS and DASH output.
//
// Serves a packaged output folder over a throwaway local HTTP server, opens
// it in headless Debian Chromium (driven by playwright-core) with hls.js,
// dash.js or Shaka Player, plays it muted and checks that a real browser's MSE pipeline
// accepts and decodes it:
//   - video.currentTime reaches --seconds (default 3) before --timeout,
//   - no fatal player error (hls.js fatal ERROR, any dash.js ERROR or
//     PLAYBACK_ERROR, or a <video> MediaError) fired,
//   - video.videoWidth x video.videoHeight is one of the --expect sizes.
//
// Usage:
//   node play.mjs --dir DIR --manifest master.m3u8 --player hls  --expect 1280x720,640x360
//   node play.mjs --dir DIR --manifest manifest.mpd --player dash --expect 640x360 \
//        [--seconds 3] [--timeout 60]
//   node play.mjs --url http://HOST/live/ID/master.m3u8 --player hls --expect 320x180 --low-latency
//   (--url: the manifest from a server of its own, e.g. Tessera's origin with
//   LL-HLS blocking reloads, instead of --dir/--manifest; --low-latency: hls.js
//   or dash.js in low-latency mode, and the result gains "latency", the player's live latency in s)
//   --switch-audio: switch to the last audio track the player lists once it plays.
//   --expect-cues: also wait (within --timeout) for a text track with a loaded cue.
//   --trick-play RATE (Shaka only, HLS or DASH): once it plays, fast-forward at
//   RATE with Shaka's trick play, which switches to the I-frame playlist (HLS
//   EXT-X-I-FRAME-STREAM-INF) or the trick-mode AdaptationSet (DASH), buffering
//   at most 1 s ahead so that what follows comes from that stream. The result
//   gains "requests" ({path, range, trick: made after trick play began}) and
//   "trickPlayRate" (Shaka's rate at the end).
//   The result always lists "audioTracks" ({lang, name}) and "audioTrack" (the
//   current one's lang), and "textTracks" ({lang, label, cues: how many the
//   browser loaded}) of the <video>.
//
// Prints exactly one JSON line to stdout:
//   {"ok":true,"player":"hls","manifest":"master.m3u8","currentTime":3.085,"width":320,"height":180,
//    "errors":[],"levels":[{"width":320,"height":180,"bitrate":75900,
//    "codecs":"avc1.42c00d,mp4a.40.2","mse":true}],"sourceBuffers":["video/mp4;codecs=..."],"ms":4204}
// levels: what the player parsed from the manifest (hls.js levels, or dash.js
//   video then audio representations; "mse" = MediaSource.isTypeSupported of
//   the level's codecs string, absent when the manifest gave none).
// sourceBuffers: the MIME types the player actually passed to addSourceBuffer.
// errors: every player error seen (first 50), with a fatal flag; on failure a
//   "problems" array says which check failed.
// Browser console errors/warnings, 404s and the failure reason go to stderr.
// Exit codes: 0 pass, 1 playback check failed, 2 setup problem (bad
// arguments, `npm ci` not run in tests/browser, no /usr/bin/chromium).
//
// Setup (scripts/test.sh does this): `apt-get install -y chromium` and
// `npm ci` in tests/browser. The Chromium path can be overridden with
// CHROMIUM_PATH.

import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Player builds that define a global (window.Hls / window.dashjs) when loaded
// with a plain <script> tag. dash.js 5 ships no dist/dash.all.min.js any more:
// its UMD build lives under dist/modern/umd/ (dist/legacy/umd/ is the ES5 one).
const LIBS = {
  '/lib/hls.min.js': join(HERE, 'node_modules/hls.js/dist/hls.min.js'),
  '/lib/dash.all.min.js': join(HERE, 'node_modules/dashjs/dist/modern/umd/dash.all.min.js'),
  '/lib/shaka-player.compiled.js': join(HERE, 'node_modules/shaka-player/dist/shaka-player.compiled.js'),
};
const PLAYERS = { hls: '/lib/hls.min.js', dash: '/lib/dash.all.min.js', shaka: '/lib/shaka-player.compiled.js' };
const MIME = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment',
  '.m4a': 'audio/mp4',
  '.m4v': 'video/mp4',
  '.cmfv': 'video/mp4',
  '.cmfa': 'audio/mp4',
  '.vtt': 'text/vtt',
  '.js': 'text/javascript',
  '.html': 'text/html',
};

// ---- small helpers ---------------------------------------------------------

function setupError(msg) {
  process.stderr.write(`play.mjs: ${msg}\n`);
  process.exit(2);
}

function parseCli() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        dir: { type: 'string' },
        manifest: { type: 'string' },
        player: { type: 'string' },
        expect: { type: 'string' },
        seconds: { type: 'string', default: '3' },
        timeout: { type: 'string', default: '60' },
        url: { type: 'string' },
        'low-latency': { type: 'boolean', default: false },
        'switch-audio': { type: 'boolean', default: false },
        'expect-cues': { type: 'boolean', default: false },
        'trick-play': { type: 'string' },
      },
    }));
  } catch (e) {
    setupError(`${e.message}\nusage: node play.mjs --dir DIR --manifest FILE --player hls|dash|shaka --expect WxH[,WxH...] [--seconds 3] [--timeout 60]`);
  }
  const required = values.url ? ['player', 'expect'] : ['dir', 'manifest', 'player', 'expect'];
  for (const k of required) {
    if (!values[k]) setupError(`missing --${k}`);
  }
  if (!PLAYERS[values.player]) setupError(`--player must be hls, dash or shaka, not ${values.player}`);
  const trickPlay = values['trick-play'] === undefined ? null : Number(values['trick-play']);
  if (trickPlay !== null && !(trickPlay > 1 && values.player === 'shaka')) {
    setupError('--trick-play wants a rate above 1, with --player shaka');
  }
  const expect = values.expect.split(',').map((s) => {
    const m = /^\s*(\d+)x(\d+)\s*$/.exec(s);
    if (!m) setupError(`--expect wants WxH[,WxH...], got "${s}"`);
    return [Number(m[1]), Number(m[2])];
  });
  const seconds = Number(values.seconds);
  const timeout = Number(values.timeout);
  if (!(seconds > 0) || !(timeout > 0)) setupError('--seconds and --timeout must be positive numbers');
  return {
    dir: values.url ? null : resolve(values.dir),
    manifest: values.manifest || values.url,
    url: values.url,
    lowLatency: values['low-latency'],
    switchAudio: values['switch-audio'],
    expectCues: values['expect-cues'],
    trickPlay,
    player: values.player,
    expect,
    seconds,
    timeout,
  };
}

// The page: a muted <video> and the chosen player library.
function pageHtml(player) {
  const lib = PLAYERS[player];
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>tessera player check</title></head>
<body style="margin:0;background:#000">
<video id="v" muted playsinline width="640" height="360"></video>
<script src="${lib}"></script>
</body></html>`;
}

// Static server: / is the page, /lib/* the player libraries, /media/* the
// output folder (with single-range support for byte-range HLS / SegmentBase DASH).
function startServer(dir, player, log) {
  const server = createServer((req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      path = '/<bad url>';
    }
    let file;
    if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    } else if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
      res.end(pageHtml(player));
      return;
    } else if (LIBS[path]) {
      file = LIBS[path];
    } else if (path.startsWith('/media/')) {
      file = resolve(dir, '.' + path.slice('/media'.length));
      if (file !== dir && !file.startsWith(dir + sep)) file = null; // no ../ escapes
    }
    let st = null;
    try {
      st = file && statSync(file);
    } catch {}
    if (!st || !st.isFile()) {
      log.notFound.push(path);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const headers = {
      'content-type': MIME[extname(file).toLowerCase()] || 'application/octet-stream',
      'accept-ranges': 'bytes',
      'cache-control': 'no-store',
    };
    let start = 0;
    let end = st.size - 1;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
    if (range && (range[1] || range[2])) {
      if (range[1]) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(Number(range[2]), end);
      } else {
        start = Math.max(0, st.size - Number(range[2]));
      }
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${st.size}` });
        res.end();
        return;
      }
      headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
    }
    headers['content-length'] = String(end - start + 1);
    res.writeHead(headers['content-range'] ? 206 : 200, headers);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok(server));
  });
}

// ---- what runs inside the page ---------------------------------------------
// Started with page.evaluate; everything it learns goes into window.__check.

function startPlayer({ player, url, lowLatency, switchAudio, trickPlay }) {
  const video = document.getElementById('v');
  const check = (window.__check = { errors: [], levels: [], fatal: false });
  const fail = (e) => {
    if (check.errors.length < 50) check.errors.push(e); // a stalled player can repeat itself a lot
    if (e.fatal) check.fatal = true;
  };
  const mse = (codecs, kind) => (codecs ? MediaSource.isTypeSupported(`${kind}/mp4; codecs="${codecs}"`) : undefined);
  // Record the exact MIME/codec strings the player hands to MSE.
  check.sourceBuffers = [];
  const addSourceBuffer = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (type) {
    check.sourceBuffers.push(type);
    return addSourceBuffer.call(this, type);
  };
  video.addEventListener('error', () => {
    const err = video.error;
    fail({ fatal: true, source: 'video', code: err && err.code, message: err && err.message });
  });

  if (player === 'hls') {
    if (!window.Hls) return fail({ fatal: true, source: 'page', message: 'hls.js did not load' });
    if (!Hls.isSupported()) return fail({ fatal: true, source: 'page', message: 'Hls.isSupported() is false (no MSE?)' });
    // The server is local: a failed load won't succeed on the 6th try with
    // 8 s back-off (hls.js's default), so give up fast and let it go fatal.
    const policy = {
      default: {
        maxTimeToFirstByteMs: 10000,
        maxLoadTimeMs: 20000,
        timeoutRetry: { maxNumRetry: 1, retryDelayMs: 0, maxRetryDelayMs: 0 },
        errorRetry: { maxNumRetry: 2, retryDelayMs: 250, maxRetryDelayMs: 1000 },
      },
    };
    // Low-latency mode: blocking reloads and parts, and catching up (up to 1.25x) when behind the target latency.
    const live = lowLatency ? { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.25 } : { lowLatencyMode: false };
    const hls = new Hls({ fragLoadPolicy: policy, playlistLoadPolicy: policy, ...live });
    window.__hls = hls;
    hls.on(Hls.Events.ERROR, (_, d) => {
      fail({
        fatal: !!d.fatal,
        source: 'hls.js',
        type: d.type,
        details: d.details,
        message: d.reason || (d.error && d.error.message) || undefined,
        url: (d.frag && d.frag.url) || d.url || (d.context && d.context.url) || undefined,
        response: d.response && d.response.code ? d.response.code : undefined,
      });
    });
    // Show the first subtitle track, once hls.js lists them, so its cues load.
    // (After the event: hls.js picks its own track, none without a DEFAULT one, once its listeners ran.)
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (_, d) => {
      if (d.subtitleTracks.length) {
        setTimeout(() => {
          if (hls.subtitleTrack < 0) hls.subtitleTrack = 0;
        }, 0);
      }
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
      check.levels = d.levels.map((l) => {
        const codecs = [l.videoCodec, l.audioCodec].filter(Boolean).join(',') || l.codecSet || null;
        return { width: l.width, height: l.height, bitrate: l.bitrate, codecs, mse: mse(codecs, 'video') };
      });
      video.play().catch((e) => fail({ fatal: false, source: 'play()', message: String(e) }));
    });
    hls.once(Hls.Events.AUDIO_TRACKS_UPDATED, (_, d) => {
      check.audioTracks = d.audioTracks.map((t) => ({ lang: t.lang || null, name: t.name || null }));
      if (switchAudio && d.audioTracks.length > 1) hls.audioTrack = d.audioTracks.length - 1;
    });

    hls.attachMedia(video);
    hls.loadSource(url);
  } else if (player === 'shaka') {
    if (!window.shaka) return fail({ fatal: true, source: 'page', message: 'Shaka Player did not load' });
    shaka.polyfill.installAll();
    const p = new shaka.Player();
    window.__shaka = p;
    // Trick play switches streams for what it buffers next: buffer little ahead,
    // and start on H.264, the codec Tessera writes I-frame and trick-mode streams for.
    if (trickPlay) {
      p.configure({
        streaming: { bufferingGoal: 1, rebufferingGoal: 0.5 },
        preferredVideo: [{ codec: 'avc1', label: '', role: '', language: '', hdrLevel: '', layout: '' }],
      });
    }
    p.configure({ streaming: { retryParameters: { maxAttempts: 2, baseDelay: 250, timeout: 20000 } } });
    check.requests = [];
    let tricking = false;
    p.getNetworkingEngine().registerRequestFilter((type, request) => {
      const headers = request.headers || {};
      check.requests.push({
        path: new URL(request.uris[0]).pathname.replace(/^\/media\//, ''),
        range: headers.Range || headers.range || null,
        trick: tricking,
      });
    });
    p.addEventListener('error', (e) => {
      const d = e.detail || {};
      fail({ fatal: d.severity === 2, source: 'shaka', code: d.code, message: d.message || JSON.stringify(d.data || []) });
    });
    p.attach(video)
      .then(() => p.load(url))
      .then(() => {
        check.levels = p.getVariantTracks().map((t) => ({
          width: t.width || 0,
          height: t.height || 0,
          bitrate: t.bandwidth,
          codecs: t.codecs,
          mse: mse(t.videoCodec, 'video'),
        }));
        check.audioTracks = p.getAudioTracks().map((t) => ({ lang: t.language || null, name: t.label || null }));
        return video.play();
      })
      .then(() => {
        if (!trickPlay) return;
        const start = () => {
          tricking = true;
          p.trickPlay(trickPlay);
        };
        if (video.currentTime > 0) start();
        else video.addEventListener('timeupdate', start, { once: true });
      })
      .catch((e) => fail({ fatal: true, source: 'shaka', code: e && e.code, message: (e && e.message) || String(e) }));
  } else {
    if (!window.dashjs) return fail({ fatal: true, source: 'page', message: 'dash.js did not load' });
    const p = dashjs.MediaPlayer().create();
    window.__dash = p;
    if (lowLatency) {
      // Low latency: the MPD's ServiceDescription sets the target; catch up when behind it.
      p.updateSettings({ streaming: { liveCatchup: { enabled: true, maxDrift: 0, playbackRate: { max: 0.25, min: -0.25 } } } });
    }
    const ev = dashjs.MediaPlayer.events;
    p.on(ev.ERROR, (e) => {
      const err = e.error || {};
      fail({ fatal: true, source: 'dash.js', code: err.code, message: err.message || String(err) });
    });
    p.on(ev.PLAYBACK_ERROR, (e) => {
      fail({ fatal: true, source: 'dash.js', message: 'playbackError ' + ((e.error && e.error.message) || '') });
    });
    p.on(ev.STREAM_INITIALIZED, () => {
      const rep = (kind) => (r) => ({
        width: r.width || 0,
        height: r.height || 0,
        bitrate: r.bandwidth,
        codecs: r.codecs,
        mse: mse(r.codecs, kind),
      });
      check.levels = [
        ...p.getRepresentationsByType('video').map(rep('video')),
        ...p.getRepresentationsByType('audio').map(rep('audio')),
      ];
      const tracks = p.getTracksFor('audio');
      check.audioTracks = tracks.map((t) => ({
        lang: t.lang || null,
        name: (t.labels && t.labels[0] && t.labels[0].text) || null,
      }));
      if (switchAudio && tracks.length > 1) p.setCurrentTrack(tracks[tracks.length - 1]);
      const texts = p.getTracksFor('text');
      if (texts.length) {
        p.enableText(true);
        try {
          p.setTextTrack(0);
        } catch (e) {
          fail({ fatal: false, source: 'dash.js', message: 'setTextTrack: ' + e });
        }
      }
    });
    p.initialize(video, url, true);
  }
}

// Final snapshot taken in the page.
function snapshot() {
  const v = document.getElementById('v');
  const c = window.__check || { errors: [], levels: [] };
  return {
    currentTime: v.currentTime,
    width: v.videoWidth,
    height: v.videoHeight,
    readyState: v.readyState,
    paused: v.paused,
    errors: c.errors,
    levels: c.levels,
    sourceBuffers: c.sourceBuffers || [],
    audioTracks: c.audioTracks || [],
    requests: c.requests || [],
    trickPlayRate: window.__shaka ? window.__shaka.getPlaybackRate() : null,
    audioTrack: (() => {
      const s = window.__shaka;
      if (s) return (s.getAudioTracks().find((t) => t.active) || {}).language || null;
      const h = window.__hls;
      if (h) return (h.audioTracks[h.audioTrack] || {}).lang || null;
      const d = window.__dash;
      const t = d && d.getCurrentTrackFor('audio');
      return (t && t.lang) || null;
    })(),
    textTracks: Array.from(v.textTracks).map((t) => ({
      lang: t.language || null,
      label: t.label || null,
      kind: t.kind,
      cues: t.cues ? t.cues.length : 0,
      texts: t.cues ? Array.from(t.cues).slice(0, 20).map((c) => c.text) : [],
    })),
    // hls.js's view of the live playlist: parts and blocking reloads (LL-HLS).
    lowLatency: (() => {
      const h = window.__hls;
      const level = h && h.levels && h.levels[Math.max(0, h.currentLevel)];
      const d = level && level.details;
      return d ? { partTarget: d.partTarget || 0, canBlockReload: !!d.canBlockReload, parts: (d.partList || []).length } : null;
    })(),
    latency: window.__hls && Number.isFinite(window.__hls.latency)
      ? window.__hls.latency
      : window.__dash && Number.isFinite(window.__dash.getCurrentLiveLatency())
        ? window.__dash.getCurrentLiveLatency()
        : null,
  };
}

// ---- main ------------------------------------------------------------------

async function main() {
  const opt = parseCli();

  for (const f of Object.values(LIBS)) {
    if (!existsSync(f)) setupError(`${f} is missing: run "npm ci" in tests/browser (scripts/test.sh does it)`);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    setupError(`cannot load playwright-core (${e.message}): run "npm ci" in tests/browser (scripts/test.sh does it)`);
  }
  if (!existsSync(CHROMIUM)) setupError(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does it)`);
  if (opt.dir && (!existsSync(opt.dir) || !statSync(opt.dir).isDirectory())) setupError(`--dir ${opt.dir} is not a directory`);

  const started = Date.now();
  const log = { notFound: [], console: [] };
  let server;
  let browser;
  // Last resort if something hangs outside the page wait (launch, close...).
  const watchdog = setTimeout(() => {
    process.stderr.write(`play.mjs: FAIL: hard timeout after ${opt.timeout + 60}s\n`);
    process.exit(1);
  }, (opt.timeout + 60) * 1000);
  watchdog.unref();

  let result;
  try {
    server = await startServer(opt.dir, opt.player, log);
    const origin = `http://127.0.0.1:${server.address().port}`;
    const url = `${origin}/media/${opt.manifest.split('/').map(encodeURIComponent).join('/')}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') log.console.push(`[console.${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => log.console.push(`[pageerror] ${e.message}`));
    await page.goto(origin + '/', { waitUntil: 'load' });
    await page.evaluate(startPlayer, {
      player: opt.player,
      url: opt.url || url,
      lowLatency: opt.lowLatency,
      switchAudio: opt.switchAudio,
      trickPlay: opt.trickPlay,
    });

    let timedOut = false;
    try {
      await page.waitForFunction(
        ([s, cues]) => {
          const v = document.getElementById('v');
          const c = window.__check;
          const loaded = !cues || Array.from(v.textTracks).some((t) => t.cues && t.cues.length > 0);
          return (c && c.fatal) || (v.currentTime >= s && loaded);
        },
        [opt.seconds, opt.expectCues],
        { timeout: opt.timeout * 1000, polling: 100 },
      );
    } catch (e) {
      if (e.name !== 'TimeoutError') throw e;
      timedOut = true;
    }
    const snap = await page.evaluate(snapshot);

    const problems = [];
    const fatal = snap.errors.filter((e) => e.fatal);
    if (fatal.length) problems.push(`fatal player error: ${JSON.stringify(fatal[0])}`);
    if (!(snap.currentTime >= opt.seconds)) {
      problems.push(
        `currentTime ${snap.currentTime.toFixed(2)}s < ${opt.seconds}s` +
          (timedOut ? ` after ${opt.timeout}s timeout` : '') +
          ` (readyState ${snap.readyState}, paused ${snap.paused})`,
      );
    }
    if (!opt.expect.some(([w, h]) => w === snap.width && h === snap.height)) {
      problems.push(`video size ${snap.width}x${snap.height} is not one of ${opt.expect.map((s) => s.join('x')).join(', ')}`);
    }
    result = {
      ok: problems.length === 0,
      player: opt.player,
      manifest: opt.manifest,
      currentTime: Math.round(snap.currentTime * 1000) / 1000,
      width: snap.width,
      height: snap.height,
      errors: snap.errors,
      levels: snap.levels,
      sourceBuffers: snap.sourceBuffers,
      latency: snap.latency,
      lowLatency: snap.lowLatency,
      audioTracks: snap.audioTracks,
      audioTrack: snap.audioTrack,
      textTracks: snap.textTracks,
      ms: Date.now() - started,
    };
    if (opt.player === 'shaka') {
      result.requests = snap.requests;
      result.trickPlayRate = snap.trickPlayRate;
    }
    if (problems.length) result.problems = problems;
  } catch (e) {
    result = {
      ok: false,
      player: opt.player,
      manifest: opt.manifest,
      currentTime: 0,
      width: 0,
      height: 0,
      errors: [{ fatal: true, source: 'play.mjs', message: e.message }],
      levels: [],
      sourceBuffers: [],
      ms: Date.now() - started,
      problems: [`harness error: ${e.message}`],
    };
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server) {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  }

  for (const l of log.console) process.stderr.write(l + '\n');
  for (const p of log.notFound) process.stderr.write(`[http 404] ${p}\n`);
  process.stdout.write(JSON.stringify(result) + '\n');
  if (!result.ok) {
    process.stderr.write(`play.mjs: FAIL ${opt.player} ${opt.manifest}: ${result.problems.join('; ')}\n`);
  }
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`play.mjs: ${e.stack || e}\n`);
    process.exit(1);
  },
);

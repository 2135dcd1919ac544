#!/usr/bin/env python3
"""Live ingest-to-playlist latency of `tessera dev` on this machine.

Pushes the 720p30 benchmark clip (benches/clip.sh; IDR every 2 s) in real
time with `ffmpeg -re -c copy` (so ffmpeg costs no CPU) to a fresh
`tessera dev`, once per ladder, and for every segment measures the time from
its cut (the coordinator's segment count going up, which happens when the
next keyframe arrives: one frame after the segment's last frame) to the
moment every rendition's live playlist lists it. Polls every 20 ms, so
figures carry +-20 ms. Also reports the CPU the whole `tessera dev` process
used per second of media (decode, scale, encode, ingest, packaging), and the
realtime factor that gives on this machine's cores (above 1: it keeps up).

Low-latency (LL-HLS) rows push the same clip to a channel with 0.5 s parts
and measure, for every frame, the time from its arrival at ingest to the
part holding it being listed in every rendition's playlist: a frame at
presentation time t arrives at the playlist's first EXT-X-PROGRAM-DATE-TIME
+ t (the coordinator's clock when the first frame arrived; ffmpeg -re sends
in real time), and a part counts as listed when every playlist lists it (or
its whole segment). They also run hls.js in low-latency mode in Chromium
(tests/browser/play.mjs, through the origin's blocking reloads) during the
push and report the live latency it measures.

Usage (release build first):  cargo build --release -p tessera
  benches/live_latency.py [--tessera PATH] [--seconds 30]
Prints a Markdown table; results also in $BENCH_DIR/live-results.md.
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.environ.get("BENCH_DIR", "/tmp/tessera-bench")

H264 = [("h264", 720, 2500), ("h264", 480, 1200), ("h264", 360, 700)]
# (name, rungs, LL-HLS part seconds or None, hls.js playing in Chromium on the same cores)
LADDERS = [
    ("H.264 720p/480p/360p", H264, None, False),
    ("H.264 720p/480p/360p, LL-HLS 0.5 s parts", H264, 0.5, False),
    ("H.264 720p/480p/360p, LL-HLS 0.5 s parts, hls.js playing", H264, 0.5, True),
    ("AV1 360p", [("av1", 360, 450)], None, False),
]
PART_RE = re.compile(r'#EXT-X-PART:.*URI="(\d{6})\.(\d+)\.m4s"')


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clip(seconds):
    """Makes (or reuses) the benchmark clip through benches/clip.sh."""
    script = f'BENCH_DIR="{BENCH_DIR}" FFMPEG="${{FFMPEG:-ffmpeg}}"; . "{HERE}/clip.sh"; make_clip {seconds}; echo "$SRC"'
    out = subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def listed(path):
    try:
        with open(path) as f:
            return {int(line[:6]) for line in f if line.strip().endswith(".m4s")}
    except OSError:
        return set()


def listed_parts(path):
    """Parts listed in a playlist, and its whole segments, and segment 0's wall-clock time (ms)."""
    parts, segments, start = set(), set(), None
    try:
        with open(path) as f:
            for line in f:
                m = PART_RE.match(line)
                if m:
                    parts.add((int(m.group(1)), int(m.group(2))))
                elif line.strip().endswith(".m4s"):
                    segments.add(int(line[:6]))
                elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:") and start is None:
                    stamp = line.split(":", 1)[1].strip().replace("Z", "+00:00")
                    start = __import__("datetime").datetime.fromisoformat(stamp).timestamp() * 1000
    except OSError:
        pass
    return parts, segments, start


def process_cpu(pid):
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * p))]


def run(tessera, source, seconds, name, rungs, part_secs, with_player):
    out = tempfile.mkdtemp(prefix="tessera-live-bench-")
    http, rtmp = free_port(), free_port()
    # Streamed (LL) tasks wait for their source while it is cut: a segment's tasks and the next one's overlap.
    slots = ["--slots", "10"] if part_secs else []
    dev = subprocess.Popen(
        [tessera, "dev", "--listen", f"127.0.0.1:{http}", "--rtmp", f"127.0.0.1:{rtmp}", "--srt", f"127.0.0.1:{free_port()}",
         "--out", out, "--live-grace", "3", *slots],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(out, "dev.log"), "w"))
    try:
        api = f"http://127.0.0.1:{http}"
        for _ in range(100):
            try:
                get(api + "/healthz")
                break
            except Exception:
                time.sleep(0.1)
        ladder = {"rungs": [{"codec": c, "height": h, "bitrate_kbps": b} for c, h, b in rungs]}
        codecs = sorted({c for c, _, _ in rungs})
        body = {"codecs": codecs, "ladder": ladder, "segment_duration": 2, "window": 6}
        if part_secs:
            body.update({"low_latency": True, "part_duration": part_secs})
        channel = post(api + "/v1/live", body)
        cid, url = channel["id"], channel["rtmp_url"]
        cpu_before = process_cpu(dev.pid)
        started = time.monotonic()
        pusher = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", source,
                                   "-t", str(seconds), "-c", "copy", "-f", "flv", url])
        names = [f"{c}-{h}p" for c, h, _ in rungs]
        playlists = [os.path.join(out, "live", cid, n, "index.m3u8") for n in names]
        cut_at, listed_at = {}, {}
        part_listed_at, start_ms = {}, None
        player = None
        seen = 0
        while True:
            now = time.monotonic()
            if with_player and player is None and now - started > 6:
                # hls.js in low-latency mode, through the origin, for most of the push.
                script = os.path.join(HERE, "..", "tests", "browser", "play.mjs")
                player = subprocess.Popen(["node", script, "--url", f"{api}/files/live/{cid}/master.m3u8", "--player", "hls",
                                           "--low-latency", "--expect", "1280x720,854x480,640x360",
                                           "--seconds", str(max(5, seconds - 12)), "--timeout", str(seconds + 30)],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            if part_secs:
                wall_ms = time.time() * 1000
                views = [listed_parts(p) for p in playlists]
                if start_ms is None and views[0][2] is not None:
                    start_ms = views[0][2]
                per_segment = round(2.0 / part_secs)
                # A whole segment listed lists its parts too.
                everywhere = set.intersection(
                    *(parts | {(s, k) for s in segs for k in range(per_segment)} for parts, segs, _ in views))
                for key in everywhere:
                    part_listed_at.setdefault(key, wall_ms)
            state = get(f"{api}/v1/live/{cid}")
            for seq in range(seen, state["segments"]):
                cut_at[seq] = now
            seen = max(seen, state["segments"])
            common = set.intersection(*(listed(p) for p in playlists))
            for seq in common:
                listed_at.setdefault(seq, now)
            if pusher.poll() is not None and state["state"] == "ended":
                break
            time.sleep(0.02)
        # The final segment is cut at the end of the push; its listing is the VOD rewrite.
        deadline = time.time() + 600
        while get(f"{api}/v1/jobs/{cid}")["state"] != "completed":
            if time.time() > deadline:
                sys.exit("the broadcast never completed")
            time.sleep(0.2)
        cpu = process_cpu(dev.pid) - cpu_before
        media = seconds
        latencies = [listed_at[s] - cut_at[s] for s in sorted(cut_at) if s in listed_at and s < seen - 1]
        row = {
            "name": name,
            "segments": len(latencies),
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
            "max": max(latencies),
            "cpu_per_media_sec": cpu / media,
            "realtime": media / (cpu / os.cpu_count()),
        }
        if part_secs and start_ms is not None:
            # Every frame of every part listed while live (not the last segment, listed by the VOD rewrite).
            fps, per_part = 30, round(part_secs * 30)
            frames = []
            for (s, k), at in part_listed_at.items():
                if s >= seen - 1:
                    continue
                for j in range(per_part):
                    arrival = start_ms + (s * 2.0 + k * part_secs + j / fps) * 1000
                    frames.append((at - arrival) / 1000)
            row["frames"] = len(frames)
            row["frame_p50"], row["frame_p95"], row["frame_max"] = (
                percentile(frames, 0.5), percentile(frames, 0.95), max(frames))
        if player is not None:
            played, _ = player.communicate(timeout=seconds + 90)
            try:
                row["hls_latency"] = json.loads(played.strip().splitlines()[-1]).get("latency")
            except (ValueError, IndexError):
                row["hls_latency"] = None
        return row
    finally:
        dev.terminate()
        dev.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tessera", default=os.path.join(HERE, "..", "target", "release", "tessera"))
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--only", default="", help="run the ladders whose name contains this")
    args = parser.parse_args()
    source = clip(30)
    rows = [run(args.tessera, source, args.seconds, name, rungs, part, player)
            for name, rungs, part, player in LADDERS if args.only in name]
    lines = ["| ladder | segments | cut -> listed in every playlist p50 / p95 / max | CPU per media second | realtime factor on %d cores |" % os.cpu_count(),
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['segments']} | {r['p50']:.2f} / {r['p95']:.2f} / {r['max']:.2f} s "
                     f"| {r['cpu_per_media_sec']:.2f} s | {r['realtime']:.2f}x |")
    lines += ["", "| LL-HLS ladder | frames | frame arrival -> its part listed everywhere p50 / p95 / max | hls.js live latency |",
              "| --- | --- | --- | --- |"]
    for r in rows:
        if "frames" in r:
            hls = f"{r['hls_latency']:.2f} s" if r.get("hls_latency") is not None else "-"
            lines.append(f"| {r['name']} | {r['frames']} | {r['frame_p50']:.2f} / {r['frame_p95']:.2f} / {r['frame_max']:.2f} s | {hls} |")
    text = "\n".join(lines)
    print(text)
    os.makedirs(BENCH_DIR, exist_ok=True)
    with open(os.path.join(BENCH_DIR, "live-results.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()

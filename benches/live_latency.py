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

Usage (release build first):  cargo build --release -p tessera
  benches/live_latency.py [--tessera PATH] [--seconds 30]
Prints a Markdown table; results also in $BENCH_DIR/live-results.md.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.environ.get("BENCH_DIR", "/tmp/tessera-bench")

LADDERS = {
    "H.264 720p/480p/360p": [("h264", 720, 2500), ("h264", 480, 1200), ("h264", 360, 700)],
    "AV1 360p": [("av1", 360, 450)],
}


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


def process_cpu(pid):
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * p))]


def run(tessera, source, seconds, name, rungs):
    out = tempfile.mkdtemp(prefix="tessera-live-bench-")
    http, rtmp = free_port(), free_port()
    dev = subprocess.Popen(
        [tessera, "dev", "--listen", f"127.0.0.1:{http}", "--rtmp", f"127.0.0.1:{rtmp}", "--out", out, "--live-grace", "3"],
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
        channel = post(api + "/v1/live", {"codecs": codecs, "ladder": ladder, "segment_duration": 2, "window": 6})
        cid, url = channel["id"], channel["rtmp_url"]
        cpu_before = process_cpu(dev.pid)
        pusher = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", source,
                                   "-t", str(seconds), "-c", "copy", "-f", "flv", url])
        names = [f"{c}-{h}p" for c, h, _ in rungs]
        playlists = [os.path.join(out, "live", cid, n, "index.m3u8") for n in names]
        cut_at, listed_at = {}, {}
        seen = 0
        while True:
            now = time.monotonic()
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
        return {
            "name": name,
            "segments": len(latencies),
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
            "max": max(latencies),
            "cpu_per_media_sec": cpu / media,
            "realtime": media / (cpu / os.cpu_count()),
        }
    finally:
        dev.terminate()
        dev.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tessera", default=os.path.join(HERE, "..", "target", "release", "tessera"))
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    source = clip(30)
    rows = [run(args.tessera, source, args.seconds, name, rungs) for name, rungs in LADDERS.items()]
    lines = ["| ladder | segments | cut -> listed in every playlist p50 / p95 / max | CPU per media second | realtime factor on %d cores |" % os.cpu_count(),
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['segments']} | {r['p50']:.2f} / {r['p95']:.2f} / {r['max']:.2f} s "
                     f"| {r['cpu_per_media_sec']:.2f} s | {r['realtime']:.2f}x |")
    text = "\n".join(lines)
    print(text)
    os.makedirs(BENCH_DIR, exist_ok=True)
    with open(os.path.join(BENCH_DIR, "live-results.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()

"""Issue 14's benchmark: Tessera's encoders and per-title ladder against
ffmpeg on the same content and machine. See compare_transcode.sh for what it
runs; it prints markdown tables and writes them to $BENCH_DIR/encoders.md."""

import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

TESSERA = os.environ["TESSERA"]
FFMPEG = os.environ["FFMPEG"]
VMAF_FFMPEG = os.environ["VMAF_FFMPEG"]
BENCH = os.environ["BENCH_DIR"]
ONLY = set((os.environ.get("ONLY") or "speed,quality,per_title").split(","))
RUNS = f"{BENCH}/runs14"
CORES = os.cpu_count()
H264 = [(720, 2500), (480, 1200), (360, 700), (240, 400)]
AV1 = [(720, 1600), (480, 800), (360, 450)]
SEGMENT = 4
out_lines = []


def say(line=""):
    print(line, flush=True)
    out_lines.append(line)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ff(*args, binary=FFMPEG):
    subprocess.run([binary, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


REUSE = os.environ.get("REUSE") == "1"


def reused(label, out):
    """With REUSE=1, a run whose timing and output are already there is not run again."""
    return REUSE and os.path.exists(f"{RUNS}/{label}.time") and os.path.isdir(out)


def timed(label, cmd, skip=False):
    """Runs cmd under /usr/bin/time -v: (wall s, CPU s, peak RSS MB)."""
    tfile = f"{RUNS}/{label}.time"
    if not skip:
        log(f"running {label}")
        with open(f"{RUNS}/{label}.log", "w") as out:
            subprocess.run(["/usr/bin/time", "-v", "-o", tfile, *cmd], stdout=out, stderr=subprocess.STDOUT, check=True)
    text = open(tfile).read()
    field = lambda name: re.search(re.escape(name) + r":\s*(\S+)", text).group(1)
    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return wall, cpu, int(field("Maximum resident set size (kbytes)")) / 1024


def probe(path):
    v = json.loads(subprocess.check_output(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                            "stream=width,height,r_frame_rate,nb_frames:format=duration", "-of", "json", path]))
    s = v["streams"][0]
    num, den = s["r_frame_rate"].split("/")
    return s["width"], s["height"], float(num) / float(den), float(v["format"]["duration"])


def contents():
    bbb = f"{BENCH}/bbb-20s.mp4"
    if not os.path.exists(bbb):
        log("cutting 20 s of Big Buck Bunny")
        ff("-ss", "10", "-t", "20", "-i", f"{BENCH}/bbb.mp4", "-c:v", "libx264", "-preset", "medium", "-crf", "16",
           "-g", "48", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", bbb)
    slides = f"{BENCH}/slides-20s.mp4"
    if not os.path.exists(slides):
        log("making the slides clip")
        still = f"{BENCH}/bbb-still.png"
        ff("-ss", "25", "-i", f"{BENCH}/bbb.mp4", "-frames:v", "1", still)
        ff("-loop", "1", "-framerate", "24", "-i", still, "-vf",
           "zoompan=z='1+0.0004*on':d=480:s=1280x720:fps=24,format=yuv420p", "-t", "20",
           "-c:v", "libx264", "-preset", "medium", "-crf", "16", "-g", "48", slides)
    return {"bbb": bbb, "synthetic": os.environ["SYNTHETIC"], "slides": slides}


def write_ladder(path, rungs, scale=1.0, encoders=None):
    body = {"rungs": [{"codec": c, "height": h, "bitrate_kbps": max(16, int(k * scale)),
                       **({"encoder": encoders[c]} if encoders else {})} for c, h, k in rungs]}
    json.dump(body, open(path, "w"))
    return path


def tessera(label, src, codecs, ladder=None):
    out = f"{RUNS}/{label}"
    skip = reused(label, out)
    if not skip:
        shutil.rmtree(out, ignore_errors=True)
    cmd = [TESSERA, "transcode", src, "--out", out, "--codecs", codecs, "--segment-duration", str(SEGMENT)]
    if ladder:
        cmd += ["--ladder", ladder]
    return timed(label, cmd, skip), out


def widths(out):
    return {r["name"]: r["width"] for r in json.load(open(f"{out}/report.json"))["renditions"] if r["width"]}


def ffmpeg_ladder(label, src, rungs, sizes, fps):
    """One ffmpeg process: one decode, split + bicubic scale into every rung, HLS fMP4 like Tessera's."""
    out = f"{RUNS}/{label}"
    skip = reused(label, out)
    if not skip:
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
    gop = str(round(SEGMENT * fps))
    graph = f"[0:v]split={len(rungs)}" + "".join(f"[s{i}]" for i in range(len(rungs)))
    args, vsm = [], []
    for i, (codec, h, kbps) in enumerate(rungs):
        name = f"{codec}-{h}p"
        graph += f";[s{i}]scale={sizes[name]}:{h}:flags=bicubic[o{i}]"
        args += ["-map", f"[o{i}]", f"-b:v:{i}", f"{kbps}k"]
        if codec == "h264":
            args += [f"-c:v:{i}", "libx264", f"-preset:v:{i}", "veryfast", f"-maxrate:v:{i}", f"{kbps}k",
                     f"-bufsize:v:{i}", f"{kbps}k"]
        else:
            args += [f"-c:v:{i}", "libsvtav1", f"-preset:v:{i}", "10", f"-svtav1-params:v:{i}",
                     "lookahead=120:overshoot-pct=0:undershoot-pct=0:max-section-pct=100"]
        vsm.append(f"v:{i},name:{name},agroup:aud")
    args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k"]
    vsm.append("a:0,agroup:aud,name:audio")
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", src, "-filter_complex", graph, *args,
           "-g", gop, "-keyint_min", gop, "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", str(SEGMENT),
           "-hls_playlist_type", "vod", "-hls_segment_filename", f"{out}/%v/%06d.m4s", "-master_pl_name",
           "master.m3u8", "-var_stream_map", " ".join(vsm), f"{out}/%v/index.m3u8"]
    return timed(label, cmd, skip), out


def achieved_kbps(out, name):
    d = f"{out}/{name}"
    secs = sum(float(m) for m in re.findall(r"#EXTINF:([0-9.]+)", open(f"{d}/index.m3u8").read()))
    return sum(os.path.getsize(f) for f in glob.glob(f"{d}/*.m4s")) * 8 / secs / 1000


def vmaf(out, name, src, frames):
    """VMAF, PSNR-Y and SSIM (libvmaf) of a rendition against the source scaled to it (bicubic).

    Both sides are declared BT.709 limited range first: Tessera tags its output (and reads these untagged
    720p sources as BT.709), ffmpeg's output is untagged like its source, and ffmpeg 9 would otherwise
    convert one side's colours to the other's before comparing (6 dB of PSNR-Y lost to that alone)."""
    playlist = f"{out}/{name}/index.m3u8"
    w, h, _, _ = probe(playlist)
    logf = f"{out}/{name}.vmaf.json"
    tags = "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709"
    graph = (f"[0:v]setpts=PTS-STARTPTS,{tags},format=yuv420p[d];[1:v]setpts=PTS-STARTPTS,{tags},"
             f"scale={w}:{h}:flags=bicubic,format=yuv420p[r];[d][r]libvmaf=log_path={logf}:log_fmt=json:"
             f"n_threads={CORES}:feature=name=psnr|name=float_ssim")
    ff("-i", playlist, "-i", src, "-lavfi", graph, "-f", "null", "-", binary=VMAF_FFMPEG)
    data = json.load(open(logf))
    pooled = data["pooled_metrics"]
    n = len(data["frames"])
    if abs(n - frames) > 1:
        log(f"WARNING {out}/{name}: VMAF compared {n} frames, the source has {frames}")
    return {"vmaf": pooled["vmaf"]["mean"], "psnr_y": pooled["psnr_y"]["mean"], "ssim": pooled["float_ssim"]["mean"],
            "kbps": achieved_kbps(out, name), "frames": n}


def speed_and_quality(name, src):
    w, h, fps, secs = probe(src)
    frames = round(fps * secs)
    say(f"### {name}: {w}x{h} {fps:g} fps, {secs:.1f} s\n")
    (t_all, out_all) = tessera(f"{name}-tessera-all", src, "h264,av1")
    sizes = widths(out_all)
    rungs = [("h264", h_, k) for h_, k in H264 if h_ <= h] + [("av1", h_, k) for h_, k in AV1 if h_ <= h]
    (f_all, ff_all) = ffmpeg_ladder(f"{name}-ffmpeg-all", src, rungs, sizes, fps)
    (t_h, _) = tessera(f"{name}-tessera-h264", src, "h264")
    (f_h, _) = ffmpeg_ladder(f"{name}-ffmpeg-x264", src, [r for r in rungs if r[0] == "h264"], sizes, fps)
    (t_a, _) = tessera(f"{name}-tessera-av1", src, "av1")
    (f_a, _) = ffmpeg_ladder(f"{name}-ffmpeg-svtav1", src, [r for r in rungs if r[0] == "av1"], sizes, fps)
    say("| ladder | Tessera wall s | CPU s | RSS MB | ffmpeg wall s | CPU s | RSS MB | **wall ratio** | CPU ratio |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for what, t, f in [("full (x264 4 + SVT-AV1 3 + AAC)", t_all, f_all), ("H.264 (x264) + AAC", t_h, f_h),
                       ("AV1 (SVT-AV1) + AAC", t_a, f_a)]:
        say(f"| {what} | {t[0]:.1f} | {t[1]:.1f} | {t[2]:.0f} | {f[0]:.1f} | {f[1]:.1f} | {f[2]:.0f} "
            f"| **{t[0] / f[0]:.2f}x** | {t[1] / f[1]:.2f}x |")
    say()
    if "quality" not in ONLY:
        return
    report = {r["name"]: r for r in json.load(open(f"{out_all}/report.json"))["renditions"]}
    say("| rung | target kbps | Tessera kbps | VMAF | PSNR-Y | SSIM | report PSNR-Y / SSIM | ffmpeg kbps | VMAF | PSNR-Y "
        "| SSIM | **VMAF Tessera - ffmpeg** |")
    say("| --- " * 12 + "|")
    for codec, rh, kbps in rungs:
        rung = f"{codec}-{rh}p"
        a, b = vmaf(out_all, rung, src, frames), vmaf(ff_all, rung, src, frames)
        r = report[rung]
        say(f"| {rung} | {kbps} | {a['kbps']:.0f} | {a['vmaf']:.2f} | {a['psnr_y']:.2f} | {a['ssim']:.4f} "
            f"| {r.get('psnr_y_db')} / {r.get('ssim')} | {b['kbps']:.0f} | {b['vmaf']:.2f} | {b['psnr_y']:.2f} "
            f"| {b['ssim']:.4f} | **{a['vmaf'] - b['vmaf']:+.2f}** |")
    say()
    if name != "bbb":
        return
    ladder = write_ladder(f"{RUNS}/builtin-encoders.json", rungs, encoders={"h264": "openh264", "av1": "rav1e"})
    (t_b, out_b) = tessera(f"{name}-tessera-openh264-rav1e", src, "h264,av1", ladder)
    say(f"openh264 + rav1e, same ladder: {t_b[0]:.1f} s wall, {t_b[1]:.1f} CPU s (x264 + SVT-AV1: {t_all[0]:.1f} s, "
        f"{t_all[1]:.1f} CPU s)\n")
    say("| rung | openh264/rav1e kbps | VMAF | x264/SVT-AV1 kbps | VMAF |")
    say("| --- | --- | --- | --- | --- |")
    for codec, rh, kbps in rungs:
        rung = f"{codec}-{rh}p"
        a, b = vmaf(out_b, rung, src, frames), vmaf(out_all, rung, src, frames)
        say(f"| {rung} | {a['kbps']:.0f} | {a['vmaf']:.2f} | {b['kbps']:.0f} | {b['vmaf']:.2f} |")
    say()


def interpolate_kbps(points, target):
    """The bitrate at which the rate-VMAF curve `points` [(kbps, vmaf)] reaches `target` (linear in log kbps)."""
    points = sorted(points)
    for (k0, v0), (k1, v1) in zip(points, points[1:]):
        if v0 <= target <= v1 and v1 > v0:
            t = (target - v0) / (v1 - v0)
            return math.exp(math.log(k0) + t * (math.log(k1) - math.log(k0))), "="
    if target > points[-1][1]:
        return points[-1][0], ">"
    return points[0][0], "<"


def per_title(name, src):
    w, h, fps, secs = probe(src)
    frames = round(fps * secs)
    rungs = [("h264", h_, k) for h_, k in H264 if h_ <= h]
    curves = {f"h264-{rh}p": [] for _, rh, _ in rungs}
    fixed = {}
    for scale in [1.0, 0.5, 0.25]:
        ladder = write_ladder(f"{RUNS}/{name}-x{scale}.json", rungs, scale)
        (_, out) = tessera(f"{name}-fixed-x{scale}", src, "h264", ladder)
        for rung in curves:
            m = vmaf(out, rung, src, frames)
            curves[rung].append((m["kbps"], m["vmaf"]))
            if scale == 1.0:
                fixed[rung] = m
    (t_auto, out) = tessera(f"{name}-auto", src, "h264", "auto")
    auto = {r: vmaf(out, r, src, frames) for r in widths(out)}
    say(f"#### {name}\n")
    say("| rung | fixed kbps | fixed VMAF | per-title kbps | per-title VMAF | fixed ladder's kbps at that VMAF "
        "| **bits saved at equal VMAF** |")
    say("| --- | --- | --- | --- | --- | --- | --- |")
    total_fixed = sum(m["kbps"] for m in fixed.values())
    total_auto = 0.0
    for rung in curves:
        f = fixed[rung]
        if rung not in auto:
            say(f"| {rung} | {f['kbps']:.0f} | {f['vmaf']:.2f} | dropped | - | - | - |")
            continue
        a = auto[rung]
        total_auto += a["kbps"]
        equal, how = interpolate_kbps(curves[rung], a["vmaf"])
        mark = {"=": "", ">": " (auto above the fixed rung's VMAF: at least)", "<": " (below the 0.25x point)"}[how]
        say(f"| {rung} | {f['kbps']:.0f} | {f['vmaf']:.2f} | {a['kbps']:.0f} | {a['vmaf']:.2f} | {equal:.0f} "
            f"| **{1 - a['kbps'] / equal:.0%}**{mark} |")
    say(f"\nWhole H.264 ladder: fixed {total_fixed:.0f} kbit/s over {len(fixed)} rungs, per-title {total_auto:.0f} "
        f"kbit/s over {len(auto)} rungs ({1 - total_auto / total_fixed:.0%} fewer bits); the probe and the "
        f"per-title run took {t_auto[0]:.1f} s wall.\n")


def main():
    os.makedirs(RUNS, exist_ok=True)
    started = time.time()
    say(f"## Encoders (issue 14), {CORES} cores, one run each\n")
    c = contents()
    if "speed" in ONLY or "quality" in ONLY:
        for name in ["bbb", "synthetic"]:
            speed_and_quality(name, c[name])
    if "per_title" in ONLY:
        say("### Per-title ladder (H.264 rungs; VMAF against the source scaled to the rung)\n")
        for name in ["bbb", "synthetic", "slides"]:
            per_title(name, c[name])
    say(f"Whole benchmark: {time.time() - started:.0f} s.")
    open(f"{BENCH}/encoders.md", "w").write("\n".join(out_lines) + "\n")


main()

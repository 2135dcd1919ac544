#!/usr/bin/env bash
# `tessera transcode` against the closest ffmpeg commands, whole ladder, same
# clip: wall time, CPU time (user + sys), peak RSS (all from /usr/bin/time -v),
# and per rung the achieved bitrate and PSNR. Numbers for benches/README.md.
#
# Clip (made once, cached in $BENCH_DIR): 1280x720, 30 fps, 12 s. Video is an
# ffmpeg `mandelbrot` zoom (every pixel moves, detail grows as it zooms;
# rendered at 720p then gblur sigma 1.2 so fractal aliasing does not flicker)
# with a 480x270 `testsrc2` (text, sharp edges, its own motion) gliding over
# it; x264 medium, crf 20, High, 3 B-frames, IDR every 2 s (video ~4.2 Mbit/s).
# Audio: a beeping 440 Hz sine, AAC 128k stereo.
#
# Runs, each under /usr/bin/time -v with default threading (all cores):
#   tessera transcode --codecs h264,av1   (default ladder, --workers = cores)
#   tessera transcode --codecs h264       (like-for-like with libx264)
#   tessera transcode --codecs av1        (like-for-like with librav1e / libsvtav1)
#   ffmpeg libx264 -preset veryfast, H.264 rungs, audio copied
#   ffmpeg librav1e -speed 10, AV1 rungs
#   ffmpeg libsvtav1 -preset 12, AV1 rungs
# Each ffmpeg run decodes the source once and feeds every rung through
# split + scale (lanczos) to the exact sizes Tessera produced, writing HLS fMP4
# (4 s segments, keyframe every 4 s so segments match Tessera's cuts) with
# -var_stream_map. Same target bitrates as Tessera's default ladder; x264 also
# gets maxrate 1.5x and bufsize 2x the target (AV1 encoders: bitrate only, as
# librav1e has no VBV and libsvtav1 runs VBR). ffmpeg 5.1 runs its encoders one
# after another on one thread, each encoder threading internally.
#
# PSNR: ffmpeg's psnr filter ("average:", i.e. Y/U/V weighted) of each
# rendition playlist against the source scaled with lanczos to the rendition's
# size. Achieved bitrate: bytes of the rendition's .m4s fragments (init
# segment left out, as in Tessera's report.json) over the playlist duration.
#
# Run (about 6 minutes on 2 cores, plus ~30 s to make the clip the first time;
# nothing else should be running, the "other processes' CPU" column checks):
#   cargo build --release -p tessera
#   benches/compare_transcode.sh                 # or TESSERA=/path/to/tessera
# Env: BENCH_DIR (default /tmp/tessera-bench; clip + outputs + results.md go
# there), TESSERA, FFMPEG (default /usr/bin/ffmpeg, Debian's 5.1, which has
# libx264, librav1e and libsvtav1), FFPROBE (next to FFMPEG).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TESSERA="${TESSERA:-$here/../target/release/tessera}"
FFMPEG="${FFMPEG:-/usr/bin/ffmpeg}"
FFPROBE="${FFPROBE:-$(dirname "$FFMPEG")/ffprobe}"
BENCH_DIR="${BENCH_DIR:-/tmp/tessera-bench}"
TIME=/usr/bin/time
started=$SECONDS

[ -x "$TESSERA" ] || { echo "no tessera binary at $TESSERA (cargo build --release -p tessera, or set TESSERA)" >&2; exit 1; }
if [ ! -x "$TIME" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null
fi
encoders=$("$FFMPEG" -hide_banner -encoders 2>/dev/null)
for enc in libx264 librav1e libsvtav1; do
  grep -qw "$enc" <<<"$encoders" || { echo "$FFMPEG lacks $enc" >&2; exit 1; }
done
mkdir -p "$BENCH_DIR"

# --- the clip ----------------------------------------------------------------
CLIP_SECS=12
# shellcheck source=clip.sh
. "$here/clip.sh"
make_clip "$CLIP_SECS"

runs="$BENCH_DIR/runs"
rm -rf "$runs"; mkdir -p "$runs"

# Busy CPU seconds of the whole machine so far (all cores; /proc/stat, in clock ticks).
machine_busy() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2+$3+$4+$7+$8+$9)/hz; exit}' /proc/stat; }

# timed LABEL COMMAND...: runs COMMAND under /usr/bin/time -v, output in runs/LABEL.{log,time};
# runs/LABEL.busy gets the machine's busy CPU seconds over the run, to spot other load.
timed() {
  local label=$1; shift
  echo "running $label ..." >&2
  local before; before=$(machine_busy)
  if ! "$TIME" -v -o "$runs/$label.time" "$@" >"$runs/$label.log" 2>&1; then
    echo "$label FAILED; its output:" >&2
    cat "$runs/$label.log" >&2
    exit 1
  fi
  awk -v a="$(machine_busy)" -v b="$before" 'BEGIN { print a - b }' >"$runs/$label.busy"
}

# --- Tessera -----------------------------------------------------------------
echo "load before the runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
timed tessera-all "$TESSERA" transcode "$SRC" --out "$runs/tessera-all" --codecs h264,av1
timed tessera-h264 "$TESSERA" transcode "$SRC" --out "$runs/tessera-h264" --codecs h264
timed tessera-av1 "$TESSERA" transcode "$SRC" --out "$runs/tessera-av1" --codecs av1

# Rung sizes as Tessera made them, so ffmpeg scales to the very same sizes.
declare -A WIDTH
while read -r name w; do WIDTH[$name]=$w; done < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["renditions"]:
    if r["width"]:
        print(r["name"], r["width"])' "$runs/tessera-all/report.json")

# --- ffmpeg ------------------------------------------------------------------
# Tessera's default ladder for a 720p source: "height kbit/s".
H264_RUNGS=("720 2500" "480 1200" "360 700" "240 400")
AV1_RUNGS=("720 1600" "480 800" "360 450")
for r in "${H264_RUNGS[@]/#/h264 }" "${AV1_RUNGS[@]/#/av1 }"; do
  read -r codec h kb <<<"$r"; printf '%s-%sp\t%s\n' "$codec" "$h" "$kb"
done >"$runs/rungs.tsv"

# ffmpeg_ladder LABEL CODEC AUDIO(copy|none) ENCODER-ARGS...: one ffmpeg run, one decode,
# split into every rung of CODEC, HLS fMP4 in runs/LABEL/<rendition>/.
ffmpeg_ladder() {
  local label=$1 codec=$2 audio=$3; shift 3
  local -a rungs args=()
  if [ "$codec" = h264 ]; then rungs=("${H264_RUNGS[@]}"); else rungs=("${AV1_RUNGS[@]}"); fi
  local n=${#rungs[@]} fc="[0:v]split=${#rungs[@]}" vsm="" i h kb name
  for ((i = 0; i < n; i++)); do fc+="[s$i]"; done
  for ((i = 0; i < n; i++)); do
    read -r h kb <<<"${rungs[$i]}"
    name="$codec-${h}p"
    fc+=";[s$i]scale=${WIDTH[$name]:?no $name in Tessera report}:$h:flags=lanczos[o$i]"
    args+=(-map "[o$i]" "-b:v:$i" "${kb}k")
    if [ "$codec" = h264 ]; then args+=("-maxrate:v:$i" "$((kb * 3 / 2))k" "-bufsize:v:$i" "$((kb * 2))k"); fi
    vsm+="v:$i,name:$name"
    if [ "$audio" = copy ]; then vsm+=",agroup:aud"; fi
    vsm+=" "
  done
  if [ "$audio" = copy ]; then
    args+=(-map 0:a -c:a copy); vsm+="a:0,agroup:aud,name:audio"
  else
    args+=(-an)
  fi
  mkdir -p "$runs/$label"
  timed "$label" "$FFMPEG" -hide_banner -nostdin -nostats -loglevel warning -y -i "$SRC" \
    -filter_complex "$fc" "${args[@]}" "$@" -g 120 -keyint_min 120 \
    -f hls -hls_segment_type fmp4 -hls_time 4 -hls_playlist_type vod -hls_flags independent_segments \
    -hls_segment_filename "$runs/$label/%v/%06d.m4s" -master_pl_name master.m3u8 \
    -var_stream_map "${vsm% }" "$runs/$label/%v/index.m3u8"
}

ffmpeg_ladder ffmpeg-x264 h264 copy -c:v libx264 -preset veryfast -sc_threshold 0
ffmpeg_ladder ffmpeg-rav1e av1 none -c:v librav1e -speed 10
ffmpeg_ladder ffmpeg-svtav1 av1 none -c:v libsvtav1 -preset 12

# --- PSNR of every rendition ---------------------------------------------------
echo "measuring PSNR ..." >&2
psnr_tsv="$runs/psnr.tsv"; : >"$psnr_tsv"
for label in tessera-all ffmpeg-x264 ffmpeg-rav1e ffmpeg-svtav1; do
  for playlist in "$runs/$label"/*/index.m3u8; do
    rend=$(basename "$(dirname "$playlist")")
    [[ $rend == h264-* || $rend == av1-* ]] || continue
    size=$("$FFPROBE" -v error -select_streams v:0 -show_entries stream=width,height -of csv=s=x:p=0 "$playlist" | sed -n 1p)
    w=${size%x*} h=${size#*x}
    stats="$runs/psnr-$label-$rend.log"
    line=$("$FFMPEG" -hide_banner -nostdin -nostats -i "$playlist" -i "$SRC" -lavfi \
      "[0:v]setpts=PTS-STARTPTS[d];[1:v]setpts=PTS-STARTPTS,scale=$w:$h:flags=lanczos[r];[d][r]psnr=stats_file=$stats" \
      -f null - 2>&1 | grep 'PSNR y:' | tail -1)
    avg=$(sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' <<<"$line")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rend" "$w" "$h" "${avg:-?}" "$(wc -l <"$stats")" >>"$psnr_tsv"
  done
done

# --- tables ------------------------------------------------------------------
python3 - "$runs" "$(nproc)" "$((SECONDS - started))" "$CLIP_SECS" "$((CLIP_SECS * 30))" <<'PY' | tee "$BENCH_DIR/results.md"
import glob, json, os, re, sys

runs, cores, elapsed, clip_secs, clip_frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])

def timing(label):
    text = open(f"{runs}/{label}.time").read()
    def field(name):
        return re.search(re.escape(name) + r":\s*(\S+)", text).group(1)
    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)")) / 1024
    return wall, cpu, rss

def rendition(label, name):
    d = f"{runs}/{label}/{name}"
    durations = [float(m) for m in re.findall(r"#EXTINF:([0-9.]+)", open(f"{d}/index.m3u8").read())]
    size = sum(os.path.getsize(f) for f in glob.glob(f"{d}/*.m4s"))
    return {"segments": len(durations), "kbps": size * 8 / sum(durations) / 1000, "secs": sum(durations)}

psnr = {}
for line in open(f"{runs}/psnr.tsv"):
    label, name, w, h, avg, frames = line.rstrip("\n").split("\t")
    try:
        avg = f"{float(avg):.2f}"
    except ValueError:
        pass
    psnr[label, name] = (avg, int(frames), f"{w}x{h}")

def mean_frame_psnr(label, name):
    """Mean of per-frame PSNR (100 dB cap), the definition report.json's psnr_db uses."""
    vals = [min(float(m), 100.0) for m in re.findall(r"psnr_avg:(\S+)", open(f"{runs}/psnr-{label}-{name}.log").read())]
    return sum(vals) / len(vals)

def others_cpu(label):
    """CPU seconds the rest of the machine used during the run (0 when it was idle)."""
    return float(open(f"{runs}/{label}.busy").read()) - timing(label)[1]

T = {l: timing(l) for l in ["tessera-all", "tessera-h264", "tessera-av1", "ffmpeg-x264", "ffmpeg-rav1e", "ffmpeg-svtav1"]}
T["ffmpeg x264 + rav1e"] = tuple(a + b for a, b in zip(T["ffmpeg-x264"][:2], T["ffmpeg-rav1e"][:2])) + (max(T["ffmpeg-x264"][2], T["ffmpeg-rav1e"][2]),)
T["ffmpeg x264 + svt-av1"] = tuple(a + b for a, b in zip(T["ffmpeg-x264"][:2], T["ffmpeg-svtav1"][:2])) + (max(T["ffmpeg-x264"][2], T["ffmpeg-svtav1"][2]),)

targets = {name: int(kbps) for name, kbps in (line.split() for line in open(f"{runs}/rungs.tsv"))}
nh = sum(n.startswith("h264-") for n in targets)
na = len(targets) - nh
what = {
    "tessera-all": f"tessera transcode --codecs h264,av1 ({nh + na} rungs + audio)",
    "tessera-h264": f"tessera transcode --codecs h264 ({nh} rungs + audio)",
    "tessera-av1": f"tessera transcode --codecs av1 ({na} rungs + audio)",
    "ffmpeg-x264": f"ffmpeg libx264 veryfast, {nh} rungs + audio copy",
    "ffmpeg-rav1e": f"ffmpeg librav1e speed 10, {na} rungs",
    "ffmpeg-svtav1": f"ffmpeg libsvtav1 preset 12, {na} rungs",
    "ffmpeg x264 + rav1e": "sum of the two runs (RSS: larger)",
    "ffmpeg x264 + svt-av1": "sum of the two runs (RSS: larger)",
}
print(f"## tessera transcode vs ffmpeg, 720p30 {clip_secs:g} s clip, {cores} cores\n")
print("| run | what | wall s | CPU s (user+sys) | CPU / wall | peak RSS MB | other processes' CPU s |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for label, (wall, cpu, rss) in T.items():
    other = "" if label.startswith("ffmpeg ") else f"{max(0.0, others_cpu(label)):.1f}"
    print(f"| {label} | {what[label]} | {wall:.1f} | {cpu:.1f} | {cpu / wall:.2f} | {rss:.0f} | {other} |")
print(f"\nCPU / wall near {cores:.1f} means all {cores} cores were busy. Other processes' CPU: the machine's busy time"
      " (/proc/stat) over the run minus the run's own; near 0 on a quiet machine.\n")

print("| Tessera run | vs ffmpeg | wall (Tessera / ffmpeg) | CPU (Tessera / ffmpeg) | peak RSS (Tessera / ffmpeg) |")
print("| --- | --- | --- | --- | --- |")
for t, f in [("tessera-all", "ffmpeg x264 + rav1e"), ("tessera-all", "ffmpeg x264 + svt-av1"),
             ("tessera-h264", "ffmpeg-x264"), ("tessera-av1", "ffmpeg-rav1e"), ("tessera-av1", "ffmpeg-svtav1")]:
    (tw, tc, tr), (fw, fc, fr) = T[t], T[f]
    print(f"| {t} | {f} | {tw / fw:.2f}x | {tc / fc:.2f}x | {tr / fr:.2f}x |")
print("\nWall ratio below 1 = Tessera faster.\n")

report = {r["name"]: r for r in json.load(open(f"{runs}/tessera-all/report.json"))["renditions"]}
others = ["ffmpeg-x264", "ffmpeg-rav1e", "ffmpeg-svtav1"]
def cell(label, name):
    if not os.path.isdir(f"{runs}/{label}/{name}"):
        return "- | -"
    r = rendition(label, name)
    return f"{r['kbps']:.0f} | {psnr[label, name][0]}"
print("| rung | size | target kbps | Tessera kbps | Tessera PSNR | Tessera report PSNR | x264 kbps | x264 PSNR "
      "| rav1e kbps | rav1e PSNR | svt-av1 kbps | svt-av1 PSNR | segments (Tessera / ffmpeg) |")
print("| --- " * 13 + "|")
for name, target in targets.items():
    segs = [str(rendition("tessera-all", name)["segments"])]
    segs += [str(rendition(l, name)["segments"]) for l in others if os.path.isdir(f"{runs}/{l}/{name}")]
    print(f"| {name} | {psnr['tessera-all', name][2]} | {target} | {cell('tessera-all', name)} | {report[name].get('psnr_db')} "
          + "".join(f"| {cell(l, name)} " for l in others) + f"| {' / '.join(segs)} |")
print("\nkbps: fragment bytes (no init segment) over playlist duration. PSNR: ffmpeg psnr \"average\" (Y, U, V"
      " weighted, from the mean MSE over all frames) against the source scaled with lanczos to the rung's size."
      " \"Tessera report PSNR\" is report.json's psnr_db (mean of per-frame PSNR, against Tessera's own scaler).\n")
print("| Tessera rung | ffmpeg psnr average | mean of per-frame PSNR (same ffmpeg run) | report.json psnr_db | report.json peak kbps |")
print("| --- | --- | --- | --- | --- |")
for name in targets:
    print(f"| {name} | {psnr['tessera-all', name][0]} | {mean_frame_psnr('tessera-all', name):.2f} | {report[name].get('psnr_db')} "
          f"| {report[name].get('peak_bitrate_kbps')} |")
print()

odd = []
for label in ["tessera-all", "tessera-h264", "tessera-av1", "ffmpeg-x264", "ffmpeg-rav1e", "ffmpeg-svtav1"]:
    other = others_cpu(label)
    if other > max(1.0, 0.03 * T[label][0] * cores):
        odd.append(f"{label}: other processes used {other:.1f} CPU s during its {T[label][0]:.1f} s run; its figures are disturbed")
for (label, name), (avg, frames, size) in psnr.items():
    if frames != clip_frames:
        odd.append(f"{label}/{name}: PSNR compared {frames} frames, the clip has {clip_frames}")
for label in ["tessera-all", "ffmpeg-x264", "ffmpeg-rav1e", "ffmpeg-svtav1"]:
    for name in targets:
        if os.path.isdir(f"{runs}/{label}/{name}"):
            r = rendition(label, name)
            if abs(r["secs"] - clip_secs) > 0.1:
                odd.append(f"{label}/{name}: playlist lasts {r['secs']:.3f} s")
            if r["kbps"] > targets[name] * 1.15:
                odd.append(f"{label}/{name}: {r['kbps']:.0f} kbps is {r['kbps'] / targets[name] - 1:+.0%} over the {targets[name]} target")
for name, r in report.items():
    if r["width"] == 0:
        continue
    mine = rendition("tessera-all", name)
    if abs(mine["kbps"] - r["average_bitrate_kbps"]) > 0.02 * r["average_bitrate_kbps"]:
        odd.append(f"tessera-all/{name}: report.json says {r['average_bitrate_kbps']} kbps, files say {mine['kbps']:.0f}")
print("Checks: " + (f"all renditions {clip_secs:g} s, {clip_frames} frames compared, within 15% of target." if not odd else ""))
for o in odd:
    print(f"- {o}")
print(f"\nWhole script: {elapsed} s (clip cached or made, six runs, {len(psnr)} PSNR passes).")
PY

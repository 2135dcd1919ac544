# Sourced by the comparison scripts: `make_clip SECONDS` sets SRC to the
# benchmark clip of that length, made once and cached in $BENCH_DIR with
# $FFMPEG. 1280x720, 30 fps: an ffmpeg `mandelbrot` zoom (every pixel moves,
# detail grows as it zooms; rendered at 720p then gblur sigma 1.2 so fractal
# aliasing does not flicker) with a 480x270 `testsrc2` (text, sharp edges, its
# own motion) gliding over it; x264 medium, crf 20, High, 3 B-frames, IDR
# every 2 s. Audio: a beeping 440 Hz sine, AAC 128k stereo.
make_clip() {
  local secs=$1 graph key
  graph="mandelbrot=size=1280x720:rate=30:maxiter=600:start_scale=2:end_scale=0.02:end_pts=$((secs * 30))"
  graph+=":outer=normalized_iteration_count,gblur=sigma=1.2[m];testsrc2=size=480x270:rate=30[t];"
  graph+="[m][t]overlay=x='(W-w)*(0.5+0.45*sin(t*0.9))':y='(H-h)*(0.5+0.4*cos(t*1.3))',format=yuv420p[v];"
  graph+="sine=frequency=440:beep_factor=4:sample_rate=48000[a]"
  local src_args=(-filter_complex "$graph" -map "[v]" -map "[a]" -t "$secs"
    -c:v libx264 -preset medium -crf 20 -profile:v high -bf 3 -g 60 -keyint_min 60 -sc_threshold 0
    -c:a aac -b:a 128k -ac 2 -movflags +faststart)
  key=$(printf '%s\n' "${src_args[@]}" | sha1sum | cut -c1-10)
  SRC="$BENCH_DIR/clip-720p30-${secs}s-$key.mp4"
  if [ ! -s "$SRC" ]; then
    echo "making the clip $SRC (about $((secs * 5)) s) ..." >&2
    "$FFMPEG" -hide_banner -nostdin -loglevel error -y "${src_args[@]}" "$SRC.tmp.mp4"
    mv "$SRC.tmp.mp4" "$SRC"
  fi
}

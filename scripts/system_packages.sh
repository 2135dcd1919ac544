# Sourced by first_run.sh and test.sh: `install_missing [PACKAGE ...]` installs
# with apt-get what building Tessera needs and this machine lacks (ffmpeg,
# FFmpeg's development libraries, clang and pkg-config for their bindings,
# nasm for the codecs' assembly), plus the Debian packages given.
install_missing() {
  local need=("$@") lib
  command -v ffmpeg >/dev/null || need+=(ffmpeg)
  command -v nasm >/dev/null || need+=(nasm)
  command -v clang >/dev/null || need+=(clang)
  command -v pkg-config >/dev/null || need+=(pkg-config)
  for lib in libavformat libavcodec libavfilter libswscale libswresample libavutil; do
    pkg-config --exists "$lib" 2>/dev/null || need+=("$lib-dev")
  done
  ((${#need[@]})) || return 0
  echo "installing: ${need[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}

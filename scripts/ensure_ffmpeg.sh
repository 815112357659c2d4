#!/usr/bin/env bash
# torchcodec needs a system FFmpeg < 8. Install Debian's (5.1 here) when missing and we may (root + apt-get);
# otherwise say so: lerobot falls back to PyAV for decoding.
set -u
if command -v ffmpeg >/dev/null 2>&1; then
  major=$(ffmpeg -version 2>/dev/null | head -n1 | sed -E 's/^ffmpeg version n?([0-9]+).*/\1/')
  if [ -n "$major" ] && [ "$major" -ge 8 ] 2>/dev/null; then
    echo "warning: ffmpeg $major found; torchcodec needs FFmpeg < 8 (PyAV fallback will be used). Fix: apt-get install ffmpeg (5.x) or put an FFmpeg 7 first on PATH." >&2
  fi
  exit 0
fi
if [ "${KUAVO_NO_APT:-0}" != "1" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system FFmpeg for torchcodec (apt-get)..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg) >/dev/null 2>&1 \
    && exit 0
  echo "warning: apt-get install ffmpeg failed; video decoding will use PyAV (slower)." >&2
  exit 0
fi
echo "warning: no system ffmpeg; video decoding will use PyAV (slower). Fix: sudo apt-get install -y ffmpeg" >&2
exit 0

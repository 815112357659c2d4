#!/usr/bin/env bash
# MuJoCo renders offscreen with EGL (GPU) or OSMesa (CPU). `kuavo eval --sim`, `make test` and `make demo`
# need one of them; install Debian's OSMesa (libosmesa6) when it is missing and we may (root + apt-get).
set -u
have_osmesa() {
  ldconfig -p 2>/dev/null | grep -q 'libOSMesa\.so' && return 0
  ls /usr/lib/*/libOSMesa.so* /usr/lib/libOSMesa.so* >/dev/null 2>&1
}
if have_osmesa; then
  exit 0
fi
if [ "${KUAVO_NO_APT:-0}" != "1" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing OSMesa for offscreen MuJoCo rendering on CPU (apt-get)..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libosmesa6) \
    >/dev/null 2>&1 && exit 0
  echo "warning: apt-get install libosmesa6 failed; kuavo eval --sim needs EGL (a GPU) to render." >&2
  exit 0
fi
echo "warning: no OSMesa; kuavo eval --sim renders on CPU only with it. Fix: sudo apt-get install -y libosmesa6" >&2
exit 0

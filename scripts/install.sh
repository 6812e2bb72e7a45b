#!/usr/bin/env bash
# Installs everything webgpu-bptt needs on a fresh Debian machine with Node 20:
# Debian's chromium (headless browser tests, benchmarks, demo; it also brings
# SwiftShader, the software WebGPU adapter used where there is no GPU), the
# Vulkan loader for Dawn in Node, clang and lld (they compile the WebAssembly
# kernels, src/wasm/c/, to wasm32), and the npm packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || [ -n "${PUPPETEER_EXECUTABLE_PATH:-}" ] || need+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || need+=(libvulkan1)
command -v clang >/dev/null 2>&1 || need+=(clang)
command -v wasm-ld >/dev/null 2>&1 || need+=(lld)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "install: apt-get install ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "install: please install ${need[*]} with your package manager (no apt-get here)" >&2
  fi
fi

echo "install: npm ci"
PUPPETEER_SKIP_DOWNLOAD=true npm ci --no-audit --no-fund

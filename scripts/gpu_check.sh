#!/usr/bin/env bash
# The one prepared GPU check, run on a lent device machine from the repository root (its
# python3 holds CUDA torch; the missing wheels come from scripts/gpu_wheels.sh):
#   bash scripts/gpu_check.sh --install-only   # install the carried wheels into .gpusite/
#   bash scripts/gpu_check.sh                  # install any carried, then test + benchmark
# Writes to $OUT (or gpu_out/): nvidia-smi.txt, needs_cuda.log (tests marked needs_cuda:
# the detect pipeline on CUDA vs CPU, decode on CUDA), bench_cuda.log (ccount detect vs
# RetinaNet-R50-FPN, both on the GPU, plain and --tta), bench_cpu16.log (same on 16 CPU cores).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu_out}
mkdir -p "$out" .gpusite
shopt -s nullglob
wheels=(.whl/*/*.whl)
if ((${#wheels[@]})); then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target .gpusite "${wheels[@]}" || exit 1
fi
[[ "${1:-}" == "--install-only" ]] && { ls .gpusite | head -50; exit 0; }
export PYTHONPATH="$PWD/.gpusite:$PWD" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
python3 -c "import torch, rasterio; print('torch', torch.__version__, torch.cuda.get_device_name(), 'rasterio', rasterio.__version__)" | tee "$out/versions.txt"
timeout 300 python3 -m pytest -q -p no:cacheprovider -m needs_cuda -o addopts=-ra \
  tests/test_cuda.py tests/test_model.py 2>&1 | tee "$out/needs_cuda.log"
bench=(python3 scripts/bench_detect.py --size 6000 --gsd 0.4 0.3 --work /tmp/ccount-bench)
timeout 240 "${bench[@]}" --device cuda --batch-size 32 --retina-tiles 20 2>&1 | tee "$out/bench_cuda.log"
timeout 120 "${bench[@]}" --device cuda --batch-size 32 --retina-tiles 20 --tta --gsd 0.4 2>&1 | tee "$out/bench_cuda_tta.log"
timeout 200 "${bench[@]}" --device cpu --threads 16 --retina-tiles 5 --gsd 0.4 2>&1 | tee "$out/bench_cpu16.log"

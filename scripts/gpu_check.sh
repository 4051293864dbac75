#!/usr/bin/env bash
# The one prepared GPU check, run on a lent device machine from the repository root (its
# python3 holds CUDA torch; the geospatial packages it lacks travel as .whl/site.tar.xz, made
# here by scripts/gpu_wheels.sh):
#   run(carry=[".whl/site.tar.xz"], timeout_s=590, command="bash scripts/gpu_check.sh")
# Steps in order of importance, each under its own timeout, each log written to $OUT (or
# gpu_out/) as it goes, so a cut-off run still returns what finished (~9 min at most):
#   versions.txt, nvidia-smi.txt; needs_cuda.log (tests marked needs_cuda: the detect
#   pipeline on CUDA vs CPU, decode on CUDA); bench_cuda.log (ccount detect vs
#   RetinaNet-R50-FPN, both on the GPU); scale_cuda.log (the Dask runner: 1, 4 and 8 local
#   workers sharing the GPU vs one process); train_cuda.log (`ccount train` on CUDA, 300
#   steps); the whole check took 328 s on 2026-12-04. STEPS="needs_cuda bench_cuda" runs
#   only those. Earlier runs also timed one reading thread, --tta, the 16 CPU cores and a
#   batch overlapped vs --serial (README, "Measured").
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu_out}
mkdir -p "$out" .gpusite
t0=$SECONDS
if [[ -f .whl/site.tar.xz ]]; then
  tar -C .gpusite -xJf .whl/site.tar.xz || exit 1
fi
echo "unpacked in $((SECONDS - t0)) s"
export PYTHONPATH="$PWD/.gpusite:$PWD" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
python3 -c "import torch, torchvision, rasterio, pyogrio; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name(), 'rasterio', rasterio.__version__, 'pyogrio', pyogrio.__version__)" | tee "$out/versions.txt"
steps=${STEPS:-needs_cuda bench_cuda scale_cuda train_cuda}  # STEPS="a b": only those
step() {  # step NAME TIMEOUT CMD...: run, log to $OUT/NAME.log, report time and status
  local name=$1 limit=$2 s=$SECONDS
  shift 2
  [[ " $steps " == *" $name "* ]] || return 0
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc, $((SECONDS - s)) s (at $((SECONDS - t0)) s)"
  tail -n 25 "$out/$name.log"
}
step needs_cuda 150 python3 -m pytest -q -p no:cacheprovider -m needs_cuda -o addopts=-ra \
  tests/detect/test_cuda.py tests/model/test_model.py
bench=(python3 scripts/bench_detect.py --size 6000 --work /tmp/ccount-bench --threads 8)
step bench_cuda 150 "${bench[@]}" --gsd 0.4 0.3 --device cuda --batch-size 32 --retina-tiles 20
# the Dask runner: N worker processes sharing the GPU and the 16 cores vs one process
step scale_cuda 200 python3 scripts/bench_scale.py --device cuda --batch-size 32 \
  --workers 1 4 8 --scenes 16 --size 4000
step train_cuda 60 python3 -m detector train --out /tmp/gpu_train.pt --steps 300 \
  --device cuda --val-samples 0 --pool 128 --threads 4
echo "done in $((SECONDS - t0)) s"

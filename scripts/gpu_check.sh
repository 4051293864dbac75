#!/usr/bin/env bash
# The one prepared GPU check, run on a lent device machine from the repository root (its
# python3 holds CUDA torch; the geospatial packages it lacks travel as .whl/site.tar.xz, made
# here by scripts/gpu_wheels.sh):
#   run(carry=[".whl/site.tar.xz"], timeout_s=590, command="bash scripts/gpu_check.sh")
# Steps in order of importance, each under its own timeout, each log written to $OUT (or
# gpu_out/) as it goes, so a cut-off run still returns what finished:
#   versions.txt, nvidia-smi.txt; needs_cuda.log (tests marked needs_cuda: the detect
#   pipeline on CUDA vs CPU, decode on CUDA); bench_cuda.log (ccount detect vs
#   RetinaNet-R50-FPN, both on the GPU); bench_cuda_1reader.log (one reading thread);
#   bench_cuda_tta.log (--tta); bench_cpu16.log (the same bench on the machine's 16 cores);
#   batch_cuda.log (4 scenes, overlapped vs --serial); train_cuda.log (`ccount train` on
#   CUDA, 300 steps).
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
step() {  # step NAME TIMEOUT CMD...: run, log to $OUT/NAME.log, report time and status
  local name=$1 limit=$2 s=$SECONDS
  shift 2
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc, $((SECONDS - s)) s (at $((SECONDS - t0)) s)"
  tail -n 25 "$out/$name.log"
}
step needs_cuda 150 python3 -m pytest -q -p no:cacheprovider -m needs_cuda -o addopts=-ra \
  tests/test_cuda.py tests/test_model.py
bench=(python3 scripts/bench_detect.py --size 6000 --work /tmp/ccount-bench --threads 8)
step bench_cuda 200 "${bench[@]}" --gsd 0.4 0.3 --device cuda --batch-size 32 --retina-tiles 20
step bench_cuda_1reader 60 "${bench[@]}" --gsd 0.4 --device cuda --batch-size 32 --no-retina \
  --read-threads 1
step bench_cuda_tta 60 "${bench[@]}" --gsd 0.4 --device cuda --batch-size 32 --retina-tiles 20 --tta
step bench_cpu16 100 "${bench[@]}" --gsd 0.4 --device cpu --threads 16 --retina-tiles 5
# a batch of 4 scenes (the bench's), outputs of one written while the next runs vs --serial
mkdir -p /tmp/gpu_batch && for k in 1 2; do for g in 0.40 0.30; do
  ln -sf /tmp/ccount-bench/rajin_20240115T0230Z_6000px_${g}m.tif "/tmp/gpu_batch/rajin_2024011${k}T0230Z_${g}.tif"
done; done
step batch_cuda 120 bash -c 'for m in "" --serial "" --serial; do s=$SECONDS;
  python3 -m detector detect /tmp/gpu_batch/*.tif --out /tmp/gpu_batch_out --device cuda \
    --batch-size 32 --no-progress $m > /dev/null || exit 1; echo "4 scenes ${m:-overlapped}: $((SECONDS - s)) s"; done'
step train_cuda 100 python3 -m detector train --out /tmp/gpu_train.pt --steps 300 \
  --device cuda --val-samples 0 --pool 128 --threads 4
echo "done in $((SECONDS - t0)) s"

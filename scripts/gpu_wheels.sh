#!/usr/bin/env bash
# Fetch, here, the wheels the lent GPU machine lacks (its image has Python 3.12 with torch,
# numpy, scipy, opencv, scikit-image, matplotlib, onnx*, pytest, hypothesis; not the
# geospatial stack). They go to .whl/geo (34 MB) and .whl/ogr (pyogrio, 32 MB), git-ignored
# via .git/info/exclude. A call carries 64 MiB at most, so they travel in two calls on the
# same warm machine, each installing into the ignored .gpusite/ that stays there:
#   run(carry=[".whl/geo"], command="bash scripts/gpu_check.sh --install-only")
#   run(carry=[".whl/ogr"], command="bash scripts/gpu_check.sh")      # right after
# See the device tool's README (wheels) and scripts/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl/geo .whl/ogr
plat=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64 manylinux_2_24_x86_64 manylinux_2_31_x86_64; do plat+=(--platform "$p"); done
fetch() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${plat[@]}" -d "$1" "$2"
}
for pkg in rasterio==1.4.3 affine==2.4.0 cligj==0.7.2 click-plugins==1.1.1.2 pyproj==3.7.2 \
           shapely==2.1.2 pycocotools==2.0.10 pytest-timeout==2.4.0; do
  fetch .whl/geo "$pkg"
done
fetch .whl/ogr pyogrio==0.12.1
du -sh .whl/geo .whl/ogr

#!/usr/bin/env bash
# Pack, here, the Python packages the lent GPU machine lacks (its image has Python 3.12 with
# torch, numpy, scipy, opencv, scikit-image, matplotlib, onnx*, pytest, hypothesis; not the
# geospatial stack nor Dask distributed) into .whl/site.tar.xz (~44 MB, git-ignored via .git/info/exclude): the
# wheels, downloaded for CPython 3.12 on x86-64 and unpacked (a wheel's install is an unzip),
# then xz-compressed so they travel in one call (a call carries 64 MiB; the wheels are 66 MB
# as they come, most of it two copies of GDAL). scripts/gpu_check.sh unpacks it there:
#   run(carry=[".whl/site.tar.xz"], timeout_s=590, command="bash scripts/gpu_check.sh")
# affine must be >= 3 (`Affine @ tuple`): 2.4 fails there with a TypeError.
# See the device tool's README (wheels) and scripts/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/wheels" "$tmp/site" .whl
plat=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64 manylinux_2_24_x86_64 manylinux_2_31_x86_64; do plat+=(--platform "$p"); done
for pkg in rasterio==1.4.3 affine==3.0.1 cligj==0.7.2 click-plugins==1.1.1.2 pyproj==3.7.2 \
           shapely==2.1.2 pycocotools==2.0.10 pytest-timeout==2.4.0 pyogrio==0.12.1 \
           dask==2026.8.0 distributed==2026.8.0 partd==1.4.2 locket==1.0.0 tblib==3.2.2 \
           tornado==6.6.1 zict==3.0.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${plat[@]}" -d "$tmp/wheels" "$pkg"
done
for w in "$tmp"/wheels/*.whl; do python3 -m zipfile -e "$w" "$tmp/site"; done
tar -C "$tmp/site" -cf - . | xz -9 -T0 > .whl/site.tar.xz.part
mv .whl/site.tar.xz.part .whl/site.tar.xz
du -sh .whl/site.tar.xz

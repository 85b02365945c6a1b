#!/usr/bin/env bash
# Prepare what issue 4's GPU benchmarks need on a lent GPU machine (see benchmarks/README.md):
# the device tool carries at most 64 MiB per call, and the Inception weights (87 MB) plus
# Fashion-MNIST (30 MB) do not fit one call, so they go in two folders, one per call:
#   .dev1/  Inception weights, parts 1-2
#   .dev2/  Inception weights, part 3, and the Fashion-MNIST IDX files
set -euo pipefail
cd "$(dirname "$0")/.."
weights=$(.venv/bin/python -c "from gankit.metrics.extractors import find_inception_weights as f; print(f())")
fmnist=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
[ -f "$fmnist/train-images-idx3-ubyte.gz" ] || { echo "Fashion-MNIST not in $fmnist: apt-get install dataset-fashion-mnist"; exit 1; }
exclude=$(git rev-parse --git-path info/exclude); mkdir -p "$(dirname "$exclude")"; touch "$exclude"
grep -qx "/.dev1/" "$exclude" || printf "/.dev1/\n/.dev2/\n" >> "$exclude"
rm -rf .dev1 .dev2 && mkdir -p .dev1 .dev2/fashion-mnist
split -n 3 -d -a 1 "$weights" .dev1/inception.part
mv .dev1/inception.part2 .dev2/
cp "$fmnist"/*.gz .dev2/fashion-mnist/
sha1sum "$weights" | cut -d' ' -f1 > .dev2/inception.sha1
du -sh .dev1 .dev2

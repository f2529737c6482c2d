#!/usr/bin/env bash
# Spark resource discovery: prints the GPUs of this node as {"name":"gpu","addresses":[...]}.
# Honours CUDA_VISIBLE_DEVICES (as set by YARN and Kubernetes device plugins), else asks nvidia-smi.
set -euo pipefail
if [[ -n ${CUDA_VISIBLE_DEVICES:-} ]]; then
  ids=${CUDA_VISIBLE_DEVICES//,/ }
else
  ids=$(nvidia-smi --query-gpu=index --format=csv,noheader)
fi
printf '{"name":"gpu","addresses":['
sep=
for id in $ids; do
  printf '%s"%s"' "$sep" "$id"
  sep=,
done
printf ']}\n'

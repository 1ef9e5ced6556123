#!/usr/bin/env bash
# Training throughput of daekit on an NVIDIA GPU: float32, mixed precision and XLA, at
# several batch sizes, written with the hardware description.
#
# Usage (from the repository root, with daekit installed with its GPU extra):
#     pip install -e '.[gpu]'
#     bench/gpu.sh [OUT_DIR]            # default: runs/gpu-bench
#
# Writes OUT_DIR/hardware.txt (nvidia-smi, CPU, versions) and OUT_DIR/throughput.csv
# (preset, batch, precision, jit_compile, images/s), and prints the table.
set -euo pipefail
out="${1:-runs/gpu-bench}"
python="${PYTHON:-python}"
mkdir -p "$out"
if ! command -v nvidia-smi >/dev/null; then
    echo "bench/gpu.sh: no nvidia-smi here; this script measures NVIDIA GPUs" >&2
    exit 1
fi
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) x $(nproc)"
    "$python" -c "import tensorflow as tf, keras; print('tensorflow', tf.__version__, 'keras', keras.__version__, 'gpus', tf.config.list_physical_devices('GPU'))"
} | tee "$out/hardware.txt"
echo "preset,batch,precision,jit_compile,images_per_second" > "$out/throughput.csv"
for preset in article unet; do
    for batch in 64 256 1024; do
        for precision in float32 mixed_float16 mixed_bfloat16; do
            for jit in false true; do
                rate=$("$python" bench/gpu_throughput.py --preset "$preset" --batch "$batch" \
                    --precision "$precision" --jit "$jit" 2>/dev/null | tail -n 1) || rate="failed"
                echo "$preset,$batch,$precision,$jit,$rate" | tee -a "$out/throughput.csv"
            done
        done
    done
done
column -s, -t "$out/throughput.csv"

#!/usr/bin/env bash
# The GPU figures of issue 13 in one device call of at most 8 minutes: the training evaluator's
# speed on the paper's search network (benchmarks/train_speed.py) and `hiernas fidelity` on
# CIFAR-10 up to the paper's budget (5000 steps of 256), each under its own time limit so that one
# slow part cannot eat the other's share. Everything it prints is also written to $OUT.
#
# Prepare once, on the development machine, in the repository root (nothing here is committed):
#   echo /.whl/ >> .git/info/exclude; echo /.data/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#       deap pydantic pydantic-core annotated-types typing-inspection
#   mkdir -p .data && cp ../shared/data/cifar10-jpeg.tar.gz .data/
# (the device image has torch, numpy, networkx, pyyaml, click, rich, matplotlib, scikit-learn and
# pillow; deap and pydantic travel as wheels). Then one call of the device tool:
#   run(command="bash benchmarks/gpu_check.sh", carry=[".whl", ".data"], timeout_s=540)
#
# GPU_CHECK_SMALL=1 runs the same steps at a toy size on any machine (a CPU too), to check the
# script itself before a device minute is spent on it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
DATA=${GPU_CHECK_DATA:-.data/cifar10-jpeg.tar.gz}

if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if [[ ${GPU_CHECK_SMALL:-0} == 1 ]]; then
  # Toy sizes: every command and option is exercised, nothing is measured.
  speed=(--steps 2 --batch 16 --workers 1) budgets=4,8 sample=3 limit_speed=300 limit_fidelity=600
  extra=(--set evaluator.batch_size=16 --set data.validation=200 --set network.channels=4)
else
  # Sizes not yet measured on a GPU (none lent so far): train_speed gets 3 minutes, fidelity
  # 4.5 (8 genotypes at 500, 1500 and 5000 steps, 7,000 steps each). A fidelity cut short by its
  # limit still brings back its finished rows in $OUT/fidelity ($OUT is emptied per call).
  speed=(--steps 500) budgets=500,1500,5000 sample=8 limit_speed=180 limit_fidelity=270
  extra=()
fi

{
  date -u
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/machine.txt"

timeout "$limit_speed" python3 benchmarks/train_speed.py --data "$DATA" "${speed[@]}" 2>&1 \
  | tee "$OUT/train_speed.txt"
echo "train_speed exit ${PIPESTATUS[0]}" | tee -a "$OUT/train_speed.txt"

# The fidelity folder is kept under $OUT, so a call cut short still brings back what finished.
timeout "$limit_fidelity" python3 -m hiernas fidelity configs/cifar.yaml --budgets "$budgets" \
  --sample "$sample" --seed 0 -o "$OUT/fidelity" --set data.path="$DATA" "${extra[@]}" 2>&1 \
  | tee "$OUT/fidelity.txt"
echo "fidelity exit ${PIPESTATUS[0]}" | tee -a "$OUT/fidelity.txt"

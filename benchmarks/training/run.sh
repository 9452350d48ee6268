#!/usr/bin/env bash
# Training benchmarks of LiteVision (see docs/benchmarks.md, section "Training").
#   bash benchmarks/training/run.sh throughput   # LiteVision vs PyTorch images/s, same model/batch/threads, one run
#   bash benchmarks/training/run.sh rss          # resident memory over >= 1000 training steps
#   bash benchmarks/training/run.sh accuracy     # full Fashion-MNIST: test accuracy and wall time
# Environment: MODEL (default shufflenet_v2_x0_5), BATCH (128), THREADS (1), EPOCHS (accuracy run, 3), ROUNDS (throughput, 3), STEPS (throughput, 60 per epoch),
# LR (accuracy, 0.2), WD (accuracy, 5e-5), AUGMENT (accuracy, basic),
# CROP_PADDING (accuracy, default size/8).
# On a shared, oversubscribed machine use THREADS=1 (or OMP_WAIT_POLICY=PASSIVE): spinning OpenMP workers that lose
# their core make every parallel op wait (measured: 2 threads 2 img/s, 1 thread 44 img/s at batch 8 under load 15).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-shufflenet_v2_x0_5}; BATCH=${BATCH:-128}; THREADS=${THREADS:-1}; EPOCHS=${EPOCHS:-3}
OUT=benchmarks/training/results; mkdir -p "$OUT"
dotnet build src/LiteVision.Cli -c Release -v q >/dev/null
cli() { dotnet src/LiteVision.Cli/bin/Release/net10.0/LiteVision.Cli.dll "$@"; }
case "${1:-throughput}" in
  throughput)
    # LiteVision: the real trainer (loader on one worker, basic augmentation off), 2 epochs of STEPS batches; the
    # second epoch's images/s is the warm figure. PyTorch: 3 warm-up steps, then STEPS timed steps on a synthetic
    # batch (no loader at all). Both layouts of both, interleaved over ROUNDS rounds; the ratio uses the same round.
    steps=${STEPS:-60}; rounds=${ROUNDS:-3}
    : > "$OUT/throughput.txt"
    for round in $(seq "$rounds"); do
      for layout in channels-last nchw; do
        cli train "$MODEL" --small-input --data bundled --limit-train $((steps * BATCH)) --limit-test 64 --epochs 2 \
          --warmup 0 --batch-size "$BATCH" --threads "$THREADS" --augment none --memory-format "$layout" --out /tmp/litevision-throughput \
          | grep '^epoch 2' | sed "s/^/round $round litevision $layout: /" | tee -a "$OUT/throughput.txt"
        /usr/bin/python3 benchmarks/training/torch_throughput.py "$MODEL" "$BATCH" "$THREADS" "$steps" "$layout" \
          | sed "s/^/round $round /" | tee -a "$OUT/throughput.txt"
      done
    done
    ;;
  rss)
    # 1000+ steps of batch 8; VmRSS sampled every 2 s.
    dotnet src/LiteVision.Cli/bin/Release/net10.0/LiteVision.Cli.dll train "$MODEL" --small-input --data fashion-mnist \
      --limit-train 8200 --limit-test 64 --epochs 1 --batch-size 8 --threads "$THREADS" --out /tmp/litevision-rss > "$OUT/rss-train.txt" & pid=$!
    echo "seconds,rss_mib" > "$OUT/rss.csv"; t=0
    while kill -0 $pid 2>/dev/null; do
      rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status 2>/dev/null || true)
      [ -n "$rss" ] && echo "$t,$rss" >> "$OUT/rss.csv"; sleep 2; t=$((t + 2))
    done
    wait $pid; cat "$OUT/rss-train.txt"; cat "$OUT/rss.csv" | tr '\n' ' '; echo
    ;;
  accuracy)
    start=$(date +%s)
    cli train "$MODEL" --small-input --data fashion-mnist --epochs "$EPOCHS" --batch-size "$BATCH" --threads "$THREADS" \
      --lr "${LR:-0.2}" --weight-decay "${WD:-5e-5}" --warmup 0.3 --label-smoothing 0.1 --augment "${AUGMENT:-basic}" ${CROP_PADDING:+--crop-padding "$CROP_PADDING"} --out runs/fashion-mnist-"$MODEL" | tee "$OUT/accuracy-train.txt"
    echo "wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/accuracy-train.txt"
    cli eval "$MODEL" --small-input --data fashion-mnist --weights runs/fashion-mnist-"$MODEL"/best.safetensors --threads "$THREADS" \
      | tee "$OUT/accuracy-eval.txt"
    ;;
  *) echo "usage: $0 throughput|rss|accuracy" >&2; exit 2 ;;
esac

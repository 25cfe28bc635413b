#!/usr/bin/env bash
# The main job on the bundled sample: train the TF-IDF baseline and the fine-tuned MiniLM
# (tested on the five real seed articles), compare them side by side, write the report.
# Usage: bash scripts/main_job.sh [OUTPUT_DIR]   (default outputs/sample)
set -euo pipefail
OUT=${1:-outputs/sample}
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false
start=$(date +%s)
rm -rf "$OUT"
stance-train -m model=tfidf,transformer hydra.sweep.dir="$OUT" 'hydra.sweep.subdir=${model.name}'
echo
echo "== baseline vs transformer on the real seed test split =="
stance-compare "$OUT/tfidf" "$OUT/transformer" --json "$OUT/comparison.json"
stance-report "$OUT/transformer" "$OUT/tfidf" --output "$OUT/report"
echo "main job finished in $(( $(date +%s) - start )) s"
echo "report: $OUT/report/report.html"

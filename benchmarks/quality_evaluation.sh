#!/usr/bin/env bash
# The JPEG-quality tables of the docs (models guide, "Telling the model the JPEG quality"):
# the `jpeg` models blind, told the true quality, and with quality="auto", on single and double JPEG,
# each written into the card it belongs to (--record: the blind model's card, or its quality
# adapter's), from which `python tools/docs_tables.py --write` lays out the tables.
#
#   bash benchmarks/quality_evaluation.sh EVAL_FOLDER     # holding cbsd68/ and kodak24/
#
# Two streams run side by side (one torch thread each); about 15 minutes on 2 cores.
set -euo pipefail
EVAL=${1:?usage: bash benchmarks/quality_evaluation.sh EVAL_FOLDER (holding cbsd68/ and kodak24/)}
export OMP_NUM_THREADS=1
DOUBLE=(--degradation double-jpeg --first-quality 10 30 30 50 --quality 30 10 50 30)

gray() {
  for told in true auto; do
    dci-cnn evaluate --model jpeg --data "$EVAL/cbsd68" --channels 1 --model-quality $told --record
  done
  for told in blind true; do
    dci-cnn evaluate --model jpeg --data "$EVAL/cbsd68" --channels 1 "${DOUBLE[@]}" --model-quality $told --record
  done
}

colour() {
  for told in true auto; do
    dci-cnn evaluate --model jpeg --data "$EVAL/kodak24" --channels 3 --model-quality $told --record
  done
  dci-cnn evaluate --model jpeg --data "$EVAL/cbsd68" --channels 3 --model-quality true --record
  for told in blind true; do
    dci-cnn evaluate --model jpeg --data "$EVAL/kodak24" --channels 3 "${DOUBLE[@]}" --model-quality $told --record
  done
}

gray > quality-gray.log 2>&1 &
gray_pid=$!
colour > quality-colour.log 2>&1 &
colour_pid=$!
wait $gray_pid && wait $colour_pid
cat quality-gray.log quality-colour.log

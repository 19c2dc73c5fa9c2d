#!/usr/bin/env bash
# The quickstart: synthetic corpus → HCQT cache → multi-pitch network → mir_eval scores → piano roll.
# Usage: bash examples/quickstart.sh            (DATA=… RUN=… JOBS=… THREADS=… and extra `mirmodels fit`
#        options in FIT_ARGS override the defaults, e.g. FIT_ARGS="--set train.max_epochs=1")
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/quickstart}
RUN=${RUN:-runs/quickstart}
JOBS=${JOBS:-2}
# torch's CPU kernels split their sums by thread count, so the scores depend on it (measured: 1 vs 2
# threads move the first epoch's valid loss by 1.6e-5): a fixed count gives the same numbers on every
# run and every machine of the same CPU and torch build, whatever its core count or OMP_NUM_THREADS
THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
FILES=${FILES:-40}
SECONDS_PER_FILE=${SECONDS_PER_FILE:-15}
start=$(date +%s)
step() { echo; echo "== [$(( $(date +%s) - start )) s] $*"; }

step "1/5 synthetic corpus: $FILES files x $SECONDS_PER_FILE s → $DATA"
if [ -f "$DATA/synth.pyjama" ]; then
  echo "reusing $DATA/synth.pyjama"
else
  pyjama-convert synth "$DATA" --files "$FILES" --seconds-per-file "$SECONDS_PER_FILE" --jobs "$JOBS" --quiet
fi
pyjama-convert info "$DATA/synth.pyjama"

step "2/5 harmonic CQT cache"
mirfeat cache "$DATA/synth_audio.hdf5" "$DATA/synth_hcqt_feat.hdf5" --feature hcqt --jobs "$JOBS" --quiet
mirfeat info "$DATA/synth_hcqt_feat.hdf5"

step "3/5 training (examples/quickstart.yaml)"
rm -rf "$RUN"
# shellcheck disable=SC2086
mirmodels fit examples/quickstart.yaml --data-root "$DATA" --out "$RUN" --quiet ${FIT_ARGS:-}

step "4/5 evaluation on held-out files (mir_eval.multipitch)"
mirmodels evaluate "$RUN" --quiet

step "5/5 piano roll of a held-out file"
python3 - "$DATA" "$RUN" <<'PY'
import sys
from pathlib import Path
import soundfile
from pyjama_tools.audio_store import AudioStore
data, run = Path(sys.argv[1]), Path(sys.argv[2])
with AudioStore(data / "synth_audio.hdf5") as store:   # synth_000.wav is held out (index % 5 == 0)
    soundfile.write(run / "synth_000.wav", store.read("synth_000.wav"), store.sample_rate("synth_000.wav"))
PY
mirmodels predict "$RUN" "$RUN/synth_000.wav" -o "$RUN/prediction"
cp "$RUN"/prediction/*.png "$RUN/pianoroll.png"
step "done: $RUN/metrics.json, $RUN/pianoroll.png"

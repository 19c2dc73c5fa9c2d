"""Source separation (MUSDB18: mixture → drums, bass, other, vocals): everything about the problem.

The dispatch modules (``data``, ``experiment``, ``evaluate``, ``predict``) ask the task class for
these hooks; nothing about separation lives in them:

==================== ===========================================================================
hook                 what it does
==================== ===========================================================================
prepare_dataset      tracks (mixture + stems linked by ``track``), splits of tracks, the window
make_dataset         :class:`mirfeat.stems.StemWindowDataset` (lazy, or ``feature.in_memory``)
check_output_shape   (S, C, L) sources, or (1, C, L) for a conditioned network
compute_loss         1 - cosine similarity along the samples (the notebook's), or l1 / mse
score_split          BSSEval v4 (museval) per source, beside the mixture and oracle-IRM baselines
format_metrics       the model / mixture / oracle table
predict_file         one WAV per source at the song's rate and length
==================== ===========================================================================

The config::

    dataset: {base: musdb18, problem: separation, annot_key: stem, split: field}
    feature: {type: waveform, patch_L_frame: 176400, patch_STEP_frame: 88200}  # 4 s windows, 2 s grid
    train:   {task: {sources: [drums, bass, other, vocals], remix: 0.5, conditioned: false}}

``annot_key`` is the field naming each entry's stem; the field ``track`` (``dataset.group_field``
when given) links the entries of a track. The split rule is applied to tracks; when it gives no
``valid`` split (MUSDB18 has train and test only), every fifth training track is held out.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.core.checks import check_number
from mirmodels.tasks._checks import shape_error
from mirmodels.tasks.base import Task, register_task

__all__ = ["SeparationOptions", "SeparationTask", "StemTarget"]

LOSSES = ("cosine", "l1", "mse")


@dataclass(frozen=True)
class SeparationOptions:
    """Options of the separation task (``train.task`` in the config).

    Attributes
    ----------
    sources : list of str or None
        Stems to estimate, in output order (default: every stem of the data but the mixture).
    conditioned : bool
        One source per example, chosen by a one-hot after the mixture channels (CUNet).
    remix : float
        Fraction of training examples remixed from stems of random tracks, in [0, 1].
    loss : str
        cosine (1 - cosine similarity along the samples, the notebook's) | l1 | mse.
    """

    sources: list | None = None
    conditioned: bool = False
    remix: float = 0.0
    loss: str = "cosine"

    def __post_init__(self) -> None:
        if self.sources is not None and (not isinstance(self.sources, (list, tuple)) or not self.sources
                                         or not all(isinstance(s, str) and s for s in self.sources)
                                         or len(set(self.sources)) != len(self.sources)):
            raise ParameterError(f"sources={self.sources!r}: expected a list of distinct stem names")
        if not isinstance(self.conditioned, bool):
            raise ParameterError(f"conditioned={self.conditioned!r}: expected true or false")
        check_number("remix", self.remix, 0.0, None)
        if self.remix > 1:
            raise ParameterError(f"remix={self.remix!r}: expected a number in [0, 1]")
        if self.loss not in LOSSES:
            raise ParameterError(f"loss={self.loss!r}: expected one of {', '.join(LOSSES)}")


@dataclass
class StemTarget:
    """What the network learns: the sources of each track (the data module's 'target').

    Attributes
    ----------
    sources : the estimated stems (output order); ``vocabulary`` and ``num_outputs`` follow them
    stems : every stem of a track (summed when remixing)
    tracks : mixture key → :class:`mirfeat.stems.StemTrack`
    options : SeparationOptions
    """

    sources: list
    stems: list
    tracks: dict
    options: SeparationOptions
    spec: Any = None

    @property
    def vocabulary(self) -> list:
        return list(self.sources)

    @property
    def num_outputs(self) -> int:
        return len(self.sources)


def _options(config) -> SeparationOptions:
    from mirmodels.config.errors import ConfigError

    where = f"{config.source}: " if config.source is not None else ""
    allowed = [f.name for f in dataclasses.fields(SeparationOptions)]
    for key in config.train.task:
        if key not in allowed:
            raise ConfigError(f"{where}train.task.{key}: unknown separation option; allowed: {', '.join(allowed)}")
    try:
        return SeparationOptions(**config.train.task)
    except ParameterError as error:
        raise ConfigError(f"{where}train.task.{error}") from None


def _splits(config, doc, tracks, annotation_path: Path) -> dict[str, list[str]]:
    """Split rule of ``dataset`` applied to the tracks' mixture keys (grouped by track)."""
    from mirfeat.splits import split_keys
    from mirmodels.patch_data import _naming, _split_lists

    mixtures = [t.mixture for t in tracks]
    with _naming(f"{annotation_path}: dataset.split {config.dataset.split!r}"):
        splits = split_keys(doc, keys=mixtures, rule=config.dataset.split, field=config.dataset.split_field,
                            list_files=_split_lists(config, annotation_path.parent),
                            group_field=config.dataset.group_field or "track")
    if not splits.get("valid") and len(splits.get("train", [])) >= 2:
        train = splits["train"]  # MUSDB18 has no validation split: every fifth training track
        splits["valid"] = train[::5]
        splits["train"] = [k for k in train if k not in set(splits["valid"])]
    for name in ("train", "valid"):
        if not splits.get(name):
            raise MirError(f"dataset.split: the {name!r} split has no track ({len(tracks)} usable tracks, rule "
                           f"{config.dataset.split!r}); separation needs at least one training and one validation track")
    return dict(splits)


@register_task("separation", "source_separation")
class SeparationTask(Task):
    """Waveform estimates (B, S, C, L) vs the true stems y (B, S, C, L) (conditioned: S = 1)."""

    target_kind = "stems"

    Options = SeparationOptions

    def compute_loss(self, output: Tensor, y: Tensor) -> Tensor:
        if output.shape != y.shape:
            raise shape_error("separation", "shape mismatch", output, y,
                              "the same (batch, sources, channels, samples) for both")
        output, y = output.float(), y.float()
        if self.options.loss == "l1":
            return F.l1_loss(output, y)
        if self.options.loss == "mse":
            return F.mse_loss(output, y)
        return (1.0 - F.cosine_similarity(output, y, dim=-1, eps=1e-8)).mean()

    # ------------------------------------------------------------------ data hooks
    @staticmethod
    def prepare_dataset(config, data_root: str | os.PathLike | None = None, jobs: int = 1, quiet: bool = True,
                        allow_missing_audio: bool = False):
        """Tracks, their splits and the window: a :class:`mirmodels.patch_data.PreparedData` (tracks without
        audio are left out whatever ``allow_missing_audio``)."""
        from mirfeat.stems import MIXTURE, stem_tracks
        from mirmodels.config.errors import ConfigError
        from mirmodels.patch_data import PreparedData
        from pyjama_tools import pyjama
        from pyjama_tools.audio_store import AudioStore

        where = f"{config.source}: " if config.source is not None else ""
        if config.feature.type != "waveform":
            raise ConfigError(f"{where}feature.type: separation reads the waveform (feature.type: waveform), "
                              f"got {config.feature.type!r}")
        options = _options(config)
        audio_path = config.audio_path(data_root).absolute()
        annotation_path = config.annotation_path(data_root).absolute()
        for path in (annotation_path, audio_path):
            if not path.exists():
                raise MirError(f"{path}: no such file (dataset.base {config.dataset.base!r}; set --data-root "
                               "or dataset.root)")
        doc = pyjama.load(annotation_path)
        pyjama.check(doc, source=str(annotation_path))
        with AudioStore(audio_path) as store:
            audio_keys = set(store.keys())
        with_audio = [k for k in doc.keys() if k in audio_keys]
        if not with_audio:
            raise MirError(f"{audio_path}: holds none of the entries of {annotation_path}")
        track_field = config.dataset.group_field or "track"
        try:
            tracks, skipped = stem_tracks(doc, audio_keys, track_field, config.dataset.annot_key)
        except MirError as error:
            raise MirError(f"{annotation_path}: dataset.annot_key / group_field: {error}") from None
        order = list(doc.definition(config.dataset.annot_key).dictionary or [])  # drums, bass, other, vocals
        stems = sorted({s for t in tracks for s in t.stems},
                       key=lambda s: (order.index(s) if s in order else len(order), s))
        sources = list(options.sources or stems)
        unknown = [s for s in sources if s not in stems]
        if unknown:
            raise ConfigError(f"{where}train.task.sources: {unknown[0]!r} is not a stem of {annotation_path} "
                              f"(stems: {', '.join(stems) or 'none'}; {MIXTURE!r} is the input)")
        complete = [t for t in tracks if all(s in t.stems for s in stems)]
        skipped += [k for t in tracks if t not in complete for k in [t.mixture, *t.stems.values()]]
        if not complete:
            raise MirError(f"{annotation_path}: no track has a mixture and every stem ({', '.join(stems)})")
        with AudioStore(audio_path) as store:
            sample_rate = store.sample_rate(complete[0].mixture)
        target = StemTarget(sources, stems, {t.mixture: t for t in complete}, options)
        splits = _splits(config, doc, complete, annotation_path)
        prepared = PreparedData(config, audio_path, annotation_path, None, doc, target, splits, (), 0,
                                sample_rate, {}, "", config.dataset.annot_key, skipped, [], task=SeparationTask)
        probe = SeparationTask.make_dataset(prepared, splits["train"], train=False)
        prepared.input_shape = tuple(int(s) for s in probe.input_shape)
        n_out = config.dataset.n_out
        prepared.n_out = len(sources) if n_out == "auto" else int(n_out)
        return prepared

    @staticmethod
    def make_dataset(prepared, keys: Sequence[str], train: bool = True):
        """Stem windows of the tracks ``keys`` (mixture keys); random and remixed when ``train``."""
        from mirfeat.stems import StemWindowDataset

        target, feature = prepared.target, prepared.config.feature
        label = f"{prepared.config.source}: " if prepared.config.source is not None else ""
        try:
            return StemWindowDataset(prepared.audio_path, [target.tracks[k] for k in keys], target.sources,
                                     feature.patch_length, feature.patch_hop, train=train,
                                     remix=target.options.remix if train else 0.0,
                                     conditioned=target.options.conditioned, stems=target.stems,
                                     in_memory=feature.in_memory and train)
        except MirError as error:
            raise MirError(f"{label}feature.patch_L_frame {feature.patch_length}: {error}") from None

    @staticmethod
    def check_output_shape(output_shape: Sequence[int], input_shape: Sequence[int], n_outputs: int,
                           where: str = "model") -> None:
        """(S, C, L) for input (C, L), or (1, C, L) for a conditioned input (C + S, L)."""
        shape, (channels, length) = tuple(int(s) for s in output_shape), tuple(int(s) for s in input_shape)
        allowed = [(n_outputs, channels, length)]
        if channels > n_outputs:
            allowed.append((1, channels - n_outputs, length))
        if shape not in allowed:
            expected = " or ".join(str(a) for a in allowed)
            raise MirError(f"{where}: output shape {shape} for input {tuple(input_shape)} does not fit the "
                           f"separation target: expected {expected} (sources, channels, samples); end the model "
                           "with [ISTFT, ...] after [Mask, {sources: $n_out}] (conditioned: sources 1)")

    # ------------------------------------------------------------------ evaluate / predict hooks
    @staticmethod
    def score_split(network, prepared, keys: Sequence[str], device: str = "cpu", quiet: bool = True) -> dict:
        """BSSEval v4 of the model on whole tracks, beside the mixture and oracle-IRM baselines."""
        from tqdm import tqdm

        from mirmodels import bsseval
        from mirmodels.separate import separate

        config, target = prepared.config, prepared.target
        dataset = SeparationTask.make_dataset(prepared, keys, train=False)
        window = config.feature.patch_length
        n_fft, hop_length = _stft_of(config.model)
        per_track: dict[str, dict] = {"model": {}, "mixture": {}, "oracle_irm": {}}
        conditions = len(target.sources) if target.options.conditioned else 0
        for index, track in enumerate(tqdm(dataset.tracks, disable=quiet, unit="track", desc="evaluate")):
            mixture, stems = dataset.read_track(index)
            references = stems[[target.stems.index(s) for s in target.sources]]
            estimates = separate(network, mixture, window, config.eval.patch_hop,
                                 config.eval.batch_size or config.train.batch_size, conditions, device)
            rate = dataset.rate
            per_track["model"][track.name] = bsseval.track_scores(references, estimates, rate, target.sources)
            as_mixture = np.repeat(mixture[None], len(target.sources), axis=0)
            per_track["mixture"][track.name] = bsseval.track_scores(references, as_mixture, rate, target.sources)
            oracle = bsseval.oracle_irm(mixture, stems, n_fft, hop_length)[[target.stems.index(s) for s in target.sources]]
            per_track["oracle_irm"][track.name] = bsseval.track_scores(references, oracle, rate, target.sources)
        return {"metrics": bsseval.aggregate(per_track["model"]),
                "baselines": {name: bsseval.aggregate(per_track[name]) for name in ("mixture", "oracle_irm")},
                "per_track": per_track, "sources": list(target.sources),
                "bss_eval": {"version": "v4", "window_sec": 1.0, "hop_sec": 1.0, "frames": "median",
                             "tracks": "median", "oracle_stft": {"n_fft": n_fft, "hop_length": hop_length}}}

    @staticmethod
    def format_metrics(data: dict) -> str:
        """Per source and metric: the model's median, the mixture's and the oracle's, side by side (dB)."""
        model, baselines = data.get("metrics") or {}, data.get("baselines") or {}
        rows = [("metric", "model", "mixture", "oracle IRM")]
        for name, value in model.items():
            rows.append((name, f"{value:.2f}", f"{baselines.get('mixture', {}).get(name, float('nan')):.2f}",
                         f"{baselines.get('oracle_irm', {}).get(name, float('nan')):.2f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [f"separation on {data.get('split', '')} ({data.get('num_files', 0)} tracks): BSSEval v4 median "
                 "over 1 s frames, then over tracks (dB)"]
        for number, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
            if number == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    @staticmethod
    def predict_file(run_dir, config, metadata: dict, audio_file: Path, out_dir: Path | None = None,
                     device: str | None = None, threshold: float | None = None) -> tuple[list[Path], dict]:
        """Separate one song: ``<out>/<song>_<source>.wav`` at the song's rate and length
        (``threshold`` unused: waveforms are not thresholded).

        A .stem.mp4 is read from its first stream (the mixture). The song is mixed down to mono,
        or a mono song copied to both channels, to match the run; then resampled to the run's rate.
        """
        import soxr

        from mirmodels.network import load_network
        from mirmodels.separate import separate_blocks, write_sources
        from pyjama_tools.audio_store import decode

        audio, song_rate = decode(audio_file, sample_rate=None, mono=False)
        channels, window = int(metadata["input_shape"][0]), int(metadata["input_shape"][-1])
        sources = list(metadata.get("vocabulary") or [])
        conditions = len(sources) if config.train.task.get("conditioned") else 0
        channels -= conditions
        length = audio.shape[-1]
        if channels == 1 and audio.shape[0] != 1:
            audio = audio.mean(axis=0, keepdims=True)
        elif audio.shape[0] != channels:
            audio = np.repeat(audio[:1], channels, axis=0)
        model_rate = int(metadata["sample_rate"])
        if song_rate != model_rate:
            audio = soxr.resample(np.ascontiguousarray(audio.T), song_rate, model_rate, quality="HQ").T
        network = load_network(run_dir, config, metadata)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        out = Path(out_dir) if out_dir is not None else audio_file.parent
        out.mkdir(parents=True, exist_ok=True)
        name = audio_file.name
        for suffix in (".stem.mp4", audio_file.suffix):
            if name.lower().endswith(suffix.lower()) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        paths = [out / f"{name}_{source}.wav" for source in sources]
        blocks = separate_blocks(network, np.ascontiguousarray(audio, dtype=np.float32), window,
                                 config.eval.patch_hop, config.eval.batch_size or config.train.batch_size,
                                 conditions, device)
        files = write_sources(blocks, paths, model_rate, song_rate, length)
        data = {"file": str(audio_file), "run": str(run_dir), "problem": "separation", "sample_rate": song_rate,
                "num_samples": int(length), "duration_sec": float(length / song_rate),
                "sources": {s: str(p) for s, p in zip(sources, files)}}
        return files, data


def _stft_of(model: dict) -> tuple[int, int]:
    """(n_fft, hop_length) of the model's first STFT layer (the oracle uses the same), else (2048, 1024)."""
    for block in model.get("block_l") or []:
        for sequential in (block or {}).get("sequential_l") or []:
            for entry in (sequential or {}).get("layer_l") or []:
                if isinstance(entry, list) and entry and entry[0] == "STFT" and len(entry) > 1 \
                        and isinstance(entry[1], dict):
                    n_fft = entry[1].get("n_fft", 2048)
                    hop = entry[1].get("hop_length", 1024)
                    if isinstance(n_fft, int) and isinstance(hop, int):
                        return n_fft, hop
    return 2048, 1024

"""BSSEval v4 scores of separated sources (museval), aggregated as SiSEC reports them.

Per track, :func:`track_scores` runs ``museval.metrics.bss_eval`` (v4: one distortion filter per
track, ``framewise_filters=False``) on 1 s frames with a 1 s hop, jointly over all the sources,
and takes the median of each metric over the frames (NaN frames, where a reference is silent,
left out: museval's ``np.nanmedian``). :func:`aggregate` then takes the median over tracks.

Two reference points are computed the same way in the same run (:func:`baselines`):

* ``mixture``: the mixture itself as the estimate of every source (the floor);
* ``oracle_irm``: the ideal ratio mask, ``|S_j|² / Σ_k |S_k|²`` of the true stems applied to the
  mixture's STFT (the upper bound of a masking model with that STFT).

``museval/__init__.py`` imports musdb and stempeg, which refuse to load without ffmpeg; only
``museval/metrics.py`` (numpy + scipy) is needed here, so it is loaded on its own when the package
import fails.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any
from collections.abc import Sequence

import numpy as np

from pyjama_tools.core.errors import MirError

__all__ = ["METRICS", "bss_eval_module", "frame_scores", "track_scores", "aggregate", "oracle_irm", "baselines"]

#: metric names in museval's return order (SDR, ISR, SIR, SAR) rearranged as SiSEC prints them
METRICS = ("SDR", "SIR", "SAR", "ISR")
_MODULE: Any = None


def bss_eval_module() -> Any:
    """``museval.metrics`` (loaded from its file when the package's own imports need ffmpeg)."""
    global _MODULE
    if _MODULE is not None:
        return _MODULE
    try:
        _MODULE = importlib.import_module("museval.metrics")
    except ImportError:
        raise MirError("museval is not installed: pip install 'mir101[separation]'") from None
    except Exception:  # stempeg's RuntimeError without ffmpeg: the metrics file needs none of it
        spec = importlib.util.find_spec("museval")
        origin = None if spec is None or not spec.submodule_search_locations else spec.submodule_search_locations[0]
        if origin is None:
            raise MirError("museval is not installed: pip install 'mir101[separation]'") from None
        file_spec = importlib.util.spec_from_file_location("_museval_metrics", f"{origin}/metrics.py")
        module = importlib.util.module_from_spec(file_spec)
        file_spec.loader.exec_module(module)
        _MODULE = module
    return _MODULE


def _museval_layout(signals: np.ndarray) -> np.ndarray:
    """(S, C, N) → museval's (S, N, C), float64."""
    signals = np.asarray(signals, dtype=np.float64)
    if signals.ndim == 2:
        signals = signals[:, None, :]
    if signals.ndim != 3:
        raise MirError(f"bss_eval: expected (sources, channels, samples), got shape {signals.shape}")
    return np.transpose(signals, (0, 2, 1))


def frame_scores(references: np.ndarray, estimates: np.ndarray, sample_rate: int, window_sec: float = 1.0,
                 hop_sec: float = 1.0) -> dict[str, np.ndarray]:
    """BSSEval v4 per frame: metric → (S, frames) in dB (NaN where a reference frame is silent).

    Parameters
    ----------
    references, estimates : np.ndarray (S, C, N)
        True and estimated sources (the estimates are cut or zero-padded to N samples).
    sample_rate : int, Hz
    window_sec, hop_sec : frame length and hop in s (SiSEC: 1 s and 1 s)
    """
    references, estimates = _museval_layout(references), _museval_layout(estimates)
    if estimates.shape[0] != references.shape[0] or estimates.shape[2] != references.shape[2]:
        raise MirError(f"bss_eval: estimates {estimates.shape} do not match references {references.shape} "
                       "(sources, samples, channels)")
    samples = references.shape[1]
    if estimates.shape[1] >= samples:
        estimates = estimates[:, :samples]
    else:
        estimates = np.pad(estimates, [(0, 0), (0, samples - estimates.shape[1]), (0, 0)])
    sdr, isr, sir, sar, _ = bss_eval_module().bss_eval(
        references, estimates, window=int(window_sec * sample_rate), hop=int(hop_sec * sample_rate),
        compute_permutation=False, framewise_filters=False, bsseval_sources_version=False)
    return {"SDR": sdr, "SIR": sir, "SAR": sar, "ISR": isr}


def track_scores(references: np.ndarray, estimates: np.ndarray, sample_rate: int, sources: Sequence[str],
                 window_sec: float = 1.0, hop_sec: float = 1.0) -> dict[str, dict[str, float]]:
    """Median over frames of each metric: {source: {SDR, SIR, SAR, ISR}} (NaN when every frame is)."""
    import warnings

    frames = frame_scores(references, estimates, sample_rate, window_sec, hop_sec)
    out: dict[str, dict[str, float]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slice: a source silent on the whole track
        for index, source in enumerate(sources):
            out[source] = {name: float(np.nanmedian(frames[name][index])) for name in METRICS}
    return out


def aggregate(per_track: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    """Median over tracks of the per-track medians → flat ``{'<source>_<metric>': dB}``."""
    import warnings

    result: dict[str, float] = {}
    tracks = list(per_track.values())
    if not tracks:
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for source in tracks[0]:
            for name in METRICS:
                result[f"{source}_{name}"] = float(np.nanmedian([t[source][name] for t in tracks]))
    return result


def oracle_irm(mixture: np.ndarray, stems: np.ndarray, n_fft: int = 2048, hop_length: int = 1024,
               power: float = 2.0) -> np.ndarray:
    """Ideal ratio mask estimates (S, C, N) of ``stems`` (S, C, N) from ``mixture`` (C, N).

    Mask of source j: ``|S_j|^power / Σ_k |S_k|^power`` on the STFT (Hann, ``n_fft``, ``hop_length``),
    applied to the mixture's STFT, then inverted to ``N`` samples.
    """
    import torch

    window = torch.hann_window(n_fft, dtype=torch.float64)

    def stft(signal: np.ndarray) -> torch.Tensor:
        flat = torch.from_numpy(np.asarray(signal, dtype=np.float64).reshape(-1, signal.shape[-1]))
        return torch.stft(flat, n_fft, hop_length, window=window, center=True, return_complex=True)

    samples = mixture.shape[-1]
    mix = stft(mixture)                                   # (C, F, T)
    sources = stft(stems).reshape(stems.shape[0], *mix.shape)  # (S, C, F, T)
    energy = sources.abs() ** power
    masks = energy / energy.sum(dim=0, keepdim=True).clamp_min(1e-12)
    estimates = torch.istft((masks * mix).reshape(-1, *mix.shape[-2:]), n_fft, hop_length, window=window,
                            center=True, length=samples)
    return estimates.reshape(stems.shape).numpy().astype(np.float32)


def baselines(mixture: np.ndarray, stems: np.ndarray, sample_rate: int, sources: Sequence[str],
              n_fft: int = 2048, hop_length: int = 1024) -> dict[str, dict[str, dict[str, float]]]:
    """The reference points of one track: {'mixture': scores, 'oracle_irm': scores} (see the module)."""
    as_estimate = np.repeat(mixture[None], stems.shape[0], axis=0)
    return {"mixture": track_scores(stems, as_estimate, sample_rate, sources),
            "oracle_irm": track_scores(stems, oracle_irm(mixture, stems, n_fft, hop_length), sample_rate, sources)}

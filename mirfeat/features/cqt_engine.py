"""One constant-Q transform over many log-frequency grids at once (the engine behind ``cqt``/``hcqt``).

The tutorial's HCQT calls :func:`librosa.cqt` once per harmonic: six full multi-rate
transforms, each running its own STFT per octave (36 STFTs for 6 harmonics × 6 octaves).
Here every requested centre frequency, from all harmonics, is pooled into one sorted
union (harmonics 0.5/1/2/4 share one grid: they are octaves apart), split into octave
*bands* counted down from the highest frequency, and each band is computed at the
lowest sample rate that still keeps its filters far below Nyquist.  Each band costs
one STFT and one sparse product, whatever the number of harmonics that fall into it,
so an HCQT costs ~10 STFTs instead of 36 (see ``bench/bench_features.py``).

The filters, their FFT, sparsification, the √(sr/band_sr) compensation of the
energy-preserving decimation and the final 1/√length scaling are librosa's own
(:func:`librosa.filters.wavelet`, :func:`librosa.util.sparsify_rows`, soxr_hq
halving via :func:`librosa.resample`), so the result equals ``np.abs(librosa.cqt(...))``
per grid up to resampling differences (≪ 1 %).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import librosa
import numpy as np
import scipy.fft
import scipy.sparse

from pyjama_tools.errors import ParameterError

WINDOW = "hann"
SPARSITY = 0.01  # librosa.cqt's default: drop the smallest 1 % of each filter's spectral mass
# A band computed at sr_k (decimated) keeps its highest filter cutoff below QUALITY_RATIO × Nyquist(sr_k):
# the same regime librosa's early downsampling leaves its top octave in (cutoff ≤ ~Nyquist / 2).
QUALITY_RATIO = 0.5
RESAMPLE_TYPE = "soxr_hq"


def relative_bandwidth(bins_per_octave: float) -> float:
    """Relative bandwidth ``alpha`` of a geometric grid with ``bins_per_octave`` bins (librosa's rule)."""
    ratio = 2.0 ** (2.0 / bins_per_octave)
    return (ratio - 1.0) / (ratio + 1.0)


def filter_cutoff_hz(frequency_hz: np.ndarray | float, bins_per_octave: float) -> np.ndarray | float:
    """Upper edge (Hz) of the Hann-windowed CQT filter centred at ``frequency_hz`` (librosa's bound)."""
    alpha = relative_bandwidth(bins_per_octave)
    return frequency_hz * (1.0 + 0.5 * librosa.filters.window_bandwidth(WINDOW) * alpha)


def grid_frequencies(fmin: float, n_bins: int, bins_per_octave: int) -> np.ndarray:
    """Centre frequencies (Hz) of a geometric grid, shape (n_bins,) (= :func:`librosa.cqt_frequencies`)."""
    return librosa.cqt_frequencies(n_bins=n_bins, fmin=fmin, bins_per_octave=bins_per_octave)


def _two_factors(value: int) -> int:
    count = 0
    while value > 0 and value % 2 == 0:
        value //= 2
        count += 1
    return count


@dataclass(frozen=True, eq=False)
class Band:
    """One octave band of the union grid, computed at ``sr / 2**decimation``.

    Attributes
    ----------
    decimation : int
        The band's signal is the input halved ``decimation`` times.
    hop_length : int
        Hop in samples at the band's rate (= plan hop / 2**decimation).
    n_fft : int
        STFT size at the band's rate (power of two ≥ the longest filter).
    rows : np.ndarray
        int64 (F_band,): rows of :attr:`CQTPlan.frequencies` this band computes.
    basis : scipy.sparse.csr_matrix
        complex64 (F_band, n_fft // 2 + 1): spectral filters, all scalings included.
    """

    decimation: int
    hop_length: int
    n_fft: int
    rows: np.ndarray
    basis: scipy.sparse.csr_matrix


@dataclass(frozen=True, eq=False)
class CQTPlan:
    """Everything needed to compute several CQT grids of one signal in one pass.

    Attributes
    ----------
    sr : float
        Input sample rate (Hz).
    hop_length : int
        Hop in samples at ``sr``.
    frequencies : np.ndarray
        float64 (F_union,): the sorted union of all grids' centre frequencies.
    channel_rows : np.ndarray
        int64 (C, F): row of :attr:`frequencies` for bin f of grid c.
    bands : tuple of Band
        From the highest band (decimation 0) down.
    """

    sr: float
    hop_length: int
    frequencies: np.ndarray
    channel_rows: np.ndarray
    bands: tuple[Band, ...]

    def n_frames(self, n_samples: int) -> int:
        """Frames for ``n_samples`` input samples: ``1 + n_samples // hop_length`` (librosa, centred)."""
        return 1 + n_samples // self.hop_length


def _union(grids: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted union of the grids (merging frequencies equal to 1e-9 relative) and each grid's rows."""
    everything = np.sort(np.concatenate(grids))
    keep = np.ones(everything.size, dtype=bool)
    keep[1:] = np.diff(everything) > 1e-9 * everything[1:]
    union = everything[keep]
    rows = []
    for grid in grids:
        index = np.clip(np.searchsorted(union, grid), 1, union.size - 1)
        left_closer = np.abs(union[index - 1] - grid) < np.abs(union[index] - grid)
        rows.append(np.where(left_closer, index - 1, index))
    return union, np.stack(rows).astype(np.int64)


@functools.lru_cache(maxsize=32)
def build_plan(
    sr: float, hop_length: int, grids: tuple[tuple[float, int], ...], bins_per_octave: int
) -> CQTPlan:
    """Design the bands and filters for some geometric grids (cached: a plan depends only on its arguments).

    Parameters
    ----------
    sr : float
        Input sample rate (Hz).
    hop_length : int
        Hop in samples at ``sr``.
    grids : tuple of (fmin_hz, n_bins)
        One grid per output channel, all with ``bins_per_octave`` bins per octave.
    bins_per_octave : int
        Resolution shared by all grids.

    Raises
    ------
    ParameterError
        When a filter's cutoff lies above the Nyquist frequency of ``sr``.
    """
    frequencies, channel_rows = _union(
        tuple(grid_frequencies(fmin, n_bins, bins_per_octave) for fmin, n_bins in grids)
    )
    alpha = relative_bandwidth(bins_per_octave)
    top = frequencies[-1]
    if filter_cutoff_hz(top, bins_per_octave) > sr / 2:
        raise ParameterError(
            f"CQT bin at {top:.1f} Hz has its filter cutoff above the Nyquist frequency {sr / 2:g} Hz"
        )
    max_decimation = _two_factors(hop_length)
    lengths_at_sr, _ = librosa.filters.wavelet_lengths(
        freqs=frequencies, sr=sr, window=WINDOW, filter_scale=1, gamma=0, alpha=alpha
    )
    band_of = np.floor(np.log2(top / frequencies) + 1e-9).astype(int)
    bands = []
    decimation = 0
    for band_index in range(int(band_of.max()) + 1):
        rows = np.flatnonzero(band_of == band_index)
        if rows.size == 0:
            continue
        cutoff = filter_cutoff_hz(frequencies[rows].max(), bins_per_octave)
        while decimation < max_decimation and cutoff <= QUALITY_RATIO * sr / 2 ** (decimation + 2):
            decimation += 1
        band_sr = sr / 2**decimation
        basis, lengths = librosa.filters.wavelet(
            freqs=frequencies[rows], sr=band_sr, window=WINDOW, filter_scale=1, pad_fft=True,
            norm=1, gamma=0, alpha=np.full(rows.size, alpha),
        )
        n_fft = basis.shape[1]
        basis *= lengths[:, np.newaxis] / float(n_fft)
        spectra = np.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
        sparse = librosa.util.sparsify_rows(spectra, quantile=SPARSITY, dtype=np.complex64)
        scale = np.sqrt(sr / band_sr) / np.sqrt(lengths_at_sr[rows])
        sparse = scipy.sparse.csr_matrix(scipy.sparse.diags(scale.astype(np.float32)) @ sparse, dtype=np.complex64)
        bands.append(Band(decimation, hop_length // 2**decimation, n_fft, rows, sparse))
    return CQTPlan(float(sr), int(hop_length), frequencies, channel_rows, tuple(bands))


def halve(signal: np.ndarray) -> np.ndarray:
    """Decimate by two with soxr_hq, energy-preserving (librosa.cqt's own octave step)."""
    return librosa.resample(signal, orig_sr=2, target_sr=1, res_type=RESAMPLE_TYPE, scale=True)


def centred_spectrum(signal: np.ndarray, n_fft: int, hop_length: int, n_frames: int) -> np.ndarray:
    """Rectangular-window STFT with centred frames and zero padding (librosa's ``center=True`` layout).

    Returns complex64 (n_frames, n_fft // 2 + 1).  Written here rather than calling
    :func:`librosa.stft` because the strided view + one :func:`scipy.fft.rfft` call skips librosa's
    windowing and block copies (measured ~1.5x faster per band) and handles signals shorter than
    ``n_fft`` without warnings.
    """
    half = n_fft // 2
    padded = np.pad(signal, (half, n_fft - half))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:n_frames]
    return scipy.fft.rfft(frames, axis=-1)


def magnitudes(plan: CQTPlan, audio: np.ndarray) -> np.ndarray:
    """|CQT| of every frequency of the plan.

    Parameters
    ----------
    plan : CQTPlan
        From :func:`build_plan`.
    audio : np.ndarray
        float32 (N,) waveform at ``plan.sr``.

    Returns
    -------
    np.ndarray
        float32 (C, F, T) magnitudes, channel c = grid c, T = ``plan.n_frames(N)``.
    """
    n_frames = plan.n_frames(audio.shape[-1])
    union = np.empty((plan.frequencies.size, n_frames), dtype=np.float32)
    signal, decimation = audio, 0
    for band in plan.bands:
        while decimation < band.decimation:
            signal, decimation = halve(signal), decimation + 1
        spectrum = centred_spectrum(signal, band.n_fft, band.hop_length, n_frames)
        union[band.rows] = np.abs(band.basis @ spectrum.T)
    return union[plan.channel_rows]


def check_nyquist(
    feature: str, sr: float, fmin: float, n_bins: int, bins_per_octave: int, harmonics: tuple[float, ...]
) -> None:
    """Raise :class:`ParameterError` naming the harmonic, its top bin (Hz) and ``sr`` when above Nyquist."""
    top_bin = fmin * 2.0 ** ((n_bins - 1) / bins_per_octave)
    for harmonic in harmonics:
        frequency = harmonic * top_bin
        cutoff = filter_cutoff_hz(frequency, bins_per_octave)
        if cutoff > sr / 2:
            raise ParameterError(
                f"{feature}: harmonic {harmonic:g} has its top bin at {frequency:.1f} Hz (filter cutoff "
                f"{cutoff:.1f} Hz), above the Nyquist frequency {sr / 2:g} Hz of sample rate {sr:g} Hz; "
                "lower fmin, n_octaves or the harmonics, or resample the audio"
            )
    if not math.isfinite(top_bin):
        raise ParameterError(f"{feature}: the top bin frequency is not finite")

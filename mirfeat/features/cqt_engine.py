"""One constant-Q transform over many log-frequency grids at once (the engine behind ``cqt``/``hcqt``).

The tutorial's HCQT calls :func:`librosa.cqt` once per harmonic: six full multi-rate
transforms, each running its own STFT per octave (36 STFTs for 6 harmonics × 6 octaves).
Here every bin of every grid is computed exactly where librosa computes it for its own grid
(:func:`librosa_schedule`: the same decimation level of the halved signal and the same STFT
size), and the bins of all grids that share a level and a size are served by one STFT and one
sparse product (harmonics 0.5/1/2 coincide, and 3/4/5 share each level's STFTs), so an HCQT costs
14 STFTs instead of 36 (see ``bench/bench_features.py``).

The filters, their FFT, sparsification, the √(sr/band_sr) compensation of the
energy-preserving decimation and the final 1/√length scaling are librosa's own
(:func:`librosa.filters.wavelet`, :func:`librosa.util.sparsify_rows`, soxr_hq
halving via :func:`librosa.resample`), so the result equals ``np.abs(librosa.cqt(...))``
per grid: measured on Bach10, GTZAN and noise, ≤ 3e-5 relative (Frobenius) in every harmonic
and octave.  The one difference left: librosa's early downsampling by 4 (the h = 0.5 grid) is
one soxr call, ours two halvings.  Computing a bin at another level than librosa's was the old
design and cost up to 3 % in the top octaves of h = 5, whose bins sit at 0.94 × Nyquist of their
level, in the decimation filter's transition band.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import librosa
import numpy as np
import scipy.fft
import scipy.sparse

from pyjama_tools.core.errors import ParameterError

WINDOW = "hann"
SPARSITY = 0.01  # librosa.cqt's default: drop the smallest 1 % of each filter's spectral mass
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


def librosa_schedule(fmin: float, n_bins: int, bins_per_octave: int, sr: float,
                     hop_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Where ``librosa.cqt`` computes each bin of a grid: its decimation level and its STFT size.

    librosa first downsamples early by ``2**e`` (e from the top filter's cutoff against Nyquist and
    from the factors of two of the hop), then computes the grid octave by octave from the top with
    one STFT per octave (size: the octave's longest filter at that rate, rounded up to a power of
    two), halving the signal after each octave while the hop stays even: octave i (from the top) is
    at level ``e + min(i, twos(hop) - e)``.

    Returns
    -------
    (levels, n_ffts)
        int64 (n_bins,) each: the signal is halved ``levels[b]`` times for bin b, whose STFT has
        ``n_ffts[b]`` points.
    """
    n_octaves = math.ceil(n_bins / bins_per_octave)
    n_filters = min(bins_per_octave, n_bins)
    frequencies = grid_frequencies(fmin, n_bins, bins_per_octave)
    twos = _two_factors(hop_length)
    by_cutoff = max(0, int(np.ceil(np.log2((sr / 2) / filter_cutoff_hz(frequencies[-1], bins_per_octave)))) - 1 - 1)
    early = min(by_cutoff, max(0, twos - n_octaves + 1))
    octave = (n_bins - 1 - np.arange(n_bins)) // n_filters
    levels = (early + np.minimum(octave, twos - early)).astype(np.int64)
    lengths, _ = librosa.filters.wavelet_lengths(
        freqs=frequencies, sr=sr, window=WINDOW, filter_scale=1, gamma=0, alpha=relative_bandwidth(bins_per_octave)
    )
    lengths = lengths / 2.0**levels  # at each bin's own rate
    n_ffts = np.empty(n_bins, dtype=np.int64)
    for i in np.unique(octave):
        members = octave == i
        n_ffts[members] = int(2.0 ** np.ceil(np.log2(lengths[members].max())))
    return levels, n_ffts


def _union(grids: tuple[np.ndarray, ...], groups: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (group, frequency) pairs of all grids (frequencies equal to 1e-9 relative merge),
    sorted by group then frequency, and each grid's rows in them.

    ``groups[c]`` is int64 (F_c, G): the group of each bin of grid c (e.g. its level and STFT size).
    Returns (frequencies (U,), groups (U, G), rows (C, F))."""
    keys = np.concatenate(groups).astype(np.float64)
    freqs = np.concatenate(grids)
    order = np.lexsort((freqs,) + tuple(keys[:, j] for j in reversed(range(keys.shape[1]))))
    same_group = np.all(np.diff(keys[order], axis=0) == 0, axis=1)
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = ~same_group | (np.diff(freqs[order]) > 1e-9 * freqs[order][1:])
    rows = np.empty(len(order), dtype=np.int64)
    rows[order] = np.cumsum(keep) - 1  # the union row of each bin
    sizes = np.cumsum([0] + [len(grid) for grid in grids])
    return (freqs[order][keep], keys[order][keep].astype(np.int64),
            np.stack([rows[a:b] for a, b in zip(sizes[:-1], sizes[1:])]))


@functools.lru_cache(maxsize=32)
def build_plan(
    sr: float, hop_length: int, grids: tuple[tuple[float, int], ...], bins_per_octave: int
) -> CQTPlan:
    """Design the bands and filters for some geometric grids (cached: a plan depends only on its arguments).

    Each bin is computed as ``librosa.cqt`` computes it for its own grid (:func:`librosa_schedule`):
    at the same decimation level, so that the decimation filters shape it as in the tutorial's
    per-harmonic recipe, and with the same STFT size, so that its filter is sparsified the same way.
    One band (one STFT) per distinct (level, size) serves the bins of every grid there.

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
    grid_freqs = tuple(grid_frequencies(fmin, n_bins, bins_per_octave) for fmin, n_bins in grids)
    top = max(freqs[-1] for freqs in grid_freqs)
    if filter_cutoff_hz(top, bins_per_octave) > sr / 2:
        raise ParameterError(
            f"CQT bin at {top:.1f} Hz has its filter cutoff above the Nyquist frequency {sr / 2:g} Hz"
        )
    schedules = tuple(np.stack(librosa_schedule(fmin, n_bins, bins_per_octave, sr, hop_length), axis=1)
                      for fmin, n_bins in grids)
    frequencies, groups, channel_rows = _union(grid_freqs, schedules)
    alpha = relative_bandwidth(bins_per_octave)
    bands = []
    for decimation, n_fft in np.unique(groups, axis=0):
        decimation, n_fft = int(decimation), int(n_fft)
        rows = np.flatnonzero((groups[:, 0] == decimation) & (groups[:, 1] == n_fft))  # increasing frequencies
        band_sr = sr / 2**decimation
        basis, lengths = librosa.filters.wavelet(
            freqs=frequencies[rows], sr=band_sr, window=WINDOW, filter_scale=1, pad_fft=True,
            norm=1, gamma=0, alpha=np.full(rows.size, alpha),
        )
        basis = librosa.util.pad_center(basis, size=n_fft, axis=-1)  # the octave's size (its longest filter)
        basis *= lengths[:, np.newaxis] / float(n_fft)
        spectra = np.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
        sparse = librosa.util.sparsify_rows(spectra, quantile=SPARSITY, dtype=np.complex64)
        scale = np.sqrt(sr / band_sr) / np.sqrt(lengths * 2.0**decimation)  # 1/sqrt(length at sr), librosa's scale
        sparse = scipy.sparse.csr_matrix(scipy.sparse.diags(scale.astype(np.float32)) @ sparse, dtype=np.complex64)
        bands.append(Band(decimation, hop_length // 2**decimation, n_fft, rows, sparse))
    return CQTPlan(float(sr), int(hop_length), frequencies, channel_rows, tuple(bands))


def halve(signal: np.ndarray) -> np.ndarray:
    """Decimate by two with soxr_hq, energy-preserving (librosa.cqt's own octave step)."""
    return librosa.resample(signal, orig_sr=2, target_sr=1, res_type=RESAMPLE_TYPE, scale=True)


@functools.lru_cache(maxsize=1)
def _halving_grid(points: int = 1 << 16) -> np.ndarray:
    """:func:`halve`'s frequency response on ``points + 1`` frequencies 0 ... 0.5 cycles/sample of its input."""
    size = 1 << 14  # longer than the filter (about 3,300 taps)
    taps = np.zeros(2 * points)  # tap k at index k mod 2·points (negative k wrap around)
    for shift in (0, 1):  # the even and odd taps: h[2m - p] from an impulse at p = size + shift
        impulse = np.zeros(2 * size)
        impulse[size + shift] = 1.0
        out = halve(impulse)
        taps[(2 * np.arange(out.size) - size - shift) % taps.size] = out
    # zero phase (soxr's linear-phase filter, delay compensated): the real part is the response
    return np.fft.rfft(taps).real


def halving_response(frequency: np.ndarray) -> np.ndarray:
    """Gain of one :func:`halve` (soxr_hq low-pass, √2 energy scaling included) at ``frequency``
    cycles/sample of its input (0 ... 0.5): flat √2 up to 0.23, then the transition band to 0 at 0.25.

    Measured from :func:`halve`'s own impulse response, so a frequency-domain decimation that
    multiplies by it shapes every frequency as the cascaded halvings of ``librosa.cqt`` do.
    """
    grid = _halving_grid()
    return np.interp(np.asarray(frequency, dtype=float), np.linspace(0.0, 0.5, grid.size), grid)


def centred_spectrum(signal: np.ndarray, n_fft: int, hop_length: int, n_frames: int) -> np.ndarray:
    """Rectangular-window STFT with centred frames and zero padding (librosa's ``center=True`` layout).

    Returns complex64 (n_fft // 2 + 1, n_frames), C-contiguous: the layout the sparse filter product
    reads fastest (measured 2× faster than the transpose of a frames-first STFT).  Written here rather
    than calling :func:`librosa.stft` because the strided view + one :func:`scipy.fft.rfft` call skips
    librosa's windowing and block copies (measured ~1.5x faster per band) and handles signals shorter
    than ``n_fft`` without warnings.
    """
    half = n_fft // 2
    padded = np.pad(signal, (half, n_fft - half))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:n_frames]
    return scipy.fft.rfft(frames.T, axis=0)


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
        union[band.rows] = np.abs(band.basis @ spectrum)
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

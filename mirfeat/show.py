"""Look inside a feature cache: a text summary (``mirfeat info``) and a figure (``mirfeat show``).

The figure draws one channel of one key's feature (time in seconds on x; frequency bins on y,
labelled in Hz) and overlays an annotation from a ``.pyjama`` field, chosen by the field's
``type_extent`` (a registry, one drawer per extent):

- ``breakpoint`` (e.g. Bach10 ``f0multi``): each row as points at its frequency;
- ``segment`` numeric (e.g. MAPS ``pitchmidi`` notes): a line per note at its frequency;
- ``segment`` text (e.g. RWC ``chord``): labelled bars in a strip under the feature;
- ``marker`` (e.g. beats): vertical lines, labelled in the strip;
- ``global`` (e.g. ``genre``, ``tag``): the values in the title.

Numeric pitch values are in Hz or MIDI as the field's name says (``pitch_hz``, ``pitch_contour``;
``pitchmidi``), else MIDI when every value is at most 150 (the published sets store f0 and notes
in MIDI) and Hz otherwise; 0 means silence and is not drawn.
Drawing uses matplotlib's Agg canvas directly (no screen, no pyplot global state).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from collections.abc import Callable

import librosa
import numpy as np

from mirfeat.cache import FeatureCache
from mirfeat.cache.journal import journal_dir
from mirfeat.features import FEATURES
from mirfeat.targets import pitch_unit_of
from pyjama_tools.core.atomic import atomic_path
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.core.registry import Registry

# ----------------------------------------------------------------------------- info


def cache_info(path: str | os.PathLike) -> dict[str, Any]:
    """Summary of a cache: feature, params, key count, shapes, size on disk, source.

    Returns
    -------
    dict with keys path, feature, params, params_hash, dtype, compression, mirfeat_version,
    source, keys, skipped, channels_bins (list of distinct (C, F)), frames (min, median, max),
    duration_sec (total), chunks (of the first key), size_bytes.
    """
    path = Path(path)
    if not path.exists() and journal_dir(path).exists():
        raise MirError(f"{path}: no such file (an unfinished build is in {journal_dir(path)}; "
                       f"rerun the same 'mirfeat cache' command to finish it)")
    cache = FeatureCache(path)
    try:
        keys = cache.keys()
        shapes = [cache.shape(key) for key in keys]
        frames = np.array([shape[2] for shape in shapes]) if shapes else np.zeros(0, dtype=int)
        duration = 0.0
        for key in keys:
            times = cache.time_sec(key)
            if times.shape[0] > 1:
                duration += float(times[-1] - times[0]) + float(times[1] - times[0])
        first_chunks = cache.chunks(keys[0]) if keys else None
        attrs = cache.attrs
        return {
            "path": str(path),
            "feature": cache.feature,
            "params": cache.params,
            "params_hash": cache.params_hash,
            "dtype": cache.dtype,
            "compression": attrs.get("compression", "none"),
            "mirfeat_version": attrs.get("mirfeat_version", "?"),
            "source": cache.source,
            "keys": len(keys),
            "skipped": cache.skipped,
            "channels_bins": sorted({shape[:2] for shape in shapes}),
            "frames": (int(frames.min()), int(np.median(frames)), int(frames.max())) if frames.size else None,
            "duration_sec": duration,
            "chunks": first_chunks,
            "size_bytes": path.stat().st_size,
        }
    finally:
        cache.close()


def format_info(info: dict[str, Any]) -> str:
    """The lines printed by ``mirfeat info``."""
    params = ", ".join(f"{k}={v}" for k, v in sorted(info["params"].items())) or "(none)"
    shapes = ", ".join(f"({c}, {f}, T)" for c, f in info["channels_bins"]) or "-"
    frames = "T min/median/max {} / {} / {}".format(*info["frames"]) if info["frames"] else "no keys"
    source = info["source"]
    lines = [
        f"cache        {info['path']}",
        f"feature      {info['feature']}  (params hash {info['params_hash']})",
        f"params       {params}",
        f"keys         {info['keys']} complete, {len(info['skipped'])} skipped",
        f"shapes       {shapes}; {frames}; {info['duration_sec'] / 3600:.2f} h in all",
        f"storage      {info['dtype']}, chunks {info['chunks']}, compression {info['compression']}, "
        f"{_human_size(info['size_bytes'])} on disk",
        f"source       {source.get('file', '?')} ({source.get('keys', '?')} keys, {_human_size(source.get('size', 0))})",
        f"version      mirfeat {info['mirfeat_version']}",
    ]
    for key, message in info["skipped"][:10]:
        lines.append(f"skipped      {key}: {message}")
    if len(info["skipped"]) > 10:
        lines.append(f"skipped      ... and {len(info['skipped']) - 10} more")
    return "\n".join(lines)


def _human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


# ----------------------------------------------------------------------------- figure


def _decibels(value: np.ndarray) -> np.ndarray:
    """Magnitude → dB relative to the maximum, floored at -80 dB."""
    peak = float(value.max()) if value.size else 0.0
    db = 20.0 * np.log10(np.maximum(value, 1e-10) / max(peak, 1e-10))
    return np.maximum(db, -80.0)


def _linear(value: np.ndarray) -> np.ndarray:
    """The values as stored."""
    return value


#: How values are shown, by a feature class's ``display`` attribute (``Feature.display``).
DISPLAYS: Registry[Callable[[np.ndarray], np.ndarray]] = Registry("display")
DISPLAYS.add("linear", _linear)
DISPLAYS.add("decibels", _decibels)


def display_of(feature: str) -> Callable[[np.ndarray], np.ndarray]:
    """How a cache of ``feature`` is drawn: its class's ``display`` (linear for a feature not registered,
    e.g. a Da-TACOS file's)."""
    feature_class = FEATURES.get(feature)
    return DISPLAYS.lookup(getattr(feature_class, "display", "linear"), where=f"feature {feature!r}: ")


class _Plot:
    """What an overlay drawer needs: the axes, the feature's frequency axis and the strip."""

    def __init__(self, axes, strip, frequency_hz: np.ndarray | None, title: list[str]):
        self.axes = axes
        self.strip = strip
        self.frequency_hz = frequency_hz
        self.title = title

    def rows(self, frequency_hz: np.ndarray) -> np.ndarray:
        """Fractional bin index of each frequency (NaN outside the axis), via log-frequency interpolation."""
        grid = np.log(np.maximum(self.frequency_hz, 1e-3))
        wanted = np.log(np.maximum(np.asarray(frequency_hz, dtype=float), 1e-3))
        rows = np.interp(wanted, grid, np.arange(grid.size, dtype=float), left=np.nan, right=np.nan)
        return rows


def _to_hz(values: np.ndarray, field: str = "") -> np.ndarray:
    """Pitch values → Hz; 0/negative → NaN.

    The unit comes from the field's name where it says it (``pitch_hz``, ``note_hz`` and JAMS
    ``pitch_contour`` are Hz; ``pitchmidi``, ``note_midi`` are MIDI), else from the values: MIDI
    numbers when all are <= 150, Hz otherwise (a bass f0 in Hz stays under 150 Hz, hence the
    name first).
    """
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, np.nan)
    voiced = np.isfinite(values) & (values > 0)
    if not voiced.any():
        return out
    if pitch_unit_of(field, values[voiced]) == "midi":  # the rule the pitch target uses
        out[voiced] = librosa.midi_to_hz(values[voiced])
    else:
        out[voiced] = values[voiced]
    return out


def _needs_frequency(plot: _Plot, field: str, extent: str) -> None:
    if plot.frequency_hz is None:
        raise MirError(f"field {field!r} ({extent}) needs a feature with a frequency axis")


def _draw_breakpoints(plot: _Plot, doc, key: str, field: str) -> None:
    _needs_frequency(plot, field, "breakpoint")
    time, value = doc.breakpoints(key, field)
    colours = ["#ffffff", "#00e5ff", "#ff4081", "#76ff03", "#ffea00", "#ff9100"]
    for row, series in enumerate(np.atleast_2d(value)):
        rows = plot.rows(_to_hz(series, field))
        plot.axes.plot(time, rows, ".", markersize=1.5, color=colours[row % len(colours)])


def _draw_segments(plot: _Plot, doc, key: str, field: str) -> None:
    time, duration, value = doc.segments(key, field)
    if doc.definition(field).type_content == "numeric":
        _needs_frequency(plot, field, "numeric segment")
        rows = plot.rows(_to_hz(value, field))
        plot.axes.hlines(rows, time, time + duration, colors="#ffffff", linewidth=1.5)
        return
    for start, length, label in zip(time, duration, value):
        plot.strip.broken_barh([(start, length)], (0, 1), facecolors="#9ecae1", edgecolors="#3182bd")
        plot.strip.text(start + length / 2, 0.5, str(label), ha="center", va="center", fontsize=7, clip_on=True)


def _draw_markers(plot: _Plot, doc, key: str, field: str) -> None:
    time, value = doc.markers(key, field)
    for when, label in zip(time, value):
        plot.axes.axvline(when, color="#ffffff", linewidth=0.8, alpha=0.8)
        plot.strip.axvline(when, color="#3182bd", linewidth=0.8)
        plot.strip.text(when, 0.5, str(label), ha="left", va="center", fontsize=7, clip_on=True)


def _draw_global(plot: _Plot, doc, key: str, field: str) -> None:
    values = doc.values(key, field)
    plot.title.append(f"{field}: {', '.join(str(v) for v in values) or '-'}")


#: Overlay drawer per ``type_extent``; ``uses_strip`` says whether it needs the strip under the feature.
OVERLAYS: dict[str, tuple[Callable, bool]] = {
    "breakpoint": (_draw_breakpoints, False),
    "breakpoint_value": (_draw_breakpoints, False),
    "segment": (_draw_segments, True),
    "marker": (_draw_markers, True),
    "global": (_draw_global, False),
}


def _time_span(time_sec: np.ndarray) -> tuple[float, float]:
    """Left and right edges in seconds of frames centred on ``time_sec`` (T,).

    ``imshow`` spreads T columns evenly over its extent, so the extent reaches half a frame
    beyond the first and last centres; the extent (first, last centre) put column j half a
    frame off ``time_sec[j]`` (drifting from +half a frame at the start to -half at the end).
    """
    if time_sec.size == 0:
        return 0.0, 1.0
    step = float(time_sec[1] - time_sec[0]) if time_sec.size > 1 else 1.0
    return float(time_sec[0]) - step / 2, float(time_sec[-1]) + step / 2


def _channel_harmonic(params: dict[str, Any], channel: int) -> float:
    """Harmonic h of ``channel`` (its bin f holds h × frequency_hz[f]); 1 for a feature without harmonics."""
    harmonics = params.get("harmonics")
    if isinstance(harmonics, list) and 0 <= channel < len(harmonics):
        return float(harmonics[channel])
    return 1.0


def _default_channel(params: dict[str, Any], channels: int) -> int:
    """The h = 1 channel of a harmonic feature, else 0."""
    harmonics = params.get("harmonics")
    if isinstance(harmonics, list) and 1.0 in [float(h) for h in harmonics]:
        index = [float(h) for h in harmonics].index(1.0)
        if index < channels:
            return index
    return 0


def draw_feature(cache_path: str | os.PathLike, key: str, output: str | os.PathLike,
                 pyjama: str | os.PathLike | None = None, field: str | None = None,
                 channel: int | None = None, width: float = 12.0, height: float = 5.0,
                 dpi: int = 100) -> Path:
    """Draw one key's feature, with a ``.pyjama`` field overlaid, into a PNG (written atomically).

    Parameters
    ----------
    cache_path : the feature cache
    key : the audio key
    output : the PNG to write; size is ``width × dpi`` by ``height × dpi`` pixels
    pyjama, field : the annotation document and the field to overlay (both or neither)
    channel : channel to draw (default: the h = 1 harmonic, else 0); its axis is h × frequency_hz
    width, height : inches; dpi : dots per inch

    Raises
    ------
    MirError
        Unknown key, unknown field, key missing from the document, a pitch field on a feature
        without a frequency axis, bad size, or an output folder that does not exist.
    """
    output = Path(output)
    if not output.parent.exists():
        raise MirError(f"{output.parent}: no such folder")
    figure = feature_figure(cache_path, key, pyjama, field, channel, width, height, dpi)
    with atomic_path(output) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return output


def feature_figure(cache_path: str | os.PathLike, key: str, pyjama: str | os.PathLike | None = None,
                   field: str | None = None, channel: int | None = None, width: float = 12.0,
                   height: float = 5.0, dpi: int = 100):
    """The matplotlib ``Figure`` drawn by :func:`draw_feature` (Agg canvas; for notebooks and tests).

    The feature axes are ``figure.axes[0]``: x in seconds, y in (fractional) frequency-bin
    index, so an overlay at frequency f lies at the bin whose centre frequency is f in the drawn
    channel (h × frequency_hz for channel h of a harmonic CQT: where that channel shows f's energy).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    for name, number in (("width", width), ("height", height), ("dpi", dpi)):
        if not np.isfinite(number) or number <= 0:
            raise ParameterError(f"{name}={number!r} is not allowed; expected a positive number")
    if width * dpi > 20000 or height * dpi > 20000:
        raise ParameterError(f"figure of {width * dpi:.0f} × {height * dpi:.0f} pixels is too large (max 20000 per side)")
    if (pyjama is None) != (field is None):
        raise MirError("--pyjama and --field go together (the document and the field to draw)")

    cache = FeatureCache(cache_path)
    try:
        value = cache.read(key)
        time_sec = cache.time_sec(key)
        frequency_hz = cache.frequency_hz(key)
        feature, params = cache.feature, cache.params
    finally:
        cache.close()
    channels = value.shape[0]
    if channel is None:
        channel = _default_channel(params, channels)
    if not 0 <= channel < channels:
        raise ParameterError(f"channel={channel} is not allowed; the feature has channels 0..{channels - 1}")
    # frequency_hz is the h = 1 grid; channel h of a harmonic CQT holds h × frequency_hz[f] in bin f, so
    # its own axis (tick labels, overlay rows) is h × frequency_hz: a pitch is drawn where that channel
    # shows its energy (it was drawn on the h = 1 grid: one octave off on the h = 0.5 channel)
    harmonic = _channel_harmonic(params, channel)
    if frequency_hz is not None:
        frequency_hz = frequency_hz * harmonic

    drawer, uses_strip = None, False
    doc = None
    if pyjama is not None:
        from pyjama_tools import pyjama as pyjama_module

        doc = pyjama_module.load(pyjama)
        try:
            definition = doc.definition(field)
            doc.index_of(key)
        except MirError as error:
            raise MirError(f"{pyjama}: {error}") from None
        extent = definition.type_extent
        if extent not in OVERLAYS:
            raise MirError(f"{pyjama}: field {field!r} has type_extent {extent!r}; can draw {', '.join(OVERLAYS)}")
        drawer, uses_strip = OVERLAYS[extent]

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    if uses_strip:
        axes, strip = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [5, 1]})
        strip.set_yticks([])
        strip.set_ylim(0, 1)
        strip.set_xlabel("time (s)")
    else:
        axes, strip = figure.subplots(1, 1), None
        axes.set_xlabel("time (s)")
    start, end = _time_span(time_sec)
    if value.shape[1] == 1:  # one value per frame (the waveform): a curve
        axes.plot(time_sec, value[channel, 0], linewidth=0.5)
        axes.set_ylabel("amplitude")
    else:
        image = display_of(feature)(value[channel])
        bins = image.shape[0]
        axes.imshow(image, origin="lower", aspect="auto", interpolation="nearest", cmap="magma",
                    extent=(start, end, -0.5, bins - 0.5))
        ticks = np.linspace(0, bins - 1, num=min(8, bins)).round().astype(int)
        axes.set_yticks(ticks)
        if frequency_hz is not None:
            axes.set_yticklabels([f"{frequency_hz[t]:.0f}" for t in ticks])
            axes.set_ylabel("frequency (Hz)")
        else:  # a binned feature without frequencies (e.g. Da-TACOS crema chroma written by the converter)
            axes.set_ylabel("bin")
        axes.set_ylim(-0.5, bins - 0.5)
    title = [f"{key} — {feature} (channel {channel}" + (f", h={harmonic:g})" if "harmonics" in params else ")")]
    if drawer is not None:
        drawer(_Plot(axes, strip, frequency_hz, title), doc, key, field)
    axes.set_xlim(start, end)
    axes.set_title("  |  ".join(title), fontsize=9)
    figure.tight_layout()
    return figure

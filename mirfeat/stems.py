"""Stem windows for source separation: the mixture and the same window of each stem.

A dataset pair written by ``pyjama-convert musdb18`` (or any converter giving one entry per track
and stem, linked by a ``track`` field, the stem named by a ``stem`` field) holds, per track, a
``mixture`` key and one key per stem. :func:`stem_tracks` groups them; :class:`StemWindowDataset`
cuts windows from them, reading only the window's samples from the audio store (lazily, the HDF5
file opened once per worker process), or from memory with ``in_memory``.

Items are dicts::

    X      (C, L) float32      the mixture window (C = 1 mono or 2 stereo, L samples)
           (C + S, L)           conditioned: followed by the one-hot source, constant over time
    y      (S, C, L) float32   the sources' windows, in ``sources`` order (conditioned: (1, C, L))
    key    str                 the track's mixture key
    start  int                 first sample of the window
    source int                 conditioned: index of the source in ``sources`` (else -1)

Training windows start at random samples (one per grid position of the track, so long tracks are
seen more often); with ``remix`` > 0, that fraction of examples is rebuilt from stems of random
tracks at random starts, summed into a new mixture (the notebook's shuffle buffer, across tracks).
Validation windows sit on the fixed grid ``0, hop, 2 hop, ...``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from collections.abc import Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from pyjama_tools.audio_store import AudioStore
from pyjama_tools.core.errors import MirError

__all__ = ["StemTrack", "stem_tracks", "StemWindowDataset", "MIXTURE"]

MIXTURE = "mixture"


@dataclass(frozen=True)
class StemTrack:
    """One track: its mixture key and the key of each stem (stem name → key)."""

    name: str
    mixture: str
    stems: dict


def stem_tracks(doc, audio_keys: set[str] | None, track_field: str = "track", stem_field: str = "stem"
                ) -> tuple[list[StemTrack], list[str]]:
    """Group the entries of a document into tracks.

    Parameters
    ----------
    doc : PyjamaDoc
    audio_keys : keys present in the audio store (None: every entry)
    track_field, stem_field : the global fields naming the track and the stem of each entry

    Returns
    -------
    tracks : list of StemTrack (document order), each with a mixture
    skipped : keys of entries left out (no audio, no track / stem value, or a track without mixture)
    """
    for name in (track_field, stem_field):
        if name not in doc.definitions:
            raise MirError(f"field {name!r} is not in the document (fields: {', '.join(doc.definitions)}); "
                           "separation needs one entry per track and stem")
    grouped: dict[str, dict[str, str]] = {}
    skipped = []
    for key in doc.keys():
        tracks, stems = doc.values(key, track_field), doc.values(key, stem_field)
        if (audio_keys is not None and key not in audio_keys) or len(tracks) != 1 or len(stems) != 1:
            skipped.append(key)
            continue
        grouped.setdefault(str(tracks[0]), {})[str(stems[0])] = key
    result = []
    for name, stems in grouped.items():
        if MIXTURE not in stems:
            skipped.extend(stems.values())
            continue
        result.append(StemTrack(name, stems[MIXTURE], {s: k for s, k in stems.items() if s != MIXTURE}))
    return result, skipped


class _StemStore(AudioStore):
    """The audio store, each key's dataset looked up once per process (the group lookup costs as
    much as reading a 1 s window); the lookups are dropped with the handle (:class:`LazyHDF5`).

    A window of a contiguous float32 waveform (how ``pyjama-convert`` writes audio) is read with one
    ``os.preadv`` per channel straight into its output: the h5py selection machinery costs more than
    the copy of a 1 s window (``bench/bench_separation.py``).
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._datasets: dict[str, h5py.Dataset] = {}
        self._offsets: dict[str, int | None] = {}
        self._fd: int | None = None
        self._fd_pid: int | None = None

    def _forget(self) -> None:
        if self._fd is not None and self._fd_pid != os.getpid():
            try:
                os.close(self._fd)  # the copy a forked worker inherited (the parent's stays open)
            except OSError:
                pass
        self._datasets, self._offsets, self._fd, self._fd_pid = {}, {}, None, None

    def _release(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
            self._fd = None

    def __getstate__(self) -> dict:  # h5py objects and descriptors do not cross processes
        return dict(super().__getstate__(), _datasets={}, _offsets={}, _fd=None, _fd_pid=None)

    def dataset(self, key: str) -> h5py.Dataset:
        """The h5py dataset of ``key`` in this process's handle."""
        _ = self.file  # reopens (and forgets the lookups) in a new process
        if key not in self._datasets:
            self._datasets[key] = self._dataset(key)
        return self._datasets[key]

    def _offset(self, key: str) -> int | None:
        """Byte offset of ``key``'s samples in the file when they are one contiguous float32 block."""
        if key not in self._offsets:
            dataset = self.dataset(key)
            offset = None
            if hasattr(os, "preadv") and dataset.chunks is None and dataset.dtype == np.float32 \
                    and dataset.compression is None and dataset.dtype.byteorder in ("=", "<"):
                offset = dataset.id.get_offset()
            if offset is not None and self._fd is None:
                self._fd, self._fd_pid = os.open(self.path, os.O_RDONLY), os.getpid()
            self._offsets[key] = offset
        return self._offsets[key]

    def read_window(self, key: str, start: int, out: np.ndarray) -> None:
        """Samples ``start:start + L`` of ``key`` into ``out`` (C, L) float32 (a mono key: C = 1)."""
        shape = self.dataset(key).shape  # first: a forked worker drops the parent's handle and lookups here
        offset = self._offset(key)
        length, total = out.shape[-1], shape[-1]
        if offset is not None and out.flags.c_contiguous and start + length <= total:
            rows = out.reshape(-1, length)
            if all(os.preadv(self._fd, [rows[c]], offset + (c * total + start) * 4) == rows[c].nbytes
                   for c in range(rows.shape[0])):
                return
        out[...] = _as_channels(np.asarray(self.dataset(key)[..., start:start + length], dtype=np.float32))


def _as_channels(audio: np.ndarray) -> np.ndarray:
    """(N,) → (1, N); (C, N) unchanged."""
    return audio[None, :] if audio.ndim == 1 else audio


class StemWindowDataset(Dataset):
    """Windows of the mixture and of each stem of tracks in an audio store.

    Parameters
    ----------
    audio_path : path of the ``*_audio.hdf5`` store
    tracks : the tracks (all with every stem of ``stems``)
    sources : the stems the network estimates, in output order
    stems : every stem of a track (summed into the mixture when remixing); default ``sources``
    window, hop : window length and grid hop, in samples
    train : random starts (and remixing) instead of the fixed grid
    remix : fraction of training examples remixed from stems of random tracks, in [0, 1]
    conditioned : one source per example, given as a one-hot after the mixture channels
    in_memory : read every track into memory once (else each window is read from the store)
    """

    def __init__(self, audio_path: str | os.PathLike, tracks: Sequence[StemTrack], sources: Sequence[str],
                 window: int, hop: int, train: bool = True, remix: float = 0.0, conditioned: bool = False,
                 stems: Sequence[str] | None = None, in_memory: bool = False):
        if not tracks:
            raise MirError(f"{audio_path}: no track to cut windows from")
        self.store = _StemStore(audio_path)
        self.tracks = list(tracks)
        self.sources = list(sources)
        self.stems = list(stems or sources)
        self.window, self.hop = int(window), int(hop)
        self.train, self.remix, self.conditioned = bool(train), float(remix), bool(conditioned)
        self.keys = [t.mixture for t in self.tracks]
        lengths, channels = [], set()
        for track in self.tracks:
            missing = [s for s in self.stems if s not in track.stems]
            if missing:
                raise MirError(f"{audio_path}: track {track.name!r} has no {missing[0]!r} stem")
            keys = [track.mixture] + [track.stems[s] for s in self.stems]
            shapes = [self.store.shape(k) for k in keys]
            channels.update(1 if len(s) == 1 else s[0] for s in shapes)
            lengths.append(min(s[-1] for s in shapes))  # decoded stems may differ by a few samples
        if len(channels) != 1:
            raise MirError(f"{audio_path}: tracks mix mono and stereo audio ({sorted(channels)} channels)")
        self.channels = channels.pop()
        self.rate = self.store.sample_rate(self.tracks[0].mixture)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        short = [t.name for t, n in zip(self.tracks, self.lengths) if n < self.window]
        if len(short) == len(self.tracks):
            raise MirError(f"{audio_path}: every track is shorter than the window ({self.window} samples)")
        # grid: (track index, start) of every window position
        grids = [np.arange(0, max(n - self.window + 1, 0), self.hop, dtype=np.int64) for n in self.lengths]
        self.index = np.concatenate([np.stack([np.full(len(g), i, dtype=np.int64), g], axis=1)
                                     for i, g in enumerate(grids)])
        self._arrays = None
        if in_memory:
            self._arrays = [{s: _as_channels(self.store.read(k)) for s, k in
                             [(MIXTURE, t.mixture)] + [(s, t.stems[s]) for s in self.stems]} for t in self.tracks]
            self.store.close()
        self.store.close()  # opened again lazily in each worker process

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one X: (C, L), conditioned (C + S, L)."""
        extra = len(self.sources) if self.conditioned else 0
        return (self.channels + extra, self.window)

    def __len__(self) -> int:
        return len(self.index) * (len(self.sources) if self.conditioned and not self.train else 1)

    def _read(self, track: int, stem: str, start: int, out: np.ndarray | None = None) -> np.ndarray:
        """The window ``start:start + window`` (C, window) of one stem of a track, into ``out`` when given."""
        out = np.empty((self.channels, self.window), dtype=np.float32) if out is None else out
        if self._arrays is not None:
            out[...] = self._arrays[track][stem][:, start:start + self.window]
        else:
            key = self.tracks[track].mixture if stem == MIXTURE else self.tracks[track].stems[stem]
            self.store.read_window(key, start, out)
        return out

    def _random_start(self, track: int) -> int:
        room = int(self.lengths[track]) - self.window
        return int(torch.randint(0, room + 1, ()).item()) if room > 0 else 0

    def __getitem__(self, item: int) -> dict:
        grid = len(self.index)
        position, source = (item % grid, item // grid) if self.conditioned and not self.train else (item, -1)
        track, start = (int(v) for v in self.index[position])
        if self.train:
            start = self._random_start(track)
        shape = (self.channels, self.window)
        if self.train and self.remix > 0 and float(torch.rand(())) < self.remix:
            parts = np.empty((len(self.stems), *shape), dtype=np.float32)
            for row, stem in enumerate(self.stems):  # each stem from a random track (long enough) at a random start
                other = int(torch.randint(0, len(self.tracks), ()).item())
                if self.lengths[other] < self.window:
                    other = track
                self._read(other, stem, self._random_start(other), parts[row])
            mixture = parts.sum(axis=0, dtype=np.float32)
            y = parts[[self.stems.index(s) for s in self.sources]]
            if self.conditioned:
                source = int(torch.randint(0, len(self.sources), ()).item()) if source < 0 else source
                y = y[source:source + 1]
        else:
            mixture = self._read(track, MIXTURE, start)
            wanted = self.sources
            if self.conditioned:  # only the stem asked for is read
                source = int(torch.randint(0, len(self.sources), ()).item()) if source < 0 else source
                wanted = self.sources[source:source + 1]
            y = np.empty((len(wanted), *shape), dtype=np.float32)
            for row, stem in enumerate(wanted):
                self._read(track, stem, start, y[row])
        x = mixture
        if self.conditioned:
            onehot = np.zeros((len(self.sources), self.window), dtype=np.float32)
            onehot[source] = 1.0
            x = np.concatenate([x, onehot])
        return {"X": torch.from_numpy(np.ascontiguousarray(x)), "y": torch.from_numpy(np.ascontiguousarray(y)),
                "key": self.tracks[track].mixture, "start": start, "source": source}

    def read_track(self, track: int) -> tuple[np.ndarray, np.ndarray]:
        """The whole mixture (C, N) and every stem of ``stems`` (len(stems), C, N) of one track."""
        n = int(self.lengths[track])
        mixture = self._whole(track, MIXTURE)[:, :n]
        return mixture, np.stack([self._whole(track, s)[:, :n] for s in self.stems])

    def _whole(self, track: int, stem: str) -> np.ndarray:
        if self._arrays is not None:
            return self._arrays[track][stem]
        key = self.tracks[track].mixture if stem == MIXTURE else self.tracks[track].stems[stem]
        return _as_channels(self.store.read(key))

"""Da-TACOS (cover song identification, feature-only) → a feature HDF5 in mirfeat's cache layout + .pyjama.

Layout read (as published)::

    da-tacos_<subset>_<feature>/W_<work>_<feature>/P_<perf>_<feature>.h5     deepdish/PyTables HDF5
    da-tacos_metadata/da-tacos_<subset>_metadata.json                       {W_id: {P_id: {work_title, ...}}}

``<subset>`` is e.g. ``benchmark_subset`` or ``coveranalysis_subset``. Each performance file has the root
attributes ``label`` (= W_id) and ``track_id`` (= P_id), checked against the folder names.

Output: ``BASE_<feature>_feat.hdf5`` in the layout of :mod:`mirfeat.cache` — one group per key holding
``value`` (1, 12, T) float32 (chunked along time) and ``time_sec`` (T,) float64; no ``frequency_hz`` (the
axis is pitch classes, not Hz); root attributes ``feature``, ``params`` (JSON), ``params_hash``, ``source``
(JSON), ``dtype``, ``compression``, ``mirfeat_version``, ``skipped``, ``complete`` (see
``mirfeat.cache_format``; this package does not import mirfeat); each group carries ``complete = True``.
The file is written under a temporary name and renamed when complete, so ``mirfeat.cache.FeatureCache``
reads it directly.

Frame rate (an assumption, documented): Da-TACOS features were computed with ``acoss``, which reports every
feature at a hop of 512 samples at 44.1 kHz; its crema (computed by the crema chord model at hop 4096) is
resampled to that grid by nearest-neighbour interpolation. So frame ``t`` is at ``t · 512 / 44100`` s
(≈ 11.6 ms; the real sample: 15,226 frames ↔ 176.8 s for a ~177 s recording).

Pitch classes: every stored feature has C in row 0 (C, C#, ..., B). crema and chroma_cens are published
that way; acoss computed ``hpcp`` with Essentia's HPCP, whose bins start at its reference frequency A
(440 Hz), so HPCP rows are rotated by 9 (row 0 = C). On the real fixture the rotated HPCP correlates 0.63
with the same performance's crema (0.04 unrotated).

Keys are ``W_<work>+++P_<perf>``. Fields: ``work-id``, ``performance-id``, ``subset`` and the metadata
of the JSON (``work_title``, ``work_artist``, ``perf_title``, ``perf_artist``, ``release_year``,
``instrumental``, ``perf_artist_mbid``; text, left out when empty).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import click
import h5py
import numpy as np

from pyjama_tools.atomic import atomic_path
from pyjama_tools.audio_store import KEY_SEPARATOR
from pyjama_tools.converters.base import Converter, ConverterOption, Item, Problem, register_converter
from pyjama_tools.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom

#: acoss's analysis grid (see the module docstring)
HOP_LENGTH = 512
SAMPLE_RATE = 44100
#: metadata keys copied to text fields (in this order)
METADATA_FIELDS = ("work_title", "work_artist", "perf_title", "perf_artist", "release_year", "instrumental",
                   "perf_artist_mbid")
#: frames of the value dataset per HDF5 chunk (a patch read touches few chunks)
CHUNK_FRAMES = 256


@dataclass(frozen=True)
class DaTacosFeature:
    """How to read one Da-TACOS feature.

    Attributes
    ----------
    dataset : name of the dataset inside each performance file
    frames_last : True when the array is (bins, T), False when (T, bins)
    bins : number of bins expected
    first_pitch_class : pitch class of the published row 0, in semitones above C (9 = A); rows are
        rotated so that row 0 of the output is C
    """

    dataset: str
    frames_last: bool
    bins: int
    first_pitch_class: int = 0

    def read(self, handle: h5py.File) -> np.ndarray:
        """The feature as float32 (1, bins, T); raises ValueError naming what is wrong."""
        if self.dataset not in handle or not isinstance(handle[self.dataset], h5py.Dataset):
            raise ValueError(f"no dataset {self.dataset!r}")
        array = np.asarray(handle[self.dataset][()], dtype=np.float32)
        if array.ndim != 2:
            raise ValueError(f"dataset {self.dataset!r} has shape {array.shape}, expected 2 dimensions")
        if not self.frames_last:
            array = array.T
        if array.shape[0] != self.bins or array.shape[1] == 0:
            raise ValueError(f"dataset {self.dataset!r} has shape {array.shape}, "
                             f"expected {self.bins} bins and at least one frame")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"dataset {self.dataset!r} holds NaN or inf")
        if self.first_pitch_class:
            array = np.roll(array, self.first_pitch_class, axis=0)  # output row p = published row p - first
        return array[None]


#: features that can be converted, by the name used in the folder names
FEATURES: dict[str, DaTacosFeature] = {
    "crema": DaTacosFeature("crema", frames_last=True, bins=12),
    "cens": DaTacosFeature("chroma_cens", frames_last=False, bins=12),
    "hpcp": DaTacosFeature("hpcp", frames_last=False, bins=12, first_pitch_class=9),  # Essentia: row 0 = A
}

_FOLDER = re.compile(r"^da-tacos_(?P<subset>.+)_(?P<feature>[a-z0-9]+)$")


def feature_params(feature: str) -> dict[str, Any]:
    """The ``params`` root attribute of the payload (JSON-able)."""
    spec = FEATURES[feature]
    return {"corpus": "da-tacos", "dataset": spec.dataset, "n_bins": spec.bins, "first_bin": "C",
            "rotated_semitones": spec.first_pitch_class, "hop_length": HOP_LENGTH, "sample_rate": SAMPLE_RATE}


def params_hash(params: dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the canonical JSON (the same rule as mirfeat's feature params)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mir101")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _text(value: Any) -> str:
    """An HDF5 attribute (bytes, numpy scalar or array, str) as text."""
    if isinstance(value, np.ndarray):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@register_converter
class DaTacosConverter(Converter):
    """SRC holds ``da-tacos_<subset>_<feature>/`` folders and ``da-tacos_metadata/``; keys ``W_x+++P_y``."""

    name = "da-tacos"
    default_base = "da-tacos"
    summary = "Da-TACOS (feature-only) → BASE_<feature>_feat.hdf5 (mirfeat cache layout) + work-id/performance-id"
    has_audio = False
    options = (
        ConverterOption("subset", "subset to convert, e.g. benchmark or coveranalysis [default: every subset found]"),
        ConverterOption("feature", "feature to store", type=click.Choice(sorted(FEATURES)), default="crema"),
    )

    def __init__(self, source, **options: Any):
        super().__init__(source, **options)
        if self.option("feature") not in FEATURES:
            raise MirError(f"--feature {self.option('feature')!r}: not one of {', '.join(sorted(FEATURES))}")
        #: key → performance file, filled by items() and read by write_payload()
        self._files: dict[str, Path] = {}

    @property
    def feature(self) -> str:
        return self.option("feature")

    def payload_name(self, base: str) -> str:
        return f"{base}_{self.feature}_feat.hdf5"

    # ---- reading the corpus
    def _subset_folders(self) -> dict[str, Path]:
        """Subset name → its folder for the chosen feature."""
        folders = {}
        for folder in sorted(self.source.iterdir()):
            match = _FOLDER.match(folder.name)
            if folder.is_dir() and match and match["feature"] == self.feature:
                folders[match["subset"]] = folder
        wanted = self.option("subset")
        if wanted is not None:
            names = [wanted, f"{wanted}_subset"]
            chosen = {s: f for s, f in folders.items() if s in names}
            if not chosen:
                raise MirError(f"{self.source}: no subset {wanted!r} for feature {self.feature!r} "
                               f"(found: {', '.join(folders) or 'none'})")
            return chosen
        if not folders:
            raise MirError(f"{self.source}: no da-tacos_<subset>_{self.feature}/ folder")
        return folders

    def _metadata(self, subset: str) -> tuple[dict[str, Any] | None, Problem | None]:
        path = self.source / "da-tacos_metadata" / f"da-tacos_{subset}_metadata.json"
        if not path.exists():
            return None, None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            return None, Problem(str(path), f"cannot read ({error}); metadata left out")
        except json.JSONDecodeError as error:
            return None, Problem(str(path), f"malformed JSON at line {error.lineno}, column {error.colno}: "
                                            f"{error.msg}; metadata left out")
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            return None, Problem(str(path), "not an object {W_id: {P_id: {...}}}; metadata left out")
        return data, None

    def _check_ids(self, path: Path, work: str, perf: str) -> str | None:
        """None when the file opens and its root attributes agree with the folder names, else the problem."""
        try:
            with h5py.File(path, "r") as handle:
                label, track = handle.attrs.get("label"), handle.attrs.get("track_id")
        except OSError as error:
            return f"not a readable HDF5 file ({error})"
        if label is not None and _text(label) != work:
            return f"root attribute label={_text(label)!r} disagrees with the folder {work!r}"
        if track is not None and _text(track) != perf:
            return f"root attribute track_id={_text(track)!r} disagrees with the file name {perf!r}"
        return None

    def items(self) -> Iterator[Item | Problem]:
        suffix = f"_{self.feature}"
        for subset, folder in self._subset_folders().items():
            metadata, problem = self._metadata(subset)
            if problem is not None:
                yield problem
            for work_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
                work = work_folder.name[: -len(suffix)] if work_folder.name.endswith(suffix) else None
                if work is None or not work.startswith("W_"):
                    yield Problem(str(work_folder), f"not a W_<work>{suffix} folder (skipped)")
                    continue
                for path in sorted(work_folder.iterdir()):
                    stem = path.name[: -len(f"{suffix}.h5")] if path.name.endswith(f"{suffix}.h5") else None
                    if stem is None or not stem.startswith("P_"):
                        yield Problem(str(path), f"not a P_<perf>{suffix}.h5 file (skipped)")
                        continue
                    wrong = self._check_ids(path, work, stem)
                    if wrong:
                        yield Problem(str(path), wrong)
                        continue
                    key = KEY_SEPARATOR.join((work, stem))
                    annotations = {"work-id": [atom(work)], "performance-id": [atom(stem)], "subset": [atom(subset)]}
                    if metadata is not None:
                        record = metadata.get(work, {}).get(stem)
                        if not isinstance(record, dict):
                            yield Problem(str(path), f"{work}/{stem} not in the {subset} metadata (ids kept)")
                        else:
                            for name in METADATA_FIELDS:
                                value = record.get(name)
                                if value not in (None, ""):
                                    annotations[name] = [atom(str(value))]
                    self._files.setdefault(key, path)
                    yield Item(key, None, annotations)

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        subsets = sorted({i.annotations["subset"][0]["value"] for i in items})
        definitions = {
            "work-id": FieldDefinition("global", "text", "free"),
            "performance-id": FieldDefinition("global", "text", "free"),
            "subset": FieldDefinition("global", "text", "value_in_dictionary", subsets),
        }
        for name in METADATA_FIELDS:
            if any(name in i.annotations for i in items):
                definitions[name] = FieldDefinition("global", "text", "free")
        return definitions

    # ---- writing the feature file
    def write_payload(self, items: list[Item], path: Path, jobs: int, progress: bool) -> list[Problem]:
        """Write every item's feature to ``path`` (mirfeat cache layout), atomically.

        Reading is sequential: the files are small and h5py serialises access anyway, so ``jobs`` is unused.

        Returns
        -------
        list of Problem
            One per unreadable or malformed performance file, ``where`` = its key (left out of the file).
        """
        from tqdm import tqdm

        spec = FEATURES[self.feature]
        params = feature_params(self.feature)
        problems: list[Problem] = []
        frame_period = HOP_LENGTH / SAMPLE_RATE
        layout = hashlib.sha1()
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as out:
            for item in tqdm(items, disable=not progress, unit="file", desc=self.feature):
                file = self._files[item.key]
                try:
                    with h5py.File(file, "r") as handle:
                        value = spec.read(handle)
                except (OSError, ValueError) as error:
                    problems.append(Problem(item.key, f"{file}: {error}"))
                    continue
                group = out.create_group(item.key)
                group.create_dataset("value", data=value,
                                     chunks=(1, value.shape[1], min(CHUNK_FRAMES, value.shape[2])))
                group.create_dataset("time_sec", data=np.arange(value.shape[2]) * frame_period)
                group.attrs["complete"] = True  # written last, as mirfeat.cache does
                layout.update(f"{item.key}\t{value.shape}\n".encode())
            # root attributes of mirfeat's cache layout (see mirfeat.cache_format)
            out.attrs["feature"] = self.feature
            out.attrs["params"] = json.dumps(params, sort_keys=True)
            out.attrs["params_hash"] = params_hash(params)
            out.attrs["source"] = json.dumps({"file": self.source.name, "corpus": "da-tacos",
                                              "keys": len(items) - len(problems),
                                              "layout_sha1": layout.hexdigest()}, sort_keys=True)
            out.attrs["dtype"] = "float32"
            out.attrs["compression"] = "none"
            out.attrs["mirfeat_version"] = _version()
            out.attrs["skipped"] = json.dumps([[p.where, p.message] for p in problems])
            out.attrs["complete"] = True
        return problems

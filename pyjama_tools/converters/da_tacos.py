"""Da-TACOS (cover song identification, feature-only) → a feature HDF5 in mirfeat's cache layout + .pyjama.

Layout read (as published)::

    da-tacos_<subset>_<feature>/W_<work>_<feature>/P_<perf>_<feature>.h5     deepdish/PyTables HDF5
    da-tacos_metadata/da-tacos_<subset>_metadata.json                       {W_id: {P_id: {work_title, ...}}}

``<subset>`` is e.g. ``benchmark_subset`` or ``coveranalysis_subset``. Each performance file has the root
attributes ``label`` (= W_id) and ``track_id`` (= P_id), checked against the folder names.

Output: ``BASE_<feature>_feat.hdf5`` for each frame feature written (``--feature NAME``, default crema;
``--feature all``: every frame feature whose folder is in SRC for the subsets read), in the layout of
:mod:`mirfeat.cache` — one group per key holding
``value`` (1, bins, T) float32 (chunked along time) and ``time_sec`` (T,) float64; no ``frequency_hz`` (the
axis is pitch classes, MFCC coefficients or one novelty curve, not Hz); root attributes ``feature``, ``params``
(JSON), ``params_hash``, ``source`` (JSON), ``dtype``, ``compression``, ``mirfeat_version``, ``skipped``,
``complete``, written by :mod:`pyjama_tools.feature_file` (the one definition of the layout, which
mirfeat reads); each group carries ``complete = True``. Each file is written under a temporary name and
renamed when complete, so ``mirfeat.cache.FeatureCache`` reads it directly. The performances are those
of the first feature written (:data:`FEATURES` order); another feature's file missing for one of them is
reported and left out of that feature's file only.

Frame features (:data:`FEATURES`): ``crema`` (12, from ``crema``), ``cens`` (12, ``chroma_cens``), ``hpcp``
(12, ``hpcp``), ``mfcc`` (13, ``mfcc_htk``), ``novfn`` and ``snovfn`` (1, madmom's novelty curves in the
``madmom`` files). The real sample's MFCC is NaN or -inf in every coefficient over its last 127 frames (the
log of digital silence): non-finite MFCC values are stored as 0 and counted in the group attribute
``nonfinite`` (any other feature holding NaN/inf is refused). The ``key``, ``tags`` and ``madmom`` folders,
when present, also give the fields ``key`` (Essentia's key extractor: ``"C:major"``, confidence = its
strength), ``tag`` (the 50 tags with their probability as confidence), ``tempo`` (madmom's tempo candidates
in bpm, confidence = their strength) and ``onset`` (marker; value = madmom's integer onset frame, time =
frame · 512 / 44100 s). The onset grid is inferred, not documented: on the real sample the frames run up to
15,226 (the chroma has 15,227) and their median interval on that grid is 0.430 s = 139.7 bpm, madmom's
strongest tempo there being 139.5 bpm.

Frame rate (an assumption, documented): Da-TACOS features were computed with ``acoss``, which reports every
feature at a hop of 512 samples at 44.1 kHz; its crema (computed by the crema chord model at hop 4096) is
resampled to that grid by nearest-neighbour interpolation. So frame ``t`` is at ``t · 512 / 44100`` s
(≈ 11.6 ms; the real sample: 15,226 frames ↔ 176.8 s for a ~177 s recording). The same grid is assumed
for mfcc, novfn and snovfn (acoss's hop; the real sample's MFCC has 44 frames fewer than its chroma).

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
from collections.abc import Sequence
from typing import Any
from collections.abc import Iterator

import click
import h5py
import numpy as np

from pyjama_tools.core.atomic import atomic_path
from pyjama_tools.audio_store import KEY_SEPARATOR
from pyjama_tools.converters.base import Converter, ConverterOption, Item, Problem, register_converter
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.textfile import parse_json
from pyjama_tools.core.hdf5 import open_hdf5
from pyjama_tools.feature_file import write_key, write_root_attrs
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
    folder : the feature part of the folder names (``da-tacos_<subset>_<folder>``)
    dataset : path of the dataset inside each performance file
    frames_last : True when the array is (bins, T), False when (T, bins); ignored for a 1-D curve
    bins : number of bins expected (1 for a 1-D curve, stored as one row)
    first_pitch_class : chroma only: pitch class of the published row 0, in semitones above C (9 = A);
        rows are rotated so that row 0 of the output is C. None for features that are not chroma.
    """

    folder: str
    dataset: str
    frames_last: bool
    bins: int
    first_pitch_class: int | None = None
    #: value stored for NaN / inf (None: such a file is refused)
    nonfinite_as: float | None = None

    def count_nonfinite(self, handle: h5py.File) -> int:
        """How many NaN / inf values the published dataset holds (0 when it is absent)."""
        if self.dataset not in handle or not isinstance(handle[self.dataset], h5py.Dataset):
            return 0
        return int(np.count_nonzero(~np.isfinite(np.asarray(handle[self.dataset][()], dtype=np.float32))))

    def read(self, handle: h5py.File) -> np.ndarray:
        """The feature as float32 (1, bins, T); raises ValueError naming what is wrong."""
        if self.dataset not in handle or not isinstance(handle[self.dataset], h5py.Dataset):
            raise ValueError(f"no dataset {self.dataset!r}")
        array = np.asarray(handle[self.dataset][()], dtype=np.float32)
        if array.ndim == 1 and self.bins == 1:
            array = array[None] if self.frames_last else array[:, None]
        if array.ndim != 2:
            raise ValueError(f"dataset {self.dataset!r} has shape {array.shape}, expected 2 dimensions")
        if not self.frames_last:
            array = array.T
        if array.shape[0] != self.bins or array.shape[1] == 0:
            raise ValueError(f"dataset {self.dataset!r} has shape {array.shape}, "
                             f"expected {self.bins} bins and at least one frame")
        if self.nonfinite_as is None and not np.all(np.isfinite(array)):
            raise ValueError(f"dataset {self.dataset!r} holds NaN or inf")
        array = np.where(np.isfinite(array), array, np.float32(self.nonfinite_as or 0))
        if self.first_pitch_class:
            array = np.roll(array, self.first_pitch_class, axis=0)  # output row p = published row p - first
        return array[None]


#: frame features that can be written, by name (``--feature``), in the order ``--feature all`` writes them
FEATURES: dict[str, DaTacosFeature] = {
    "crema": DaTacosFeature("crema", "crema", frames_last=True, bins=12, first_pitch_class=0),
    "cens": DaTacosFeature("cens", "chroma_cens", frames_last=False, bins=12, first_pitch_class=0),
    "hpcp": DaTacosFeature("hpcp", "hpcp", frames_last=False, bins=12, first_pitch_class=9),  # Essentia: row 0 = A
    "mfcc": DaTacosFeature("mfcc", "mfcc_htk", frames_last=True, bins=13, nonfinite_as=0.0),
    "novfn": DaTacosFeature("madmom", "madmom_features/novfn", frames_last=True, bins=1),
    "snovfn": DaTacosFeature("madmom", "madmom_features/snovfn", frames_last=True, bins=1),
}
ALL = "all"


def _reason(error: Exception, path: Path) -> str:
    """The message of ``error`` without its leading ``<path>: `` (a Problem names the file itself)."""
    return str(error).removeprefix(f"{path}: ")


def _attr_text(group: h5py.Group, name: str) -> str:
    if name not in group.attrs:
        raise ValueError(f"{group.name} has no attribute {name!r}")
    return _text(group.attrs[name])


def read_key(handle: h5py.File) -> list[dict[str, Any]]:
    """``key`` atoms of a key file: ``"<tonic>:<scale>"`` with the extractor's strength as confidence."""
    if "key_extractor" not in handle:
        raise ValueError("no group 'key_extractor'")
    group = handle["key_extractor"]
    strength = float(_attr_text(group, "strength")) if "strength" in group.attrs else None
    return [atom(f"{_attr_text(group, 'key')}:{_attr_text(group, 'scale')}", confidence=strength)]


def read_tags(handle: h5py.File) -> list[dict[str, Any]]:
    """``tag`` atoms of a tags file (deepdish list of (tag, probability) tuples ``tags/i0``, ``tags/i1``, ...)."""
    if "tags" not in handle:
        raise ValueError("no group 'tags'")
    groups = sorted(handle["tags"].keys(), key=lambda k: int(k[1:]) if k[1:].isdigit() else -1)
    atoms = []
    for name in groups:
        pair = handle["tags"][name]
        atoms.append(atom(_attr_text(pair, "i0"), confidence=float(_attr_text(pair, "i1"))))
    return atoms


def read_tempo(handle: h5py.File) -> list[dict[str, Any]]:
    """``tempo`` atoms of a madmom file: each (bpm, strength) row of ``madmom_features/tempos``."""
    if "madmom_features/tempos" not in handle:
        raise ValueError("no dataset 'madmom_features/tempos'")
    tempos = np.asarray(handle["madmom_features/tempos"][()], dtype=float)
    if tempos.ndim != 2 or tempos.shape[1] != 2 or not np.all(np.isfinite(tempos)):
        raise ValueError(f"madmom_features/tempos has shape {tempos.shape}, expected (n, 2) finite (bpm, strength)")
    return [atom(float(bpm), confidence=float(strength)) for bpm, strength in tempos]


def read_onsets(handle: h5py.File) -> list[dict[str, Any]]:
    """``onset`` marker atoms of a madmom file: value = onset frame, time = frame · hop / rate (s)."""
    if "madmom_features/onsets" not in handle:
        raise ValueError("no dataset 'madmom_features/onsets'")
    frames = np.asarray(handle["madmom_features/onsets"][()])
    if frames.ndim != 1 or not np.issubdtype(frames.dtype, np.integer) or (frames < 0).any():
        raise ValueError(f"madmom_features/onsets ({frames.dtype}, shape {frames.shape}) is not a list of frames >= 0")
    return [atom(int(f), time=int(f) * HOP_LENGTH / SAMPLE_RATE) for f in frames]


#: annotation fields read from feature folders: field → (folder, reader, extent, type_content)
FIELD_FEATURES: dict[str, tuple[str, Any, str, str]] = {
    "key": ("key", read_key, "global", "text"),
    "tag": ("tags", read_tags, "global", "text"),
    "tempo": ("madmom", read_tempo, "global", "numeric"),
    "onset": ("madmom", read_onsets, "marker", "numeric"),
}

_FOLDER = re.compile(r"^da-tacos_(?P<subset>.+)_(?P<feature>[a-z0-9]+)$")


def feature_params(feature: str) -> dict[str, Any]:
    """The ``params`` root attribute of the payload (JSON-able)."""
    spec = FEATURES[feature]
    params = {"corpus": "da-tacos", "dataset": spec.dataset, "n_bins": spec.bins, "hop_length": HOP_LENGTH,
              "sample_rate": SAMPLE_RATE}
    if spec.first_pitch_class is not None:
        params.update(first_bin="C", rotated_semitones=spec.first_pitch_class)
    return params


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
    summary = ("Da-TACOS (feature-only) → BASE_<feature>_feat.hdf5 (mirfeat cache layout; --feature all: every "
               "feature) + work-id/performance-id, key, tag, tempo")
    has_audio = False
    options = (
        ConverterOption("subset", "subset to convert, e.g. benchmark or coveranalysis [default: every subset found]"),
        ConverterOption("feature", "frame feature to store, or all of those found (one file each)",
                        type=click.Choice([*FEATURES, ALL]), default="crema"),
    )

    def __init__(self, source, **options: Any):
        super().__init__(source, **options)
        if self.option("feature") not in (*FEATURES, ALL):
            raise MirError(f"--feature {self.option('feature')!r}: not one of {', '.join([*FEATURES, ALL])}")
        #: feature → key → performance file, filled by items() and read by write_payload()
        self._files: dict[str, dict[str, Path]] = {}
        self._features: list[str] | None = None
        self._base = self.default_base

    @property
    def features(self) -> list[str]:
        """The frame features written, the first one giving the performances (and the payload's name)."""
        if self._features is None:
            wanted = self.option("feature")
            if wanted != ALL:
                self._features = [wanted]
            else:
                folders = {folder for _, folder in self._subset_folders_of(None)}
                found = [name for name, spec in FEATURES.items() if spec.folder in folders]
                if not found:
                    raise MirError(f"{self.source}: no da-tacos_<subset>_<feature>/ folder of any of "
                                   f"{', '.join(FEATURES)}")
                self._features = found
        return self._features

    @property
    def feature(self) -> str:
        return self.features[0]

    def payload_name(self, base: str) -> str:
        self._base = base
        return f"{base}_{self.feature}_feat.hdf5"

    def extra_payload_names(self, base: str) -> list[str]:
        """The files of the features after the first (``--feature all``)."""
        return [f"{base}_{feature}_feat.hdf5" for feature in self.features[1:]]

    # ---- reading the corpus
    def _subset_folders_of(self, folder_name: str | None) -> list[tuple[str, str]]:
        """(subset, feature folder name) of every ``da-tacos_<subset>_<folder>`` in SRC (any folder when None)."""
        found = []
        for folder in sorted(self.source.iterdir()):
            match = _FOLDER.match(folder.name)
            if folder.is_dir() and match and match["feature"] != "metadata" \
                    and folder_name in (None, match["feature"]):
                found.append((match["subset"], match["feature"]))
        wanted = self.option("subset")
        if wanted is not None:
            found = [(s, f) for s, f in found if s in (wanted, f"{wanted}_subset")]
        return found

    def _subset_folders(self) -> dict[str, Path]:
        """Subset name → its folder for the first feature."""
        folder_name = FEATURES[self.feature].folder
        folders = {subset: self.source / f"da-tacos_{subset}_{folder_name}"
                   for subset, _ in self._subset_folders_of(folder_name)}
        if not folders:
            wanted = self.option("subset")
            if wanted is not None:
                every = sorted(m["subset"] for f in self.source.iterdir()
                               if (m := _FOLDER.match(f.name)) and m["feature"] == folder_name)
                raise MirError(f"{self.source}: no subset {wanted!r} for feature {self.feature!r} "
                               f"(found: {', '.join(every) or 'none'})")
            raise MirError(f"{self.source}: no da-tacos_<subset>_{folder_name}/ folder")
        return folders

    def _metadata(self, subset: str) -> tuple[dict[str, Any] | None, Problem | None]:
        path = self.source / "da-tacos_metadata" / f"da-tacos_{subset}_metadata.json"
        if not path.exists():
            return None, None
        try:
            data = parse_json(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            return None, Problem(str(path), f"cannot read ({error}); metadata left out")
        except MirError as error:
            return None, Problem(str(path), f"{error}; metadata left out")
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            return None, Problem(str(path), "not an object {W_id: {P_id: {...}}}; metadata left out")
        return data, None

    def _check_ids(self, path: Path, work: str, perf: str) -> str | None:
        """None when the file opens and its root attributes agree with the folder names, else the problem."""
        try:
            with open_hdf5(path) as handle:
                label, track = handle.attrs.get("label"), handle.attrs.get("track_id")
        except MirError as error:
            return _reason(error, path)
        except OSError as error:
            return f"not a readable HDF5 file ({error})"
        if label is not None and _text(label) != work:
            return f"root attribute label={_text(label)!r} disagrees with the folder {work!r}"
        if track is not None and _text(track) != perf:
            return f"root attribute track_id={_text(track)!r} disagrees with the file name {perf!r}"
        return None

    def _performance_file(self, subset: str, folder: str, work: str, perf: str) -> Path:
        return self.source / f"da-tacos_{subset}_{folder}" / f"{work}_{folder}" / f"{perf}_{folder}.h5"

    def _other_features(self, subset: str, work: str, perf: str, key: str) -> Iterator[Problem]:
        """Record the files of the features after the first; a Problem for each one missing."""
        for feature in self.features[1:]:
            path = self._performance_file(subset, FEATURES[feature].folder, work, perf)
            if path.is_file():
                self._files.setdefault(feature, {})[key] = path
            else:
                yield Problem(str(path), f"no {feature} file for {key} (left out of the {feature} file only)")

    def _fields(self, subset: str, work: str, perf: str) -> Iterator[tuple[str, list[dict[str, Any]]] | Problem]:
        """The ``key``, ``tag`` and ``tempo`` fields from their folders, when the subset has them."""
        for field_name, (folder, reader, _, _) in FIELD_FEATURES.items():
            if not (self.source / f"da-tacos_{subset}_{folder}").is_dir():
                continue
            path = self._performance_file(subset, folder, work, perf)
            if not path.is_file():
                yield Problem(str(path), f"no {folder} file ({field_name} left out)")
                continue
            try:
                with open_hdf5(path) as handle:
                    yield field_name, reader(handle)
            except (MirError, OSError, ValueError) as error:
                yield Problem(str(path), f"{_reason(error, path)} ({field_name} left out)")

    def items(self) -> Iterator[Item | Problem]:
        folder_name = FEATURES[self.feature].folder
        suffix = f"_{folder_name}"
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
                    if key in self._files.get(self.feature, {}):
                        yield Item(key, None, {})  # the runner reports the duplicate key
                        continue
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
                    for result in self._fields(subset, work, stem):
                        if isinstance(result, Problem):
                            yield result
                        else:
                            annotations[result[0]] = result[1]
                    self._files.setdefault(self.feature, {})[key] = path
                    yield from self._other_features(subset, work, stem, key)
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
        for name, (_, _, extent, content) in FIELD_FEATURES.items():
            if any(name in i.annotations for i in items):
                definitions[name] = FieldDefinition(extent, content, "free")
        return definitions

    # ---- writing the feature files
    def write_payload(self, items: list[Item], path: Path, jobs: int, progress: bool,
                      extra_paths: Sequence[Path] = ()) -> list[Problem]:
        """Write every item's features: the first feature to ``path``, each other one to its path of
        ``extra_paths`` (in the order of :meth:`extra_payload_names`).

        Reading is sequential: the files are small and h5py serialises access anyway, so ``jobs`` is unused.

        Returns
        -------
        list of Problem
            One per unreadable or malformed performance file: ``where`` = its key for the first feature
            (the entry is left out of the dataset), the file's path for the others (left out of that
            feature's file only).
        """
        problems = self._write_feature(self.feature, items, path, progress, first=True)
        for feature, extra_path in zip(self.features[1:], extra_paths, strict=True):
            problems += self._write_feature(feature, items, Path(extra_path), progress, first=False)
        return problems

    def _write_feature(self, feature: str, items: list[Item], path: Path, progress: bool,
                       first: bool) -> list[Problem]:
        """Write one feature file (:mod:`pyjama_tools.feature_file` layout), atomically."""
        from tqdm import tqdm

        spec = FEATURES[feature]
        params = feature_params(feature)
        files = self._files.get(feature, {})
        problems: list[Problem] = []
        skipped: list[Problem] = []
        frame_period = HOP_LENGTH / SAMPLE_RATE
        layout = hashlib.sha1()
        written = 0
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as out:
            for item in tqdm(items, disable=not progress, unit="file", desc=feature):
                if item.key not in files:
                    continue  # reported by items()
                file = files[item.key]
                try:
                    with open_hdf5(file) as handle:
                        nonfinite = spec.count_nonfinite(handle)
                        value = spec.read(handle)
                except (MirError, OSError, ValueError) as error:
                    reason = _reason(error, file)
                    skipped.append(Problem(item.key, f"{file}: {reason}"))
                    problems.append(skipped[-1] if first else Problem(str(file), f"{reason} (left out of {path.name})"))
                    continue
                extra = {"nonfinite": int(nonfinite)} if spec.nonfinite_as is not None else None
                write_key(out, item.key, value, np.arange(value.shape[2]) * frame_period, None,
                          chunk=CHUNK_FRAMES, attrs=extra)
                layout.update(f"{item.key}\t{value.shape}\n".encode())
                written += 1
            source = {"file": self.source.name, "corpus": "da-tacos", "keys": written,
                      "layout_sha1": layout.hexdigest()}
            write_root_attrs(out, feature, params, params_hash(params), source, _version(),
                             skipped=[[p.where, p.message] for p in skipped])
        return problems

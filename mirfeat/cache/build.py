"""Build a feature cache from an audio store: parallel, resumable after a crash, atomic.

>>> from mirfeat.cache import build_cache, FeatureCache
>>> report = build_cache("gtzan_audio.hdf5", "gtzan_lms.hdf5", "lms", jobs=2)
>>> cache = FeatureCache(report.path)
>>> patch = cache.read("blues+++blues.00000.wav", 0, 64)        # (1, 128, 64) float32

How a build runs (see :mod:`mirfeat.cache.journal` for why):

1. the feature and its parameters are resolved, every key's sample rate is checked against
   them, and the audio store is fingerprinted (name, size, layout hash);
2. an existing output with other parameters (or another source) is refused unless
   ``overwrite``; one that already holds every key is left untouched (no-op);
3. workers (serial, joblib loky, or Dask) each read their own file from the audio store,
   compute it and write it as an atomic journal shard; the parent streams each finished
   shard into the cache being assembled (so memory is one file's worth, whatever the count);
4. when every key is in, the assembled file gets its root attributes and is renamed over the
   output, then the journal is deleted.

A run killed at any moment (``kill -9`` included) leaves the previous output (or none) and a
journal; the same command resumes, recomputing only the keys that were in flight.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable

import h5py

import mirfeat
from mirfeat.cache.backends import BACKENDS, get_backend, prestart, stop_workers, worker_died
from mirfeat.cache.fingerprint import content_sample, same_source, source_fingerprint
from mirfeat.cache.journal import Journal, read_shard, shard_id
from mirfeat.cache.work import FAILED, SKIPPED, KeyJob, check_rates
from mirfeat.features import build_feature
from mirfeat.features.tutorial import SECTION_KEYS, feature_params as tutorial_feature_params
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.core.yamlfile import read_yaml
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.core.registry import did_you_mean
from pyjama_tools.feature_file import (
    COMPRESSIONS,
    DTYPES,
    FeatureFile as FeatureCache,
    open_feature_hdf5 as open_cache_file,
    write_key,
    write_root_attrs,
)

__all__ = [
    "CacheReport",
    "FeatureCache",
    "build_cache",
    "default_cache_path",
    "ensure_cache",
    "load_feature_config",
]

#: Manifest entries that must match for a cache (or a journal) to be reused.
_COMPARED = ("feature", "params_hash", "dtype")


@dataclass(frozen=True)
class CacheReport:
    """What a build did.

    Attributes
    ----------
    path : Path, the cache file
    computed : int, keys computed by this run
    skipped : list of (key, reason), files left out (bad audio), this run's and earlier runs'
    reused : int, keys already done (earlier run's journal or the existing cache) and not recomputed
    noop : bool, True when the cache was already complete and left untouched
    """

    path: Path
    computed: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    reused: int = 0
    noop: bool = False


# ----------------------------------------------------------------------------- naming and config


def default_cache_path(audio_path: str | os.PathLike, feature: str, params_hash: str) -> Path:
    """``<dir>/<base>_<feature>-<hash[:8]>_feat.hdf5`` beside the audio store.

    ``base`` is the audio file's name without ``_audio.hdf5`` (or without its suffix).
    """
    audio_path = Path(audio_path)
    name = audio_path.name
    base = name[: -len("_audio.hdf5")] if name.endswith("_audio.hdf5") else audio_path.stem
    return audio_path.with_name(f"{base}_{feature}-{params_hash[:8]}_feat.hdf5")


def load_feature_config(path: str | os.PathLike) -> tuple[str | None, dict[str, Any]]:
    """Feature name and parameters from a YAML file.

    Two shapes are accepted: ``feature: NAME`` with a top-level ``params:`` mapping, or the
    tutorial's section ``feature: {type: NAME, nb_band: ..., L_n: ..., params: {...}, patch_L_frame: ...}``
    whose inline keys are the tutorial's feature parameters (:func:`mirfeat.features.tutorial.feature_params`:
    each is renamed, checked or refused by name); the patch and ``mirmodels`` keys
    (:data:`~mirfeat.features.tutorial.SECTION_KEYS`) are not feature parameters.

    Returns
    -------
    (name or None, params dict)

    Raises
    ------
    MirError
        Missing file, invalid YAML (with line), or a section of the wrong type (naming its YAML path).
    """
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MirError(f"{path}: top level must be a mapping with 'feature:' (got {type(data).__name__})")
    section = data.get("feature")
    params = data.get("params", {})
    params_where = "params"
    if isinstance(section, dict):
        name = section.get("type", section.get("name"))
        if "params" in section:
            params, params_where = section["params"], "feature.params"
        where = "feature.type"
    else:
        name, where = section, "feature"
    if name is not None and not isinstance(name, str):
        raise MirError(f"{path}: {where} must be a feature name (got {name!r})")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise MirError(f"{path}: {params_where} must be a mapping of parameter: value (got {type(params).__name__})")
    params = {str(k): v for k, v in params.items()}
    inline = {str(k): v for k, v in section.items() if k not in SECTION_KEYS} if isinstance(section, dict) else {}
    if inline:
        if name is None:
            raise MirError(f"{path}: feature.{next(iter(inline))}: a feature parameter without feature.type")
        try:
            params = tutorial_feature_params(name, inline, params)
        except ParameterError as error:
            raise MirError(f"{path}: {error}") from None
    return name, params


# ----------------------------------------------------------------------------- checks


def _check_options(jobs: int, dtype: str, backend: str, scheduler: str | None, compression: str | None) -> None:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ParameterError(f"jobs={jobs!r} is not allowed; expected an integer >= 1")
    if dtype not in DTYPES:
        raise ParameterError(f"dtype={dtype!r} is not allowed; expected one of {', '.join(DTYPES)}")
    if backend not in BACKENDS or backend == "serial":
        raise ParameterError(f"backend={backend!r} is not allowed; expected one of loky, dask")
    if scheduler and backend != "dask":
        raise ParameterError(f"scheduler={scheduler!r} needs backend 'dask' (got {backend!r})")
    if compression not in COMPRESSIONS:
        allowed = ", ".join(str(c) for c in COMPRESSIONS if c) + " or none"
        raise ParameterError(f"compression={compression!r} is not allowed; expected {allowed}")


def _store_layout(store: AudioStore) -> tuple[list[tuple[str, tuple, int]], str]:
    """(key, shape, sample rate) of every key of the audio store, and the SHA-1 of their content samples."""
    layout = []
    content = hashlib.sha1()
    for key, dataset in store.file.items():
        if not isinstance(dataset, h5py.Dataset):
            continue
        layout.append((key, tuple(dataset.shape), store.sample_rate(key)))
        content.update(content_sample(dataset))
    if not layout:
        raise MirError(f"{store.path}: no audio datasets (is it an audio store?)")
    return layout, content.hexdigest()


def _select_keys(store_path: Path, layout: list[tuple[str, tuple, int]], keys: Iterable[str] | None) -> list[str]:
    known = [key for key, _, _ in layout]
    if keys is None:
        return known
    known_set = set(known)
    selected = list(dict.fromkeys(keys))
    for key in selected:
        if key not in known_set:
            raise MirError(f"{store_path}: no audio key {key!r}{did_you_mean(key, known, quote=True)}")
    return selected


def _rates(layout, selected: list[str]) -> dict[int, str]:
    """Each distinct sample rate among the selected keys → the first key at that rate."""
    wanted = set(selected)
    first_key_of_rate: dict[int, str] = {}
    for key, _, rate in layout:
        if key in wanted:
            first_key_of_rate.setdefault(int(rate), key)
    return first_key_of_rate


def _raise_rate_problems(store_path: Path, first_key_of_rate: dict[int, str], problems: dict[int, str]) -> None:
    """One line naming a key, its rate and the parameter problem, for the first failing rate."""
    for rate, message in sorted(problems.items()):
        raise ParameterError(f"{store_path}: key {first_key_of_rate[rate]!r} at {rate} Hz: {message}")


def _differences(old: dict[str, Any], new: dict[str, Any], compression: bool = True) -> list[str]:
    """Human-readable differences between two manifests (feature, params, dtype, source, and
    compression when ``compression``: it matters only when keys are to be added, not to a no-op)."""
    found = []
    if old.get("feature") != new.get("feature"):
        found.append(f"feature {old.get('feature')!r} → {new.get('feature')!r}")
    elif old.get("params_hash") != new.get("params_hash"):
        old_params, new_params = old.get("params", {}), new.get("params", {})
        for name in sorted(set(old_params) | set(new_params)):
            if old_params.get(name) != new_params.get(name):
                found.append(f"{name} {old_params.get(name)!r} → {new_params.get(name)!r}")
        if not found:  # the same parameters: the feature's code changed its values (FeatureParams.REVISION)
            found.append(f"params_hash {old.get('params_hash')} → {new.get('params_hash')} (same parameters, "
                         "computed by an older version of the feature's code)")
    if old.get("dtype", "float32") != new.get("dtype"):
        found.append(f"dtype {old.get('dtype', 'float32')!r} → {new.get('dtype')!r}")
    if compression and "compression" in old and (old["compression"] or None) != (new.get("compression") or None):
        found.append(f"compression {old['compression'] or 'none'!r} → {new.get('compression') or 'none'!r}")
    if not same_source(old.get("source", {}), new["source"]):
        found.append(f"audio source {old.get('source', {}).get('file')!r} (size, keys or audio changed)")
    return found


def _existing_manifest(out_path: Path) -> tuple[dict[str, Any], list[str], list[tuple[str, str]]]:
    """Manifest, complete keys and skipped list of an existing cache file."""
    with open_cache_file(out_path):
        pass
    cache = FeatureCache(out_path)
    try:
        manifest = {
            "feature": cache.feature,
            "params": cache.params,
            "params_hash": cache.params_hash,
            "dtype": cache.dtype,
            "source": cache.source,
        }
        if "compression" in cache.file.attrs:  # caches written before it was recorded are not compared
            stored = str(cache.attrs["compression"])
            manifest["compression"] = None if stored == "none" else stored
        return manifest, cache.keys(), cache.skipped
    finally:
        cache.close()


# ----------------------------------------------------------------------------- build


def build_cache(audio_path: str | os.PathLike, out_path: str | os.PathLike, feature: str,
                params: dict[str, Any] | None = None, jobs: int = 1, dtype: str = "float32",
                backend: str = "loky", scheduler: str | None = None, overwrite: bool = False,
                strict: bool = False, quiet: bool = True, keys: Iterable[str] | None = None,
                compression: str | None = None, device: str | None = None) -> CacheReport:
    """Compute ``feature`` for every file of an audio store into an HDF5 cache.

    Parameters
    ----------
    audio_path : the ``*_audio.hdf5`` store
    out_path : the cache file to write (atomically)
    feature : a feature name (``mirfeat.features.feature_names()``)
    params : feature parameters (strings are coerced); missing ones take their defaults
    jobs : worker processes (1 = in this process)
    dtype : "float32" or "float16" (reads always return float32)
    backend : "loky" (joblib process pool) or "dask"
    scheduler : Dask scheduler address ``tcp://host:port`` (backend "dask"; None = local cluster)
    overwrite : rebuild even when the output exists with other parameters (discards any journal)
    strict : fail on the first bad audio file instead of skipping it
    quiet : no progress bar
    keys : only these audio keys (default: all)
    compression : None (default, fastest reads), "lzf" or "gzip" for ``value``
    device : None (default: numpy/librosa backend in ``jobs`` processes) or a torch device
        ("cuda", "cuda:1", "cpu") for the torch backend, run in this process (the device does the
        parallel work; ``jobs`` and ``backend`` are then not used). Values agree with the default
        backend within about 1e-3 relative error; the device is not part of the parameters.

    Returns
    -------
    CacheReport

    Raises
    ------
    MirError
        Missing / unreadable audio store, unknown feature or parameter, unknown key, an
        existing cache with other parameters (without ``overwrite``), bad audio with ``strict``.
    """
    from tqdm import tqdm

    _check_options(jobs, dtype, backend, scheduler, compression)
    audio_path, out_path = Path(audio_path), Path(out_path)
    feature_obj = build_feature(feature, params)
    if device is not None:
        from mirfeat.features.torch_backend import check_device

        check_device(feature_obj, device)
    if not audio_path.exists():
        raise MirError(f"{audio_path}: no such file")
    if not out_path.parent.is_dir():
        raise MirError(f"{out_path.parent}: no such folder (for the cache {out_path.name})")
    if out_path.is_dir():
        raise MirError(f"{out_path}: is a folder; name the cache file to write (e.g. {out_path / 'features.hdf5'})")
    if out_path.exists() and out_path.resolve() == audio_path.resolve():
        raise MirError(f"{out_path}: the cache cannot be written over its own audio store")
    store = AudioStore(audio_path)
    try:
        layout, content_sha1 = _store_layout(store)
    finally:
        store.close()
    selected = _select_keys(audio_path, layout, keys)
    manifest = {
        "feature": feature_obj.name,
        "params": feature_obj.params.to_dict(),
        "params_hash": feature_obj.params.hash(),
        "dtype": dtype,
        "compression": compression,
        "source": source_fingerprint(audio_path, layout, content_sha1),
        "mirfeat_version": mirfeat.__version__,
    }

    # ---- an existing output: refuse, no-op, or extend
    base_keys: list[str] = []
    base_skipped: dict[str, str] = {}
    if out_path.exists() and not overwrite:
        try:
            old, base_keys, old_skipped = _existing_manifest(out_path)
        except MirError as error:
            raise MirError(f"{error}; use --overwrite to replace it") from None
        differences = _differences(old, manifest, compression=False)
        if differences:
            raise MirError(f"{out_path}: exists with different settings ({'; '.join(differences)}); "
                           f"use --overwrite to rebuild it")
        base_skipped = dict(old_skipped)
        if strict:  # a key the cache left out is bad audio, not 'done', to a --strict run
            bad = [key for key in selected if key in base_skipped]
            if bad:
                raise MirError(f"{audio_path}: key {bad[0]!r}: {base_skipped[bad[0]]} (--strict)")
        if set(selected) <= set(base_keys) | set(base_skipped):
            _drop_stale_journal(out_path, manifest)
            return CacheReport(out_path, 0, sorted(old_skipped), len(base_keys), noop=True)
        differences = _differences(old, manifest)  # keys are to be added: they must be stored alike
        if differences:
            raise MirError(f"{out_path}: exists with different settings ({'; '.join(differences)}); "
                           f"use --overwrite to rebuild it")

    journal = Journal(out_path)
    journal.lock()
    try:
        previous = journal.manifest() if journal.exists() else None
        resuming = previous is not None and not overwrite
        if resuming:
            differences = _differences(previous, manifest)
            if differences:
                raise MirError(f"{out_path}: an unfinished build with different settings exists "
                               f"({'; '.join(differences)}); use --overwrite to discard it")
        done = journal.done() if resuming else {}
        skipped = {**base_skipped, **(journal.skipped() if resuming else {})}
        wanted = set(selected)
        todo = [key for key in selected if key not in done and key not in skipped and key not in base_keys]
        reused = len([k for k in done if k in wanted]) + len([k for k in base_keys if k in wanted])
        if strict:
            bad = [(k, m) for k, m in skipped.items() if k in wanted]
            if bad:
                raise MirError(f"{audio_path}: key {bad[0][0]!r}: {bad[0][1]} (--strict)")

        # the sample rates are checked before any work: by the prestarted pool workers (they need
        # the same imports anyway, so the parent does not pay them), else here
        first_key_of_rate = _rates(layout, todo)
        rates = tuple(sorted(first_key_of_rate))
        warming = prestart(backend, jobs, feature_obj, rates) if todo and device is None else []
        problems = _warm_result(warming[0]) if warming else check_rates(feature_obj, rates)
        _raise_rate_problems(audio_path, first_key_of_rate, problems)
        if resuming:
            journal.clean_temporaries()
        else:
            journal.create(manifest)

        jobs_list = [KeyJob(str(audio_path), key, feature_obj, dtype, str(journal.shard_dir), device) for key in todo]
        serial = device is not None or (jobs == 1 and backend == "loky")
        run = get_backend("serial" if serial else backend)
        computed = 0
        with h5py.File(journal.assembled, "w") as out:
            if base_keys:
                with h5py.File(out_path, "r") as base:
                    for key in base_keys:
                        base.copy(base[key], out, name=key)
            for path in done.values():
                shard = read_shard(path)
                write_key(out, shard.key, shard.value, shard.time_sec, shard.frequency_hz, compression)
            bar = tqdm(total=len(jobs_list), disable=quiet, unit="file", desc=f"{feature_obj.name} cache")
            try:
                for result in run(jobs_list, jobs, scheduler):
                    bar.update(1)
                    if result.status == FAILED:
                        raise MirError(f"{audio_path}: {result.message}")
                    if result.status == SKIPPED:
                        skipped[result.key] = result.message
                        if strict:
                            raise MirError(f"{audio_path}: key {result.key!r}: {result.message} (--strict)")
                        continue
                    shard = read_shard(journal.shard_dir / f"{shard_id(result.key)}.npz")
                    write_key(out, shard.key, shard.value, shard.time_sec, shard.frequency_hz, compression)
                    computed += 1
            finally:
                bar.close()
            _write_root_attrs(out, manifest, sorted(skipped.items()))
        os.replace(journal.assembled, out_path)
        journal.remove()
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            stop_workers()  # else the exit waits for every queued file
        journal.assembled.unlink(missing_ok=True)  # rebuilt from the shards on the next run anyway
        if not journal.exists():
            journal.remove()  # failed before any work: leave no journal behind
        raise
    finally:
        journal.unlock()
    return CacheReport(out_path, computed, sorted(skipped.items()), reused)


def _warm_result(future) -> dict[int, str]:
    """The rate problems reported by a prestarted worker (a worker that died is one line)."""
    from concurrent.futures import BrokenExecutor

    try:
        return future.result()
    except BrokenExecutor as error:
        raise worker_died(error) from None


def _write_root_attrs(out: h5py.File, manifest: dict[str, Any], skipped: list[tuple[str, str]]) -> None:
    """The root attributes of the layout (see :mod:`pyjama_tools.feature_file`)."""
    write_root_attrs(out, manifest["feature"], manifest["params"], manifest["params_hash"], manifest["source"],
                     manifest["mirfeat_version"], manifest["dtype"], manifest["compression"], skipped)


def _drop_stale_journal(out_path: Path, manifest: dict[str, Any]) -> None:
    """Remove a journal left by a run killed after its final rename (same settings, not locked)."""
    journal = Journal(out_path)
    if not journal.root.exists():
        return
    previous = journal.manifest()
    if previous is not None and _differences(previous, manifest, compression=False):
        return
    try:
        journal.lock()
    except MirError:
        return
    try:
        journal.remove()
    finally:
        journal.unlock()


def ensure_cache(audio_path: str | os.PathLike, cache_path: str | os.PathLike | None, feature: str,
                 params: dict[str, Any] | None = None, jobs: int = 1, quiet: bool = True) -> Path:
    """The cache of ``feature`` for ``audio_path``: built when missing, resumed when unfinished.

    A complete cache with the same parameters is returned untouched; one with other
    parameters raises :class:`MirError` (naming the differences).  ``cache_path`` None means
    :func:`default_cache_path`.
    """
    if cache_path is None:
        cache_path = default_cache_path(audio_path, feature, build_feature(feature, params).params.hash())
    return build_cache(audio_path, cache_path, feature, params, jobs=jobs, quiet=quiet).path

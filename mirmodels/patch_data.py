"""The generic patch data of a run: the dataset pair checked, the feature cache built or reused, the
target, the splits, and the patch datasets (:class:`PreparedData`, :func:`prepare_patch_data`,
:func:`patch_dataset`).

Knows no problem: what depends on it is asked of the task class given to :func:`prepare_patch_data`
(``target_kind``, ``guess_annot_key``, ``adjust_target``, ``labels_every_entry``, ``make_dataset``),
which keeps it in :attr:`PreparedData.task`. The task modules' default hooks call it;
:mod:`mirmodels.data` looks the task up from the config.
"""

from __future__ import annotations


import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Iterator

from pyjama_tools.core.errors import MirError, ParameterError

if TYPE_CHECKING:
    from mirmodels.config import ExperimentConfig

__all__ = ["PreparedData", "prepare_patch_data", "patch_dataset", "cache_path_for", "is_main_process", "WAVEFORM"]

WAVEFORM = "waveform"


@dataclass
class PreparedData:
    """Everything a run needs to know about its data, computed once.

    Attributes
    ----------
    config : ExperimentConfig
    audio_path, annotation_path : Path
        The dataset pair.
    cache_path : Path or None
        The feature cache (None for the waveform, read from the audio store).
    doc : PyjamaDoc
    target : mirfeat.targets.Target
    splits : dict
        'train', 'valid' (and 'test') → list of keys.
    input_shape : tuple of int
        Shape of one example X (batch excluded).
    n_out : int
        The network's output size (config value or the target's ``num_outputs``).
    sample_rate : int or None
        Hz of the audio store (None for a feature-only dataset without the information).
    feature_params : dict
        The feature's full parameters (after defaults).
    params_hash : str
    annot_key : str
        The annotation field actually used.
    task : type
        The problem's task class (:class:`mirmodels.tasks.Task` subclass).
    """

    config: ExperimentConfig
    audio_path: Path
    annotation_path: Path
    cache_path: Path | None
    doc: Any
    target: Any
    splits: dict[str, list[str]]
    input_shape: tuple[int, ...]
    n_out: int
    sample_rate: int | None
    feature_params: dict
    params_hash: str
    annot_key: str
    skipped: list = field(default_factory=list)
    unlabelled: list = field(default_factory=list)
    no_audio: list = field(default_factory=list)
    unsplit: list = field(default_factory=list)
    entries: int = 0
    unselected: list = field(default_factory=list)
    task: Any = None

    @property
    def problem(self) -> str:
        return self.config.dataset.problem

    def metadata(self) -> dict[str, Any]:
        """JSON-able description stored in the run directory (``run.json``)."""
        vocabulary = getattr(self.target, "vocabulary", None)
        return {
            "problem": self.problem,
            "target_kind": self.task.target_kind,
            "annot_key": self.annot_key,
            "input_shape": list(self.input_shape),
            "n_out": int(self.n_out),  # the value of $n_out in the model
            "num_outputs": self.num_outputs(),  # the target's size: the network's output
            "vocabulary": None if vocabulary is None else [str(v) for v in vocabulary],
            "feature": self.config.feature.type,
            "feature_params": self.feature_params,
            "params_hash": self.params_hash,
            "sample_rate": None if self.sample_rate is None else int(self.sample_rate),
            "patch_length": self.config.feature.patch_length,
            "patch_hop": self.config.feature.patch_hop,
            "audio_path": str(self.audio_path),
            "annotation_path": str(self.annotation_path),
            "cache_path": None if self.cache_path is None else str(self.cache_path),
            "splits": {name: len(keys) for name, keys in self.splits.items()},
            "unlabelled": len(self.unlabelled),
            "entries": int(self.entries),
            "dropped": self.dropped(),
        }

    def num_outputs(self) -> int | None:
        """The target's size (classes, tags, bins), None where the target has none yet."""
        try:
            return int(self.target.num_outputs)
        except (AttributeError, MirError):
            return None

    def dropped(self) -> dict[str, int]:
        """Entries of the .pyjama not trained on, by reason."""
        return {"no_audio": len(self.no_audio), "no_annotation": len(self.unlabelled),
                "no_features": len(self.skipped), "not_selected": len(self.unselected),
                "not_in_split": len(self.unsplit)}

    def report_lines(self) -> list[str]:
        """One line saying how many entries are left out and why (none when every entry is used)."""
        reasons = {"no_audio": f"without audio in {self.audio_path.name}",
                   "no_annotation": f"without field {self.annot_key!r}",
                   "no_features": "whose audio could not be read (no features)",
                   "not_selected": "not selected by dataset.where / dataset.every",
                   "not_in_split": f"in no split (rule {self.config.dataset.split!r})"}
        parts = [f"{count} {reasons[name]}" for name, count in self.dropped().items() if count]
        if not parts:
            return []
        total = sum(self.dropped().values())
        return [f"{self.annotation_path}: left out {total} of {self.entries} entries: {', '.join(parts)}"]


def cache_path_for(config: ExperimentConfig, audio_path: Path, params_hash: str) -> Path:
    """Where the run's feature cache lives: ``feature.cache`` or :func:`mirfeat.cache.default_cache_path`."""
    from mirfeat.cache import default_cache_path

    if config.feature.cache is not None:
        path = Path(config.feature.cache).expanduser()
        return path if path.is_absolute() else audio_path.parent / path
    return Path(default_cache_path(audio_path, config.feature.type, params_hash))


def is_main_process() -> bool:
    """Global rank 0 (or no distributed launch at all)."""
    return os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")) == "0" \
        and os.environ.get("LOCAL_RANK", "0") == "0"


def _wait_for_cache(path: Path, params_hash: str, timeout_sec: float = 6 * 3600) -> None:
    """Ranks other than 0 (torchrun, SLURM) wait until rank 0 has finished the cache."""
    from mirfeat.cache import FeatureCache

    start = time.monotonic()
    while True:
        if path.exists():
            try:
                cache = FeatureCache(path)
                if cache.params_hash == params_hash and getattr(cache, "complete", True):
                    cache.close()
                    return
                cache.close()
            except MirError:
                pass
        if time.monotonic() - start > timeout_sec:
            raise MirError(f"{path}: rank 0 did not finish the feature cache in {timeout_sec:.0f} s")
        time.sleep(2.0)


@contextmanager
def _naming(where: str) -> Iterator[None]:
    """Prefix a :class:`MirError` raised inside with the config key (and file) it comes from.

    mirfeat's messages name the feature / the field but not the experiment's YAML path
    ("field 'chord' has extent 'segment'" does not say that ``dataset.problem`` is the mistake).
    """
    try:
        yield
    except MirError as error:
        message = str(error).strip()
        if message.startswith(where):
            raise
        cls = type(error) if type(error) in (MirError, ParameterError) else MirError
        raise cls(f"{where}: {message}") from None


@contextmanager
def _fit_advice(cache_path: Path) -> Iterator[None]:
    """mirfeat's advice 'use --overwrite to ...' names an option of ``mirfeat cache`` that fit does
    not have: say what to do from fit (delete the file, or its unfinished build, and rerun)."""
    import re

    from mirfeat.cache.journal import journal_dir

    try:
        yield
    except MirError as error:
        message = str(error)
        found = re.search(r"; use --overwrite to (replace|rebuild|discard) it$", message)
        if found is None:
            raise
        target = journal_dir(cache_path) if found.group(1) == "discard" else cache_path
        raise type(error)(f"{message[:found.start()]}; delete {target} and rerun fit to rebuild it, or name "
                          "another file in feature.cache") from None


def prepare_patch_data(task: Any, config: ExperimentConfig, data_root: str | os.PathLike | None = None,
                       jobs: int = 1, quiet: bool = True, allow_missing_audio: bool = False) -> PreparedData:
    """Check the dataset pair, build/reuse the feature cache, build the target and the splits.

    Parameters
    ----------
    task : the problem's task class (its ``target_kind``, ``guess_annot_key``, ``adjust_target``,
        ``labels_every_entry`` and ``make_dataset``)
    config : ExperimentConfig
    data_root : folder of the dataset pair (overrides ``dataset.root``)
    jobs : processes used to build the feature cache
    quiet : no progress bar
    allow_missing_audio : train even when most entries of the .pyjama have no audio in the store

    Raises
    ------
    MirError
        Missing dataset files, a .pyjama whose entries have no audio in the store (none, or most
        of them without ``allow_missing_audio``), a feature cache built with other parameters, labels absent from the
        vocabulary, an empty train or validation split.
    """
    from mirfeat.features import build_feature
    from mirfeat.splits import select_keys, split_keys
    from mirfeat.targets import TargetSpec, build_target
    from pyjama_tools import pyjama
    from pyjama_tools.audio_store import AudioStore

    audio_path = config.audio_path(data_root).absolute()
    annotation_path = config.annotation_path(data_root).absolute()
    if not annotation_path.exists():
        raise MirError(f"{annotation_path}: no such file (dataset.base {config.dataset.base!r}; set --data-root "
                       "or dataset.root)")
    doc = pyjama.load(annotation_path)
    pyjama.check(doc, source=str(annotation_path))  # a malformed document is one line here, not a traceback later
    given_cache = cache_path_for(config, audio_path, "") if config.feature.cache is not None else None
    if audio_path.exists():
        store = AudioStore(audio_path)
        audio_keys = set(store.keys())
        if not audio_keys:
            raise MirError(f"{audio_path}: holds no audio")
        sample_rate = store.sample_rate(sorted(audio_keys)[0])
        store.close()
        from mirfeat.features import feature_names

        key = "feature.params" if config.feature.type in feature_names() else "feature.type"
        with _naming(f"{config.source}: {key}" if config.source is not None else key):
            feature = build_feature(config.feature.type, config.feature.params)
        with _naming(f"{audio_path}: feature.params"):
            feature.check_sample_rate(sample_rate)
        feature_params = feature.params.to_dict()
        params_hash = feature.params.hash()
    elif given_cache is not None and given_cache.exists():
        # a feature-only dataset (Da-TACOS ships features, no audio): the cache is the data
        feature_params, params_hash, sample_rate = _feature_only(config, given_cache)
        audio_keys = None
    else:
        missing = audio_path if given_cache is None else f"{audio_path} (nor feature.cache {given_cache})"
        raise MirError(f"{missing}: no such file (dataset.base {config.dataset.base!r}; set --data-root "
                       "or dataset.root)")

    annot_key = config.dataset.annot_key
    if annot_key is None:
        annot_key = task.guess_annot_key(doc)
    if annot_key not in doc.definitions:
        from pyjama_tools.core.registry import did_you_mean

        hint = did_you_mean(annot_key, doc.definitions, n=1)
        raise MirError(f"dataset.annot_key: field {annot_key!r} is not in {annotation_path}{hint}; "
                       f"fields: {', '.join(doc.definitions)}")
    with _naming(f"{annotation_path}: dataset (problem {config.dataset.problem!r}, annot_key {annot_key!r})"):
        # every option of the target spec the dataset section writes (top_n, chord_vocabulary, ...): the
        # spec itself refuses an option the task's target kind does not read
        options = {f.name: getattr(config.dataset, f.name) for f in fields(TargetSpec)
                   if f.name not in ("kind", "field") and hasattr(config.dataset, f.name)}
        spec = TargetSpec(kind=task.target_kind, field=annot_key, **options)
        target = build_target(spec, doc)
        target = task.adjust_target(config, spec, target, doc)

    all_keys = [k for k in doc.keys() if k is not None]
    keys = [k for k in all_keys if audio_keys is None or k in audio_keys]
    no_audio = [k for k in all_keys if audio_keys is not None and k not in audio_keys]
    _check_matching(annotation_path, audio_path, all_keys, no_audio, audio_keys, allow_missing_audio)
    # An entry without the field is not annotated for this task (Bach10's stems have f0, not
    # f0multi): it is left out rather than trained on as silence / no class, unless the task says
    # an empty value is a label (multi-label: an MTT clip with none of the top tags).
    unlabelled = [] if task.labels_every_entry else [k for k in keys if not doc.atoms(k, annot_key)]
    if unlabelled:
        keys = [k for k in keys if k not in set(unlabelled)]
    skipped: list = []
    cache_path = None
    if config.feature.type != WAVEFORM:
        from mirfeat.cache import ensure_cache
        from mirfeat.feature_pair import open_feature_file

        cache_path = cache_path_for(config, audio_path, params_hash)
        if audio_keys is None:
            pass  # feature-only: nothing to build
        elif is_main_process():
            with _fit_advice(cache_path):
                ensure_cache(audio_path, cache_path, config.feature.type, feature_params, jobs=jobs, quiet=quiet)
        else:
            _wait_for_cache(cache_path, params_hash)
        cache = open_feature_file(cache_path)
        cached = set(cache.keys())
        skipped = [k for k in keys if k not in cached]
        keys = [k for k in keys if k in cached]
        cache.close()
    if not keys:
        raise MirError(f"{annotation_path}: no entry has audio, features and field {annot_key!r}")

    usable = keys
    try:  # dataset.where / dataset.every narrow the kept entries before the split rule numbers them
        keys = select_keys(doc, keys, where=config.dataset.where, every=config.dataset.every)
    except MirError as error:
        raise MirError(f"{annotation_path}: dataset.{error}") from None
    selected = set(keys)
    list_files = _split_lists(config, audio_path.parent)
    with _naming(f"{annotation_path}: dataset.split {config.dataset.split!r}"):
        splits = split_keys(doc, keys=keys, rule=config.dataset.split, field=config.dataset.split_field,
                            list_files=list_files, group_field=config.dataset.group_field)
    for name in ("train", "valid"):
        if not splits.get(name):
            raise MirError(f"dataset.split: the {name!r} split is empty ({len(keys)} usable files, rule "
                           f"{config.dataset.split!r}); add files or change the split")
    in_split = {k for split_keys_ in splits.values() for k in split_keys_}
    prepared = PreparedData(config, audio_path, annotation_path, cache_path, doc, target, dict(splits),
                            (), 0, sample_rate, feature_params, params_hash, annot_key, skipped, unlabelled,
                            no_audio, [k for k in keys if k not in in_split], len(all_keys),
                            [k for k in usable if k not in selected], task)
    length_key = f"feature.patch_L_frame {config.feature.patch_length}"  # files shorter than a patch
    with _naming(f"{config.source}: {length_key}" if config.source is not None else length_key):
        probe = task.make_dataset(prepared, splits["train"][:1], train=False)
    prepared.input_shape = tuple(int(s) for s in probe.input_shape)
    n_out = config.dataset.n_out
    prepared.n_out = int(target.num_outputs) if n_out == "auto" else int(n_out)
    return prepared


def _check_matching(annotation_path: Path, audio_path: Path, keys: list, no_audio: list, audio_keys: Any,
                    allow_missing_audio: bool) -> None:
    """Refuse a .pyjama and an audio store that do not belong together: no entry has audio, or most
    do not (unless ``allow_missing_audio``); a .pyjama of another corpus was trained on its few
    matches without a word."""
    if not keys or not no_audio:
        return
    if len(no_audio) == len(keys):
        raise MirError(f"{annotation_path}: none of its {len(keys)} entries has audio in {audio_path} (entry "
                       f"{no_audio[0]!r}; the store holds {sorted(audio_keys)[0]!r} ...): they are not one dataset pair")
    if 2 * len(no_audio) > len(keys) and not allow_missing_audio:
        raise MirError(f"{annotation_path}: {len(no_audio)} of its {len(keys)} entries have no audio in {audio_path} "
                       f"(first {no_audio[0]!r}); is it another corpus's .pyjama? --allow-missing-audio trains "
                       f"on the {len(keys) - len(no_audio)} that match")


def _feature_only(config: ExperimentConfig, cache_path: Path) -> tuple[dict, str, int | None]:
    """Parameters, hash and sample rate of a feature file used without its audio.

    The file must hold ``feature.type``; parameters written in the config must be the file's.
    """
    from mirfeat.feature_pair import open_feature_file

    cache = open_feature_file(cache_path)  # a mirfeat cache, or the tutorial's <base>_feat.hdf5
    try:
        if cache.feature != config.feature.type:
            raise MirError(f"feature.type: {config.feature.type!r}, but {cache_path} holds {cache.feature!r}")
        params = dict(cache.params)
        different = sorted(k for k, v in config.feature.params.items() if params.get(k) != v)
        if different:
            key = different[0]
            raise MirError(f"feature.params.{key}: {config.feature.params[key]!r}, but {cache_path} was computed "
                           f"with {params.get(key)!r} (and there is no audio to recompute it)")
        rate = cache.attrs.get("sr_hz", params.get("sample_rate"))
        return params, cache.params_hash, None if rate is None else int(rate)
    finally:
        cache.close()


def _split_lists(config: ExperimentConfig, root: Path) -> dict[str, Path] | None:
    # The lists are read by rule 'list' only: a config that names them but is run with
    # --set dataset.split=index_mod5 must not need them.
    if config.dataset.split != "list" or not config.dataset.split_lists:
        return None
    lists = {}
    for name, value in config.dataset.split_lists.items():
        path = Path(value).expanduser()
        lists[name] = path if path.is_absolute() else root / path
        if not lists[name].exists():
            raise MirError(f"dataset.split_lists.{name}: {lists[name]}: no such file")
    return lists


def patch_dataset(prepared: PreparedData, keys: list[str], train: bool = True):
    """A :class:`mirfeat.patches.PatchDataset` of ``keys``: patches of ``patch_L_frame`` frames every
    ``patch_STEP_frame`` (the waveform read from the audio store; ``in_memory`` for training only)."""
    from mirfeat.patches import PatchDataset

    feature = prepared.config.feature
    if prepared.cache_path is None:
        return PatchDataset.from_audio(prepared.audio_path, keys, prepared.target, feature.patch_length,
                                       feature.patch_hop)
    return PatchDataset(prepared.cache_path, keys, prepared.target, feature.patch_length, feature.patch_hop,
                        in_memory=feature.in_memory and train)

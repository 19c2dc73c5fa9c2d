"""Splits: the tutorial's index % 5 rule, a split field, list files (real GTZAN lists), groups, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import fixture_path
from mirfeat.splits import split_keys
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.pyjama import PyjamaDoc, global_atoms


def make_doc(num_entries=23, groups=None, splits=None):
    doc = PyjamaDoc()
    doc.define("piece", "global")
    doc.define("split", "global")
    for i in range(num_entries):
        fields = {}
        if groups is not None:
            fields["piece"] = global_atoms([groups[i]])
        if splits is not None:
            fields["split"] = global_atoms([splits[i]])
        doc.add_entry(f"folder+++file{i:02d}.wav", fields)
    return doc


def test_index_mod5_is_the_tutorial_rule():
    doc = make_doc(23)
    result = split_keys(doc)
    keys = doc.keys()
    assert result["valid"] == [k for i, k in enumerate(keys) if i % 5 == 0]
    assert result["train"] == [k for i, k in enumerate(keys) if i % 5 != 0]
    assert "test" not in result


def test_index_mod5_numbers_the_kept_entries():
    doc = make_doc(23)
    keys = doc.keys()
    subset = [keys[i] for i in (12, 3, 10, 5, 6, 20, 21)]  # any order in, document order out
    result = split_keys(doc, keys=subset)
    # kept in document order: 3, 5, 6, 10, 12, 20, 21 → numbers 0 and 5 (entries 3 and 20) are valid
    assert result == {"train": [keys[5], keys[6], keys[10], keys[12], keys[21]], "valid": [keys[3], keys[20]]}


def bach10_shaped_doc(pieces: int = 10) -> PyjamaDoc:
    """The layout of our Bach10 conversion: per piece a mix (f0multi) then its 4 stems (f0)."""
    doc = PyjamaDoc()
    doc.define("piece", "global")
    doc.define("f0multi", "breakpoint", "numeric")
    doc.define("f0", "breakpoint", "numeric")
    f0 = [{"time": [0.023], "value": [[60.0]]}]
    for number in range(1, pieces + 1):
        piece = f"{number:02d}-Piece"
        doc.add_entry(f"{piece}+++{piece}.wav", {"piece": global_atoms([piece]), "f0multi": f0})
        for stem in ("violin", "clarinet", "saxphone", "bassoon"):
            doc.add_entry(f"{piece}+++{piece}-{stem}.wav", {"piece": global_atoms([piece]), "f0": f0})
    return doc


@pytest.mark.parametrize("group_field", [None, "piece"])
def test_index_mod5_on_bach10_mixes_the_tutorials_split(group_field):
    """Every mix sits at a document index divisible by 5; the tutorial numbers the 10 mixes it kept."""
    doc = bach10_shaped_doc()
    mixes = [k for k in doc.keys() if doc.atoms(k, "f0multi")]
    result = split_keys(doc, keys=mixes, group_field=group_field)
    assert result["valid"] == ["01-Piece+++01-Piece.wav", "06-Piece+++06-Piece.wav"]
    assert len(result["train"]) == 8


def test_index_mod5_group_aware():
    rng = np.random.default_rng(0)
    groups = [f"p{int(g)}" for g in rng.integers(0, 9, 60)]
    doc = make_doc(60, groups=groups)
    result = split_keys(doc, group_field="piece")
    valid_groups = {groups[doc.index_of(k)] for k in result["valid"]}
    train_groups = {groups[doc.index_of(k)] for k in result["train"]}
    assert not valid_groups & train_groups
    assert sorted(result["train"] + result["valid"]) == sorted(doc.keys())
    # reference: groups numbered by first appearance, ordinal % 5 == 0 → valid (all entries kept)
    ordinal = {}
    for g in groups:
        ordinal.setdefault(g, len(ordinal))
    assert valid_groups == {g for g, o in ordinal.items() if o % 5 == 0}


def test_field_rule_with_aliases_and_test_split():
    values = ["train", "validation", "test", "val", "TRAIN"]
    doc = make_doc(5, splits=values)
    keys = doc.keys()
    result = split_keys(doc, rule="field")
    assert result == {"train": [keys[0], keys[4]], "valid": [keys[1], keys[3]], "test": [keys[2]]}


def test_field_rule_bad_values():
    doc = make_doc(3, splits=["train", "dev", "test"])
    with pytest.raises(MirError, match=r"entry 1 \('folder\+\+\+file01.wav'\), field 'split': split 'dev' not one of"):
        split_keys(doc, rule="field")
    doc = make_doc(2, splits=["train", "test"])
    doc.add_entry("twosplits", {"split": global_atoms(["train", "test"])})
    with pytest.raises(MirError, match=r"entry 2 \('twosplits'\), field 'split': needs one split value, found 2"):
        split_keys(doc, rule="field")
    with pytest.raises(MirError, match="field 'fold' is not defined"):
        split_keys(doc, rule="field", field="fold")


def test_field_rule_leaves_out_entries_without_a_split_like_gtzan_filtered_lists(tmp_path):
    """GTZAN converted with its fault-filtered lists: files in no list carry no split and are left out."""
    from pyjama_tools.converters.gtzan import GtzanConverter

    root = tmp_path / "gtzan" / "genres" / "blues"
    root.mkdir(parents=True)
    for i in range(4):
        (root / f"blues.{i:05d}.wav").write_bytes(b"")
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train_filtered.txt").write_text("blues/blues.00001.wav\nblues/blues.00002.wav\n")
    (lists / "valid_filtered.txt").write_text("blues/blues.00003.wav\n")  # 00000 is a faulty file: in no list
    converter = GtzanConverter(tmp_path / "gtzan", split_lists=lists)
    items = list(converter.items())
    doc = PyjamaDoc(definitions=converter.definitions(items))
    for item in items:
        doc.add_entry(item.key, item.annotations)
    result = split_keys(doc, rule="field")
    assert result == {"train": ["blues+++blues.00001.wav", "blues+++blues.00002.wav"],
                      "valid": ["blues+++blues.00003.wav"]}


def test_field_rule_group_straddling_is_an_error():
    doc = make_doc(4, groups=["a", "a", "b", "b"], splits=["train", "train", "train", "valid"])
    with pytest.raises(MirError, match=r"piece 'b' straddles splits: entry 2 .* is train, entry 3 .* is valid"):
        split_keys(doc, rule="field", group_field="piece")
    ok = make_doc(4, groups=["a", "a", "b", "b"], splits=["train", "train", "valid", "valid"])
    assert len(split_keys(ok, rule="field", group_field="piece")["valid"]) == 2


def test_list_rule_with_keys_paths_comments(tmp_path):
    doc = make_doc(6)
    keys = doc.keys()
    (tmp_path / "train.txt").write_text(f"# training files\n{keys[0]}\nfolder/file01.wav\n\nfile02.wav\n")
    (tmp_path / "valid_filtered.txt").write_text("folder/file03.wav\r\n")
    (tmp_path / "my_test_list.txt").write_text("folder/file04.wav\n")
    result = split_keys(doc, rule="list", list_files=[tmp_path / "train.txt", tmp_path / "valid_filtered.txt"])
    assert result == {"train": keys[:3], "valid": [keys[3]]}  # file05 is in no list: left out
    result = split_keys(doc, rule="list", list_files={"train": tmp_path / "train.txt",
                                                      "test": tmp_path / "my_test_list.txt"})
    assert result == {"train": keys[:3], "valid": [], "test": [keys[4]]}
    with pytest.raises(MirError, match="cannot tell the split from the file name"):
        split_keys(doc, rule="list", list_files=[tmp_path / "my_test_list.txt"])


def test_list_rule_bad_input(tmp_path):
    doc = make_doc(3)
    with pytest.raises(MirError, match="missing.txt: no such file"):
        split_keys(doc, rule="list", list_files={"train": tmp_path / "missing.txt"})
    (tmp_path / "train.txt").write_text("folder/file00.wav\nfolder/file99.wav\nfolder/file98.wav\n")
    with pytest.warns(UserWarning, match=r"train.txt: 2 line\(s\) name no entry .* \(first: line 2, "
                                         r"'folder/file99.wav'\)"):
        assert split_keys(doc, rule="list", list_files={"train": tmp_path / "train.txt"})["train"] == \
            ["folder+++file00.wav"]
    (tmp_path / "other.txt").write_text("rock/rock.00001.wav\nrock/rock.00002.wav\n")
    with pytest.raises(MirError, match=r"other.txt, line 1: 'rock/rock.00001.wav' names no entry .* \(nor does "
                                       r"any of its 2 lines\)"):
        split_keys(doc, rule="list", list_files={"train": tmp_path / "other.txt"})
    (tmp_path / "a.txt").write_text("folder/file00.wav\n")
    (tmp_path / "b.txt").write_text("folder/file00.wav\n")
    with pytest.raises(MirError, match=r"b.txt, line 1: 'folder/file00.wav' is also in .*a.txt \(train\)"):
        split_keys(doc, rule="list", list_files={"train": tmp_path / "a.txt", "valid": tmp_path / "b.txt"})
    with pytest.raises(ParameterError, match="needs list_files"):
        split_keys(doc, rule="list")
    with pytest.raises(ParameterError, match=r"^unknown split rule 'random'; known: field, index_mod5, list$"):
        split_keys(doc, rule="random")
    with pytest.raises(MirError, match="key 'nope' is not in"):
        split_keys(doc, keys=["nope"])


def test_list_rule_real_gtzan_lists():
    folder = fixture_path("gtzan_genre", "_splits_jongpillee", "GTZAN_split")
    lists = sorted(folder.glob("*_filtered.txt"))
    lines = {p: [x.strip() for x in p.read_text().splitlines() if x.strip()] for p in lists}
    doc = PyjamaDoc()
    doc.define("genre", "global")
    everything = sorted({line for values in lines.values() for line in values})
    for line in everything:  # keys as the GTZAN converter writes them: relative to genres/
        doc.add_entry(line.replace("/", "+++"), {"genre": global_atoms([line.split("/")[0]])})
    result = split_keys(doc, rule="list", list_files=lists)
    assert {name: len(v) for name, v in result.items()} == {
        "train": len(lines[folder / "train_filtered.txt"]), "valid": len(lines[folder / "valid_filtered.txt"]),
        "test": len(lines[folder / "test_filtered.txt"])}
    assert "blues+++blues.00000.wav" in result["valid"]
    # the real GTZAN's jazz.00054.wav cannot be decoded, so a converted corpus lacks it: left out, one warning
    doc.entries = [e for e in doc.entries if e["filepath"][0]["value"] != "jazz+++jazz.00054.wav"]
    with pytest.warns(UserWarning, match=r"train_filtered.txt: 1 line\(s\) name no entry .*'jazz/jazz.00054.wav'"):
        result = split_keys(doc, rule="list", list_files=lists)
    assert len(result["train"]) == len(lines[folder / "train_filtered.txt"]) - 1


def test_list_rule_keys_with_a_corpus_prefix(tmp_path):
    # keys holding the corpus folder as well ('genres+++blues+++...') still match 'blues/...' lines
    doc = PyjamaDoc()
    for i in range(6):
        doc.add_entry(f"genres+++blues+++blues.0000{i}.wav")
    (tmp_path / "train.txt").write_text("blues/blues.00001.wav\nblues/blues.00002.wav\n")
    (tmp_path / "test.txt").write_text("genres/blues/blues.00003.wav\n")
    result = split_keys(doc, rule="list", list_files=[tmp_path / "train.txt", tmp_path / "test.txt"])
    assert result == {"train": ["genres+++blues+++blues.00001.wav", "genres+++blues+++blues.00002.wav"],
                      "valid": [], "test": ["genres+++blues+++blues.00003.wav"]}


@pytest.mark.slow
def test_tutorial_bittner_config_splits_our_bach10_conversion_like_the_notebook(tmp_path):
    """config_bittner.yaml unchanged on our `pyjama-convert bach10` output: the stems (no f0multi) are
    left out and the kept mixes are numbered, so mixes 1 and 6 are valid (it was "the 'train' split
    is empty": every mix sits at a document index divisible by 5)."""
    from test_converters_bach10 import make_piece

    from mirmodels.config import load_config
    from mirmodels.data import prepare_data
    from pyjama_tools.convert import convert

    config_path = fixture_path("tutorial", "config_bittner.yaml")
    root = tmp_path / "Bach10"
    for number in range(1, 7):
        make_piece(root, f"{number:02d}-Piece", num_frames=200, seed=number)
    convert("bach10", root, tmp_path / "data", quiet=True)
    prepared = prepare_data(load_config(config_path), data_root=tmp_path / "data")
    assert prepared.annot_key == "f0multi"
    assert prepared.splits["valid"] == ["01-Piece+++01-Piece.wav", "06-Piece+++06-Piece.wav"]
    assert prepared.splits["train"] == [f"0{n}-Piece+++0{n}-Piece.wav" for n in range(2, 6)]
    # dataset.every / dataset.where narrow the kept entries before the rule numbers them
    every = prepare_data(load_config(config_path, ["dataset.every=2"]), data_root=tmp_path / "data")
    assert every.splits == {"train": ["03-Piece+++03-Piece.wav", "05-Piece+++05-Piece.wav"],
                            "valid": ["01-Piece+++01-Piece.wav"]}
    with pytest.raises(MirError, match=r"bach10.pyjama: dataset.where stem=cello: none of the 6 entries has it "
                                       r"\(its values: mixture\)$"):
        prepare_data(load_config(config_path, ["dataset.where={stem: cello}"]), data_root=tmp_path / "data")

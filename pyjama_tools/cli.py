"""The ``pyjama-convert`` command line: a thin click layer over the Python API.

``pyjama-convert <corpus> SRC OUT_DIR [options]`` has one subcommand per registered
converter (built from the registry, with the converter's own options), plus ``list``,
``validate``, ``info``, ``split`` and ``synth``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pyjama_tools import pyjama
from pyjama_tools.audio_store import check_sample_rate
from pyjama_tools.core.cliutil import MirGroup, parse_key_values
from pyjama_tools.converters import load_all
from pyjama_tools.core.errors import MirError


def _parse_sample_rate(value: str) -> int | None:
    if value == "native":
        return None
    try:
        rate = int(value)
    except ValueError:
        raise MirError(f"--sr {value!r}: expected a rate in Hz or 'native'") from None
    if rate <= 0:
        raise MirError(f"--sr {value!r}: the rate must be > 0 Hz")
    return check_sample_rate(rate, "--sr")


def _converter_command(name: str) -> click.Command:
    """A click command for the converter registered as ``name``."""
    from pyjama_tools.convert import convert

    converter_class = load_all()[name]

    def run(src, out_dir, base, sr, jobs, strict, overwrite, quiet, **options):
        report = convert(name, src, out_dir, name=base, sample_rate=_parse_sample_rate(sr), jobs=jobs,
                         strict=strict, overwrite=overwrite, quiet=quiet, **options)
        if not quiet or report.problems:
            click.echo(f"wrote {report.entries} entries: {report.pyjama_path} + {report.payload_path}")
        if report.problems:
            click.echo(f"skipped {len(report.problems)} bad input(s), listed in {report.report_path}", err=True)

    params = [click.Argument([option.parameter], type=option.type)
              for option in converter_class.options if option.positional]
    params += [
        click.Argument(["src"], type=click.Path(path_type=Path), metavar=converter_class.source_name),
        click.Argument(["out_dir"], type=click.Path(path_type=Path)),
        click.Option(["--name", "base"], default=None,
                     help=f"output base name [default: {converter_class.default_base}]"),
        click.Option(["--sr"], default="22050", show_default=True, help="sample rate in Hz, or 'native'"),
        click.Option(["--jobs"], type=click.IntRange(1), default=1, show_default=True,
                     help="parallel decode threads"),
        click.Option(["--strict"], is_flag=True, help="fail on the first bad input instead of skipping it"),
        click.Option(["--overwrite"], is_flag=True, help="replace an existing pair"),
        click.Option(["--quiet"], is_flag=True, help="no progress bar"),
    ]
    for option in (o for o in converter_class.options if not o.positional):
        params.append(click.Option([f"--{option.name}", option.parameter], type=None if option.is_flag else option.type,
                                   default=option.default, is_flag=option.is_flag, help=option.help,
                                   show_default=option.default is not None and not option.is_flag))
    return click.Command(name, callback=run, params=params, help=converter_class.summary,
                         short_help=converter_class.summary)


class ConvertGroup(MirGroup):
    """The fixed subcommands plus one per registered converter."""

    def list_commands(self, ctx):
        return sorted(super().list_commands(ctx)) + sorted(load_all())

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in load_all():
            command = _converter_command(cmd_name)
        return command

    def resolve_command(self, ctx, args):
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            from pyjama_tools.converters import get_converter_class

            get_converter_class(args[0])  # raises a one-line error with the closest names
        return super().resolve_command(ctx, args)


@click.group(cls=ConvertGroup)
@click.version_option(package_name="mir101")
def main() -> None:
    """Convert raw music corpora to an audio .hdf5 + a .pyjama annotation file."""


@main.command("list")
def list_converters() -> None:
    """List the corpora that can be converted."""
    for name, converter_class in sorted(load_all().items()):
        click.echo(f"{name:12s} [{converter_class.default_base}] {converter_class.summary}")
        for line in converter_class.listing():
            click.echo(f"{'':12s} {line}")


@main.command()
@click.argument("pyjama_file", type=click.Path(path_type=Path))
@click.option("--audio", type=click.Path(path_type=Path), default=None,
              help="the paired audio (or feature) HDF5: every filepath must be one of its keys")
def validate(pyjama_file: Path, audio: Path | None) -> None:
    """Validate a .pyjama file (exit 1 with every problem listed)."""
    from pyjama_tools.audio_store import AudioStore

    doc = pyjama.load(pyjama_file)
    keys = None
    if audio is not None:
        with AudioStore(audio) as store:
            keys = list(store.file.keys())
    problems = pyjama.validate(doc, keys)
    if problems:
        for problem in problems:
            click.echo(f"{pyjama_file}: {problem}")
        click.echo(f"error: {pyjama_file}: {len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"{pyjama_file}: valid ({len(doc.entries)} entries)")


@main.command()
@click.argument("pyjama_file", type=click.Path(path_type=Path))
@click.option("--audio", type=click.Path(path_type=Path), default=None, help="the paired audio HDF5 (for durations)")
def info(pyjama_file: Path, audio: Path | None) -> None:
    """Entries, fields, vocabulary sizes and total duration of a dataset."""
    from pyjama_tools.info import describe

    click.echo(describe(pyjama_file, audio))


@main.command()
@click.argument("pyjama_file", type=click.Path(path_type=Path))
@click.option("--where", "where_items", multiple=True, metavar="FIELD=VALUE",
              help="keep the entries whose FIELD has VALUE (repeat for several values or fields)")
@click.option("--every", type=click.IntRange(1), default=1, show_default=True,
              help="then keep every N-th of those entries (MagnaTagATune in the book: 20)")
@click.option("--rule", type=click.Choice(["index_mod5", "field"]), default="index_mod5", show_default=True,
              help="index_mod5: kept entries numbered 0, 5, 10, ... are valid; field: the --field value of each")
@click.option("--field", "split_field", default="split", show_default=True, help="the split field (rule field)")
@click.option("--group", "group_field", default=None, help="field whose groups stay in one split (piece, work-id)")
@click.option("--out-dir", type=click.Path(path_type=Path), default=None,
              help="folder of the lists [default: the folder of the .pyjama]")
def split(pyjama_file: Path, where_items: tuple[str, ...], every: int, rule: str, split_field: str,
          group_field: str | None, out_dir: Path | None) -> None:
    """Write BASE_train.txt and BASE_valid.txt (and BASE_test.txt) for dataset.split: list."""
    from pyjama_tools.splits import select_keys, split_keys, write_split_lists

    where: dict[str, list[str]] = {}
    for item in where_items:
        for field, value in parse_key_values([item], "--where").items():
            where.setdefault(field, []).append(value)
    doc = pyjama.load(pyjama_file)
    pyjama.check(doc, source=str(pyjama_file))
    try:
        keys = select_keys(doc, where=where, every=every)
        splits = split_keys(doc, keys=keys, rule=rule, field=split_field, group_field=group_field)
    except MirError as error:
        raise MirError(f"{pyjama_file}: {error}") from None
    for name in ("train", "valid"):
        if not splits.get(name):
            raise MirError(f"{pyjama_file}: the {name!r} split would be empty ({len(keys)} entries kept, rule "
                           f"{rule!r}); keep more entries (--where, --every) or change the rule")
    folder = out_dir if out_dir is not None else pyjama_file.parent
    if folder.exists() and not folder.is_dir():
        raise MirError(f"{folder}: not a folder (--out-dir)")
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in write_split_lists(splits, folder, pyjama_file.stem).items():
        click.echo(f"{path}: {len(splits[name])} entries")


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--files", type=click.IntRange(1), default=40, show_default=True, help="number of files")
@click.option("--seconds-per-file", type=float, default=15.0, show_default=True, help="duration of each file (s)")
@click.option("--seed", type=int, default=0, show_default=True, help="random seed (same seed, same corpus)")
@click.option("--sr", "sample_rate", type=click.IntRange(8000), default=22050, show_default=True, help="sample rate (Hz)")
@click.option("--name", default="synth", show_default=True, help="output base name")
@click.option("--renderer", default="additive", show_default=True, metavar="NAME",
              help="a renderer of pyjama_tools.synth.RENDERERS: additive (synthesis), or fluidsynth (sampled "
                   "instruments; needs pretty_midi + a FluidSynth library)")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True, help="parallel processes")
@click.option("--overwrite", is_flag=True, help="replace an existing pair")
@click.option("--quiet", is_flag=True, help="no progress bar")
def synth(out_dir: Path, files: int, seconds_per_file: float, seed: int, sample_rate: int, name: str,
          renderer: str, jobs: int, overwrite: bool, quiet: bool) -> None:
    """Write the embedded synthetic corpus (notes, f0, instruments, style, chords) as a dataset pair."""
    from pyjama_tools.synth import SynthParams, generate

    params = SynthParams(files=files, seconds_per_file=seconds_per_file, seed=seed, sample_rate=sample_rate)
    pyjama_path, audio_path = generate(out_dir, params, name=name, renderer=renderer, jobs=jobs,
                                       overwrite=overwrite, quiet=quiet)
    click.echo(f"wrote {files} files ({files * seconds_per_file / 60:.1f} min): {pyjama_path} + {audio_path}")

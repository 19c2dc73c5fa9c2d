"""The ``mirfeat`` command line: a thin click layer over the Python API."""

from __future__ import annotations

from pathlib import Path

import click

from pyjama_tools.core.cliutil import MirGroup, parse_key_values


@click.group(cls=MirGroup)
@click.version_option(package_name="mir101")
def main() -> None:
    """Music features cached in HDF5: cache, info, show."""


@main.command("cache")
@click.argument("audio", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--feature", "feature_name", help="Feature name (waveform, lms, cqt, hcqt, stft, chroma).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A feature parameter (repeatable); overrides --config.")
@click.option("--config", "config", type=click.Path(path_type=Path),
              help="YAML with 'feature:' and 'params:' (or the tutorial's 'feature: {type: ...}').")
@click.option("--jobs", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--dtype", default="float32", show_default=True, type=click.Choice(["float32", "float16"]))
@click.option("--backend", default="loky", show_default=True, type=click.Choice(["loky", "dask"]))
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler (tcp://host:port); default: a local cluster.")
@click.option("--compression", default="none", show_default=True, type=click.Choice(["none", "lzf", "gzip"]))
@click.option("--device", default=None, metavar="DEVICE",
              help="Compute with the torch backend on this device (cuda, cuda:1, cpu); default: librosa in --jobs processes.")
@click.option("--key", "keys", multiple=True, help="Only this audio key (repeatable).")
@click.option("--overwrite", is_flag=True, help="Rebuild even if OUT exists with other parameters.")
@click.option("--strict", is_flag=True, help="Fail on bad audio instead of skipping it.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def cache_command(audio: Path, out: Path, feature_name: str | None, params: tuple[str, ...], config: Path | None,
                  jobs: int, dtype: str, backend: str, scheduler: str | None, compression: str,
                  device: str | None, keys: tuple[str, ...], overwrite: bool, strict: bool, quiet: bool) -> None:
    """Compute a feature for every file of AUDIO (an audio HDF5) into the cache OUT (resumable)."""
    from mirfeat.cache import build_cache, load_feature_config
    from mirfeat.cache.backends import stop_workers
    from pyjama_tools.core.errors import MirError

    name, values = (None, {}) if config is None else load_feature_config(config)
    name = feature_name or name
    if not name:
        raise MirError("no feature given: use --feature NAME or a --config with 'feature:'")
    values.update(parse_key_values(params))
    report = build_cache(audio, out, name, values, jobs=jobs, dtype=dtype, backend=backend, scheduler=scheduler,
                         overwrite=overwrite, strict=strict, quiet=quiet, keys=list(keys) or None,
                         compression=None if compression == "none" else compression, device=device)
    stop_workers()  # the idle pool goes now, not in the interpreter's exit (a Ctrl-C there was a traceback, exit 0)
    if report.noop:
        click.echo(f"{report.path}: already complete ({report.reused} keys), nothing to do")
    else:
        reused = f", {report.reused} reused" if report.reused else ""
        click.echo(f"{report.path}: {report.computed} computed{reused}, {len(report.skipped)} skipped")
    for key, message in report.skipped:
        click.echo(f"skipped {key}: {message}")


@main.command("info")
@click.argument("cache", type=click.Path(path_type=Path))
def info_command(cache: Path) -> None:
    """Describe a feature cache: feature, parameters, keys, shapes, size on disk."""
    from mirfeat.show import cache_info, format_info

    click.echo(format_info(cache_info(cache)))


@main.command("show")
@click.argument("cache", type=click.Path(path_type=Path))
@click.argument("key")
@click.option("--pyjama", "pyjama_path", type=click.Path(path_type=Path), help="A .pyjama whose annotation is drawn on top.")
@click.option("--field", "field_name", help="The .pyjama field to draw (needs --pyjama).")
@click.option("--channel", default=None, type=int, help="Channel to draw (default: the h=1 harmonic, else 0).")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path), help="PNG to write.")
@click.option("--width", default=12.0, show_default=True, type=float, help="Figure width in inches.")
@click.option("--height", default=5.0, show_default=True, type=float, help="Figure height in inches.")
@click.option("--dpi", default=100, show_default=True, type=int)
def show_command(cache: Path, key: str, pyjama_path: Path | None, field_name: str | None, channel: int | None,
                 output: Path, width: float, height: float, dpi: int) -> None:
    """Draw KEY's feature from CACHE (with an annotation overlaid) into a PNG."""
    from mirfeat.show import draw_feature

    path = draw_feature(cache, key, output, pyjama=pyjama_path, field=field_name, channel=channel,
                        width=width, height=height, dpi=dpi)
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()

"""The ``mirmodels`` command line: a thin click layer over the Python API."""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager

import click

from pyjama_tools.core.cliutil import MirGroup

#: Library warnings that say nothing actionable to a user of the command line.
QUIET_WARNINGS = (
    # (70, 3)-like kernels with padding 'same' (the book's Bittner model): torch pads a copy, harmless
    r"Using padding='same' with even kernel lengths",
    # Lightning's own use of a deprecated torch API
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # fit --resume: the run's checkpoints and the session log folder exist, as they should
    r"Checkpoint directory .* exists and is not empty",
    r"Experiment logs directory .* exists and is not empty",
)


@contextmanager
def info_lines():
    """Print the ``mirmodels`` logger's info lines (what a run decided for the user) on stderr,
    one line each: ``info: <message>``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("info: %(message)s"))
    logger = logging.getLogger("mirmodels")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@click.group(cls=MirGroup)
@click.version_option(package_name="mir101")
def main() -> None:
    """Networks written in YAML: summary, fit, evaluate, predict."""
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


@main.command("summary")
@click.argument("config", type=str)
@click.option("--input-shape", "input_shape", required=True,
              help="Shape of one example, batch excluded: C,F,T (e.g. 6,360,64), C,T (1,3200) or any rank.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="Value of a $NAME placeholder in the model (repeatable), e.g. --var n_out=50.")
@click.option("--n-out", "n_out", type=click.IntRange(min=1), default=None,
              help="Output size (classes, tags): $n_out, else the last Linear's out_features "
                   "(default: the file's dataset.n_out, if any).")
def summary(config: str, input_shape: str, variables: tuple[str, ...], n_out: int | None) -> None:
    """Build the model of CONFIG (a model YAML or a whole experiment config) and print one row per
    layer: YAML path, layer, output shape, parameters; then the parameter counts and size."""
    from pyjama_tools.core.cliutil import parse_key_values
    from mirmodels.config import yaml_value
    from mirmodels.summary import build_for_summary, format_summary, parse_shape

    values = {key: yaml_value(value) for key, value in parse_key_values(variables, "--var").items()}
    click.echo(format_summary(build_for_summary(config, parse_shape(input_shape), variables=values, n_out=n_out)))


# --- fit / evaluate / predict (experiment runner) ---------------------------------------------------


@main.command("fit")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a config value (repeatable; YAML value), e.g. --set train.lr=0.01.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Folder of <base>_audio.hdf5 + <base>.pyjama (default dataset.root, else the current folder).")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Run directory (default runs/<config stem>).")
@click.option("--resume", is_flag=True, help="Continue the run from RUN_DIR/checkpoints/last.ckpt.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes used to build the feature cache.")
@click.option("--allow-missing-audio", is_flag=True,
              help="Train even when most entries of the .pyjama have no audio in the store.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def fit_command(config: str, overrides: tuple[str, ...], data_root: str | None, out: str | None, resume: bool,
                jobs: int, allow_missing_audio: bool, quiet: bool) -> None:
    """Train the experiment described by CONFIG (YAML: dataset, feature, model, train, eval).

    Entries of the .pyjama left out (no audio, no annotation, no features, in no split) are
    counted in an 'info:' line on stderr before training and in RUN_DIR/run.json ('dropped')."""
    from mirmodels.experiment import fit

    with info_lines():
        result = fit(config, out=out, data_root=data_root, resume=resume, overrides=overrides, jobs=jobs,
                     quiet=quiet, allow_missing_audio=allow_missing_audio)
    if result.is_global_zero:
        click.echo(f"run: {result.run_dir}  best valid_loss {result.best_valid_loss:.4f} after {result.epochs} "
                   f"epochs  checkpoint {result.best_checkpoint}")


@main.command("evaluate")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(["valid", "test", "train"]), default=None,
              help="Split to score (default eval.split of the run's config).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Folder of the dataset pair (default: where the run was trained).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def evaluate_command(run_dir: str, split: str | None, data_root: str | None, quiet: bool) -> None:
    """Score the best checkpoint of RUN_DIR on whole files; writes RUN_DIR/metrics.json."""
    from mirmodels.evaluate import evaluate, format_metrics

    result = evaluate(run_dir, split=split, data_root=data_root, quiet=quiet)
    click.echo(format_metrics(result))


@main.command("predict")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("audio_file", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: next to AUDIO_FILE).")
@click.option("--threshold", type=float, default=None, help="Decision threshold (default eval.threshold).")
def predict_command(run_dir: str, audio_file: str, out: str | None, threshold: float | None) -> None:
    """Run the trained model of RUN_DIR on any AUDIO_FILE: JSON + CSV predictions and a PNG
    (multi-pitch: also the notes as a .pyjama)."""
    from mirmodels.predict import predict

    result = predict(run_dir, audio_file, out_dir=out, threshold=threshold)
    for path in result.files:
        click.echo(str(path))


if __name__ == "__main__":  # ``python -m mirmodels.cli``: DDP relaunches the command this way
    main()

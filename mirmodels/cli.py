"""The ``mirmodels`` command line: a thin click layer over the Python API."""

from __future__ import annotations

import click

from pyjama_tools.cliutil import MirGroup


@click.group(cls=MirGroup)
@click.version_option(package_name="mir101")
def main() -> None:
    """mirmodels command line."""


@main.command("summary")
@click.argument("config", type=str)
@click.option("--input-shape", "input_shape", required=True,
              help="Shape of one example, batch excluded: C,F,T (e.g. 6,360,64), C,T (1,3200) or any rank.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="Value of a $NAME placeholder in the model (repeatable), e.g. --var n_out=50.")
def summary(config: str, input_shape: str, variables: tuple[str, ...]) -> None:
    """Build the model of CONFIG (YAML) and print one row per layer: YAML path, layer, output
    shape, parameters; then the total and trainable parameter counts."""
    import yaml

    from pyjama_tools.cliutil import parse_key_values
    from mirmodels.factory import build_model
    from mirmodels.summary import format_summary, parse_shape

    values = {key: yaml.safe_load(value) for key, value in parse_key_values(variables, "--var").items()}
    click.echo(format_summary(build_model(config, parse_shape(input_shape), variables=values)))

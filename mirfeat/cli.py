"""The ``mirfeat`` command line: a thin click layer over the Python API."""

from __future__ import annotations

import click

from pyjama_tools.cliutil import MirGroup


@click.group(cls=MirGroup)
@click.version_option(package_name="mir101")
def main() -> None:
    """mirfeat command line."""

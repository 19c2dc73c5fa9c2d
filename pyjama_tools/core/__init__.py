"""Shared infrastructure of the three packages: errors, the plug-in registry, parameter checks,
text / YAML / atomic file I/O, output locks, the lazy HDF5 handle and the CLI helpers.

Nothing here knows about music: the domain modules (``pyjama``, ``audio_store``, ``mirfeat``,
``mirmodels``) build on it, and it imports none of them.

=============  =================================================================
module         job
=============  =================================================================
errors         ``MirError`` and its one-line subclasses
registry       ``Registry``: named plug-ins with "did you mean" suggestions
checks         parameter validators (integers, finite numbers, choices, tuples)
textfile       UTF-8 text and JSON with one-line read errors
yamlfile       bounded YAML (aliases, depth, size, duplicate keys)
atomic         outputs that appear complete or not at all (files and groups)
locking        one writer per output (``output_lock``)
hdf5           ``LazyHDF5``: a read-only handle opened once per process
cliutil        one-line errors and exit codes for the console scripts
=============  =================================================================
"""

"""What a run directory gets while Lightning trains (kept for its import path): the checkpoints
are in :mod:`mirmodels.callbacks`, the CSV log in :mod:`mirmodels.metrics_csv`, the state_dict
export in :mod:`mirmodels.weights`."""

from mirmodels.callbacks import AtomicCheckpointIO, ExportBest, checkpoint_callbacks
from mirmodels.metrics_csv import SESSION_LOG, MergedCsvLog, merge_rows, read_csv, write_rows
from mirmodels.weights import export_state_dict

__all__ = ["SESSION_LOG", "AtomicCheckpointIO", "ExportBest", "MergedCsvLog", "checkpoint_callbacks", "export_state_dict",
           "merge_rows", "read_csv", "write_rows"]

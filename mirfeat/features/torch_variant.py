"""The torch variant of a feature: a mixin its module's :class:`~mirfeat.features.base.Feature` takes.

A feature with a torch variant subclasses :class:`TorchVariant` and implements :meth:`torch_value`
(the batched computation, in its own module); :meth:`compute_torch` validates the batch and the
device and runs it through :func:`mirfeat.features.torch_backend.compute_batch`.  This module imports
neither torch nor a feature module, so a feature module stays light to import and the backend
never needs to know a feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch


class TorchVariant:
    """Mixin of a feature computed also with torch (batched, CPU or CUDA).

    Attributes
    ----------
    torch_tolerance : float
        Largest relative error to the librosa backend the self-check accepts
        (``python -m mirfeat.features.torch_check --check``).
    """

    torch_tolerance: ClassVar[float] = 1e-3

    def torch_value(self, audio: torch.Tensor, sr: float) -> torch.Tensor:  # pragma: no cover - abstract
        """The feature of a validated float32 batch ``audio`` (B, N) at ``sr`` Hz: float32 (B, C, F, T)."""
        raise NotImplementedError

    def torch_function(self):
        """The bound batched torch computation of the feature: :meth:`torch_value`."""
        return self.torch_value

    def compute_torch(self, audio: Any, sr: float, device: Any = "cpu") -> torch.Tensor:
        """Batched torch computation of (B, N) or (N,) waveforms, see
        :func:`mirfeat.features.torch_backend.compute_batch`."""
        from mirfeat.features.torch_backend import compute_batch

        return compute_batch(self, audio, sr, device=device)

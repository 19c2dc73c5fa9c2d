"""Run a separation network over a whole song: overlapping windows, cross-faded, bounded memory.

The network takes windows of ``window`` samples (its training window). :func:`separate_blocks`
slides it every ``hop`` samples (default half a window), ``batch_size`` windows per forward pass,
weights each output window with a Hann cross-fade and yields the finished samples block by block,
so only about ``batch_size + 1`` windows of output are held at a time, whatever the song's
length. :func:`separate` concatenates the blocks (evaluation); :func:`write_sources` streams them
into one WAV per source (prediction).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from pyjama_tools.core.atomic import atomic_path

__all__ = ["separate_blocks", "separate", "write_sources"]


def _fade(window: int) -> np.ndarray:
    """Cross-fade weights (window,): a Hann window floored at 1e-3, so the song's first and last
    samples (covered by one window only) keep their value after normalisation."""
    return np.maximum(np.hanning(window + 2)[1:-1], 1e-3).astype(np.float64)


@torch.no_grad()
def _run(network: torch.nn.Module, chunks: np.ndarray, conditions: int, device) -> np.ndarray:
    """(B, C, L) mixture windows → (B, S, C, L); a conditioned network (``conditions`` = S > 0) is
    run once per source with its one-hot after the mixture channels."""
    x = torch.from_numpy(chunks).to(device)
    if not conditions:
        return network(x).float().cpu().numpy()
    outputs = []
    for source in range(conditions):
        onehot = torch.zeros(x.shape[0], conditions, x.shape[-1], device=device)
        onehot[:, source] = 1.0
        outputs.append(network(torch.cat((x, onehot), dim=1))[:, 0].float().cpu().numpy())
    return np.stack(outputs, axis=1)


def separate_blocks(network: torch.nn.Module, mixture: np.ndarray, window: int, hop: int | None = None,
                    batch_size: int = 8, conditions: int = 0, device: str | torch.device = "cpu"
                    ) -> Iterator[np.ndarray]:
    """Yield the separated sources of ``mixture`` (C, N) as consecutive blocks (S, C, n).

    Parameters
    ----------
    network : maps (B, C, window) to (B, S, C, window) (conditioned: (B, C + S, window) to (B, 1, C, window))
    mixture : np.ndarray float32 (C, N)
    window : samples per network input
    hop : samples between windows (default window // 2)
    batch_size : windows per forward pass
    conditions : S for a conditioned network, 0 otherwise
    device : torch device

    The blocks together hold exactly N samples.
    """
    mixture = np.asarray(mixture, dtype=np.float32)
    samples = mixture.shape[-1]
    hop = max(1, int(hop or window // 2))
    starts = list(range(0, max(samples - window, 0) + 1, hop))
    if starts[-1] + window < samples:
        starts.append(starts[-1] + hop)  # the last window runs past the end (zero-padded)
    padded_length = starts[-1] + window
    fade = _fade(window)
    acc = norm = None
    offset = 0  # song sample at acc[..., 0]
    network = network.to(device).eval()
    for first in range(0, len(starts), batch_size):
        batch = starts[first:first + batch_size]
        chunks = np.zeros((len(batch), mixture.shape[0], window), dtype=np.float32)
        for row, start in enumerate(batch):
            piece = mixture[:, start:start + window]
            chunks[row, :, :piece.shape[-1]] = piece
        outputs = _run(network, chunks, conditions, device)
        end = batch[-1] + window
        if acc is None:
            acc = np.zeros(outputs.shape[1:3] + (end - offset,), dtype=np.float64)
            norm = np.zeros(end - offset, dtype=np.float64)
        elif end - offset > acc.shape[-1]:
            grow = end - offset - acc.shape[-1]
            acc = np.concatenate([acc, np.zeros(acc.shape[:2] + (grow,))], axis=-1)
            norm = np.concatenate([norm, np.zeros(grow)])
        for output, start in zip(outputs, batch):
            acc[..., start - offset:start - offset + window] += output * fade
            norm[start - offset:start - offset + window] += fade
        done = starts[first + batch_size] if first + batch_size < len(starts) else padded_length
        cut = min(done, samples) - offset
        if cut > 0:
            yield (acc[..., :cut] / norm[:cut]).astype(np.float32)
        acc, norm, offset = acc[..., done - offset:], norm[done - offset:], done
        if offset >= samples:
            return


def separate(network: torch.nn.Module, mixture: np.ndarray, window: int, hop: int | None = None,
             batch_size: int = 8, conditions: int = 0, device: str | torch.device = "cpu") -> np.ndarray:
    """The separated sources (S, C, N) of ``mixture`` (C, N), see :func:`separate_blocks`."""
    return np.concatenate(list(separate_blocks(network, mixture, window, hop, batch_size, conditions, device)),
                          axis=-1)


def write_sources(blocks: Iterator[np.ndarray], paths: Sequence[str | os.PathLike], model_rate: int,
                  out_rate: int, length: int) -> list[Path]:
    """Stream blocks (S, C, n) at ``model_rate`` into one float WAV per source at ``out_rate``,
    exactly ``length`` samples long; every file is written under a temporary name and all are
    renamed together at the end (an error leaves none of them).
    """
    import soundfile
    import soxr

    paths = [Path(p) for p in paths]
    written = [0] * len(paths)
    with contextlib.ExitStack() as stack:
        temporary = [stack.enter_context(atomic_path(p)) for p in paths]
        files = streams = None
        for block in blocks:
            if files is None:
                channels = block.shape[1]
                files = [stack.enter_context(soundfile.SoundFile(t, "w", out_rate, channels, subtype="FLOAT",
                                                                 format="WAV")) for t in temporary]
                streams = [soxr.ResampleStream(model_rate, out_rate, channels, dtype="float32", quality="HQ")
                           if model_rate != out_rate else None for _ in paths]
            for index, (file, stream) in enumerate(zip(files, streams)):
                data = np.ascontiguousarray(block[index].T)
                if stream is not None:
                    data = stream.resample_chunk(data)
                data = data[:max(0, length - written[index])]
                file.write(data)
                written[index] += len(data)
        for index, (file, stream) in enumerate(zip(files or [], streams or [])):
            if stream is not None:
                tail = stream.resample_chunk(np.zeros((0, file.channels), dtype=np.float32), last=True)
                tail = tail[:max(0, length - written[index])]
                file.write(tail)
                written[index] += len(tail)
            if written[index] < length:  # resampling rounds: pad the last samples with silence
                file.write(np.zeros((length - written[index], file.channels), dtype=np.float32))
            file.close()
    return paths

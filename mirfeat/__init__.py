"""mirfeat: music features (waveform, log-mel, CQT, HCQT, ...) cached in HDF5 and served to PyTorch."""

__version__ = "0.1.0"

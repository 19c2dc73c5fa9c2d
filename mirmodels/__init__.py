"""mirmodels: networks written in YAML, trained with Lightning, scored with mir_eval and scikit-learn."""

__version__ = "0.1.0"

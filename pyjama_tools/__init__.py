"""pyjama_tools: raw music corpora → one audio ``.hdf5`` + one ``.pyjama`` annotation file."""

from pyjama_tools.core.errors import MirError

__version__ = "0.1.0"
__all__ = ["MirError", "__version__"]

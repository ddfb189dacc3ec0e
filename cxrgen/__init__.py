"""cxrgen: chest X-ray report generation with language models.

Importing the package is cheap on purpose: no torch, transformers, h5py or timm here.
"""

__version__ = "0.1.0"

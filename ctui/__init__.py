"""ctui: a terminal control room for several coding agents on one git repository."""

__version__ = "0.1.0"

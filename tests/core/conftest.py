"""The core tests share `clock` and `clocked` from tests/conftest.py."""

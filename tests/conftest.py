"""Shared test set-up: the bundled package importable as ``berth``, test helpers as ``support``."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "module_utils"))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # shared helpers: tests/support

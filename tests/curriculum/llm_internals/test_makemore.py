"""makemore: the names data, the count models, hand-written BatchNorm, the two MLPs."""

import json

import pytest
import torch
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.llm_internals.makemore import data
from curriculum.llm_internals.makemore import models as m


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_names_are_proper_nouns_of_the_plays():
    names = data.names()
    assert len(names) > 1500
    assert {"hamlet", "ophelia", "hippolyta", "verona"} <= set(names)
    assert not {"now", "good", "the"} & set(names)
    assert all(name.isalpha() and name.islower() for name in names)
    train, val, test = data.split()
    assert len(set(train) | set(val) | set(test)) == len(names)


def test_examples_pad_the_start_and_end_with_the_dot():
    x, y = data.examples(["ab"], 3)
    assert x.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2]]
    assert y.tolist() == [1, 2, 0]


def test_count_model_rows_are_distributions():
    x, y = data.examples(data.split()[0], 2)
    table = m.count_model(x, y)
    assert table.shape == (27 * 27, 27)
    assert torch.allclose(table.sum(1), torch.ones(27 * 27, dtype=torch.float64))


def test_bigram_net_learns_the_count_model():
    x, y = data.examples(data.split()[0], 1)
    counts = m.count_loss(m.count_model(x, y), x, y)
    net = m.BigramNet()
    net.fit(x, y, 300)
    assert abs(net.loss(x, y).item() - counts) < 0.02


@pytest.mark.parametrize("shape", [(64, 20), (16, 4, 20)])
def test_batchnorm_equals_torch(shape):
    x = torch.randn(*shape) * 3 + 1
    ours, theirs = m.BatchNorm1d(20), torch.nn.BatchNorm1d(20)
    for _ in range(3):
        expected = theirs(x.transpose(1, 2)).transpose(1, 2) if x.ndim == 3 else theirs(x)
        assert torch.allclose(ours(x), expected, atol=1e-5)
    assert torch.allclose(ours.running_mean, theirs.running_mean, atol=1e-5)
    assert torch.allclose(ours.running_var, theirs.running_var, atol=1e-5)
    ours.training = False
    theirs.eval()
    expected = theirs(x.transpose(1, 2)).transpose(1, 2) if x.ndim == 3 else theirs(x)
    assert torch.allclose(ours(x), expected, atol=1e-5)


def test_flatten_consecutive_fuses_neighbours():
    x = torch.arange(2 * 8 * 3).reshape(2, 8, 3)
    fused = m.FlattenConsecutive(2)(x)
    assert fused.shape == (2, 4, 6)
    assert fused[0, 1].tolist() == x[0, 2:4].reshape(-1).tolist()


def test_wavenet_and_mlp_output_logits_and_learn():
    x, y = data.examples(data.split()[0], 8)
    for model in (m.wavenet(8, hidden=32), m.mlp(8, hidden=32)):
        assert model(x[:5]).shape == (5, 27)
        before = m.evaluate(model, x, y)
        m.fit(model, x, y, 300)
        assert m.evaluate(model, x, y) < before - 0.4


def test_cli_writes_report(tmp_path):
    result = CliRunner().invoke(app, ["makemore", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    losses = json.loads((tmp_path / "results.json").read_text())["losses"]
    assert losses["bigram"]["val"] < 2.6
    assert losses["trigram"]["train"] < losses["bigram"]["train"]
    assert losses["MLP"]["val"] < losses["bigram"]["val"]
    assert (tmp_path / "mlp_statistics.png").exists()

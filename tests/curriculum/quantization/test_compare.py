"""The comparison harness on an untrained tiny GPT: bytes as stored, perplexity, the lesson."""

import json

import pytest
import torch

from curriculum.llm_internals.gpt.model import GPT, GPTConfig
from curriculum.quantization.quantization import compare, gpt_subject
from curriculum.quantization.quantization.evaluate import perplexity


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def subject():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=32, n_layer=2, n_head=2, n_embd=64)).eval()
    ids = torch.randint(0, 30, (8, 32))
    return compare.Subject(
        name="tiny",
        model=model,
        blocks=lambda m: m.blocks,
        block_prefix="blocks.",
        logits=gpt_subject.logits,
        calibration=ids[:4],
        evaluation=ids[4:],
        speed_batch=ids[:2],
        generate=gpt_subject.generate,
        new_tokens=4,
        speed_repeats=1,
    )


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    class Uniform(torch.nn.Module):
        def forward(self, ids):
            return torch.zeros(*ids.shape, 30)

    ids = torch.randint(0, 30, (3, 10))
    assert perplexity(Uniform(), lambda m, x: m(x), ids) == pytest.approx(30, rel=1e-6)


def test_stored_bytes_follow_the_bit_width(subject):
    rows = compare.compare(
        subject,
        {
            "float32": None,
            "int8": compare.rtn(8, None),
            "int4": compare.rtn(4, 64),
            "gptq": compare.gptq(compare.GPTQConfig(group_size=64)),
            "nf4": compare.bnb("nf4"),
        },
    )
    size = {row.variant: row.linear_bytes for row in rows}
    weights = 2 * (64 * 192 + 64 * 64 + 64 * 256 + 256 * 64)
    biases = 2 * (192 + 64 + 256 + 64) * 4
    assert size["float32"] == weights * 4 + biases
    assert size["int8"] == weights + biases + 2 * (192 + 64 + 256 + 64) * 3  # + scale, zero
    groups = 2 * (192 + 64 + 64 * 4 + 256)  # rows x groups of 64
    assert size["int4"] == size["gptq"] == weights // 2 + biases + groups * 3
    # NF4: 4-bit codes plus a per-block-of-64 absmax, itself quantized to 8 bits (double
    # quantization) and kept outside the parameters: ~4.1-4.3 bits per weight, not 4.
    assert 4.1 < (size["nf4"] - biases) * 8 / weights < 4.3
    assert all(row.perplexity < 40 for row in rows)  # an untrained model, near uniform (30)
    assert json.dumps([row.as_dict() for row in rows])

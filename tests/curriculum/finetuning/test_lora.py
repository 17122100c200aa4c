"""Our LoRALinear against peft's LoRA on a tiny random Qwen2: outputs, gradients, merging."""

import copy
import math

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import Qwen2Config, Qwen2ForCausalLM

from curriculum.finetuning.lora.lora import (
    ATTENTION,
    MLP,
    LoRALinear,
    inject_lora,
    lora_layers,
    merge_lora,
    parameter_counts,
    strip_lora,
    unmerge_lora,
)

TARGETS = list(ATTENTION + MLP)
R, ALPHA = 4, 8


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_qwen() -> Qwen2ForCausalLM:
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        tie_word_embeddings=True,
    )  # fmt: skip
    return Qwen2ForCausalLM(config).eval()


@pytest.fixture
def pair():
    """The same base weights with our LoRA and with peft's, A and B set to equal values (B
    random too: at its zero init, B's gradient would be the only non-trivial check)."""
    base = tiny_qwen()
    ours = copy.deepcopy(base)
    inject_lora(ours, TARGETS, r=R, alpha=ALPHA)
    theirs = get_peft_model(
        copy.deepcopy(base),
        LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=TARGETS),
    )
    generator = torch.Generator().manual_seed(1)
    theirs_modules = dict(theirs.base_model.model.named_modules())
    for name, layer in lora_layers(ours).items():
        peft_layer = theirs_modules[name]
        with torch.no_grad():
            layer.lora_A.normal_(0, 0.2, generator=generator)
            layer.lora_B.normal_(0, 0.2, generator=generator)
            peft_layer.lora_A["default"].weight.copy_(layer.lora_A)
            peft_layer.lora_B["default"].weight.copy_(layer.lora_B)
    return ours, theirs, theirs_modules


def test_outputs_and_gradients_equal_peft(pair):
    ours, theirs, theirs_modules = pair
    ids = torch.randint(0, 128, (2, 12), generator=torch.Generator().manual_seed(2))
    out_ours = ours(input_ids=ids, labels=ids)
    out_theirs = theirs(input_ids=ids, labels=ids)
    assert (out_ours.logits - out_theirs.logits).abs().max() < 1e-6
    assert abs(out_ours.loss.item() - out_theirs.loss.item()) < 1e-6
    out_ours.loss.backward()
    out_theirs.loss.backward()
    layers = lora_layers(ours)
    assert len(layers) == 2 * len(TARGETS)
    for name, layer in layers.items():
        peft_layer = theirs_modules[name]
        grad_a = peft_layer.lora_A["default"].weight.grad
        grad_b = peft_layer.lora_B["default"].weight.grad
        assert (layer.lora_A.grad - grad_a).abs().max() < 1e-6, name
        assert (layer.lora_B.grad - grad_b).abs().max() < 1e-6, name
        assert layer.lora_B.grad.abs().max() > 0  # a real check, not 0 == 0
        assert layer.base.weight.grad is None  # frozen


def test_trainable_parameters_equal_peft(pair):
    ours, theirs, _ = pair
    trainable, total = parameter_counts(ours)
    peft_trainable, peft_total = theirs.get_nb_trainable_parameters()
    assert (trainable, total) == (peft_trainable, peft_total)
    # r (in + out) per adapted matrix.
    config = ours.config
    h, kv, ff = config.hidden_size, 2 * config.hidden_size // 4, config.intermediate_size
    per_layer = R * ((h + h) + (h + kv) * 2 + (h + h) + (h + ff) * 2 + (ff + h))
    assert trainable == config.num_hidden_layers * per_layer


def test_merge_changes_weights_in_place_and_unmerge_restores_them_exactly(pair):
    ours, theirs, _ = pair
    ids = torch.randint(0, 128, (1, 10), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        before = ours(input_ids=ids).logits
        originals = {n: m.base.weight.clone() for n, m in lora_layers(ours).items()}
        storage = {n: m.base.weight.data_ptr() for n, m in lora_layers(ours).items()}
        merge_lora(ours, keep_original=True)
        merged = ours(input_ids=ids).logits
        peft_merged = theirs.merge_and_unload()(input_ids=ids).logits
    for name, layer in lora_layers(ours).items():
        assert layer.base.weight.data_ptr() == storage[name]  # in place
        assert not torch.equal(layer.base.weight, originals[name])
    assert (merged - before).abs().max() < 1e-5  # merged == adapter path
    assert (merged - peft_merged).abs().max() < 1e-6
    unmerge_lora(ours)
    for name, layer in lora_layers(ours).items():
        assert torch.equal(layer.base.weight, originals[name])  # bit for bit


def test_unmerge_by_subtraction_is_close_but_approximate():
    torch.manual_seed(4)
    layer = LoRALinear(torch.nn.Linear(64, 48), r=8, alpha=16)
    torch.nn.init.normal_(layer.lora_B, 0, 1.0)
    original = layer.base.weight.clone()
    layer.merge(keep_original=False)
    layer.unmerge()
    assert (layer.base.weight - original).abs().max() < 1e-6


def test_fresh_adapter_is_the_identity_and_a_is_kaiming_uniform():
    torch.manual_seed(5)
    linear = torch.nn.Linear(256, 32)
    layer = LoRALinear(linear, r=16, alpha=32)
    x = torch.randn(3, 256)
    assert torch.equal(layer(x), linear(x))  # B = 0
    bound = 1 / math.sqrt(256)  # kaiming_uniform(a=sqrt(5)): gain sqrt(1/3) * sqrt(3 / fan_in)
    assert layer.lora_A.abs().max() <= bound
    assert abs(layer.lora_A.std().item() - bound / math.sqrt(3)) < 0.1 * bound
    assert not linear.weight.requires_grad and layer.lora_A.requires_grad


def test_dropout_only_in_training():
    torch.manual_seed(6)
    layer = LoRALinear(torch.nn.Linear(16, 16), r=4, alpha=4, dropout=0.5)
    torch.nn.init.normal_(layer.lora_B)
    x = torch.randn(4, 16)
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))


def test_strip_gives_stock_layout_with_merged_weights(pair):
    ours, _, _ = pair
    ids = torch.randint(0, 128, (1, 8), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        adapted = ours(input_ids=ids).logits
        strip_lora(ours)
        plain = ours(input_ids=ids).logits
    assert not lora_layers(ours)
    assert all(type(m) is not LoRALinear for m in ours.modules())
    assert set(ours.state_dict()) == set(tiny_qwen().state_dict())
    assert (adapted - plain).abs().max() < 1e-5


def test_bfloat16_base_trains_float32_adapters():
    torch.manual_seed(8)
    base = torch.nn.Linear(32, 16).to(torch.bfloat16)
    layer = LoRALinear(base, r=4, alpha=8, dtype=torch.float32)
    torch.nn.init.normal_(layer.lora_B)
    x = torch.randn(2, 32, dtype=torch.bfloat16)
    out = layer(x)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert layer.lora_A.grad.dtype == torch.float32 and layer.lora_B.grad.abs().max() > 0
    expected = base(x).float() + x.float() @ layer.lora_A.T @ layer.lora_B.T * 2
    assert (out.float() - expected).abs().max() < 0.1  # bfloat16 rounding of the output

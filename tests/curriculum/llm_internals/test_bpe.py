"""Byte-level BPE: training, exact round trips, special tokens, save/load, HF agreement."""

import importlib
import json

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.llm_internals import shakespeare
from curriculum.llm_internals.bpe.compare import byte_to_unicode, compare
from curriculum.llm_internals.bpe.tokenizer import GPT4_PATTERN, Tokenizer, merge

EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def text():
    return shakespeare.plays()["hamlet"][:150_000]


@pytest.fixture(scope="module")
def tokenizer(text):
    return Tokenizer.train(text, 400, specials=[EOT])


def test_plays_are_plain_text():
    plays = shakespeare.plays()
    assert len(plays) >= 38
    hamlet = plays["hamlet"]
    assert "HAMLET:\nTo be, or not to be" in hamlet
    assert "**" not in hamlet and "#" not in hamlet and "  \n" not in hamlet


def test_merge_replaces_non_overlapping_pairs_left_to_right():
    assert merge([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]


def test_first_merge_is_the_most_frequent_pair():
    tok = Tokenizer.train("aaabdaaabac", 259)
    assert next(iter(tok.merges)) == (97, 97)
    assert tok.decode(tok.encode("aaabdaaabac")) == "aaabdaaabac"
    assert len(tok.encode("aaabdaaabac")) < 11


def test_vocab_size_counts_bytes_merges_and_specials(tokenizer):
    assert tokenizer.vocab_size == 400
    assert tokenizer.special_tokens == {EOT: 399}
    assert all(len(tokenizer.vocab[token]) >= 2 for token in range(256, 399))


def test_merges_never_cross_pre_token_boundaries(tokenizer):
    chunk_pattern = regex.compile(GPT4_PATTERN)
    for token in list(tokenizer.vocab.values())[256:]:
        assert len(chunk_pattern.findall(token.decode("utf-8", "ignore"))) <= 1


def test_compresses_and_round_trips_the_corpus(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert len(text.encode()) / len(ids) > 1.8


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_is_exact_on_arbitrary_unicode(tokenizer, sample):
    assert tokenizer.decode(tokenizer.encode(sample)) == sample
    assert tokenizer.decode(tokenizer.encode(sample, allowed_special=False)) == sample


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=4))
def test_special_tokens_are_single_ids(tokenizer, parts):
    text = EOT.join(parts)
    ids = tokenizer.encode(text)
    assert ids.count(399) == text.count(EOT)
    assert tokenizer.decode(ids) == text
    assert 399 not in tokenizer.encode(text, allowed_special=False)


def test_cache_gives_the_same_ids(tokenizer, text):
    fresh = Tokenizer(list(tokenizer.merges), dict(tokenizer.special_tokens))
    assert fresh.encode(text[:5000]) == tokenizer.encode(text[:5000])


def test_save_and_load(tokenizer, tmp_path, text):
    tokenizer.save(tmp_path / "bpe.json")
    loaded = Tokenizer.load(tmp_path / "bpe.json")
    sample = text[:3000] + EOT + "🙂 déjà"
    assert loaded.encode(sample) == tokenizer.encode(sample)
    assert loaded.vocab == tokenizer.vocab


def test_byte_to_unicode_is_a_bijection_onto_printable_characters():
    table = byte_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert all(char.isprintable() and not char.isspace() for char in table.values())
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ"


def test_agrees_with_hf_tokenizers(text):
    result, _ = compare(text[:100_000], text[100_000:], 400)
    assert result.merge_overlap > 0.95
    assert abs(result.ours_bytes_per_token / result.hf_bytes_per_token - 1) < 0.02
    assert result.hf_round_trip


def test_cli_writes_report(tmp_path):
    result = CliRunner().invoke(app, ["bpe", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["sample_round_trip"] is True
    for comparison in results["comparisons"].values():
        assert comparison["merge_overlap"] > 0.95
    assert (tmp_path / "compression.png").exists()


def test_qwen_merges_from_gguf_reproduce_its_token_ids(data_home):
    """Our encoder with the served model's merges, read from its GGUF metadata, gives the same
    ids as HF's tokenizer built from that file."""
    from curriculum.llm_internals.bpe.gguf_vocab import GGUFTokenizer
    from curriculum.llm_internals.bpe.lesson import qwen_test_corpus
    from shared.models.registry import ModelRegistry  # sets HF_HUB_OFFLINE before transformers

    AutoTokenizer = importlib.import_module("transformers").AutoTokenizer

    folder = ModelRegistry(data_home / "models").path("qwen2.5-coder-0.5b").parent
    ours = GGUFTokenizer.from_gguf(folder / "model.gguf")
    reference = AutoTokenizer.from_pretrained(str(folder), gguf_file="model.gguf")
    corpus = qwen_test_corpus(shakespeare.plays()["hamlet"][:20_000])
    ids = ours.encode(corpus)
    assert ids == reference(corpus)["input_ids"]
    assert ours.decode(ids) == corpus
    assert len(ids) < len(corpus.encode()) / 2  # real merges, not bytes
    assert ours.encode("<|im_start|>") == [reference.convert_tokens_to_ids("<|im_start|>")]

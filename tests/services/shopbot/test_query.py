import pytest

from services.shopbot.query import (
    Vocabulary,
    expand_synonyms,
    load_vocabulary,
    parse_rules,
    parse_with_llm,
)
from shared.models.llm import LLMGateway

VOCABULARY = Vocabulary(
    categories=["Jackets", "Tents", "Socks"],
    attributes={"colour": ["black", "blue", "navy blue"], "material": ["wool", "down"]},
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("rain jacket under $100", {"max_price": 100.0, "categories": ["Jackets"]}),
        ("tent between 150 and 300", {"min_price": 150.0, "max_price": 300.0,
                                      "categories": ["Tents"]}),
        ("socks from $10 to $20", {"min_price": 10.0, "max_price": 20.0,
                                   "categories": ["Socks"]}),
        ("anything over 200 dollars in stock", {"min_price": 200.0, "in_stock": True}),
        ("navy blue wool socks", {"attributes": {"colour": "navy blue", "material": "wool"},
                                  "categories": ["Socks"]}),
        ("black jackets", {"categories": ["Jackets"], "attributes": {"colour": "black"}}),
        ("something warm", {}),
    ],
)  # fmt: skip
def test_rules_read_prices_stock_categories_and_attributes(query, expected):
    parsed = parse_rules(query, VOCABULARY)
    found = {k: v for k, v in parsed.as_dict().items() if v not in (None, [], {}, "rules")}
    assert found == expected


def test_filters_use_the_retrieval_store_syntax():
    parsed = parse_rules("black jackets under 90 in stock", VOCABULARY)
    assert parsed.search_filters() == {
        "price": {"lte": 90.0}, "in_stock": True, "category": {"in": ["jackets"]},
        "colour": "black",
    }  # fmt: skip


def test_synonyms_add_catalogue_words():
    assert "sofa" in expand_synonyms("a comfy couch")
    assert expand_synonyms("a tent") == "a tent"


async def test_vocabulary_comes_from_the_store(pool, stores):
    vocabulary = await load_vocabulary(pool, "outdoor")
    assert vocabulary.categories == ["Jackets", "Socks", "Tents"]
    assert "black" in vocabulary.attributes["colour"]
    assert "Photo" not in vocabulary.categories  # another store's category


@pytest.mark.llm
async def test_llm_parsing_is_validated_against_the_store(settings, llm_base_url):
    llm = LLMGateway(settings.model_copy(update={"llm_base_url": llm_base_url}))
    try:
        # Whatever the model says, a category must be one of the store's, and no price may
        # appear when the shopper gave no number.
        for query in ("a present for a camper, maybe a shelter", "something cosy for my feet",
                      "a gadget for my kitchen"):  # fmt: skip
            parsed = await parse_with_llm(query, VOCABULARY, llm)
            assert set(parsed.categories) <= set(VOCABULARY.categories), (query, parsed)
            assert parsed.max_price is None and parsed.min_price is None, (query, parsed)
        # A rules-readable budget survives whatever the model adds.
        parsed = await parse_with_llm("tent under $300", VOCABULARY, llm)
        assert parsed.max_price == 300.0 and parsed.categories == ["Tents"]
    finally:
        await llm.aclose()

import pytest

from shared.config import Settings
from shared.models.llm import LLMGateway
from shared.retrieval import Document, RecursiveSplitter
from shared.retrieval.chain import AnswerChain
from shared.retrieval.rerank import LLMReranker
from shared.retrieval.retriever import RetrievalConfig, Retriever
from shared.retrieval.transforms import hyde, multi_query, step_back

pytestmark = pytest.mark.llm

DOCS = [
    Document("tent", "The Trail Tent 2P sleeps two people and weighs 1.6 kg. It costs $320.",
             "Trail Tent 2P", attributes={"category": "tents"}),
    Document("jacket", "The Storm Shell is a waterproof jacket with taped seams. It costs $180.",
             "Storm Shell Jacket", attributes={"category": "jackets"}),
    Document("stove", "The Pocket Stove boils one litre of water in three minutes. It costs $45.",
             "Pocket Stove", attributes={"category": "stoves"}),
]  # fmt: skip


@pytest.fixture
async def llm(data_home, llm_base_url):
    gateway = LLMGateway(Settings(data_home=data_home, llm_base_url=llm_base_url))
    yield gateway
    await gateway.aclose()


@pytest.fixture
async def retriever(store, llm):
    await store.ingest("shop", DOCS, RecursiveSplitter())
    return Retriever(store, "shop", llm=llm, config=RetrievalConfig(k=3))


async def test_transforms_produce_usable_queries(llm):
    passage = await hyde(llm, "how heavy is a two person tent?")
    assert len(passage.split()) >= 5
    rewrites = await multi_query(llm, "cheap rain coat", n=3)
    assert 1 <= len(rewrites) <= 3 and all(r.lower() != "cheap rain coat" for r in rewrites)
    general = await step_back(llm, "Does the Storm Shell have taped seams?")
    # The 0.5B test model tends to echo the question; an echo must come back as None.
    assert general is None or general.lower() != "does the storm shell have taped seams?"


async def test_composed_transforms_still_find_the_product(retriever):
    hits = await retriever.retrieve("how heavy is the tent for two?", hyde=True, multi_query=2,
                                    step_back=True)  # fmt: skip
    assert hits[0].source == "tent"


async def test_llm_reranker_promotes_the_answer(retriever, llm):
    hits = await retriever.retrieve("boil water quickly", k=3)
    reordered = sorted(hits, key=lambda h: h.source == "stove")  # the answer goes last
    assert reordered[-1].source == "stove"
    question = "How long does the Pocket Stove take to boil a litre?"
    ranked = await LLMReranker(llm).rerank(question, reordered, k=3)
    assert ranked[0].source == "stove"
    assert ranked[0].score > ranked[1].score


async def test_answer_cites_existing_sources(retriever, llm):
    chain = AnswerChain(retriever, llm, max_tokens=120)
    answer = await chain.answer("How much does the Storm Shell jacket cost?")
    assert "180" in answer.text
    assert answer.cited and answer.invalid == []
    cited_sources = {answer.passages[n - 1].source for n in answer.cited}
    assert "jacket" in cited_sources


async def test_streamed_answer_events(retriever, llm):
    chain = AnswerChain(retriever, llm, max_tokens=80)
    events = [e async for e in chain.stream("What does the tent weigh?")]
    assert events[0]["type"] == "sources" and events[0]["sources"][0]["source"] == "tent"
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert len(deltas) > 2 and "1.6" in "".join(deltas)
    assert events[-1]["type"] == "done" and events[-1]["invalid"] == []

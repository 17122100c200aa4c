"""The LangChain and LlamaIndex adapters over our retriever, on real Postgres and (marked
``llm``) the real embedded llama.cpp model, with the network outside loopback refused."""

from __future__ import annotations

import asyncio
import socket

import llama_index.core
import pytest
from langchain_core.documents import Document as LCDocument
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_openai import ChatOpenAI
from llama_index.core.query_engine import RetrieverQueryEngine

from shared.config import Settings
from shared.models.llm import LLMGateway
from shared.retrieval import Document, RecursiveSplitter
from shared.retrieval.adapters import hit_metadata
from shared.retrieval.adapters.langchain import AscentRetriever
from shared.retrieval.adapters.llamaindex import (
    AscentLlamaLLM,
    AscentLlamaRetriever,
    approx_tokenizer,
)
from shared.retrieval.retriever import RetrievalConfig, Retriever

DOCS = [
    Document("tent-aurora", "The Aurora 2 is a two-person backpacking tent. Its rainfly is "
             "fully waterproof (3000 mm) and it weighs 1.6 kg. It costs $320.", "Aurora 2 Tent",
             attributes={"category": "tents"}),
    Document("stove-ember", "The Ember stove is a compact gas canister stove that boils a litre "
             "of water in three minutes. It costs $45.", "Ember Stove",
             attributes={"category": "stoves"}),
    Document("pack-ridge", "The Ridgeline 45 is a 45-litre hiking backpack with a padded hip "
             "belt and a rain cover. It costs $150.", "Ridgeline 45 Backpack",
             attributes={"category": "packs"}),
    Document("boots-summit", "Summit boots are leather hiking boots with a Vibram sole and a "
             "breathable membrane. They cost $210.", "Summit Boots",
             attributes={"category": "footwear"}),
]  # fmt: skip
OTHER_TENANT_DOC = Document("tent-orbit", "The Orbit 3 is a three-person family tent with a "
                            "waterproof flysheet.", "Orbit 3 Tent")  # fmt: skip
TENT_QUESTION = "Which tent has a waterproof rainfly?"
T1_SOURCES = {d.source for d in DOCS}


def _is_loopback(host: object) -> bool:
    host = host.decode() if isinstance(host, bytes) else str(host)
    return host in ("localhost", "::1", "") or host.startswith("127.")


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Refuse (and record) every name lookup or connection beyond loopback: the frameworks
    must not fetch tokenizers, NLTK data or telemetry, nor reach OpenAI."""
    attempts: list[str] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_loopback(host):
            attempts.append(f"lookup {host}")
            raise OSError(f"tests are offline: lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(f"connect {address}")
            raise OSError(f"tests are offline: connection to {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    # Without this LlamaIndex counts tokens with tiktoken (see the llamaindex module).
    monkeypatch.setattr(llama_index.core, "global_tokenizer", approx_tokenizer)
    yield attempts
    assert not attempts, f"network access attempted: {attempts}"


@pytest.fixture
async def ingested(store):
    await store.ingest("t1", DOCS, RecursiveSplitter())
    await store.ingest("t2", [OTHER_TENANT_DOC], RecursiveSplitter())
    return store


@pytest.fixture
async def gateway(data_home, llm_base_url):
    g = LLMGateway(Settings(data_home=data_home, llm_base_url=llm_base_url, llm_model="local"))
    yield g
    await g.aclose()


def _retriever(store, tenant="t1", k=3):
    return Retriever(store, tenant, config=RetrievalConfig(k=k))


def format_docs(docs: list[LCDocument]) -> str:
    return "\n\n".join(f"{d.metadata['title']}: {d.page_content}" for d in docs)


# -- conversions, no LLM ------------------------------------------------------------------
async def test_langchain_documents_carry_our_hits(ingested):
    ours = _retriever(ingested)
    hits = await ours.retrieve(TENT_QUESTION)
    docs = await AscentRetriever(retriever=ours).ainvoke(TENT_QUESTION)
    assert [d.metadata["chunk_id"] for d in docs] == [h.id for h in hits]
    top = docs[0]
    assert top.metadata["source"] == "tent-aurora" and top.metadata["title"] == "Aurora 2 Tent"
    assert top.page_content == hits[0].text and top.id == str(hits[0].id)
    assert top.metadata["score"] == hits[0].score and top.metadata["category"] == "tents"
    assert (top.metadata["start"], top.metadata["end"]) == (hits[0].start, hits[0].end)


async def test_langchain_overrides_reach_our_retriever(ingested):
    adapter = AscentRetriever(retriever=_retriever(ingested, k=3), overrides={"k": 2})
    assert len(await adapter.ainvoke("outdoor gear")) == 2
    assert len(await adapter.ainvoke("outdoor gear", k=1)) == 1  # per call beats the field
    stoves = await adapter.ainvoke("outdoor gear", filters={"category": "stoves"})
    assert [d.metadata["source"] for d in stoves] == ["stove-ember"]
    with pytest.raises(TypeError):
        await adapter.ainvoke("outdoor gear", no_such_setting=1)


def test_langchain_sync_invoke_outside_a_loop(ingested):
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()  # really no loop here
    docs = AscentRetriever(retriever=_retriever(ingested)).invoke(TENT_QUESTION)
    assert docs[0].metadata["source"] == "tent-aurora"


async def test_langchain_sync_invoke_from_threads_and_inside_the_loop(ingested):
    # A sync caller on a worker thread hands the work to the loop that owns the pool …
    adapter = AscentRetriever(retriever=_retriever(ingested), loop=asyncio.get_running_loop())
    docs = await asyncio.to_thread(adapter.invoke, TENT_QUESTION)
    assert docs[0].metadata["source"] == "tent-aurora"
    # … and a sync call from async code runs on a private loop rather than deadlocking.
    docs = AscentRetriever(retriever=_retriever(ingested)).invoke(TENT_QUESTION)
    assert docs[0].metadata["source"] == "tent-aurora"


async def test_llamaindex_nodes_carry_our_hits(ingested):
    ours = _retriever(ingested)
    hits = await ours.retrieve(TENT_QUESTION)
    nodes = await AscentLlamaRetriever(ours).aretrieve(TENT_QUESTION)
    assert [n.node.node_id for n in nodes] == [str(h.id) for h in hits]
    assert [n.score for n in nodes] == [h.score for h in hits]
    top = nodes[0].node
    assert top.metadata == hit_metadata(hits[0]) and top.ref_doc_id == "tent-aurora"
    assert top.get_content() == hits[0].text
    shown = top.get_content(metadata_mode="llm")
    assert "Aurora 2 Tent" in shown and "chunk_id" not in shown and "score" not in shown
    sync_nodes = AscentLlamaRetriever(ours, overrides={"k": 1}).retrieve(TENT_QUESTION)
    assert [n.node.node_id for n in sync_nodes] == [str(hits[0].id)]


async def test_tenant_scoping_holds_through_the_adapters(ingested):
    t2 = _retriever(ingested, tenant="t2", k=10)
    lc = await AscentRetriever(retriever=t2).ainvoke(TENT_QUESTION)
    li = await AscentLlamaRetriever(t2).aretrieve(TENT_QUESTION)
    assert [d.metadata["source"] for d in lc] == ["tent-orbit"]
    assert [n.node.metadata["source"] for n in li] == ["tent-orbit"]
    empty = _retriever(ingested, tenant="t3")
    assert await AscentRetriever(retriever=empty).ainvoke(TENT_QUESTION) == []
    assert await AscentLlamaRetriever(empty).aretrieve(TENT_QUESTION) == []
    t1 = await AscentRetriever(retriever=_retriever(ingested, k=10)).ainvoke("tent")
    assert t1 and {d.metadata["source"] for d in t1} <= T1_SOURCES


# -- real chains on the embedded model ------------------------------------------------------
@pytest.mark.llm
async def test_lcel_chain_answers_from_our_retriever(ingested, llm_base_url):
    captured: list[list[LCDocument]] = []

    def capture(docs: list[LCDocument]) -> list[LCDocument]:
        captured.append(docs)
        return docs

    retriever = AscentRetriever(retriever=_retriever(ingested))
    prompt = ChatPromptTemplate.from_messages([
        ("system", "Answer in one sentence using only this context. Name the product.\n\n"
                   "{context}"),
        ("human", "{question}"),
    ])  # fmt: skip
    llm = ChatOpenAI(base_url=llm_base_url, api_key="x", model="local", temperature=0,
                     max_tokens=60, max_retries=0)  # fmt: skip
    chain = (
        {"context": retriever | RunnableLambda(capture) | format_docs,
         "question": RunnablePassthrough()}
        | prompt | llm | StrOutputParser()
    )  # fmt: skip
    answer = await chain.ainvoke(TENT_QUESTION)
    assert len(captured) == 1 and captured[0][0].metadata["source"] == "tent-aurora"
    assert {d.metadata["source"] for d in captured[0]} <= T1_SOURCES
    assert "aurora" in answer.lower(), answer


@pytest.mark.llm
async def test_llamaindex_query_engine_answers_from_our_retriever(ingested, gateway):
    llm = AscentLlamaLLM(gateway=gateway, max_tokens=60, temperature=0)
    engine = RetrieverQueryEngine.from_args(AscentLlamaRetriever(_retriever(ingested)), llm=llm)
    response = await engine.aquery(TENT_QUESTION)
    sources = [n.node.metadata["source"] for n in response.source_nodes]
    assert sources[0] == "tent-aurora" and set(sources) <= T1_SOURCES
    assert response.response and response.response.strip(), response
    assert gateway.usage.requests >= 1  # the answer came through our gateway
    assert "aurora" in response.response.lower(), response.response


@pytest.mark.llm
async def test_llamaindex_llm_streams_and_runs_sync(gateway):
    llm = AscentLlamaLLM(gateway=gateway, max_tokens=8, temperature=0)
    stream = await llm.astream_complete("Say hello.")
    chunks = [c async for c in stream]
    assert chunks and chunks[-1].text == "".join(c.delta for c in chunks) and chunks[-1].text
    sync = await asyncio.to_thread(
        AscentLlamaLLM(gateway=gateway, max_tokens=8, temperature=0,
                       loop=asyncio.get_running_loop()).complete, "Say hello.")  # fmt: skip
    assert sync.text

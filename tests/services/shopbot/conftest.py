import json

import pytest
from fastapi.testclient import TestClient

from services.shopbot.app import create_shopbot_app
from services.shopbot.catalog import parse_catalog
from services.shopbot.demo import demo_shopify_products
from services.shopbot.importer import import_products
from services.shopbot.stores import create_store
from shared.models.embeddings import Embedder
from shared.retrieval import ChunkStore

SHOP_ORIGIN = "http://shop-a.test"
OTHER_ORIGIN = "http://shop-b.test"
# A second, unrelated store: outdoor gear with SKUs and titles of its own.
OUTDOOR_CSV = """sku,title,description,price,stock,category,colour,material
TENT-2P,Ridge Tent 2P,Two-person backpacking tent that pitches fast.,249.00,4,Tents,green,nylon
TENT-4P,Basecamp Tent 4P,Roomy family tent with two doors.,399.00,0,Tents,orange,polyester
JKT-RAIN,Storm Rain Jacket,Waterproof breathable shell for rainy hikes.,89.00,12,Jackets,blue,nylon
JKT-DOWN,Summit Down Jacket,Warm 800-fill down jacket for cold nights.,179.00,3,Jackets,black,down
SOCK-MER,Merino Hiking Socks,Warm wool socks that stay dry.,19.50,40,Socks,grey,wool
"""


def demo_catalog_bytes() -> bytes:
    return json.dumps(demo_shopify_products()).encode()


@pytest.fixture
def outdoor_csv():
    return OUTDOOR_CSV


@pytest.fixture
def shop_settings(settings, llm_base_url):
    return settings.model_copy(update={"shopbot_demo": False, "llm_base_url": llm_base_url})


@pytest.fixture
async def chunks(pool, settings):
    return ChunkStore(pool, Embedder(settings))


@pytest.fixture
async def stores(pool, chunks):
    """Two stores: 'vendure' (the packaged demo catalogue, Shopify JSON) and 'outdoor' (CSV)."""
    vendure, vendure_admin = await create_store(pool, "vendure", "Vendure", origins=[SHOP_ORIGIN])
    outdoor, outdoor_admin = await create_store(pool, "outdoor", "Outdoor", origins=[OTHER_ORIGIN])
    report = parse_catalog(demo_catalog_bytes(), "products.json")
    await import_products(pool, chunks, vendure, report.records, full_sync=True)
    report = parse_catalog(OUTDOOR_CSV.encode(), "outdoor.csv")
    await import_products(pool, chunks, outdoor, report.records, full_sync=True)
    return {"vendure": (vendure, vendure_admin), "outdoor": (outdoor, outdoor_admin)}


@pytest.fixture
def client(shop_settings, stores):
    with TestClient(create_shopbot_app(shop_settings)) as test_client:
        yield test_client

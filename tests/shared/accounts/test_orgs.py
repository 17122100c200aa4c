import pytest

from shared.accounts import create_org, link_tenant, org_for_tenant


async def test_orgs_own_tenants(pool):
    acme = await create_org(pool, "  Acme   Inc ")
    other = await create_org(pool, "Other", org_id="org_fixed")
    assert acme.startswith("org_") and other == "org_fixed"

    await link_tenant(pool, acme, "repurposer", "ws-1")
    await link_tenant(pool, acme, "repurposer", "ws-1")  # idempotent for the owner
    assert await org_for_tenant(pool, "repurposer", "ws-1") == acme
    assert await org_for_tenant(pool, "reviewer", "ws-1") is None

    with pytest.raises(ValueError, match="another organization"):
        await link_tenant(pool, other, "repurposer", "ws-1")
    with pytest.raises(ValueError, match="unknown product"):
        await link_tenant(pool, acme, "mailer", "x")
    with pytest.raises(ValueError):
        await create_org(pool, "   ")

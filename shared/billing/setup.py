"""``ascent billing setup``: the Stripe products, meters and prices that plans.toml names.

Only what is missing is created, so it is safe to run again. A price is never changed in
place (Stripe prices are immutable): to reprice, create a new price in Stripe and move the
lookup key to it (``transfer_lookup_key``); checkouts pick it up within minutes.
"""

from __future__ import annotations

from shared.billing.context import Billing


async def ensure_stripe_catalog(billing: Billing) -> list[str]:
    """Create what is missing; returns one line per object created."""
    gateway, catalog = billing.gateway, billing.catalog
    done: list[str] = []
    prices = await gateway.prices(catalog.lookup_keys(), refresh=True)
    meters = await gateway.meters()
    for product in catalog.products.values():
        stripe_product = await gateway.ensure_product(product.id, f"ascent {product.name}")
        for meter in product.meters.values():
            if meter.event_name not in meters:
                meters[meter.event_name] = await gateway.create_meter(
                    meter.event_name, f"{product.name}: {meter.description or meter.unit}"
                )
                done.append(f"meter {meter.event_name}")
        for plan in product.plans.values():
            if plan.price_lookup_key and plan.price_lookup_key not in prices:
                await gateway.create_price({
                    "product": stripe_product,
                    "currency": catalog.currency,
                    "unit_amount": plan.monthly_price,
                    "recurring": {"interval": "month"},
                    "lookup_key": plan.price_lookup_key,
                    "nickname": f"{product.name} {plan.name}",
                })  # fmt: skip
                done.append(f"price {plan.price_lookup_key}")
            if plan.overage and plan.overage.lookup_key not in prices:
                meter_id = product.overage_meter(plan)
                included = plan.quotas.get(meter_id, 0)
                # Graduated tiers: the plan's quota is included, each unit past it is billed.
                await gateway.create_price({
                    "product": stripe_product,
                    "currency": catalog.currency,
                    "recurring": {
                        "interval": "month", "usage_type": "metered",
                        "meter": meters[product.meters[meter_id].event_name]["id"],
                    },
                    "billing_scheme": "tiered",
                    "tiers_mode": "graduated",
                    "tiers": [
                        {"up_to": included, "unit_amount": 0},
                        {"up_to": "inf", "unit_amount": plan.overage.unit_amount},
                    ],
                    "lookup_key": plan.overage.lookup_key,
                    "nickname": f"{product.name} {plan.name} overage",
                })  # fmt: skip
                done.append(f"price {plan.overage.lookup_key}")
    await gateway.prices(catalog.lookup_keys(), refresh=True)
    return done

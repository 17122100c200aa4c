"""Plans as data: ``plans.toml`` read into validated pydantic models.

A mistake in the file (a quota on an unknown meter, a feature nobody declared, a paid plan
without a price, a lookup key used twice) stops the load with a message naming the place.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from limits import parse as parse_rate
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FREE = "free"
_KEY = r"^[a-z0-9][a-z0-9_]{0,62}$"
Key = Annotated[str, Field(pattern=_KEY)]


class PlansError(ValueError):
    pass


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Meter(_Model):
    unit: str
    description: str = ""
    event_name: str = Field(pattern=r"^[a-z0-9_]{1,100}$", description="Stripe meter event")


class Overage(_Model):
    """Usage past the quota is allowed and billed through this metered price."""

    lookup_key: Key
    unit_amount: int = Field(ge=0, description="Price per unit past the quota (minor units)")
    meter: str | None = None  # the product's only meter when left out


class Plan(_Model):
    id: str = ""  # set from the table key
    name: str
    rank: int = Field(ge=0)
    monthly_price: int = Field(0, ge=0)
    price_lookup_key: Key | None = None
    quotas: dict[str, int] = Field(default_factory=dict)
    features: tuple[str, ...] = ()
    rate_limit: str | None = None
    overage: Overage | None = None

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_rate(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a rate like '60/minute'") from exc
        return value

    @field_validator("quotas")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        if any(v < 0 for v in value.values()):
            raise ValueError("quotas are counts, zero or more")
        return value

    @property
    def paid(self) -> bool:
        return self.price_lookup_key is not None


class Product(_Model):
    id: str = ""
    name: str
    tenant: str
    meters: dict[str, Meter]
    features: dict[str, str] = Field(default_factory=dict)
    plans: dict[str, Plan]

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        if FREE not in self.plans or self.plans[FREE].paid:
            raise ValueError(f"needs a `{FREE}` plan without a price")
        for plan_id, plan in self.plans.items():
            where = f"plan {plan_id!r}"
            if (plan.monthly_price > 0) != plan.paid:
                raise ValueError(f"{where}: a price needs a price_lookup_key, and the reverse")
            if unknown := set(plan.quotas) - set(self.meters):
                raise ValueError(f"{where}: quota on unknown meter(s) {sorted(unknown)}")
            if unknown := set(plan.features) - set(self.features):
                raise ValueError(f"{where}: undeclared feature(s) {sorted(unknown)}")
            if plan.overage:
                meter = plan.overage.meter or (
                    next(iter(self.meters)) if len(self.meters) == 1 else None
                )
                if meter not in self.meters:
                    raise ValueError(f"{where}: overage needs `meter` (one of {list(self.meters)})")
                if not plan.paid:
                    raise ValueError(f"{where}: overage is sold on paid plans only")
        ranks = [p.rank for p in self.plans.values()]
        if len(set(ranks)) != len(ranks):
            raise ValueError("two plans share a rank")
        return self

    def overage_meter(self, plan: Plan) -> str | None:
        if plan.overage is None:
            return None
        return plan.overage.meter or next(iter(self.meters))


class Catalog(_Model):
    """Every product and plan, with lookups by Stripe price lookup key."""

    currency: str = "usd"
    products: dict[str, Product]

    @model_validator(mode="before")
    @classmethod
    def _ids(cls, data: dict) -> dict:
        # Ids come from the table keys, so the file never repeats them.
        for product_id, product in (data.get("products") or {}).items():
            if isinstance(product, dict):
                product["id"] = product_id
                for plan_id, plan in (product.get("plans") or {}).items():
                    if isinstance(plan, dict):
                        plan["id"] = plan_id
        return data

    @model_validator(mode="after")
    def _unique_keys(self) -> Catalog:
        seen: dict[str, str] = {}
        for product in self.products.values():
            for plan in product.plans.values():
                keys = [plan.price_lookup_key, plan.overage and plan.overage.lookup_key]
                for key in filter(None, keys):
                    if key in seen:
                        raise ValueError(f"lookup key {key!r} used by {seen[key]} and {plan.id}")
                    seen[key] = f"{product.id}/{plan.id}"
        return self

    def product(self, product_id: str) -> Product:
        try:
            return self.products[product_id]
        except KeyError:
            raise KeyError(f"unknown product {product_id!r}") from None

    def plan(self, product_id: str, plan_id: str) -> Plan:
        plans = self.product(product_id).plans
        if plan_id not in plans:
            raise KeyError(f"{product_id} has no plan {plan_id!r}")
        return plans[plan_id]

    def free(self, product_id: str) -> Plan:
        return self.product(product_id).plans[FREE]

    def by_lookup_key(self, lookup_key: str) -> tuple[Product, Plan] | None:
        """The plan whose base (licensed) price has this lookup key."""
        for product in self.products.values():
            for plan in product.plans.values():
                if plan.price_lookup_key == lookup_key:
                    return product, plan
        return None

    def lookup_keys(self) -> list[str]:
        keys = []
        for product in self.products.values():
            for plan in product.plans.values():
                keys += filter(
                    None, [plan.price_lookup_key, plan.overage and plan.overage.lookup_key]
                )
        return keys


def parse_plans(text: str, *, source: str = "plans.toml") -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlansError(f"{source}: not valid TOML: {exc}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise PlansError(f"{source}: invalid plans:\n" + "\n".join(lines)) from None


@lru_cache(maxsize=4)
def load_plans(path: Path | None = None) -> Catalog:
    """The plans file at ``path`` (``ASCENT_BILLING_PLANS_FILE``), else the packaged one."""
    if path is not None:
        return parse_plans(Path(path).read_text(encoding="utf-8"), source=str(path))
    text = resources.files("shared.billing").joinpath("plans.toml").read_text(encoding="utf-8")
    return parse_plans(text)

"""Titanic cleaning and feature engineering with whole-column operations only.

Nothing here loops over rows in Python: string work goes through ``.str``, lookups through
``map``/``reindex``, group statistics through ``groupby``. Fill-in values (medians, the most
common port) are *fitted* on the training rows and then applied, so that cross-validation never
lets a test fold's statistics leak into its own features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from curriculum.foundations.datasets import titanic_csv

TITLES = ["Mr", "Mrs", "Miss", "Master", "Rare"]
TITLE_ALIASES = {"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"}
DECKS = ["A", "B", "C", "D", "E", "F", "G", "T", "Unknown"]
PORTS = ["S", "C", "Q"]
CATEGORIES = {"Title": TITLES, "Deck": DECKS, "Embarked": PORTS, "Pclass": [1, 2, 3]}
NUMERIC = ["IsFemale", "Age", "IsChild", "LogFare", "FamilySize", "IsAlone", "HasCabin"]


def load() -> pd.DataFrame:
    return pd.read_csv(titanic_csv())


def derive(df: pd.DataFrame) -> pd.DataFrame:
    """Columns that need no fitted statistics: title, family, deck, ticket group."""
    out = df.copy()
    # "Braund, Mr. Owen Harris" -> "Mr": the word before the first period after the comma.
    title = out["Name"].str.extract(r",\s*([^.]+)\.", expand=False).str.strip()
    title = title.replace(TITLE_ALIASES)
    out["Title"] = title.where(title.isin(TITLES), "Rare")
    out["FamilySize"] = out["SibSp"] + out["Parch"] + 1
    out["IsAlone"] = (out["FamilySize"] == 1).astype(float)
    out["HasCabin"] = out["Cabin"].notna().astype(float)
    out["Deck"] = out["Cabin"].str[0].fillna("Unknown")
    out["IsFemale"] = (out["Sex"] == "female").astype(float)
    # Fare is per ticket; people sharing a ticket paid it together.
    out["TicketGroup"] = out.groupby("Ticket")["Ticket"].transform("size")
    return out


@dataclass(frozen=True)
class FillValues:
    """What missing values become, learned from training rows only."""

    age_by_title_class: pd.Series  # median age per (Title, Pclass)
    age: float
    fare_by_class: pd.Series
    port: str


def fit_fill_values(train: pd.DataFrame) -> FillValues:
    return FillValues(
        age_by_title_class=train.groupby(["Title", "Pclass"])["Age"].median(),
        age=float(train["Age"].median()),
        fare_by_class=train.groupby("Pclass")["Fare"].median(),
        port=str(train["Embarked"].mode().iloc[0]),
    )


def fill_missing(df: pd.DataFrame, fill: FillValues) -> pd.DataFrame:
    out = df.copy()
    keys = pd.MultiIndex.from_frame(out[["Title", "Pclass"]])
    group_age = pd.Series(fill.age_by_title_class.reindex(keys).to_numpy(), index=out.index)
    out["Age"] = out["Age"].fillna(group_age).fillna(fill.age)
    out["Fare"] = out["Fare"].fillna(out["Pclass"].map(fill.fare_by_class))
    out["Embarked"] = out["Embarked"].fillna(fill.port)
    out["IsChild"] = (out["Age"] < 14).astype(float)
    out["LogFare"] = np.log1p(out["Fare"] / out["TicketGroup"])  # per person, tamed tail
    return out


def feature_matrix(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Numeric columns plus one-hot categories with a fixed vocabulary (same columns per fold)."""
    parts = [df[NUMERIC].astype(float)]
    for column, categories in CATEGORIES.items():
        values = pd.Categorical(df[column], categories=categories)
        parts.append(pd.get_dummies(values, prefix=column, dtype=float).set_index(df.index))
    table = pd.concat(parts, axis=1)
    return table.to_numpy(), list(table.columns)


def features(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X_train, X_test, names): fill values fitted on ``train``, applied to both."""
    fill = fit_fill_values(train)
    x_train, names = feature_matrix(fill_missing(train, fill))
    x_test, _ = feature_matrix(fill_missing(test, fill))
    return x_train, x_test, names

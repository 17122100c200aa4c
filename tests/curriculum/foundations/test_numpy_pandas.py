"""Matmul variants, the vectorized Titanic pipeline, NumPy logistic regression, the lesson."""

import inspect
import json
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.foundations.numpy_pandas import logistic, matmul, titanic

check = settings(max_examples=40, deadline=None, database=None)


@check
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(1, 5))
def test_python_matmuls_equal_numpy_for_any_shape_and_block(n, m, p, block):
    rng = np.random.default_rng(n * 100 + m * 10 + p)
    a, b = rng.standard_normal((n, m)), rng.standard_normal((m, p))
    assert np.allclose(matmul.matmul_naive(a.tolist(), b.tolist()), a @ b)
    assert np.allclose(matmul.matmul_blocked(a.tolist(), b.tolist(), block), a @ b)


@pytest.fixture(scope="module")
def passengers() -> pd.DataFrame:
    return titanic.derive(titanic.load())


def test_derived_columns(passengers):
    assert len(passengers) == 891
    assert set(passengers["Title"]) == set(titanic.TITLES)
    braund = passengers.iloc[0]  # "Braund, Mr. Owen Harris", 1 sibling, no cabin
    assert braund["Title"] == "Mr" and braund["FamilySize"] == 2 and braund["Deck"] == "Unknown"


def test_features_are_complete_and_fold_independent(passengers):
    train, test = passengers.iloc[:600], passengers.iloc[600:]
    x_train, x_test, names = titanic.features(train, test)
    assert x_train.shape == (600, len(names)) and x_test.shape == (291, len(names))
    assert np.isfinite(x_train).all() and np.isfinite(x_test).all()
    # Fill values come from the training rows: editing test ages changes nothing in train.
    edited = test.assign(Age=test["Age"].fillna(99.0) * 0 + 5.0)
    assert np.array_equal(titanic.features(train, edited)[0], x_train)


def test_missing_age_takes_the_title_and_class_median(passengers):
    fill = titanic.fit_fill_values(passengers)
    filled = titanic.fill_missing(passengers, fill)
    master_3rd = (passengers["Title"] == "Master") & (passengers["Pclass"] == 3)
    missing = master_3rd & passengers["Age"].isna()
    assert missing.any()
    expected = passengers.loc[master_3rd, "Age"].median()
    assert (filled.loc[missing, "Age"] == expected).all()


def test_pipeline_has_no_row_loops():
    source = inspect.getsource(titanic)
    for row_loop in (".apply(", ".iterrows(", ".itertuples(", "for _, row", "for row in"):
        assert row_loop not in source


def test_pipeline_cost_does_not_grow_with_rows():
    raw = titanic.load()
    big = pd.concat([raw] * 50, ignore_index=True)  # 44,550 rows
    start = time.perf_counter()
    titanic.features(titanic.derive(big), titanic.derive(big))
    assert time.perf_counter() - start < 5  # a Python loop per row would take far longer


def test_logistic_regression_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 5))
    y = (x @ [1.5, -2.0, 0.0, 0.7, 0.3] + 0.4 + rng.logistic(size=300) > 0).astype(int)
    ours = logistic.fit_logistic(x, y, l2=0.5)
    theirs = sklearn.LogisticRegression(C=2.0, tol=1e-12, max_iter=10_000).fit(x, y)
    assert np.allclose(ours.weights, theirs.coef_[0], atol=1e-5)
    assert ours.bias == pytest.approx(theirs.intercept_[0], abs=1e-5)
    assert ours.iterations < 15  # Newton's method


def test_sigmoid_and_loss_are_stable_at_extreme_logits():
    z = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    p = logistic.sigmoid(z)
    assert np.isfinite(p).all() and p[0] == 0.0 and p[2] == 0.5 and p[-1] == 1.0
    assert np.isfinite(logistic.log_loss(z, np.array([1, 1, 0, 0, 0])))


def test_kfold_partitions_every_row_once():
    tests = [test for _, test in logistic.kfold(23, 5)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(23))
    assert {len(t) for t in tests} == {4, 5}


def test_lesson_cross_validates_and_writes_report(tmp_path):
    result = CliRunner().invoke(app, ["numpy_pandas", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["titanic"]["cv_accuracy"] > 0.78
    if results["titanic"]["sklearn_cv_accuracy"] is not None:
        assert results["titanic"]["max_coefficient_gap"] < 1e-4
    assert results["matmul"]["numpy_over_naive_speedup"] > 10
    for name in ("matmul", "titanic_survival", "coefficients"):
        assert (tmp_path / f"{name}.png").exists()

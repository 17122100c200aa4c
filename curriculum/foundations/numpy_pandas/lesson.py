"""``ascent learn numpy_pandas``: matmul from loops to BLAS; Titanic, vectorized, then NumPy LR."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from curriculum.foundations._blas import blas_threads
from curriculum.foundations._report import Report, fmt, new_figure, track
from curriculum.foundations.numpy_pandas import logistic, matmul, titanic


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Time the three matmuls, run the Titanic pipeline and its cross-validation, report."""
    report = Report(out, "NumPy & pandas: from Python loops to BLAS, from rows to columns")
    _matmul_section(report, quick, progress)
    _titanic_section(report, quick)
    return report.write()


# -- matrix multiplication ------------------------------------------------------------------------


def _matmul_section(report: Report, quick: bool, progress: Progress | None) -> None:
    python_sizes = [8, 16, 32] if quick else [16, 32, 64, 128, 256]
    numpy_sizes = [8, 16, 32, 64, 128] if quick else [16, 32, 64, 128, 256, 512, 1024, 2048]
    timings: dict[str, dict[int, float]] = {"naive": {}, "blocked": {}, "numpy": {}}
    loops = {"naive": matmul.matmul_naive, "blocked": matmul.matmul_blocked}
    for n in track(progress, numpy_sizes, "matmul sizes"):
        a, b = matmul.random_pair(n)
        with blas_threads(1):
            timings["numpy"][n] = matmul.seconds(lambda a=a, b=b: matmul.matmul_numpy(a, b))
        if n in python_sizes:
            la, lb = a.tolist(), b.tolist()
            for name, multiply in loops.items():
                assert np.allclose(multiply(la, lb), a @ b)
                timings[name][n] = matmul.seconds(
                    lambda f=multiply, la=la, lb=lb: f(la, lb), repeat=2
                )

    largest = python_sizes[-1]
    report.section(
        "Matrix multiplication",
        "An n×n product costs 2n³ floating-point operations however it is computed; what "
        "changes is how many run per second. `naive` is the triple loop from the definition, "
        "`blocked` tiles it 32×32 with the loops in i-k-j order, `numpy` is `a @ b` "
        "(OpenBLAS: SIMD, cache blocking; timed on **one thread**, see `_blas.py`). All three "
        "agree with `a @ b` to 1e-12.",
    )
    rows = []
    for n in numpy_sizes:
        cells = [n]
        for name in ("naive", "blocked", "numpy"):
            t = timings[name].get(n)
            cells += ["–", "–"] if t is None else [fmt(t * 1e3), fmt(matmul.flops(n) / t / 1e9)]
        rows.append(cells)
    report.table(
        ["n", "naive ms", "naive GFLOP/s", "blocked ms", "blocked GFLOP/s", "numpy ms", "GFLOP/s"],
        rows,
    )
    speedup = timings["naive"][largest] / timings["numpy"][largest]
    blocking_gain = timings["naive"][largest] / timings["blocked"][largest]
    best_numpy = max(matmul.flops(n) / t for n, t in timings["numpy"].items())
    report.text(
        f"At n = {largest}: NumPy is **{fmt(speedup)}×** faster than the naive loops and "
        f"{fmt(timings['blocked'][largest] / timings['numpy'][largest])}× faster than the "
        f"blocked ones; blocking itself gains {fmt(blocking_gain, 2)}× "
        "in Python, where the interpreter's cost per step hides the cache. NumPy peaks at "
        f"{fmt(best_numpy / 1e9)} GFLOP/s."
    )
    report.results["matmul"] = {
        "numpy_over_naive_speedup": speedup,
        "at_n": largest,
        "numpy_peak_gflops": best_numpy / 1e9,
        "naive_gflops": matmul.flops(largest) / timings["naive"][largest] / 1e9,
        "blocked_gflops": matmul.flops(largest) / timings["blocked"][largest] / 1e9,
    }

    figure, (ax_time, ax_rate) = new_figure(11, 4, ncols=2)
    for name, marker in (("naive", "o-"), ("blocked", "s-"), ("numpy", "^-")):
        sizes = sorted(timings[name])
        times = [timings[name][n] for n in sizes]
        ax_time.loglog(sizes, times, marker, label=name)
        ax_rate.semilogx(
            sizes,
            [matmul.flops(n) / t / 1e9 for n, t in zip(sizes, times, strict=True)],
            marker,
            label=name,
        )
    n0 = numpy_sizes[-1]
    reference = [timings["numpy"][n0] * (n / n0) ** 3 for n in numpy_sizes]
    ax_time.loglog(numpy_sizes, reference, "k:", label="∝ n³")
    ax_time.set(xlabel="n", ylabel="seconds per product", title="time (log-log)")
    ax_rate.set(xlabel="n", ylabel="GFLOP/s", title="throughput", yscale="log")
    ax_time.legend()
    ax_rate.legend()
    report.figure(figure, "matmul", "Matrix multiplication: time and FLOP/s against n")


# -- Titanic --------------------------------------------------------------------------------------


def _titanic_section(report: Report, quick: bool) -> None:
    raw = titanic.load()
    df = titanic.derive(raw)
    y = df["Survived"].to_numpy()

    report.section(
        "Titanic: a vectorized cleaning and feature pipeline",
        "`titanic.py` works on whole columns only (`.str`, `map`, `groupby`, `pd.Categorical`), "
        "never looping over rows in Python. Derived columns: title from the name (rare ones "
        "pooled), family size and travelling alone, deck from the cabin, cabin known, fare per "
        "person (fare / passengers on the same ticket, log1p), child (age < 14). Missing ages "
        "get the median of the passenger's (title, class), missing ports the most common one; "
        "those fill values are fitted on each training fold only, as is the standardization.",
    )
    report.table(
        ["column", "missing in train.csv"],
        [(c, int(raw[c].isna().sum())) for c in ("Age", "Cabin", "Embarked", "Fare")],
    )
    per_row = _pipeline_cost(raw, repeats=10 if quick else 100)
    report.text(
        f"The whole pipeline takes {fmt(per_row[0] * 1e6)} µs per passenger on the 891 rows and "
        f"{fmt(per_row[1] * 1e6)} µs per passenger on the file repeated {10 if quick else 100} "
        "times: column operations pay a fixed cost per call, not per row."
    )
    _survival_figure(report, df)

    k = 5
    folds = logistic.standardized_folds(
        lambda train, test: titanic.features(df.iloc[train], df.iloc[test])[:2], y, k
    )
    ours, theirs, gaps = [], [], []
    majority, women = [], []
    sklearn_model = _sklearn_logistic()
    last_model = None
    sex = df["Sex"].to_numpy()
    for fold in folds:
        model = logistic.fit_logistic(fold.x_train, fold.y_train, l2=1.0)
        last_model = model
        ours.append(float(np.mean(model.predict(fold.x_test) == fold.y_test)))
        majority.append(float(np.mean(fold.y_test == round(fold.y_train.mean()))))
        women.append(float(np.mean((sex[fold.test_index] == "female") == fold.y_test)))
        if sklearn_model is not None:
            fitted = sklearn_model().fit(fold.x_train, fold.y_train)
            theirs.append(float(fitted.score(fold.x_test, fold.y_test)))
            gaps.append(float(np.max(np.abs(fitted.coef_[0] - model.weights))))

    report.section(
        "Logistic regression in NumPy, 5-fold cross-validated",
        "`logistic.py` minimises the L2-regularised cross-entropy (λ = 1, the intercept not "
        "penalised: scikit-learn's objective with C = 1) by Newton's method, which converges in "
        f"{last_model.iterations} steps. Same folds, same features for every row below.",
    )
    rows = [
        ("everyone dies (majority class)", *_mean_std(majority)),
        ("women survive, men die", *_mean_std(women)),
        ("ours: NumPy, Newton", *_mean_std(ours)),
    ]
    if theirs:
        rows.append(("scikit-learn LogisticRegression (lbfgs)", *_mean_std(theirs)))
    report.table(["model", "CV accuracy", "± std over folds"], rows)
    report.results["titanic"] = {
        "cv_accuracy": float(np.mean(ours)),
        "cv_accuracy_std": float(np.std(ours)),
        "sklearn_cv_accuracy": float(np.mean(theirs)) if theirs else None,
        "max_coefficient_gap": max(gaps) if gaps else None,
        "per_fold": ours,
    }
    if theirs:
        report.text(
            f"Per fold our predictions match scikit-learn's accuracy exactly "
            f"({sum(a == b for a, b in zip(ours, theirs, strict=True))} / {k} folds equal) and "
            f"the coefficients agree to {max(gaps):.1e}: both reach the same optimum."
        )
    else:
        report.text("scikit-learn is not installed: its column is left out.")
    _coefficient_figure(report, df, y)


def _mean_std(values: list[float]) -> tuple[str, str]:
    return f"{100 * np.mean(values):.1f}%", f"{100 * np.std(values):.1f}"


def _sklearn_logistic():
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    return lambda: LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000)


def _pipeline_cost(raw: pd.DataFrame, repeats: int) -> tuple[float, float]:
    """Seconds per row of derive + fit + fill + one-hot, on the file and on it repeated."""
    costs = []
    for frame in (raw, pd.concat([raw] * repeats, ignore_index=True)):
        start = time.perf_counter()
        titanic.features(titanic.derive(frame), titanic.derive(frame))
        costs.append((time.perf_counter() - start) / len(frame))
    return costs[0], costs[1]


def _survival_figure(report: Report, df: pd.DataFrame) -> None:
    figure, axes = new_figure(12, 3.6, ncols=3)
    groups = (
        ("Title", df.groupby("Title")["Survived"].mean().reindex(titanic.TITLES)),
        ("class and sex", df.groupby(["Pclass", "Sex"])["Survived"].mean()),
        ("family size", df.groupby(df["FamilySize"].clip(upper=7))["Survived"].mean()),
    )
    for ax, (title, rates) in zip(axes, groups, strict=True):
        labels = [" ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in rates.index]
        ax.bar(labels, rates.to_numpy())
        ax.set_title(f"survival by {title}")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    axes[2].set_xlabel("7 = seven or more")
    report.figure(figure, "titanic_survival", "Survival rate by engineered features")


def _coefficient_figure(report: Report, df: pd.DataFrame, y: np.ndarray) -> None:
    x, _, names = titanic.features(df, df)
    model = logistic.fit_logistic(logistic.Standardizer(x)(x), y, l2=1.0)
    order = np.argsort(np.abs(model.weights))[::-1][:15]
    figure, ax = new_figure(7, 4.5)
    ax.barh([names[i] for i in order], model.weights[order])
    ax.invert_yaxis()
    ax.set_xlabel("weight on the standardized feature (log-odds per std)")
    report.figure(figure, "coefficients", "Largest logistic-regression weights (all 891 rows)")

"""Experiment tracking: every training run logs parameters, metrics, artifacts and the git sha
to MLflow. The default store is a SQLite file under the data home (MLflow's file store is in
maintenance mode); ``ASCENT_MLFLOW_TRACKING_URI`` points the same code at a tracking server."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.config import Settings, get_settings

logger = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]


def git_sha() -> str:
    """The commit the code ran from, with ``-dirty`` when the working tree had changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def tracking_uri(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    folder = settings.data_home / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def _artifact_root(settings: Settings) -> str | None:
    if settings.mlflow_tracking_uri:
        return None  # the server decides
    return (settings.data_home / "mlflow" / "artifacts").as_uri()


@dataclass
class TrackedRun:
    run_id: str
    experiment: str
    uri: str

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_params(self, params: dict) -> None:
        import mlflow

        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """A file or a whole folder."""
        import mlflow

        path = Path(path)
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=folder)
        else:
            mlflow.log_artifact(str(path), artifact_path=folder)

    def provenance(self) -> dict[str, str]:
        """What a model registry entry records about the run that made it."""
        return {"mlflow_run_id": self.run_id, "mlflow_experiment": self.experiment,
                "mlflow_tracking_uri": self.uri, "git_sha": git_sha()}  # fmt: skip


@contextmanager
def tracked_run(
    experiment: str, params: dict | None = None, tags: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> Iterator[TrackedRun]:  # fmt: skip
    """``with tracked_run("lora-qwen", params={...}) as run: run.log_metrics(...)``. The run ends
    FAILED if the block raises."""
    import mlflow

    settings = settings or get_settings()
    uri = tracking_uri(settings)
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        root = _artifact_root(settings)
        experiment_id = mlflow.create_experiment(experiment, artifact_location=root)
    else:
        experiment_id = found.experiment_id
    all_tags = {"git_sha": git_sha(), **(tags or {})}
    with mlflow.start_run(experiment_id=experiment_id, tags=all_tags) as active:
        run = TrackedRun(run_id=active.info.run_id, experiment=experiment, uri=uri)
        if params:
            run.log_params(params)
        logger.info("MLflow run %s (%s) at %s", run.run_id, experiment, uri)
        yield run

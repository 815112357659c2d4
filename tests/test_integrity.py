"""Integrity before work: train, eval, cache and inspect name the first missing or truncated dataset file
(one line, exit 2) and never reach for the hub when the dataset is local."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kuavo_cli.data.integrity import DatasetFileError, check_episode_files, mp4_problem
from kuavo_cli.data.metadata import open_checked
from tests.cli_helpers import run_cli
from tests.train_fixtures import train_config, write_config

VIDEO = Path("videos/observation.images.wrist_cam_l/chunk-000/file-000.mp4")
DATA = Path("data/chunk-000/file-000.parquet")


def _delete_video(root: Path) -> Path:
    (root / VIDEO).unlink()
    return VIDEO


def _truncate_parquet(root: Path) -> Path:
    path = root / DATA
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return DATA


DAMAGES = {"deleted_video": _delete_video, "truncated_parquet": _truncate_parquet}


@pytest.fixture
def damaged(synthetic_dataset: Path, tmp_path: Path) -> Callable[[str], tuple[Path, Path]]:
    def make(kind: str) -> tuple[Path, Path]:
        root = tmp_path / "dataset"
        shutil.copytree(synthetic_dataset, root)
        return root, DAMAGES[kind](root)

    return make


@pytest.fixture(scope="module")
def trained_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-step kuavo run to evaluate (eval checks the dataset before it loads the policy)."""
    base = tmp_path_factory.mktemp("integrity_run")
    cfg = train_config(synthetic_dataset, base / "run", steps=1, eval_freq=1, save_freq=1, num_eval_batches=1)
    result = run_cli("train", str(write_config(base / "train.yaml", cfg)))
    assert result.exit_code == 0, result.stderr
    return base / "run"


def _assert_one_line_naming(result, root: Path, rel: Path) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    assert str(root / rel) in lines[0] and "fix:" in lines[0]
    assert "OfflineModeIsEnabled" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_inspect_names_the_bad_file(damaged, kind):
    root, rel = damaged(kind)
    _assert_one_line_naming(run_cli("inspect", str(root), "--json"), root, rel)


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_cache_names_the_bad_file(damaged, kind, tmp_path):
    root, rel = damaged(kind)
    result = run_cli("cache", str(root), "--out", str(tmp_path / "frames"))
    _assert_one_line_naming(result, root, rel)
    assert not (tmp_path / "frames").exists() or not any((tmp_path / "frames").iterdir())


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_train_names_the_bad_file_and_never_tries_the_hub(damaged, kind, tmp_path):
    root, rel = damaged(kind)
    cfg = write_config(tmp_path / "train.yaml", train_config(root, tmp_path / "run", steps=1))
    _assert_one_line_naming(run_cli("train", str(cfg)), root, rel)


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_eval_names_the_bad_file(damaged, kind, trained_run, tmp_path):
    root, rel = damaged(kind)
    result = run_cli("eval", str(trained_run), "--dataset", str(root), "--out", str(tmp_path / "eval"))
    _assert_one_line_naming(result, root, rel)


def test_truncated_video_and_short_parquet_are_caught(synthetic_dataset, tmp_path):
    root = tmp_path / "dataset"
    shutil.copytree(synthetic_dataset, root)
    assert check_episode_files(open_checked(root)) == {"data_files": 1, "video_files": 3}
    video = root / VIDEO
    whole = video.read_bytes()
    video.write_bytes(whole[:-100])  # cut inside the last box: header intact, frames missing
    assert "is truncated" in mp4_problem(video)
    with pytest.raises(DatasetFileError, match="truncated") as err:
        open_checked(root)
    assert err.value.path == video
    video.write_bytes(whole)
    # A valid parquet file with rows missing: readable, but shorter than meta/episodes says.
    table = pq.read_table(root / DATA)
    pq.write_table(table.slice(0, table.num_rows - 5), root / DATA)
    with pytest.raises(DatasetFileError, match=f"has {table.num_rows - 5} rows"):
        open_checked(root)
    # Only the episodes a command reads are checked: the first episode's rows are there, but the file's
    # row count is still wrong, so it is refused whichever episodes are asked for.
    with pytest.raises(DatasetFileError):
        open_checked(root, episodes=[0])


def test_missing_episode_metadata_is_named_before_lerobot_loads(synthetic_dataset, tmp_path):
    root = tmp_path / "dataset"
    shutil.copytree(synthetic_dataset, root)
    shutil.rmtree(root / "meta" / "episodes")
    result = run_cli("inspect", str(root))
    assert result.exit_code == 2 and str(root / "meta" / "episodes") in result.stderr
    assert "OfflineModeIsEnabled" not in result.stderr

import os
import subprocess
import sys

import torch

from morph_core.access import check_secret
from morph_core.cli import main, serve_command
from morph_core.dataset import open_dataset
from morph_core.settings import PROJECT_ROOT
from tests.unit.test_weights import hub_folder


def test_prepare_prints_a_summary_and_is_cached(env, capsys):
    assert main(["prepare", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "Prepared 'synthetic'" in out and "galaxies   48" in out
    assert "embedded   48 new" in out and "PCA-10" in out and "seconds" in out
    assert main(["prepare", "synthetic"]) == 0
    assert "embedded   0 new" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    assert "synthetic            48 galaxies prepared" in capsys.readouterr().out


def test_own_folder_reports_skipped_reasons(env, image_folder, capsys):
    assert (
        main(["prepare", "mine", "--folder", str(image_folder), "--workers", "0"]) == 0
    )
    out = capsys.readouterr().out
    assert "skipped    5" in out and "image file not found" in out
    assert open_dataset("mine", env).summary()["n_galaxies"] == 11
    # prepared once, the folder is known by name
    assert main(["prepare", "mine"]) == 0


def test_user_errors_exit_2_with_a_message(env, tmp_path, capsys):
    assert main(["prepare", "nope"]) == 2
    assert "error: dataset 'nope' is not in the manifest" in capsys.readouterr().err
    assert main(["prepare", "x", "--folder", str(tmp_path / "absent")]) == 2
    assert "folder not found" in capsys.readouterr().err
    assert main(["prepare", "x", "--folder", str(tmp_path), "--column", "objid"]) == 2
    assert "OURS=THEIRS" in capsys.readouterr().err
    assert main(["prepare", "--weights", "nothing"]) == 2
    assert "are none of" in capsys.readouterr().err
    folder = hub_folder(tmp_path / "hub")
    torch.save({"state_dict": {}, "epoch": 3}, folder / "pytorch_model.bin")
    assert main(["prepare", "--weights", str(folder)]) == 2
    assert "not a plain state dict" in capsys.readouterr().err
    assert not open_dataset("synthetic", env).is_prepared


def test_module_entry_point(env):
    result = subprocess.run(
        [sys.executable, "-m", "morph_core", "prepare", "nope"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "not in the manifest" in result.stderr


def test_hdf5_with_a_label_table_from_the_command_line(env, tmp_path, capsys):
    import h5py
    import numpy as np
    import pandas as pd

    stack = tmp_path / "stack.h5"
    with h5py.File(stack, "w") as h5:
        h5["images"] = np.random.default_rng(0).integers(0, 255, (4, 40, 40), np.uint8)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"galaxy_id": ["stack-1"], "ring": [1]}).to_csv(labels, index=False)
    assert main(["prepare", "--hdf5", str(stack), "--labels", str(labels)]) == 0
    assert "galaxies   4" in capsys.readouterr().out
    assert open_dataset("stack", env).catalog()["ring"].notna().sum() == 1
    assert main(["prepare", "x", "--hdf5", str(tmp_path / "absent.h5")]) == 2
    assert "HDF5 file not found" in capsys.readouterr().err


def test_bad_generator_settings_are_refused_before_any_work(env, tmp_path, capsys):
    work = tmp_path / "pretrain"
    assert main(["pretrain", "--image-size", "16", "--work", str(work)]) == 2
    assert "image_size must be in 32..render_size" in capsys.readouterr().err
    assert main(["pretrain", "--galaxies", "-5", "--work", str(work)]) == 2
    assert "n_galaxies must be >= 1" in capsys.readouterr().err
    assert main(["pretrain", "--variety", "1.5", "--work", str(work)]) == 2
    assert "variety must be in [0, 1]" in capsys.readouterr().err
    assert not work.exists()


def test_the_public_server_command_hides_errors_and_caps_uploads():
    public = " ".join(serve_command(True, "0.0.0.0", 8600))
    local = " ".join(serve_command(False, "127.0.0.1", 8501))
    assert "--client.showErrorDetails=none" in public
    assert "--server.maxUploadSize=5" in public and "--server.address=0.0.0.0" in public
    assert "--server.enableXsrfProtection=true" in public
    assert "--server.maxMessageSize=16" in public and "maxMessageSize" not in local
    assert "--client.showErrorDetails=full" in local and "maxUploadSize=20" in local
    assert all("--server.headless=true" in c for c in (public, local))


def test_a_public_server_refuses_root_and_the_secret_is_hashed(
    env, capsys, monkeypatch
):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert main(["serve", "--public"]) == 2
    assert "should not run as root" in capsys.readouterr().err
    monkeypatch.setattr("getpass.getpass", lambda prompt: "a long enough secret")
    assert main(["admin-secret"]) == 0
    line = capsys.readouterr().out.strip()
    stored = line.split('"')[1]
    assert line.startswith("admin_secret_hash = ") and "a long enough" not in line
    assert check_secret("a long enough secret", stored)

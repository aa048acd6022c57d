"""The theory's moment tables are kept on disk, so a fresh worker loads them instead of
computing them again (≈ 0.3 s per activation)."""

from __future__ import annotations

import numpy as np

from quizapp.sim import theory


def test_tables_are_stored_once_and_loaded_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZAPP_SIM_CACHE_DIR", str(tmp_path / "tables"))
    computed = theory._moment_tables.__wrapped__("tanh")  # computes and stores
    files = list((tmp_path / "tables").glob("moments-tanh-*.npz"))
    assert len(files) == 1
    loaded = theory._moment_tables.__wrapped__("tanh")  # reads the file
    assert len(loaded) == len(computed) == 5
    assert all(np.array_equal(a, b) for a, b in zip(loaded, computed, strict=True))
    # A damaged file is computed again (and replaced), never trusted.
    files[0].write_bytes(b"not a table")
    again = theory._moment_tables.__wrapped__("tanh")
    assert all(np.array_equal(a, b) for a, b in zip(again, computed, strict=True))
    assert np.load(files[0])["t0"].shape == computed[0].shape


def test_an_unwritable_cache_directory_still_gives_the_tables(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the directory would be")
    monkeypatch.setenv("QUIZAPP_SIM_CACHE_DIR", str(blocker / "tables"))
    tables = theory._moment_tables.__wrapped__("relu")
    assert np.isfinite(tables[1]).all()

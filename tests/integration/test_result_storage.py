"""Simulation results are stored once and compact: packed (columns, deflated), losslessly,
and migration 0005 converts the results already stored, both ways."""

from __future__ import annotations

import json

import pytest
from conftest import POSTGRES_URL, _reset_postgres
from sqlalchemy import create_engine, text
from test_migrations import flask_db, keep_logging, migrated_app  # noqa: F401  (fixture)

from quizapp.extensions import db
from quizapp.models import SimResult
from quizapp.models.result_packing import pack_result, unpack_result
from quizapp.sim import simulate

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

# Per-layer, per-time-step records: the shape that made a stored result 1.7 MB.
RECURRENT = {"kind": "rnn", "depth": 8, "width": 4, "batch_size": 2, "seq_len": 120}


@pytest.fixture(scope="module")
def recurrent_result() -> dict:
    return simulate(RECURRENT)


def test_packing_is_lossless_and_at_least_four_times_smaller(recurrent_result):
    as_json = json.dumps(recurrent_result).encode()
    packed = pack_result(recurrent_result)
    assert unpack_result(packed) == recurrent_result
    assert len(packed) * 4 < len(as_json), (len(packed), len(as_json))


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": [{}, {}]},
        {"a": [{"x": 1}, {"y": 2}]},
        {"a": [{"x": 1, "y": None}, {"y": [1, {"z": 2}], "x": 2.5}], "b": [[{"q": "r"}] * 3]},
        {"nested": [{"steps": [{"t": 1}, {"t": 2}]}, {"steps": [{"t": 3}, {"t": 4}]}]},
    ],
)
def test_packing_round_trips_any_shape(value):
    assert unpack_result(pack_result(value)) == value


def test_the_reserved_key_is_refused_not_misread():
    with pytest.raises(ValueError, match="reserved"):
        pack_result({"__columns__": {"a": [1]}})


def test_a_stored_result_reads_back_as_the_dict_it_was(app, recurrent_result):
    with app.app_context():
        stored = SimResult(key="k" * 64, simulator_version="x", config=RECURRENT)
        stored.result = recurrent_result
        db.session.add(stored)
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(SimResult, "k" * 64)
        assert stored.result == recurrent_result
        assert len(stored.packed) * 4 < len(json.dumps(recurrent_result))


def _migrate_a_stored_result(url: str, recurrent_result: dict) -> None:
    app = migrated_app(url)
    engine = create_engine(url)
    try:
        flask_db(app, "upgrade", "0003")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sim_results (key, simulator_version, config, result, created_at)"
                    " VALUES ('old', '1.0.1', :config, :result, '2026-11-30 10:00:00')"
                ),
                {"config": json.dumps(RECURRENT), "result": json.dumps(recurrent_result)},
            )
        flask_db(app, "upgrade")
        with app.app_context():
            assert db.session.get(SimResult, "old").result == recurrent_result
            db.session.remove()
        flask_db(app, "downgrade", "0003")
        with engine.connect() as connection:
            raw = connection.execute(text("SELECT result FROM sim_results")).scalar_one()
        assert (json.loads(raw) if isinstance(raw, str) else raw) == recurrent_result
    finally:
        engine.dispose()
        with app.app_context():
            db.engine.dispose()


def test_migration_0005_packs_stored_results_and_unpacks_them_on_sqlite(tmp_path, recurrent_result):
    _migrate_a_stored_result(f"sqlite:///{tmp_path / 'packed.sqlite'}", recurrent_result)


def test_migration_0005_packs_stored_results_and_unpacks_them_on_postgres(recurrent_result):
    if not POSTGRES_URL:
        pytest.skip("QUIZAPP_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    _reset_postgres(POSTGRES_URL)
    _migrate_a_stored_result(POSTGRES_URL, recurrent_result)

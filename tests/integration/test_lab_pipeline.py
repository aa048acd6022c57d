"""The lab's run pipeline with real worker processes: results pushed to waiting requests,
many waiters at once, phase-diagram batches through the job backend, the χ₁ line."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import PhaseCell, PhaseSweep, SimResult, SimRun
from quizapp.services import lab as lab_service
from quizapp.services import phase as phase_service
from quizapp.services.simulations import start_lab_run
from quizapp.sim.phase import PHASE_PRESETS, phase_cells

WAIT = 25.0  # the longest a waiting request is held


def test_a_waiting_request_gets_the_result_and_the_run_is_recorded(app):
    with app.app_context():
        run = start_lab_run(None, {"kind": "mlp", "depth": 5, "width": 8, "seed": 21})
        view = lab_service.wait_for_run(run.id, None, WAIT)
        assert view.run.status == "done" and view.result["verdict"]
        # the recorder stores it too (the waiter may have been answered just before)
        done = lab_service.wait_for_run(run.id, None, WAIT)
        db.session.rollback()
        stored = db.session.get(SimRun, run.id)
        for _ in range(100):
            if stored.status == "done":
                break
            threading.Event().wait(0.05)
            db.session.rollback()
            stored = db.session.get(SimRun, run.id)
        assert stored.status == "done" and done.result == view.result
        assert db.session.get(SimResult, stored.cache_key) is not None


def test_twenty_waiters_at_once_all_get_their_results(app):
    """Waiters give their database connection back: they must not starve the recorder."""
    statuses: list[str] = []

    def learner(seed: int) -> None:
        with app.app_context():
            run = start_lab_run(None, {"kind": "mlp", "depth": 4, "width": 8, "seed": seed})
            statuses.append(lab_service.wait_for_run(run.id, None, WAIT).run.status)

    app.config["QUIZAPP_SIM_QUEUE_LIMIT"] = 32
    threads = [threading.Thread(target=learner, args=(500 + n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == ["done"] * 20


def test_a_phase_sweep_runs_in_batches_and_draws_theory(app):
    preset = PHASE_PRESETS["relu-he-line"]
    with app.app_context():
        view = phase_service.start_phase(preset.name, 4)
        while not view.complete or view.theory is None:
            view = phase_service.wait_for_progress(view.key, len(view.cells), WAIT)
        assert len(view.cells) == 16
        assert db.session.scalar(select(func.count()).select_from(PhaseCell)) == 16
        # every cell is the simulation of its configuration
        configs = dict(phase_cells(preset, 4))
        deepest_widest = configs[15]
        assert deepest_widest["depth"] == 50 and deepest_widest["init_std"] == 0.6
        assert view.cells[15].verdict == "exploding"
        assert view.cells[12].verdict == "vanishing"  # std 0.05, depth 50
        # the fine χ₁ curve: ReLU's χ₁ = σ_w²/2 = 64·std²/2
        for x, chi1 in view.theory:
            assert abs(chi1 - 32 * x * x) < 0.02 * 32 * x * x
        # asking again starts nothing new
        again = phase_service.start_phase(preset.name, 4)
        assert again.complete and db.session.scalar(select(func.count(PhaseSweep.key))) == 1

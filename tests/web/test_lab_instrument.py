"""The gradient lab as an instrument: controls from the field registry, results in place,
long-polling, history, overlay, permalinks, phase diagrams, their JSON endpoints.

Runs go through the real process pool (real torch in the workers), never a stand-in.
"""

from __future__ import annotations

import math
import re
import threading

import pytest
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.jobs import owners
from quizapp.models import PhaseCell, PhaseSweep, SimRun
from quizapp.services.lab import normalised_lab_config
from quizapp.sim.config import FIELDS, KINDS
from quizapp.sim.fields import LAB_FIELDS, minimal_config
from tests.conftest import add_user, sign_in

WAIT = 60  # seconds: a bound on waiting for the pool, not a performance assertion
SMALL = {"kind": "mlp", "depth": "6", "width": "8", "batch_size": "8", "activation": "tanh"}


@pytest.fixture
def lab_run(client):
    """Run a lab config through /lab/panel and return the fragment (waiting for the result)."""

    def run(fields: dict) -> tuple[int, str, str]:
        response = client.post("/lab/panel", data=fields)
        body = response.get_data(as_text=True)
        run_id = response.headers.get("X-Run-Id", "")
        while response.status_code == 202:
            response = client.get(f"/runs/{run_id}/panel?wait={WAIT}")
            body = response.get_data(as_text=True)
        return response.status_code, body, run_id

    return run


def stored(client, run_id: str) -> None:
    """Until the recorder has stored the run (the waiting request may be answered first)."""
    for _ in range(200):
        if client.get(f"/api/v1/runs/{run_id}").get_json()["status"] == "done":
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"run {run_id} was never stored")


# --- controls ------------------------------------------------------------------------------


def test_every_simulator_field_has_a_label_help_and_a_group():
    for name in FIELDS:
        spec = LAB_FIELDS[name]
        assert spec.label and spec.help and spec.group, name
        assert set(spec.kinds) <= set(KINDS)


def test_the_lab_shows_grouped_controls_with_human_labels_and_real_defaults(client):
    page = client.get("/lab?kind=lstm").get_data(as_text=True)
    for heading in ("Architecture", "Initialisation", "Data and training"):
        assert f"<legend>{heading}</legend>" in page
    assert "Forget-gate bias" in page and "Sequence length" in page
    # the real default of the chosen kind, not the word "default"
    assert re.search(r'id="lab-seq_len"[^>]*placeholder="50"', page)
    assert re.search(r'id="lab-depth"[^>]*placeholder="1"', page)
    assert 'type="range"' in page  # sliders beside the number boxes
    # a field that does not apply to lstm is marked so the script can hide it
    assert re.search(r'data-field="activation" data-spec="[^"]*"\s+data-inapplicable', page)


def test_a_form_without_javascript_ignores_fields_of_another_kind(client):
    response = client.post(
        "/lab/runs", data={"kind": "lstm", "seq_len": "5", "width": "8", "activation": "relu"}
    )
    assert response.status_code == 302  # not refused: activation does not apply to lstm


def test_old_lab_links_keep_working(client):
    response = client.get("/lab?kind=residual_mlp&depth=20&skip_every=2&residual_scale=0.5")
    assert response.status_code == 200
    assert 'value="0.5"' in response.get_data(as_text=True)


def test_the_field_registry_is_served_as_json(client):
    body = client.get("/api/v1/lab/fields").get_json()
    by_name = {f["name"]: f for f in body}
    assert by_name["forget_bias"]["kinds"] == ["lstm"]
    assert by_name["depth"]["defaults"]["mlp"] == 10


def test_minimal_config_is_the_permalink_of_a_configuration():
    assert minimal_config({"kind": "mlp", "depth": 10, "width": 64, "seed": 0}) == {"kind": "mlp"}
    assert minimal_config({"kind": "lstm", "forget_bias": 3}) == {
        "kind": "lstm",
        "forget_bias": 3.0,
    }


# --- results in place ----------------------------------------------------------------------


def test_a_run_answers_with_its_result_panel_and_picture(client, lab_run):
    status, body, run_id = lab_run(SMALL)
    assert status == 200
    assert 'data-status="done"' in body and f'data-run-id="{run_id}"' in body
    assert "Backward signal per layer" in body and "The network" in body
    assert "Share this result" in body
    stored(client, run_id)
    # the same configuration again is read from the cache: answered at once, no run recorded
    response = client.post("/lab/panel", data=SMALL)
    assert response.status_code == 200 and "Answered from the cache" in response.text
    assert response.headers["X-Run-Id"] != run_id


def test_a_refused_configuration_is_explained_before_running(app, client):
    response = client.post("/lab/panel", data={"kind": "mlp", "depth": "900"})
    assert response.status_code == 400
    assert response.headers["X-Error-Field"] == "depth"
    assert "above the limit of 200" in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SimRun)) == 0


def test_the_api_long_polls_until_the_run_is_done(client):
    response = client.post(
        "/api/v1/lab/runs?wait=25", json={"config": {"kind": "mlp", "depth": 5, "seed": 3}}
    )
    body = response.get_json()
    assert body["status"] == "done" and body["result"]["verdict"] in ("healthy", "vanishing")
    again = client.get(f"/api/v1/runs/{body['id']}?wait=1").get_json()
    assert again["status"] == "done"


def test_training_runs_show_a_playable_layer_by_step_heat_map(client, lab_run):
    status, body, run_id = lab_run(dict(SMALL, train_steps="12"))
    assert status == 200
    assert "Training, step by step" in body and 'class="train-scrub"' in body
    assert body.count("<tr><td>") >= 12  # the numbers behind the heat map, one row per step
    # Its colour and its table are each layer's backward signal over the output's, the
    # quantity of the main chart, recorded during training (not weight-gradient norms).
    training = client.get(f"/api/v1/runs/{run_id}").get_json()["result"]["training"]
    signals, output = training["layer_backward_signals"][0], training["output_signals"][0]
    first_row = f"<tr><td>1</td><td>{math.log10(signals[0] / output):+.2f}</td>"
    assert first_row in body and "backward signal ‖∂L/∂x‖" in body


# --- history, overlay, sharing ------------------------------------------------------------


def test_signed_in_history_is_on_the_account_and_in_the_api(app, client, lab_run):
    user_id = add_user(app)
    sign_in(client, user_id)
    _, _, first = lab_run(SMALL)
    _, _, second = lab_run(dict(SMALL, depth="9"))
    history = client.get("/api/v1/lab/history").get_json()
    assert [item["id"] for item in history[:2]] == [second, first]
    assert history[0]["share_url"].startswith("/lab/results?")
    page = client.get("/lab").get_data(as_text=True)
    assert f'value="{first}"' in page and f'value="{second}"' in page


def test_history_api_needs_an_account(client):
    assert client.get("/api/v1/lab/history").status_code == 401


def test_overlay_draws_runs_on_one_chart_and_highlights_differences(client, lab_run):
    _, _, first = lab_run(SMALL)
    _, _, second = lab_run(dict(SMALL, activation="relu"))
    page = client.get(f"/lab/overlay?run={first}&run={second}").get_data(as_text=True)
    assert "line-run-0" in page and "line-run-1" in page
    assert re.search(r'<tr class="differs"><th scope="row">Activation <code[^>]*>activation<', page)
    assert '<tr><th scope="row">Depth <code' in page  # the same in both: not highlighted
    too_many = "&".join(f"run={i:032x}" for i in range(5))
    assert client.get(f"/lab/overlay?{too_many}").status_code == 400


def test_a_lab_permalink_opens_for_anyone_but_exercise_runs_stay_private(app, client, lab_run):
    user_id = add_user(app)
    sign_in(client, user_id)
    _, body, run_id = lab_run(SMALL)
    share = re.search(r'data-share-url="([^"]+)"', body).group(1).replace("&amp;", "&")
    stranger = app.test_client()
    with app.app_context():
        runs_before = db.session.scalar(select(func.count()).select_from(SimRun))
    page = stranger.get(share)
    assert page.status_code == 200 and 'data-status="done"' in page.text
    assert "Answered from the cache" in page.text
    with app.app_context():  # served from the cache: nothing recorded for the stranger
        assert db.session.scalar(select(func.count()).select_from(SimRun)) == runs_before
    assert stranger.get(f"/runs/{run_id}").status_code == 404  # the run itself stays private
    api = stranger.get("/api/v1/lab/results?" + share.split("?", 1)[1]).get_json()
    assert api["status"] == "done" and api["result"]["verdict"]


def test_a_permalink_never_run_before_starts_an_anonymous_run(client):
    body = client.get("/api/v1/lab/results?kind=mlp&depth=4&width=8&seed=11").get_json()
    assert body["status"] in ("queued", "running", "done")
    if body["run_url"]:
        done = client.get(body["run_url"] + "?wait=25").get_json()
        assert done["status"] == "done"


def test_compare_uses_one_y_range_for_both_sides(client, lab_run):
    _, _, first = lab_run(dict(SMALL, depth="4"))
    _, _, second = lab_run(dict(SMALL, depth="30", activation="sigmoid"))
    page = client.get(f"/runs/compare?a={first}&b={second}").get_data(as_text=True)
    signal_axes = re.findall(r'aria-labelledby="backward-signal-per-layer-[^"]*"', page)
    assert len(signal_axes) == 2
    ticks = re.findall(r'text-anchor="end">(1e-?\d+)</text>', page)
    lowest = {t for t in ticks if t.startswith("1e-")}
    assert lowest, "log ticks expected"
    # the most negative tick appears on both sides
    deepest = min(lowest, key=lambda t: int(t[2:]))
    assert ticks.count(deepest) >= 2


# --- phase diagrams ------------------------------------------------------------------------


def test_a_phase_diagram_fills_in_and_is_served_as_json(app, client):
    body = client.post("/api/v1/lab/phase", json={"preset": "relu-he-line", "size": 3}).get_json()
    assert body["total"] == 9 and body["x_field"] == "init_std"
    seen = len(body["cells"])
    while not body["complete"]:
        body = client.get(f"{body['url']}?seen={seen}&wait=25").get_json()
        assert len(body["cells"]) > seen or body["complete"]  # the wait returned on progress
        seen = len(body["cells"])
    assert len(body["cells"]) == 9
    assert {cell["verdict"] for cell in body["cells"]} <= {"healthy", "vanishing", "exploding"}
    # He's line: χ₁ = σ_w²/2 = 1 at std √(2/64)
    assert body["critical_x"] == pytest.approx((2 / 64) ** 0.5, rel=0.1)
    page = client.get("/lab/phase?preset=relu-he-line&size=3").get_data(as_text=True)
    assert "All 9 cells done." in page and 'class="theory-critical"' in page
    assert page.count('class="phase-cell"') == 9
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PhaseCell)) == 9


def test_the_bias_edge_of_chaos_diagram_draws_the_critical_curve_between_the_phases(client):
    preset = "tanh-edge-of-chaos-bias"
    body = client.post("/api/v1/lab/phase", json={"preset": preset, "size": 3}).get_json()
    while not body["complete"] or not body["critical_line"]:
        body = client.get(f"{body['url']}?seen={len(body['cells'])}&wait=25").get_json()
    assert body["y_field"] == "bias_std" and body["ys"] == [0.0, 0.5, 1.0]
    curve = dict((y, x) for x, y in body["critical_line"])
    # σ_b = 0: σ_w = 1 (std 1/√64); the curve moves to larger weights as σ_b grows.
    assert curve[0.0] == pytest.approx(0.125, rel=0.01) and curve[1.0] > curve[0.0] * 1.5
    verdicts = [cell["verdict"] for cell in body["cells"]]
    assert verdicts[0::3] == ["vanishing"] * 3 and verdicts[2::3] == ["exploding"] * 3
    page = client.get(f"/lab/phase?preset={preset}&size=3").get_data(as_text=True)
    assert 'class="theory-critical"' in page and "bias std σ_b" in page


def test_phase_diagram_input_errors(client):
    assert client.get("/lab/phase?preset=nope").status_code == 400
    response = client.post("/api/v1/lab/phase", json={"preset": "relu-he-line", "size": 99})
    assert response.status_code == 400 and "size" in response.get_json()["message"]
    assert client.get(f"/api/v1/lab/phase/{'0' * 64}").status_code == 404


# Before: max(nan, 0) is nan, so the deadline was nan, never reached: the request polled the
# database in a tight loop until the run or the sweep finished (a lost one: forever).
@pytest.mark.timeout(60)
def test_a_wait_that_is_not_a_number_answers_at_once_instead_of_polling_forever(app, client):
    with app.app_context():
        # Running in this very process, which will never finish it: only the wait ends it.
        config = normalised_lab_config({"kind": "mlp"})
        db.session.add(SimRun(id="r" * 32, config=config, cache_key="k" * 64,
                              status="running", owner=owners.this_process()))  # fmt: skip
        db.session.add(PhaseSweep(key="p" * 64, preset="relu-he-line", size=3,
                                  simulator_version="0", total=9))  # fmt: skip
        db.session.commit()
    assert client.get(f"/runs/{'r' * 32}/panel?wait=nan").status_code == 202
    assert client.get(f"/lab/phase/{'p' * 64}/figure?seen=0&wait=nan").status_code == 200

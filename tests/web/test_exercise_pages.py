"""Exercise pages, run results with charts and tables, the lab, comparing runs, the dashboard.

Runs go through the real process pool; the real content is imported and the seed exercise
(a 30-layer tanh network) is used, reading its choices from the database.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import Exercise, Question, SimRun
from tests.conftest import add_user, sign_in

SLUG = "tanh-depth-30-init"
SEED_QUESTION = "vanishing-gradient-problem"

WAIT = 60.0  # seconds: a bound on waiting for the pool, not a performance assertion
# A small network that stays healthy: every layer's signal is a positive, finite number.
HEALTHY_LAB = {
    "kind": "mlp",
    "depth": "12",
    "width": "8",
    "batch_size": "16",
    "activation": "tanh",
    "init": "xavier_normal",
}


@pytest.fixture(scope="module")
def site(real_bank_app):
    return real_bank_app


@pytest.fixture
def browser(site):
    return site.test_client()


def exercise_choices(app, slug: str = SLUG) -> dict[str, list[dict]]:
    with app.app_context():
        return db.session.scalar(select(Exercise.choices).where(Exercise.slug == slug))


def run_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SimRun))


def form_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_id_from(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    path = urlsplit(response.headers["Location"]).path
    assert path.startswith("/runs/")
    return path.rsplit("/", 1)[1]


def wait_done(client, run_id: str) -> dict:
    """Poll the run's JSON like the page's script does, until it is done or failed."""
    deadline = time.monotonic() + WAIT
    while True:
        body = client.get(f"/api/v1/runs/{run_id}").get_json()
        if body["status"] not in ("queued", "running"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {body['status']} after {WAIT:g} s")
        time.sleep(0.05)


def run_exercise(client, choices: dict, prediction: str = "") -> tuple[str, dict]:
    data = {name: form_text(value) for name, value in choices.items()}
    data["prediction"] = prediction
    run_id = run_id_from(client.post(f"/exercises/{SLUG}/runs", data=data))
    return run_id, wait_done(client, run_id)


def run_lab(client, fields: dict) -> tuple[str, dict]:
    run_id = run_id_from(client.post("/lab/runs", data=fields))
    return run_id, wait_done(client, run_id)


def first_svg(html: str) -> str:
    start = html.index("<svg")
    return html[start : html.index("</svg>", start)]


def data_table_rows(html: str) -> list[list[str]]:
    """The cells of the first "Show the numbers" table, row by row."""
    start = html.index('<details class="data-table">')
    body = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


class FormFields(HTMLParser):
    """The values a browser would submit from the form whose `attribute` is `value`."""

    def __init__(self, attribute: str, value: str) -> None:
        super().__init__()
        self.wanted = (attribute, value)
        self.inside = False
        self.select: str | None = None
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get(self.wanted[0]) == self.wanted[1]
        if not self.inside:
            return
        if tag == "input" and attrs.get("name"):
            if attrs.get("type") not in ("radio", "checkbox") or "checked" in attrs:
                self.values[attrs["name"]] = attrs.get("value", "")
        elif tag == "select":
            self.select = attrs["name"]
            self.values.setdefault(self.select, "")
        elif tag == "option" and self.select and "selected" in attrs:
            self.values[self.select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def form_values(html: str, attribute: str, value: str) -> dict[str, str]:
    parser = FormFields(attribute, value)
    parser.feed(html)
    return {k: v for k, v in parser.values.items() if k != "csrf_token"}


def lab_form(html: str) -> dict[str, str]:
    return {k: v for k, v in form_values(html, "id", "lab-form").items() if v}


# The exercise pages


def test_the_exercise_list_links_every_exercise(site, browser):
    html = browser.get("/exercises").get_data(as_text=True)
    with site.app_context():
        exercises = db.session.scalars(select(Exercise).where(Exercise.retired_at.is_(None)))
        for exercise in exercises:
            assert f'href="/exercises/{exercise.slug}"' in html


def test_the_exercise_page_offers_the_choices_and_a_prediction(site, browser):
    response = browser.get(f"/exercises/{SLUG}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'action="/exercises/{SLUG}/runs"' in html
    for name, options in exercise_choices(site).items():
        for option in options:
            assert f'name="{name}" value="{form_text(option["value"])}"' in html
            assert option["label"] in html
    for verdict in ("vanishing", "healthy", "exploding"):
        assert f'name="prediction" value="{verdict}"' in html
    assert 'name="prediction" value="" checked' in html  # predicting is optional
    for goal in browser.get(f"/api/v1/exercises/{SLUG}").get_json()["goals"]:
        assert escape(goal) in html
    assert f'href="/questions/{SEED_QUESTION}"' in html


def test_choices_are_named_as_the_lab_names_them_not_by_their_field(site, browser):
    """The simulator's names ("Init", init=default) read as the lab's labels."""
    html = browser.get(f"/exercises/{SLUG}").get_data(as_text=True)
    assert "<legend>Weight initialisation</legend>" in html
    assert "<legend>Init</legend>" not in html
    label = exercise_choices(site)["init"][0]["label"]
    learner = site.test_client()
    sign_in(learner, add_user(site))  # their previous runs are listed on the exercise page
    run_id, _ = run_exercise(learner, {"init": exercise_choices(site)["init"][0]["value"]})
    for page in (f"/runs/{run_id}", f"/exercises/{SLUG}"):
        html = learner.get(page).get_data(as_text=True)
        assert f"Weight initialisation: <strong>{escape(label)}</strong>" in html, page
        assert "Your choice: <code>" not in html and "<td><code>init=" not in html, page


def test_every_exercise_form_as_shown_can_be_run(site, browser):
    # The radio values the page renders (text, numbers, true/false) are accepted as they are.
    with site.app_context():
        slugs = db.session.scalars(select(Exercise.slug).where(Exercise.retired_at.is_(None)))
        slugs = list(slugs)
    for slug in slugs:
        html = browser.get(f"/exercises/{slug}").get_data(as_text=True)
        data = form_values(html, "action", f"/exercises/{slug}/runs")
        assert set(exercise_choices(site, slug)) <= set(data), slug
        assert data["prediction"] == ""
        body = wait_done(browser, run_id_from(browser.post(f"/exercises/{slug}/runs", data=data)))
        assert body["status"] == "done", (slug, body["error"])
        assert body["exercise"] == slug


def test_an_unknown_exercise_is_a_404_page(browser):
    response = browser.get("/exercises/no-such-exercise")
    assert response.status_code == 404
    assert "No exercise" in response.get_data(as_text=True)


def test_a_choice_outside_the_space_is_a_400_page_naming_it(site, browser):
    name = next(iter(exercise_choices(site)))
    data = {n: form_text(o[0]["value"]) for n, o in exercise_choices(site).items()}
    data[name] = "not-an-option"
    runs_before = run_count(site)
    response = browser.post(f"/exercises/{SLUG}/runs", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f"{name}: &#39;not-an-option&#39; is not offered" in html
    assert run_count(site) == runs_before


def test_a_run_page_shows_the_result_chart_and_the_numbers(site, browser):
    choices = {name: options[0]["value"] for name, options in exercise_choices(site).items()}
    run_id, body = run_exercise(browser, choices, prediction="vanishing")
    assert body["status"] == "done", body["error"]
    html = browser.get(f"/runs/{run_id}").get_data(as_text=True)
    result = body["result"]
    assert f"verdict-{result['verdict']}" in html
    assert "You predicted <strong>vanishing</strong>" in html
    svg = first_svg(html)
    assert 'role="img"' in svg and "<title" in svg
    positive = [layer for layer in result["layers"] if (layer["backward_signal"] or 0) > 0]
    assert svg.count('class="dot line-signal"') == len(positive)
    rows = data_table_rows(html)
    assert len(rows) == len(result["layers"])
    for goal in body["goals"]:
        mark = 'ok">✓' if goal["passed"] else 'bad">✗'
        assert f"{mark} {escape(goal['description'])}" in html


def test_a_healthy_run_draws_one_point_per_layer_and_tables_every_number(browser):
    run_id, body = run_lab(browser, HEALTHY_LAB)
    assert body["status"] == "done"
    assert body["result"]["verdict"] == "healthy"
    layers = body["result"]["layers"]
    assert len(layers) == 12
    html = browser.get(f"/runs/{run_id}").get_data(as_text=True)
    svg = first_svg(html)
    assert svg.count('<circle class="dot line-signal"') == len(layers)
    rows = data_table_rows(html)
    assert len(rows) == len(layers)
    for row, layer in zip(rows, layers, strict=True):
        assert row[0] == f"{layer['index']} {layer['name']}"
        assert row[1] == f"{layer['backward_signal']:.3g}"
        assert row[2] == f"{layer['weight_grad_norm']:.3g}"


def test_a_failed_run_page_says_why(browser):
    # Every field within its own limit, but too much work together: refused before running.
    response = browser.post(
        "/lab/runs", data={"kind": "lstm", "width": "1024", "seq_len": "500", "batch_size": "512"}
    )
    assert response.status_code == 400
    assert "reduce" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "phrase"),
    [
        ({"kind": "mlp", "depth": "5000"}, "reduce it to 200 or less"),
        ({"kind": "mlp", "depth": "deep"}, "depth must be a whole number"),
        ({"kind": "mlp", "lr": "fast"}, "lr must be a number"),
        ({"kind": "mlp", "colour": "blue"}, "unknown field: colour"),
        ({"kind": "mamba"}, "unknown value &#39;mamba&#39;"),
    ],
)
def test_the_lab_refuses_bad_fields_with_a_message(site, browser, fields, phrase):
    runs_before = run_count(site)
    response = browser.post("/lab/runs", data=fields)
    assert response.status_code == 400
    assert phrase in response.get_data(as_text=True)
    assert run_count(site) == runs_before


def test_the_lab_round_trips_a_configuration_through_its_address(browser):
    run_id, first = run_lab(browser, dict(HEALTHY_LAB, seed="4", lr="0.05"))
    html = browser.get(f"/runs/{run_id}").get_data(as_text=True)
    link = re.search(r'<a href="(/lab\?[^"]+)">Open in the lab</a>', html)
    assert link, "the run page links to the lab with its configuration"
    shared = link.group(1).replace("&amp;", "&")
    lab_page = browser.get(shared)
    assert lab_page.status_code == 200
    fields = lab_form(lab_page.get_data(as_text=True))
    assert fields["kind"] == "mlp" and fields["init"] == "xavier_normal"
    assert fields["depth"] == "12" and fields["seed"] == "4" and fields["lr"] == "0.05"
    # Running the form as the shared page shows it gives the very same configuration.
    again_id, again = run_lab(browser, fields)
    assert again["config"] == first["config"]
    assert again["from_cache"] is True
    assert again_id != run_id


def test_a_lab_address_fills_in_the_form(browser):
    html = browser.get("/lab?kind=lstm&seq_len=50&forget_bias=3.0").get_data(as_text=True)
    assert lab_form(html) == {"kind": "lstm", "seq_len": "50", "forget_bias": "3.0"}
    # Each preset is such an address.
    for preset in re.findall(r'<a class="chip" href="(/lab\?[^"]+)"', html):
        assert browser.get(preset.replace("&amp;", "&")).status_code == 200


def test_compare_shows_two_runs_side_by_side(browser):
    a, first = run_lab(browser, HEALTHY_LAB)
    b, second = run_lab(browser, dict(HEALTHY_LAB, init="normal"))
    html = browser.get(f"/runs/compare?a={a}&b={b}").get_data(as_text=True)
    assert html.count('class="compare-col"') == 2
    assert "<code>init=xavier_normal</code>" in html and "<code>init=normal</code>" in html
    assert f"verdict-{first['result']['verdict']}" in html
    assert f"verdict-{second['result']['verdict']}" in html
    assert html.count("<svg") >= 2
    assert browser.get(f"/runs/compare?a={a}").status_code == 400


def test_another_learners_run_is_not_found(site):
    owner, other = site.test_client(), site.test_client()
    sign_in(owner, add_user(site))
    sign_in(other, add_user(site))
    run_id, _ = run_lab(owner, dict(HEALTHY_LAB, seed="9"))
    assert owner.get(f"/runs/{run_id}").status_code == 200
    assert other.get(f"/runs/{run_id}").status_code == 404
    assert site.test_client().get(f"/runs/{run_id}").status_code == 404
    assert other.get(f"/runs/compare?a={run_id}&b={run_id}").status_code == 404


# Exercises on the question page and the dashboard


def test_the_seed_question_links_to_its_exercises(site, browser):
    with site.app_context():
        slugs = db.session.scalar(
            select(Question.exercise_slugs).where(Question.slug == SEED_QUESTION)
        )
    assert SLUG in slugs
    html = browser.get(f"/questions/{SEED_QUESTION}").get_data(as_text=True)
    for slug in slugs:
        assert f'href="/exercises/{slug}"' in html


def test_the_dashboard_shows_gradient_intuition_after_a_prediction(site, browser):
    sign_in(browser, add_user(site))
    before = browser.get("/dashboard").get_data(as_text=True)
    assert "gradient intuition (0/0 predictions)" in before
    choices = {name: options[0]["value"] for name, options in exercise_choices(site).items()}
    run_id, body = run_exercise(browser, choices, prediction="healthy")
    assert body["status"] == "done"
    right = 1 if body["prediction_correct"] else 0
    html = browser.get("/dashboard").get_data(as_text=True)
    assert f"gradient intuition ({right}/1 predictions)" in html
    assert f"{100 * right}%" in html
    assert f'href="/runs/{run_id}"' in html
    # The exercise page lists the run under "Your previous runs", ready to compare.
    page = browser.get(f"/exercises/{SLUG}").get_data(as_text=True)
    assert "Your previous runs" in page and f'value="{run_id}"' in page


def test_transformer_and_spectrum_results_show_their_probes_and_theory(app, client):
    # Real simulations through the lab: the new measurements appear on the result page.
    transformer = run_id_from(client.post(
        "/lab/runs",
        data={"kind": "transformer", "depth": "2", "width": "16", "heads": "2", "seq_len": "6",
              "batch_size": "4", "norm": "layer", "norm_position": "post"},
    ))  # fmt: skip
    assert wait_done(client, transformer)["status"] == "done"
    page = client.get(f"/runs/{transformer}").get_data(as_text=True)
    assert "Attention and tokens per block" in page
    assert "Entropy per head" in page and "block1.attn" in page
    assert "Theory beside the measurement" in page
    spectrum = run_id_from(client.post(
        "/lab/runs", data={"kind": "mlp", "depth": "6", "width": "16", "activation": "tanh",
                           "init": "orthogonal", "batch_size": "4", "jacobian_spectrum": "exact"},
    ))  # fmt: skip
    assert wait_done(client, spectrum)["status"] == "done"
    page = client.get(f"/runs/{spectrum}").get_data(as_text=True)
    assert "Jacobian spectrum" in page and "Spread: std of log10" in page


def test_the_lab_schema_endpoint_lists_every_field(client):
    response = client.get("/api/v1/lab/schema")
    assert response.status_code == 200
    body = response.get_json()
    names = {field["name"] for field in body["fields"]}
    assert {"heads", "norm_position", "residual_scale", "kind"} <= names
    heads = next(field for field in body["fields"] if field["name"] == "heads")
    assert heads["kinds"] == ["transformer"] and heads["default"] == {"transformer": 4}
    assert "transformer" in {kind["name"] for kind in body["kinds"]}

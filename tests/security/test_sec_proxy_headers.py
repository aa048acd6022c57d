"""X-Forwarded-For is trusted only from the proxies QUIZAPP_TRUST_PROXY counts.

Production trusted it from anyone: a guesser sending a new X-Forwarded-For with every
request escaped the per-address log-in limit. Now it is ignored unless QUIZAPP_TRUST_PROXY
is set, and then only the address the last proxy saw counts.
"""

from __future__ import annotations

import pytest
from conftest import production_env

from quizapp import create_app
from quizapp.config import ConfigurationError
from quizapp.extensions import db


@pytest.fixture
def production(monkeypatch, tmp_path):
    for name, value in production_env(f"sqlite:///{tmp_path / 'prod.sqlite'}").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.setenv("QUIZAPP_WEB_WORKERS", "1")  # one process: memory counters are honest
    return monkeypatch


def _app():
    app = create_app({"WTF_CSRF_ENABLED": False})
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def cleanup():
    apps = []
    yield apps.append
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    from conftest import make_app

    make_app("sqlite://")  # the limiter is one object per process: switch it off again


def _guess(client, forwarded_for: str):
    return client.post(
        "/login",
        data={"username": f"someone-{forwarded_for}", "password": "a wrong guess"},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_production_ignores_x_forwarded_for_by_default(production, cleanup):
    production.delenv("QUIZAPP_TRUST_PROXY", raising=False)
    app = _app()
    cleanup(app)
    assert app.config["QUIZAPP_TRUST_PROXY"] == 0
    client = app.test_client()
    statuses = [_guess(client, f"203.0.113.{n}").status_code for n in range(6)]
    assert statuses == [401] * 5 + [429]  # one real address, whatever the header says


def test_with_one_trusted_proxy_the_address_it_saw_counts(production, cleanup):
    production.setenv("QUIZAPP_TRUST_PROXY", "1")
    app = _app()
    cleanup(app)
    client = app.test_client()
    # The proxy appends the address it saw last; anything before it is the client's claim.
    statuses = [_guess(client, f"10.9.9.{n}, 198.51.100.7").status_code for n in range(6)]
    assert statuses == [401] * 5 + [429]
    assert _guess(client, "198.51.100.8").status_code == 401  # another client behind it


@pytest.mark.parametrize("value", ["yes", "-1", "1.5", "99", "²"])
def test_a_trust_proxy_value_that_is_not_a_count_is_refused(production, value):
    production.setenv("QUIZAPP_TRUST_PROXY", value)
    with pytest.raises(ConfigurationError, match="number of proxies"):
        create_app()

"""User accounts in the console: an admin creates a user on the Users page, the user signs
in with name and password, acts with the user's role, changes the password, and the
user's other sessions end. A real server and headless Chromium."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, sign_in, sign_in_user

pytestmark = pytest.mark.system
WAIT = 20_000  # ms
PASSWORD = "correct horse battery staple"


@pytest.fixture
def context(browser: Any) -> Any:
    made: list[Any] = []

    def new() -> Any:
        ctx = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin",
                                  viewport={"width": 1280, "height": 900})
        made.append(ctx)
        return ctx.new_page()

    yield new
    for ctx in made:
        ctx.close()


def _api(server: Server, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            text = r.read()
            return int(r.status), json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"null")


def _admin(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.tokens['admin']}"}


def test_admin_creates_a_user_who_signs_in_with_a_password(
        context: Any, server: Server, shots: Path) -> None:
    from playwright.sync_api import expect

    admin = context()
    sign_in(admin, server, "admin")
    admin.click("#nav-users")
    admin.wait_for_url(server.url + "/users")
    admin.fill("#user-name", "grace")
    admin.select_option("#user-role", "viewer")
    admin.fill("#user-password", "short")
    admin.evaluate("document.getElementById('user-password').removeAttribute('minlength')")
    admin.click("#create-user")
    expect(admin.locator("[data-error-for=password]")).to_contain_text("12", timeout=WAIT)
    admin.fill("#user-password", PASSWORD)
    admin.click("#create-user")
    expect(admin.locator("#user-table tr[data-user=grace]")).to_contain_text("viewer",
                                                                             timeout=WAIT)
    admin.screenshot(path=str(shots / "users-en.png"), full_page=True)

    user = context()
    user.goto(server.url + "/login")
    user.fill("#name", "grace")
    user.fill("#password", "not the password")
    user.click("#password-sign-in")
    expect(user.locator(".error")).to_have_text("That user name and password do not match.")
    sign_in_user(user, server, "grace", PASSWORD)
    expect(user.locator("#account-link")).to_contain_text("grace · viewer")
    # A viewer: no controls that change things, no Users page, the API refuses an edit.
    user.goto(server.url + "/schedules")
    expect(user.locator("h1")).to_have_text("Schedules")
    assert user.locator("#new-schedule").count() == 0
    assert user.locator("#nav-users").count() == 0
    assert user.goto(server.url + "/users").status == 403
    # The admin makes grace an operator: her session acts with the new role at once.
    grace = next(u for u in _api(server, "GET", "/api/v1/users", headers=_admin(server))[1][
        "items"] if u["name"] == "grace")
    assert _api(server, "PATCH", f"/api/v1/users/{grace['id']}", {"role": "operator"},
                _admin(server))[0] == 200
    user.goto(server.url + "/runs")
    created = user.evaluate("""async () => {
        const csrf = JSON.parse(document.getElementById('horae-config').textContent).csrf;
        const r = await fetch('/api/v1/runs', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: JSON.stringify({task: 'console.scan', kwargs: {targets: ['x']}})});
        return r.status; }""")
    assert created == 201
    audit = _api(server, "GET", "/api/v1/audit?action=run.create", headers=_admin(server))[1]
    assert audit["items"][0]["actor"] == "user:grace"
    assert audit["items"][0]["role"] == "operator"
    # Disabled on the Users page: her session ends.
    admin.goto(server.url + "/users")
    admin.click("#user-table tr[data-user=grace] button")
    expect(admin.locator("#user-table tr[data-user=grace]")).to_contain_text("disabled",
                                                                             timeout=WAIT)
    user.goto(server.url + "/runs")
    user.wait_for_url(re.compile(r"/login"))


def test_changing_the_password_ends_the_other_sessions(context: Any, server: Server,
                                                       shots: Path) -> None:
    from playwright.sync_api import expect

    status, made = _api(server, "POST", "/api/v1/users",
                        {"name": "linus", "role": "editor", "password": PASSWORD},
                        _admin(server))
    assert status == 201, made
    here, elsewhere = context(), context()
    sign_in_user(here, server, "linus", PASSWORD)
    sign_in_user(elsewhere, server, "linus", PASSWORD)
    here.click("#account-link")
    here.wait_for_url(server.url + "/account")
    new = "a brand new passphrase"
    here.fill("#current_password", "wrong current password")
    here.fill("#new_password", new)
    here.fill("#new_password_again", new)
    here.click("#password-change button[type=submit]")
    expect(here.locator("#password-error")).to_have_text("The current password is wrong.")
    here.fill("#current_password", PASSWORD)
    here.fill("#new_password", new)
    here.fill("#new_password_again", new + "!")
    here.click("#password-change button[type=submit]")
    expect(here.locator("#password-error")).to_have_text("The two new passwords differ.")
    here.fill("#current_password", PASSWORD)
    here.fill("#new_password", new)
    here.fill("#new_password_again", new)
    here.click("#password-change button[type=submit]")
    expect(here.locator("#password-changed")).to_be_visible()
    here.screenshot(path=str(shots / "account-en.png"), full_page=True)
    # This session goes on; the other one is over; only the new password signs in.
    here.goto(server.url + "/schedules")
    expect(here.locator("h1")).to_have_text("Schedules")
    # The other session's open page (live: its event stream re-checks the session) goes
    # to sign-in by itself; a page asked for afterwards does too.
    elsewhere.wait_for_url(re.compile(r"/login"), timeout=30_000)
    elsewhere.goto(server.url + "/schedules")
    elsewhere.wait_for_url(re.compile(r"/login"))
    elsewhere.fill("#name", "linus")
    elsewhere.fill("#password", PASSWORD)
    elsewhere.click("#password-sign-in")
    expect(elsewhere.locator(".error")).to_be_visible()
    sign_in_user(elsewhere, server, "linus", new)
    audit = _api(server, "GET", "/api/v1/audit?action=user.password", headers=_admin(server))
    entry = audit[1]["items"][0]
    assert entry["actor"] == "user:linus" and entry["target_id"] == str(made["id"])
    assert PASSWORD not in json.dumps(entry) and new not in json.dumps(entry)
    # A forged password change (no CSRF value) is refused.
    cookie = {c["name"]: c["value"] for c in here.context.cookies()}["horae_session"]
    request = urllib.request.Request(
        server.url + "/account/password", method="POST",
        data=f"current_password={new}&new_password=xxxxxxxxxxxxxxxx&new_password_again="
             "xxxxxxxxxxxxxxxx".encode(),
        headers={"Cookie": f"horae_session={cookie}",
                 "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as forged:
        urllib.request.urlopen(request, timeout=5)
    assert forged.value.code == 403


def test_a_token_session_has_no_password_to_change(context: Any, server: Server) -> None:
    from playwright.sync_api import expect

    page = context()
    sign_in(page, server, "viewer")
    page.goto(server.url + "/account")
    expect(page.locator("#token-session")).to_be_visible()
    assert page.locator("#password-change").count() == 0

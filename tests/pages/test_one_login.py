"""One staff login per browser: the manager logs in once and the dashboard, roster, follow-ups, reports and
evaluation pages (each in its own tab) all use that session — sent as an `Authorization: Bearer` header,
never in an address; a session the server no longer accepts sends every page back to its login form."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect


def test_one_login_serves_every_manager_page_with_the_bearer_header(page: Page, context: BrowserContext, server):
    requests: list[tuple[str, str]] = []
    context.on("request", lambda r: requests.append((r.url, r.headers.get("authorization", ""))))
    page.goto(f"{server.base}/reports?hall=demo")
    page.fill("#user", "admin")
    page.fill("#password", "hallq-demo")
    page.click("#login-button")
    expect(page.locator("#panel")).to_be_visible()

    for path, shown in (
        ("/manager", "#dash"),
        ("/roster", "#dash"),
        ("/followups", "#panel"),
        ("/evaluation", "#panel"),
    ):
        tab = context.new_page()
        tab.goto(f"{server.base}{path}?hall=demo")
        expect(tab.locator(shown)).to_be_visible()  # no second login
        expect(tab.locator("#login")).to_be_hidden()
    tab.reload()
    expect(tab.locator("#panel")).to_be_visible()  # survives a reload too

    staff = ("/reports", "/followups", "/evaluation", "/roster", "/pages/manager")
    api = [(url, auth) for url, auth in requests if "/api/v1/halls/demo/" in url or "/pages/manager" in url]
    assert {part for url, _ in api for part in staff if part in url} == set(staff)
    for url, auth in api:
        assert "token=" not in url, url
        assert auth.startswith("Bearer "), url

    # the server forgets the session (here: it is replaced by garbage): every page asks for a login again
    page.evaluate("""() => { const s = JSON.parse(localStorage.getItem("hallq.session"));
                             s.token = "expired"; localStorage.setItem("hallq.session", JSON.stringify(s)); }""")
    dash = context.new_page()
    dash.goto(f"{server.base}/manager?hall=demo")
    expect(dash.locator("#login")).to_be_visible()
    reports = context.new_page()
    reports.goto(f"{server.base}/reports?hall=demo")
    expect(reports.locator("#login")).to_be_visible()

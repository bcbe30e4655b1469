#!/usr/bin/env python3
"""The web console's story in Debian's Chromium (Playwright, headless), each person with their
own browser context and a Chrome DevTools WebAuthn virtual authenticator (ctap2, internal,
resident keys, user verification) standing in for their phone's passkey:

  drjones (clinician): invite -> register -> sign in -> pumps -> one pump's chart -> the
      approval inbox: approving with a stale passkey is refused (step_up_required), without a
      CSRF token refused (csrf_missing); Approve (passkey step-up, then the form) -> approved
  olga (operator): audit trail searched by patient -> Verify one entry in the browser ->
      checkpoints, the latest signature checked in the browser
  ines (incident): start a lockout on the pump -> request its lift
  ivan (incident): confirm the lift (a second person) -> sign out -> the session is gone

    console-browser-test.py STORY.json

STORY.json: {"origin", "invites": {user: url}, "change": id, "stepUpWindowSeconds",
"screenshots": dir}. Prints one line per step and saves a screenshot of each page; exits 0 when
every step did what a person would expect, 1 at the first that did not.
"""
import base64
import json
import os
import re
import sys
import time

from playwright.sync_api import sync_playwright

story = json.load(open(sys.argv[1]))
origin = story["origin"]
shots = story["screenshots"]
os.makedirs(shots, exist_ok=True)


def step(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""), flush=True)
    if not ok:
        sys.exit(1)


def wait_until(condition, what, seconds=20):
    """Polls from here (Playwright's wait_for_function evaluates a string, which the console's
    Content-Security-Policy rightly refuses)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    step(what, False, "not within %d s" % seconds)


def shot(page, name):
    page.screenshot(path=os.path.join(shots, name + ".png"), full_page=True)


def person(browser, user):
    """A browser context of the user's own, with a passkey registered through their invitation
    and signed in; answers (context, page, signed-in time)."""
    context = browser.new_context()
    page = context.new_page()
    # What the page's scripts complain of goes to the test's output.
    page.on("console", lambda m: print("     [%s console] %s" % (user, m.text), flush=True) if m.type in ("error", "warning") else None)
    page.on("dialog", lambda d: (print("     [%s dialog] %s" % (user, d.message), flush=True), d.dismiss()))
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    page.goto(story["invites"][user])
    step(user + ": invitation page", page.text_content("#user") == user, page.title())
    shot(page, user + "-invite")
    page.click("#register")
    wait_until(lambda: len(page.text_content("#status") or "") > 0, user + ": registration answered")
    status = page.text_content("#status")
    step(user + ": passkey registered", "Passkey registered" in status, status)
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    step(user + ": a resident credential in the authenticator", len(credentials) == 1 and credentials[0]["isResidentCredential"])
    page.goto(origin + "/console/signin?next=/console")
    shot(page, user + "-signin")
    page.click("#signin")
    page.wait_for_url(origin + "/console", timeout=20000)
    signed_in = time.monotonic()
    step(user + ": signed in, on the overview", user in page.text_content("#who"), page.text_content("#who"))
    return context, page, signed_in


def submit(page, selector, path, what):
    """Presses a form's button and waits for the redirect to `path` with the notice a success
    answers; a refusal page instead names its reason."""
    before = page.url
    page.click(selector)
    try:
        page.wait_for_url(lambda url: url != before and (path + "?done=") in url, timeout=20000)
        page.wait_for_load_state("load")
    except Exception:
        error = page.query_selector("#error")
        step(what, False, page.url + " " + (error.text_content() if error else page.content()[:400]))


def notice(page):
    """The notice a form's success shows (waiting out the redirect's navigation)."""
    try:
        return page.wait_for_selector("#notice", timeout=20000).text_content()
    except Exception:
        return ""


def post_without_step_up(page, path, csrf=True):
    """POSTs a console form by script (no passkey ceremony): status and the error's reason."""
    return page.evaluate(
        """async ([path, csrf]) => {
            const who = await (await fetch('/console/whoami')).json();
            const body = csrf ? 'csrf=' + encodeURIComponent(who.csrfToken) : '';
            const r = await fetch(path, {method: 'POST', body,
                headers: {'Content-Type': 'application/x-www-form-urlencoded'}, redirect: 'manual'});
            const text = await r.text();
            const m = text.match(/data-reason="([a-z_]+)"/);
            return [r.status, m ? m[1] : null];
        }""",
        [path, csrf],
    )


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"])

    # A page without a session goes to the sign-in page.
    anonymous = browser.new_page()
    anonymous.goto(origin + "/console/changes")
    step("no session: sent to sign in", anonymous.url.startswith(origin + "/console/signin?next="), anonymous.url)
    anonymous.close()

    # The clinician: pumps, the chart, the inbox; approval needs a fresh passkey and the CSRF token.
    context, page, signed_in = person(browser, "drjones")
    cookies = [c for c in context.cookies() if c["name"] == "mt_session"]
    step(
        "session cookie HttpOnly, SameSite=Strict, Path=/console (Secure only under TLS)",
        len(cookies) == 1 and cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
        and cookies[0]["path"] == "/console" and not cookies[0]["secure"],
        json.dumps({k: cookies[0][k] for k in ("httpOnly", "sameSite", "path", "secure")}) if cookies else "none",
    )
    step("the page script cannot read the session cookie", "mt_session" not in page.evaluate("document.cookie"))
    shot(page, "overview")
    page.click("header nav a[href='/console/pumps']")
    page.wait_for_selector("#pumps")
    step("drjones sees PUMP-0001", page.query_selector("a[href='/console/pumps/PUMP-0001']") is not None)
    shot(page, "pumps")
    page.click("a[href='/console/pumps/PUMP-0001']")
    page.wait_for_selector("#pump-chart")
    polyline = page.query_selector("#pump-chart polyline.glucose")
    step("the pump's 24 h chart draws its glucose", polyline is not None)
    shot(page, "pump")
    page.goto(origin + "/console/changes")
    change = story["change"]
    row = page.query_selector("tr[data-change='%s']" % change)
    step("the held change is in the inbox", row is not None)
    shot(page, "changes")
    approve = "/console/changes/%s/approve" % change
    status, reason = post_without_step_up(page, approve, csrf=False)
    step("approve without the CSRF token: 403 csrf_missing", [status, reason] == [403, "csrf_missing"], str([status, reason]))
    wait = story["stepUpWindowSeconds"] + 1 - (time.monotonic() - signed_in)
    if wait > 0:
        time.sleep(wait)  # the sign-in's assertion is now older than the step-up window
    status, reason = post_without_step_up(page, approve)
    step("approve with a stale passkey: 403 step_up_required", [status, reason] == [403, "step_up_required"], str([status, reason]))
    submit(page, "tr[data-change='%s'] button.approve" % change, "/console/changes", "Approve")
    step("Approve (passkey step-up, then the form): approved", notice(page).startswith("Approved"), notice(page))
    shot(page, "changes-approved")
    page.goto(origin + "/console/changes/" + change)
    step("its history names the approver", "drjones (clinician)" in page.text_content("#history"))
    shot(page, "change")
    context.close()

    # The operator: the audit trail by patient, one entry verified in this browser.
    context, page, _ = person(browser, "olga")
    page.goto(origin + "/console/audit?patient=patient-001")
    rows = page.query_selector_all("#audit tbody tr[data-index]")
    step("audit search by patient finds entries", len(rows) > 0, "%d rows" % len(rows))
    index = rows[0].get_attribute("data-index")
    rows[0].query_selector("button.verify").click()
    verdict = "#verdict-" + index
    wait_until(
        lambda: any(c in (page.get_attribute(verdict, "class") or "").split() for c in ("ok", "bad")),
        "the verdict of entry " + index,
    )
    step(
        "entry %s verified in the browser against the signed checkpoint" % index,
        "ok" in page.get_attribute(verdict, "class"),
        page.text_content(verdict),
    )
    shot(page, "audit")

    # The same check refuses a tampered answer: one byte of the entry changed on its way to
    # the browser (as a lying gateway or proxy would) must not verify.
    def tamper(route):
        response = route.fetch()
        body = response.json()
        entry = bytearray(base64.b64decode(body["entryBytes"]))
        entry[-1] ^= 0x01
        body["entryBytes"] = base64.b64encode(bytes(entry)).decode()
        route.fulfill(response=response, json=body)

    page.route(re.compile(r".*/console/api/audit/\d+$"), tamper)
    rows[0].query_selector("button.verify").click()
    wait_until(
        lambda: any(c in (page.get_attribute(verdict, "class") or "").split() for c in ("ok", "bad")),
        "the verdict of the tampered entry " + index,
    )
    step(
        "a tampered entry is refused in the browser",
        "bad" in page.get_attribute(verdict, "class") and "root" in page.text_content(verdict),
        page.text_content(verdict),
    )
    page.unroute(re.compile(r".*/console/api/audit/\d+$"))
    page.goto(origin + "/console/audit/checkpoints")
    wait_until(lambda: len(page.get_attribute("#checkpoint-verdict", "class") or "") > 0, "the checkpoint verdict")
    step(
        "the latest checkpoint's signature checked in the browser",
        page.get_attribute("#checkpoint-verdict", "class") == "ok",
        page.text_content("#checkpoint-verdict"),
    )
    shot(page, "checkpoints")
    context.close()

    # Incident staff: one starts a lockout and asks to lift it, another confirms.
    context, page, _ = person(browser, "ines")
    page.goto(origin + "/console/lockouts")
    page.fill("input[name=scope]", "pump:PUMP-0001")
    page.fill("input[name=reason]", "browser test")
    submit(page, "#start-lockout button[type=submit]", "/console/lockouts", "Start lockout")
    step("ines starts a lockout (after a passkey step-up)", "started on pump:PUMP-0001" in notice(page), notice(page))
    shot(page, "lockout-started")
    submit(page, "tr[data-scope='pump:PUMP-0001'] button.lift", "/console/lockouts", "Request lift")
    step("ines requests the lift", "requested" in notice(page), notice(page))
    step("ines may not confirm her own request", page.query_selector("tr[data-scope='pump:PUMP-0001'] button.confirm") is None)
    context.close()

    context, page, _ = person(browser, "ivan")
    page.goto(origin + "/console/lockouts")
    submit(page, "tr[data-scope='pump:PUMP-0001'] button.confirm", "/console/lockouts", "Confirm lift")
    step("ivan confirms: lifted", "lifted" in notice(page), notice(page))
    shot(page, "lockout-lifted")
    page.click("#sign-out")
    page.wait_for_url("**/console/signin", timeout=20000)
    after = page.evaluate("fetch('/console/whoami').then(r => r.json().then(b => [r.status, b.reason]))")
    step("signed out: the session is gone", after == [401, "session_missing"], json.dumps(after))
    page.goto(origin + "/console")
    step("a page after sign-out goes to sign in", page.url.startswith(origin + "/console/signin"), page.url)
    context.close()
    browser.close()
print("browser story passed")

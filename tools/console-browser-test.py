#!/usr/bin/env python3
"""Drives the console's passkey pages in Debian's Chromium (Playwright, headless) with the
Chrome DevTools WebAuthn virtual authenticator (ctap2, internal, resident keys, user
verification): invitation -> register -> sign in -> whoami -> step-up -> sign out.

    console-browser-test.py ORIGIN INVITE_URL USER

Prints one line per step; exits 0 when every step did what a person would expect, 1 otherwise.
"""
import json
import sys

from playwright.sync_api import sync_playwright

origin, invite_url, user = sys.argv[1], sys.argv[2], sys.argv[3]


def step(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""), flush=True)
    if not ok:
        sys.exit(1)


def wait_status(page, expected):
    page.wait_for_function(
        "([text]) => (document.getElementById('status') || {}).textContent.length > 0",
        arg=[expected],
        timeout=20000,
    )
    text = page.text_content("#status")
    return text


with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    context = browser.new_context()
    page = context.new_page()
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

    page.goto(invite_url)
    step("invite page", page.text_content("#user") == user, page.title())
    page.click("#register")
    status = wait_status(page, "Passkey registered")
    step("register", "Passkey registered" in status, status)
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    step("resident credential in the authenticator", len(credentials) == 1 and credentials[0]["isResidentCredential"])

    page.goto(origin + "/console/signin")
    page.evaluate("document.getElementById('status').textContent = ''")
    page.click("#signin")
    status = wait_status(page, "Signed in")
    step("sign in", "Signed in" in status, status)
    cookies = [c for c in context.cookies() if c["name"] == "mt_session"]
    step(
        "cookie HttpOnly, SameSite=Strict, Path=/console",
        len(cookies) == 1 and cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
        and cookies[0]["path"] == "/console",
        json.dumps({k: cookies[0][k] for k in ("httpOnly", "sameSite", "path")}) if cookies else "none",
    )
    who = page.evaluate("MedTunnelPasskeys.whoami()")
    step("whoami", who["user"] == user and who["stepUpAgeSeconds"] <= 5, json.dumps({"user": who["user"]}))
    page.evaluate("document.getElementById('status').textContent = ''")
    page.click("#stepup")
    status = wait_status(page, "Confirmed")
    step("step-up", "Confirmed" in status, status)
    page.evaluate("document.getElementById('status').textContent = ''")
    page.click("#signout")
    status = wait_status(page, "Signed out")
    step("sign out", "Signed out" in status, status)
    after = page.evaluate(
        "fetch('/console/whoami').then(r => r.json().then(b => [r.status, b.reason]))"
    )
    step("whoami after sign-out is refused", after == [401, "session_missing"], json.dumps(after))
    browser.close()
print("browser flow passed")

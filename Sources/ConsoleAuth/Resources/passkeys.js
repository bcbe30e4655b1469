// MedTunnel console: passkey registration, sign-in, step-up and sign-out over /console/auth.
// Binary fields travel as base64url in JSON; the browser's WebAuthn API takes ArrayBuffers.
// The CSRF token comes from sign-in or /console/whoami and goes back as X-CSRF-Token.
"use strict";
(function () {
  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  let csrfToken = null;

  async function post(path, body) {
    const headers = { "Content-Type": "application/json" };
    if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
    const response = await fetch(path, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    const answer = await response.json();
    if (!response.ok) {
      const error = new Error(answer.message || "request failed");
      error.reason = answer.reason;
      throw error;
    }
    return answer;
  }

  function creationOptions(options) {
    const o = options.publicKey;
    o.challenge = fromBase64url(o.challenge);
    o.user.id = fromBase64url(o.user.id);
    o.excludeCredentials = o.excludeCredentials.map((c) => ({ type: c.type, id: fromBase64url(c.id) }));
    return { publicKey: o };
  }

  function requestOptions(options) {
    const o = options.publicKey;
    o.challenge = fromBase64url(o.challenge);
    o.allowCredentials = o.allowCredentials.map((c) => ({ type: c.type, id: fromBase64url(c.id) }));
    return { publicKey: o };
  }

  function assertionJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        authenticatorData: toBase64url(r.authenticatorData),
        signature: toBase64url(r.signature),
        userHandle: r.userHandle ? toBase64url(r.userHandle) : null,
      },
    };
  }

  async function register(invitation) {
    const options = await post("/console/auth/register/options", { invitation: invitation });
    const credential = await navigator.credentials.create(creationOptions(options));
    return post("/console/auth/register/finish", {
      invitation: invitation,
      credential: {
        id: credential.id,
        type: credential.type,
        response: {
          clientDataJSON: toBase64url(credential.response.clientDataJSON),
          attestationObject: toBase64url(credential.response.attestationObject),
        },
      },
    });
  }

  async function signIn() {
    const options = await post("/console/auth/signin/options", {});
    const credential = await navigator.credentials.get(requestOptions(options));
    const answer = await post("/console/auth/signin/finish", { credential: assertionJSON(credential) });
    csrfToken = answer.csrfToken;
    return answer;
  }

  async function whoami() {
    const response = await fetch("/console/whoami", { credentials: "same-origin" });
    const answer = await response.json();
    if (!response.ok) {
      const error = new Error(answer.message || "request failed");
      error.reason = answer.reason;
      throw error;
    }
    csrfToken = answer.csrfToken;
    return answer;
  }

  async function stepUp() {
    const options = await post("/console/auth/stepup/options", {});
    const credential = await navigator.credentials.get(requestOptions(options));
    return post("/console/auth/stepup/finish", { credential: assertionJSON(credential) });
  }

  async function signOut() {
    const answer = await post("/console/auth/signout", {});
    csrfToken = null;
    return answer;
  }

  window.MedTunnelPasskeys = {
    toBase64url, fromBase64url, register, signIn, whoami, stepUp, signOut,
    get csrfToken() { return csrfToken; },
  };

  function status(text) {
    const element = document.getElementById("status");
    if (element) element.textContent = text;
  }

  function showSignedIn(who) {
    document.getElementById("user").textContent = who.user;
    document.getElementById("role").textContent = who.role;
    document.getElementById("signed-in").hidden = false;
  }

  function on(id, action) {
    const element = document.getElementById(id);
    if (!element) return;
    element.addEventListener("click", async () => {
      try {
        status(await action());
      } catch (error) {
        status("Refused: " + (error.reason || error.name) + ": " + error.message);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.body.dataset.page;
    if (page === "invite") {
      on("register", async () => {
        await register(document.body.dataset.invitation);
        return "Passkey registered. You can now sign in.";
      });
    }
    if (page === "signin") {
      whoami().then(showSignedIn, () => {});
      on("signin", async () => {
        await signIn();
        showSignedIn(await whoami());
        // On to the console page that sent the browser here (only a /console path).
        const next = new URLSearchParams(window.location.search).get("next") || "/console";
        window.location.href = /^\/console(\/|\?|$)/.test(next) ? next : "/console";
        return "Signed in.";
      });
      on("stepup", async () => {
        await stepUp();
        return "Confirmed.";
      });
      on("signout", async () => {
        await signOut();
        document.getElementById("signed-in").hidden = true;
        return "Signed out.";
      });
    }
  });
})();

// The console's own script: passkey step-up before a critical action, and checking an audit
// entry's inclusion proof and the log's signature in this browser (WebCrypto), so an operator
// need not take the gateway's word that an entry is in the signed log.
"use strict";

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (text) => new Uint8Array(text.match(/../g).map((h) => parseInt(h, 16)));
const fromBase64 = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const concat = (...parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// MARK: Step-up: a passkey assertion just before approving, prescribing or locking out.

// passkeys.js (the sign-in script) runs the WebAuthn ceremony; whoami() hands it the CSRF token.
async function stepUp() {
  await window.MedTunnelPasskeys.whoami();
  await window.MedTunnelPasskeys.stepUp();
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.classList.contains("signout")) {
    event.preventDefault();
    try {
      await window.MedTunnelPasskeys.whoami();
      await window.MedTunnelPasskeys.signOut();
    } finally {
      window.location.href = "/console/signin";
    }
    return;
  }
  if (!form.hasAttribute("data-step-up") || form.dataset.confirmed === "yes") return;
  event.preventDefault();
  try {
    await stepUp();
    form.dataset.confirmed = "yes";
    form.submit();
  } catch (error) {
    alert(`Passkey confirmation failed: ${error.message}`);
  }
});

// MARK: Proofs, checked here: RFC 9162 hashes, C2SP signed notes with ECDSA P-256.

function verifier() {
  const element = document.getElementById("log-verifier");
  return element ? JSON.parse(element.textContent) : null;
}

// A DER ECDSA signature (SEQUENCE of two INTEGERs) as WebCrypto's raw r || s.
function derToRaw(der) {
  if (der[0] !== 0x30) throw new Error("signature is not DER");
  let offset = 2;
  const integer = () => {
    if (der[offset] !== 0x02) throw new Error("signature is not DER");
    const length = der[offset + 1];
    let value = der.slice(offset + 2, offset + 2 + length);
    offset += 2 + length;
    while (value.length > 32 && value[0] === 0) value = value.slice(1);
    if (value.length > 32) throw new Error("signature integer too long");
    return concat(new Uint8Array(32 - value.length), value);
  };
  return concat(integer(), integer());
}

// Checks the note's signature by the log's key; returns the checkpoint it signs.
async function verifyNote(note, key) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("no signatures in the note");
  const text = note.slice(0, split + 1);
  const spki = fromBase64(key.spki);
  const publicKey = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  let verified = false;
  for (const line of note.slice(split + 2).split("\n").filter((l) => l.length)) {
    const [dash, name, blob] = line.split(" ");
    if (dash !== "\u2014" || name !== key.name) continue;
    const bytes = fromBase64(blob);
    if (hex(bytes.slice(0, 4)) !== key.keyID) continue;
    const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, derToRaw(bytes.slice(4)), new TextEncoder().encode(text));
    if (!ok) throw new Error(`the signature by ${name} does not verify`);
    verified = true;
  }
  if (!verified) throw new Error(`no signature by ${key.name} (${key.keyID})`);
  const [origin, size, root] = text.split("\n");
  return { origin, size: Number(size), root: fromBase64(root) };
}

// RFC 9162 section 2.1.3.2: recompute the root from the leaf and its audit path.
async function rootFromInclusion(index, size, leaf, path) {
  if (index >= size) throw new Error("index beyond the tree");
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error("proof too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat(new Uint8Array([1]), p, r));
      if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
    } else {
      r = await sha256(concat(new Uint8Array([1]), r, p));
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("proof too short");
  return r;
}

async function verifyEntry(index) {
  const key = verifier();
  const response = await fetch(`/console/api/audit/${index}`, { credentials: "same-origin" });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${answer.reason}: ${answer.message}`);
  const checkpoint = await verifyNote(answer.checkpoint.note, key);
  const inclusion = answer.inclusion;
  if (checkpoint.size !== inclusion.treeSize) throw new Error("the proof is for another tree size than the signed one");
  const leaf = await sha256(concat(new Uint8Array([0]), fromBase64(answer.entryBytes)));
  if (inclusion.index !== index || answer.entry.index !== index) throw new Error("the answer is for another entry");
  const root = await rootFromInclusion(index, inclusion.treeSize, leaf, inclusion.hashes.map(fromHex));
  if (!equal(root, checkpoint.root)) throw new Error("the recomputed root is not the signed one");
  return `in the log signed at size ${checkpoint.size} by ${key.name}`;
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.verify");
  if (!button) return;
  const index = Number(button.dataset.index);
  const verdict = document.getElementById(`verdict-${index}`);
  verdict.className = "verdict";
  verdict.textContent = "checking…";
  try {
    verdict.textContent = await verifyEntry(index);
    verdict.classList.add("ok");
  } catch (error) {
    verdict.textContent = error.message;
    verdict.classList.add("bad");
  }
});

document.addEventListener("DOMContentLoaded", async () => {
  const verdict = document.getElementById("checkpoint-verdict");
  if (!verdict) return;
  try {
    const response = await fetch("/console/api/audit/checkpoint", { credentials: "same-origin", headers: { Accept: "application/json" } });
    const answer = await response.json();
    if (!response.ok) throw new Error(`${answer.reason}: ${answer.message}`);
    const checkpoint = await verifyNote(answer.note, verifier());
    verdict.textContent = `valid: size ${checkpoint.size}, root ${hex(checkpoint.root).slice(0, 16)}…`;
    verdict.className = "ok";
  } catch (error) {
    verdict.textContent = error.message;
    verdict.className = "bad";
  }
});

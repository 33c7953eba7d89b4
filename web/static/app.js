// tierup dashboard: inline card checks and live upgrade progress. Every page
// works without this file; it only adds feedback and liveness.
"use strict";

(function () {
  function luhn(digits) {
    let sum = 0, alt = false;
    for (let i = digits.length - 1; i >= 0; i--) {
      let d = digits.charCodeAt(i) - 48;
      if (alt) { d *= 2; if (d > 9) d -= 9; }
      sum += d; alt = !alt;
    }
    return digits.length > 0 && sum % 10 === 0;
  }
  function brand(n) {
    if (/^3[47]/.test(n)) return "amex";
    if (/^4/.test(n)) return "visa";
    if (/^(5[1-5]|2[2-7])/.test(n)) return "mastercard";
    if (/^(6011|64[4-9]|65)/.test(n)) return "discover";
    if (/^(30[0-5]|36|38|39)/.test(n)) return "diners";
    if (/^35(2[89]|[3-8])/.test(n)) return "jcb";
    if (/^62/.test(n)) return "unionpay";
    return "";
  }

  const brandWords = {amex: "American Express", visa: "Visa", mastercard: "Mastercard", discover: "Discover",
    diners: "Diners Club", jcb: "JCB", unionpay: "UnionPay"};

  // Inline, field-by-field validation; the server checks again. The pay
  // button says what is still missing while it is disabled, and is busy
  // once clicked, so that a payment is never sent twice.
  function setupCardForm(form) {
    const number = form.querySelector("#number"), cvc = form.querySelector("#cvc");
    const month = form.querySelector("#exp_month"), year = form.querySelector("#exp_year");
    const terms = form.querySelector("#terms"), button = form.querySelector("#execute");
    const hint = form.querySelector("#pay-hint"), brandTag = form.querySelector("#number-brand");
    const touched = new Set();
    function show(el, errId, msg) {
      const p = document.getElementById(errId);
      if (touched.has(el.id) || touched.has("all")) {
        p.textContent = msg;
        el.setAttribute("aria-invalid", msg ? "true" : "false");
      }
    }
    function ready(missing) {
      const ok = missing.length === 0;
      if (button && form.dataset.busy !== "1") button.disabled = !ok;
      if (hint) hint.textContent = ok ? "" : "To pay, still needed: " + missing.join(", ") + ".";
      return ok;
    }
    function check() {
      const missing = [];
      const termsOK = !terms || terms.checked;
      // A saved card needs no card fields: only the terms.
      const saved = form.querySelector('input[name="saved"]:checked');
      const fields = form.querySelector("fieldset.cardfields");
      if (fields) fields.hidden = !!saved && saved.value !== "new";
      if (fields && fields.hidden) {
        if (!termsOK) missing.push("accepting the terms");
        return ready(missing);
      }
      const n = number.value.replace(/[\s-]/g, "");
      if (brandTag) brandTag.textContent = brandWords[brand(n)] || "";
      let numMsg = "";
      if (!/^\d{12,19}$/.test(n)) numMsg = "Enter the card number: 12 to 19 digits.";
      else if (!brand(n)) numMsg = "We accept Visa, Mastercard, American Express, Discover, Diners, JCB and UnionPay.";
      else if (!luhn(n)) numMsg = "The card number is not valid: check the digits.";
      show(number, "number-err", numMsg);
      if (numMsg) missing.push("a valid card number");

      let expMsg = "";
      const m = parseInt(month.value, 10), y = parseInt(year.value, 10);
      if (!m || !y) expMsg = "Choose the expiry month and year.";
      else {
        const now = new Date();
        if (y < now.getFullYear() || (y === now.getFullYear() && m < now.getMonth() + 1)) expMsg = "This card has expired.";
      }
      if (touched.has("exp_month") || touched.has("exp_year") || touched.has("all")) {
        document.getElementById("exp-err").textContent = expMsg;
        month.setAttribute("aria-invalid", expMsg ? "true" : "false");
        year.setAttribute("aria-invalid", expMsg ? "true" : "false");
      }
      if (expMsg) missing.push("the expiry date");
      const want = brand(n) === "amex" ? 4 : 3;
      const cvcMsg = new RegExp("^\\d{" + want + "}$").test(cvc.value) ? "" : "The security code has " + want + " digits.";
      show(cvc, "cvc-err", cvcMsg);
      if (cvcMsg) missing.push("the security code");
      if (!termsOK) missing.push("accepting the terms");
      return ready(missing);
    }
    form.addEventListener("input", function (e) { if (e.target.id) touched.add(e.target.id); check(); });
    form.addEventListener("change", function (e) { if (e.target.id) touched.add(e.target.id); check(); });
    form.addEventListener("submit", function (e) {
      touched.add("all");
      if (form.dataset.busy === "1" || !check()) { e.preventDefault(); return; }
      form.dataset.busy = "1";
      if (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        button.textContent = "Paying…";
      }
      if (hint) hint.textContent = "Sending your payment… please wait.";
    });
    // Coming back to the page from the history must not leave it busy.
    window.addEventListener("pageshow", function (e) {
      if (!e.persisted) return;
      delete form.dataset.busy;
      if (button) { button.removeAttribute("aria-busy"); button.textContent = button.dataset.label || button.textContent; }
      check();
    });
    check();
  }

  // Retry countdowns: "in 12 s".
  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach(function (t) {
      const left = Math.round((Date.parse(t.getAttribute("datetime")) - Date.now()) / 1000);
      t.textContent = left > 0 ? "in " + left + " s" : "starting now";
    });
  }

  // 3-D Secure: when the bank asks for it, open its page once per charge
  // (coming back from it must not bounce the customer there again); the
  // link stays for a second try.
  function openChallenge(root) {
    const a = root.querySelector("a[data-open-challenge]");
    if (!a) return;
    const key = "tierup-challenge:" + a.getAttribute("href");
    try {
      if (sessionStorage.getItem(key)) return;
      sessionStorage.setItem(key, "1");
    } catch (e) { return; }
    location.assign(a.href);
  }

  // Live progress: on every event, fetch the server-rendered section again.
  // Any failed refresh or dropped stream shows "Connection lost —
  // reconnecting…"; the page then keeps trying, with a growing pause, and
  // on reconnecting fetches the whole state again. While the upgrade moves
  // it also refreshes every few seconds, so that it never sits stale behind
  // a stream that silently stopped.
  //
  // #live's data-sync says where it is: "live" once the stream is open and
  // no refresh is under way (what is shown is the server's latest),
  // "syncing" before, "lost" while cut off, "held" while a change waits for
  // the customer to leave the card form.
  function setupLive(live) {
    const id = live.dataset.upgrade, conn = document.getElementById("conn"), say = document.getElementById("announce");
    let es = null, lost = false, pending = false, again = false, held = false, wait = 1000, retry = null;
    function status() { return live.querySelector("[data-test=status]"); }
    function moving() { const s = status(); return !!s && s.dataset.moving === "1"; }
    function sync() {
      live.dataset.sync = lost ? "lost" : (pending || again || (window.EventSource && (!es || es.readyState !== 1))) ? "syncing" : held ? "held" : "live";
    }
    function setLost(v) {
      lost = v;
      if (conn) conn.hidden = !v;
      sync();
    }
    function later() {
      if (retry) return;
      retry = setTimeout(function () { retry = null; if (!es || es.readyState === 2) connect(); refresh(); }, wait);
      wait = Math.min(wait * 2, 8000);
    }
    function refresh() {
      if (pending) { again = true; return; }
      pending = true;
      sync();
      const before = status() ? status().dataset.summary : "";
      const version = status() ? status().dataset.version : "";
      fetch("/upgrades/" + id + "?fragment=1", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          wait = 1000;
          setLost(false);
          const focused = document.activeElement && document.activeElement.id;
          if (live.querySelector("#pay-form")) {
            // The stream replays every event on (re)connecting, so most
            // refreshes bring the upgrade as it is shown: re-rendering the
            // form then would wipe the card being typed, and the expiry the
            // server filled in. Only a changed upgrade replaces it, and
            // never under the customer's fingers: then once they leave it.
            const next = new DOMParser().parseFromString(html, "text/html").querySelector("[data-test=status]");
            if (next && next.dataset.version === version) return;
            if (live.contains(document.activeElement)) { held = true; return; }
          }
          held = false;
          live.innerHTML = html;
          const f = live.querySelector("#pay-form");
          if (f) setupCardForm(f);
          openChallenge(live);
          if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
          const after = status() ? status().dataset.summary : "";
          if (say && after && after !== before) say.textContent = after;
          tick();
        })
        .catch(function () { setLost(true); later(); })
        .finally(function () { pending = false; if (again) { again = false; refresh(); } else sync(); });
    }
    function connect() {
      if (!window.EventSource) return;
      if (es) es.close();
      es = new EventSource("/upgrades/" + id + "/events");
      sync();
      es.onopen = function () { refresh(); };
      es.onerror = function () {
        if (es && es.readyState === 2) es = null; // given up: we reconnect ourselves
        setLost(true);
        later();
      };
      es.onmessage = refresh;
      ["created", "step_started", "step_succeeded", "step_progress", "step_retry_scheduled", "paused", "resumed", "payment_action_required",
       "payment_failed", "payment_retry", "needs_support", "admin_retry", "completed", "cancel_requested", "canceled",
       "step_concluded_for_cancel", "cancel_progress", "cancel_retry_scheduled", "resumed_after_crash", "step_taken_over", "step_handed_back"].forEach(function (k) { es.addEventListener(k, refresh); });
    }
    live.addEventListener("focusout", function (e) { if (held && !live.contains(e.relatedTarget)) refresh(); });
    window.addEventListener("offline", function () { setLost(true); });
    window.addEventListener("online", function () { wait = 1000; connect(); refresh(); });
    setInterval(function () { if (moving() || lost) refresh(); }, 5000);
    connect();
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("pay-form");
    if (form) setupCardForm(form);
    const live = document.getElementById("live");
    if (live) setupLive(live);
    tick();
    setInterval(tick, 1000);
  });
})();

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

  // Inline, field-by-field validation; the server checks again.
  function setupCardForm(form) {
    const number = form.querySelector("#number"), cvc = form.querySelector("#cvc");
    const month = form.querySelector("#exp_month"), year = form.querySelector("#exp_year");
    const terms = form.querySelector("#terms"), button = form.querySelector("#execute");
    const touched = new Set();
    function show(el, errId, msg) {
      const p = document.getElementById(errId);
      if (touched.has(el.id) || touched.has("all")) {
        p.textContent = msg;
        el.setAttribute("aria-invalid", msg ? "true" : "false");
      }
    }
    function check() {
      // A saved card needs no card fields: only the terms.
      const saved = form.querySelector('input[name="saved"]:checked');
      const fields = form.querySelector("fieldset.cardfields");
      if (fields) fields.hidden = !!saved && saved.value !== "new";
      if (fields && fields.hidden) {
        const ready = !terms || terms.checked;
        if (button) button.disabled = !ready;
        return ready;
      }
      const n = number.value.replace(/[\s-]/g, "");
      let numMsg = "";
      if (!/^\d{12,19}$/.test(n)) numMsg = "Enter the card number: 12 to 19 digits.";
      else if (!brand(n)) numMsg = "We accept Visa, Mastercard, American Express, Discover, Diners, JCB and UnionPay.";
      else if (!luhn(n)) numMsg = "The card number is not valid: check the digits.";
      show(number, "number-err", numMsg);

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
      const want = brand(n) === "amex" ? 4 : 3;
      const cvcMsg = new RegExp("^\\d{" + want + "}$").test(cvc.value) ? "" : "The security code has " + want + " digits.";
      show(cvc, "cvc-err", cvcMsg);

      const ok = !numMsg && !expMsg && !cvcMsg && (!terms || terms.checked);
      if (button) button.disabled = !ok;
      return ok;
    }
    form.addEventListener("input", function (e) { if (e.target.id) touched.add(e.target.id); check(); });
    form.addEventListener("change", function (e) { if (e.target.id) touched.add(e.target.id); check(); });
    form.addEventListener("submit", function (e) { touched.add("all"); if (!check()) e.preventDefault(); });
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
  function setupLive(live) {
    if (!window.EventSource) return;
    const id = live.dataset.upgrade, conn = document.getElementById("conn");
    let pending = false, again = false;
    function refresh() {
      if (pending) { again = true; return; }
      pending = true;
      fetch("/upgrades/" + id + "?fragment=1", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          const focused = document.activeElement && document.activeElement.id;
          if (live.querySelector("#pay-form") && live.contains(document.activeElement)) return; // don't wipe a card being typed
          live.innerHTML = html;
          const f = live.querySelector("#pay-form");
          if (f) setupCardForm(f);
          openChallenge(live);
          if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
          tick();
        })
        .catch(function () {})
        .finally(function () { pending = false; if (again) { again = false; refresh(); } });
    }
    const es = new EventSource("/upgrades/" + id + "/events");
    es.onopen = function () { conn.classList.add("hidden"); refresh(); };
    es.onerror = function () { conn.classList.remove("hidden"); };
    es.onmessage = refresh;
    ["created", "step_started", "step_succeeded", "step_progress", "step_retry_scheduled", "paused", "resumed", "payment_action_required",
     "payment_failed", "payment_retry", "needs_support", "admin_retry", "completed", "cancel_requested", "canceled",
     "step_concluded_for_cancel", "resumed_after_crash", "step_taken_over", "step_handed_back"].forEach(function (k) { es.addEventListener(k, refresh); });
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

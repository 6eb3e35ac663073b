// The project page: print, and send the enquiry form as JSON to POST /enquiries.
// Replies are shown with textContent only: nothing a server or a person wrote becomes HTML.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const _ = window.i18n.gettext;
  const print = document.getElementById("print-page");
  if (print) print.addEventListener("click", () => window.print());

  const form = document.getElementById("enquiry-form");
  if (!form) return;
  const status = document.getElementById("enquiry-status");
  const show = (text, kind) => {
    status.textContent = text;
    status.className = kind;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form));
    if (!fields.email && !fields.phone) {
      show(_("Please give an email address or a phone number to be answered on."), "error");
      return;
    }
    const body = {
      name: fields.name,
      organisation: fields.organisation,
      email: fields.email || null,
      phone: fields.phone || null,
      language: fields.language,
      message: fields.message,
      project: fields.project,
      website: fields.website,
    };
    show(_("Sending…"), "");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": window.i18n.lang },
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      const problems = window.forms.markProblems(form, response.status === 201 ? null : answer);
      if (response.status === 201) {
        form.reset();
        show(_("Sent. Your enquiry number: {id}", { id: answer.id }), "ok");
      } else {
        show(problems || answer.description || _("Could not send it; please try again."), "error");
      }
    } catch (error) {
      show(_("Could not send it; please try again."), "error");
    }
  });
});

/* A refused form's problems beside its fields. The server lists each problem by the member it
 * concerns (`invalid-params`, RFC 9457: `name`, `reason`); the field of that name is marked
 * (aria-invalid, until it is typed in again) and the problem said with the field's own label,
 * so a person reads "Phone: must be a phone number, …", not the JSON member's name.
 */
(function () {
  "use strict";
  /** A label's own words, without the text of the control inside it. */
  function labelText(label) {
    return Array.from(label.childNodes)
      .filter((node) => !(node.matches && node.matches("input, textarea, select")))
      .map((node) => node.textContent).join("").trim();
  }
  /** Marks the visible fields the refusal names, focuses the first, and returns its problems
      one to a line, each after its field's label (or the member's name, where the form has no
      such field); null when the refusal lists none. */
  function markProblems(form, refusal) {
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
    const listed = (refusal && refusal["invalid-params"]) || [];
    if (!listed.length) return null;
    const lines = listed.map((problem) => {
      if (!problem.name) return problem.reason;
      const field = form.elements.namedItem(problem.name);
      const label = field && field.type !== "hidden" && field.closest("label");
      if (!label) return `${problem.name}: ${problem.reason}`;
      field.setAttribute("aria-invalid", "true");
      field.addEventListener("input", () => field.removeAttribute("aria-invalid"), { once: true });
      return `${labelText(label)}: ${problem.reason}`;
    });
    const first = form.querySelector("[aria-invalid=true]");
    if (first) first.focus();
    return lines.join("\n");
  }
  window.forms = { markProblems };
})();

/* The pages' gettext: messages from the JSON catalogue the server puts in the page
 * (<script type="application/json" id="i18n-catalogue">, made from the same .po files as the
 * server's messages), the English message when a translation is missing. Content that exists
 * per language (`name_vi`, `name_ja`, …) falls back to English, then Vietnamese.
 */
(function () {
  "use strict";
  const node = document.getElementById("i18n-catalogue");
  const catalogue = node ? JSON.parse(node.textContent) : { lang: "en", messages: {} };
  const fallbacks = [catalogue.lang, ...(catalogue.fallbacks || ["en", "vi"])];

  /** `message` in the page's language, its `{name}` placeholders filled from `values`. */
  function gettext(message, values) {
    let text = catalogue.messages[message] || message;
    for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(v);
    return text;
  }
  /** [text, language] of `obj[stem_<lang>]` in the page's language or the first fallback. */
  function localized(obj, stem) {
    for (const lang of fallbacks) {
      const value = obj && obj[stem + "_" + lang];
      if (value !== null && value !== undefined && value !== "") return [value, lang];
    }
    return ["", catalogue.lang];
  }
  window.i18n = {
    lang: catalogue.lang,
    locale: catalogue.locale || "en-GB",
    tags: catalogue.tags || {},
    endonyms: catalogue.endonyms || {},
    gettext,
    localized,
    pick: (obj, stem) => localized(obj, stem)[0],
  };
})();

// Progressive enhancement of macros.html `zone_picker`: the <select> works alone; this adds a filter box and
// moves the browser's own zone (Intl.DateTimeFormat) to the top. Runs on every piece of content htmx loads.
(function () {
  "use strict";
  function words(text) { return text.toLowerCase().replace(/_/g, " "); }

  function enhance(picker) {
    if (picker.dataset.enhanced) return;
    picker.dataset.enhanced = "1";
    var select = picker.querySelector("select");
    var filter = picker.querySelector("input[type=search]");
    var status = picker.querySelector(".zone-match");
    var browser = "";
    try { browser = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { browser = ""; }
    var mine = Array.prototype.find.call(select.options, function (o) { return o.value === browser; });
    if (mine) {
      var chosen = select.value;  // moving the options below would lose the selection
      var group = document.createElement("optgroup");
      group.label = "Your browser's zone";
      var first = mine.cloneNode(true);
      first.selected = false;
      first.dataset.browser = "1";
      group.appendChild(first);
      var rest = document.createElement("optgroup");
      rest.label = "All zones";
      while (select.firstChild) rest.appendChild(select.firstChild);
      select.appendChild(group);
      select.appendChild(rest);
      select.value = chosen;
    }
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var query = words(filter.value.trim());
      var shown = 0, firstShown = null;
      Array.prototype.forEach.call(select.options, function (option) {
        var match = !query || words(option.value + " " + option.text).indexOf(query) !== -1;
        option.hidden = !match;
        option.disabled = !match;
        if (match) { shown += 1; if (!firstShown) firstShown = option; }
      });
      var current = select.options[select.selectedIndex];
      if (firstShown && (!current || current.hidden)) firstShown.selected = true;
      status.hidden = !query;
      status.textContent = shown === 1 ? "1 zone matches" : shown + " zones match";
    });
  }

  function scan(root) {
    var pickers = (root.querySelectorAll ? root : document).querySelectorAll("[data-zone-picker]");
    Array.prototype.forEach.call(pickers, enhance);
    if (root.matches && root.matches("[data-zone-picker]")) enhance(root);
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
})();

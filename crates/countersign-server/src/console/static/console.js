// countersign console: progressive enhancement only. Every form works without this script;
// it adds copy buttons, native confirmation dialogs and auto-submitting toggles.
"use strict";

(function () {
  function textOf(element) {
    return "value" in element && element.tagName === "INPUT" ? element.value : element.textContent.trim();
  }

  function selectText(element) {
    if (element.tagName === "INPUT") {
      element.focus();
      element.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function announce(button, text) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    button.classList.add("done");
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("done");
    }, 4000);
  }

  function fallbackCopy(target) {
    selectText(target);
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  // Copy buttons: copy the text of the element named by data-copy.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target) {
      return;
    }
    button.hidden = false;
    button.setAttribute("aria-live", "polite");
    button.addEventListener("click", function () {
      var text = textOf(target);
      var done = function () { announce(button, "Copied"); };
      var failed = function () {
        if (fallbackCopy(target)) {
          done();
        } else {
          selectText(target);
          announce(button, "Selected: press Ctrl+C");
        }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, failed);
      } else {
        failed();
      }
    });
  });

  // Destructive forms: ask with a native dialog; on yes, tell the server it was confirmed so it
  // does not show its own confirmation page.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      if (!form.querySelector("input[name=confirm]")) {
        var confirmed = document.createElement("input");
        confirmed.type = "hidden";
        confirmed.name = "confirm";
        confirmed.value = "yes";
        form.appendChild(confirmed);
      }
    });
  });

  // Toggles that apply at once (the submit button stays for use without the script).
  document.querySelectorAll("input[data-autosubmit]").forEach(function (input) {
    input.addEventListener("change", function () {
      input.form.submit();
    });
  });
  document.querySelectorAll("[data-js-hide]").forEach(function (element) {
    element.hidden = true;
  });
})();

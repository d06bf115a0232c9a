// Written answers: a live word count against the exercise's limits, read out politely by screen readers.
(function () {
  "use strict";

  function count(text) {
    var words = text.trim().split(/\s+/);
    return words[0] === "" ? 0 : words.length;
  }

  function setup(area) {
    var output = document.getElementById("word-count");
    var min = parseInt(area.dataset.minWords, 10);
    var max = parseInt(area.dataset.maxWords, 10);
    var timer = null;

    function update() {
      var n = count(area.value);
      var text = n + (n === 1 ? " word" : " words");
      if (!isNaN(min) && n < min) {
        text += " - " + (min - n) + " more to reach the minimum of " + min;
      } else if (!isNaN(max) && n > max) {
        text += " - " + (n - max) + " over the maximum of " + max;
      } else if (!isNaN(min) || !isNaN(max)) {
        text += " - within the limits";
      }
      output.textContent = text;
    }

    // Debounced, so a screen reader is not interrupted on every key press.
    area.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, 400);
    });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var area = document.querySelector("textarea[data-min-words], textarea[data-max-words]");
    if (area) { setup(area); }
  });
}());

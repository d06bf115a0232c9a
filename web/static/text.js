// Written answers: a live word count against the exercise's limits and, as the answer nears the most an answer
// can be, a character count; both are read out politely by screen readers.
(function () {
  "use strict";

  // Show the character count from this share of the limit on: earlier it is noise.
  var NEAR_LIMIT = 0.8;

  function count(text) {
    var words = text.trim().split(/\s+/);
    return words[0] === "" ? 0 : words.length;
  }

  function characters(text) {
    // Count as the server does: code points (an emoji is one), and each line break as the two characters
    // (CR LF) a browser sends.
    var newlines = (text.match(/\n/g) || []).length;
    return Array.from(text).length + newlines;
  }

  function formatted(n) {
    return n.toLocaleString("en-GB");
  }

  function setup(area) {
    var output = document.getElementById("word-count");
    var charOutput = document.getElementById("char-count");
    var min = parseInt(area.dataset.minWords, 10);
    var max = parseInt(area.dataset.maxWords, 10);
    var maxChars = parseInt(area.dataset.maxChars, 10);
    var timer = null;

    function updateWords() {
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

    function updateCharacters() {
      if (!charOutput || isNaN(maxChars)) { return; }
      var n = characters(area.value);
      var text = "";
      if (n > maxChars) {
        text = formatted(n) + " characters: " + formatted(n - maxChars) + " over the limit of " +
          formatted(maxChars) + ". Shorten your answer before you send it.";
      } else if (n >= maxChars * NEAR_LIMIT) {
        text = formatted(n) + " of " + formatted(maxChars) + " characters used.";
      }
      charOutput.textContent = text;
      charOutput.classList.toggle("over-limit", n > maxChars);
    }

    function update() {
      updateWords();
      updateCharacters();
    }

    // Debounced, so a screen reader is not interrupted on every key press.
    area.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, 400);
    });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var area = document.querySelector("textarea[data-max-chars], textarea[data-min-words], textarea[data-max-words]");
    if (area) { setup(area); }
  });
}());

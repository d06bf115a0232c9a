// Ordering exercises: the page works without this script (each button submits the form and the server
// re-shows the new order). With it, the same buttons act at once, cards can be dragged with the mouse,
// and with the keyboard: focus a card, Space to pick it up, arrow keys to move, Space to drop, Escape to cancel.
(function () {
  "use strict";

  function setup(root) {
    var orderList = root.querySelector('[data-list="order"]');
    var outList = root.querySelector('[data-list="left_out"]');
    var announcer = root.querySelector("[data-announcer]");
    var emptyNote = root.querySelector(".left-out-empty");
    var grabbed = null;
    var grabbedFrom = null;
    var dragged = null;

    function say(text) {
      // Clear first so the same message twice is still read out.
      announcer.textContent = "";
      window.setTimeout(function () { announcer.textContent = text; }, 50);
    }

    function label(item) {
      return item.querySelector(".item-text").textContent.trim();
    }

    function position(item) {
      var items = Array.prototype.slice.call(orderList.children);
      return "position " + (items.indexOf(item) + 1) + " of " + items.length;
    }

    function button(item, action, text) {
      var b = document.createElement("button");
      b.type = "submit";
      b.className = "small-button";
      b.name = "move";
      b.value = action + ":" + item.dataset.id;
      b.textContent = text;
      b.setAttribute("aria-describedby", "item-" + item.dataset.id);
      return b;
    }

    function rebuild(item, inOrder) {
      var controls = item.querySelector(".item-controls");
      controls.textContent = "";
      if (inOrder) {
        controls.appendChild(button(item, "up", "Move up"));
        controls.appendChild(button(item, "down", "Move down"));
        controls.appendChild(button(item, "out", "Leave out"));
      } else {
        controls.appendChild(button(item, "in", "Put back"));
      }
      item.querySelector('input[type="hidden"]').name = inOrder ? "order" : "left_out";
    }

    function refresh() {
      var items = Array.prototype.slice.call(orderList.children);
      items.forEach(function (item, i) {
        item.setAttribute("tabindex", "0");
        item.setAttribute("draggable", "true");
        var up = item.querySelector('button[value^="up:"]');
        var down = item.querySelector('button[value^="down:"]');
        if (up) { up.disabled = i === 0; }
        if (down) { down.disabled = i === items.length - 1; }
      });
      Array.prototype.forEach.call(outList.children, function (item) {
        item.removeAttribute("tabindex");
        item.removeAttribute("draggable");
      });
      if (emptyNote) { emptyNote.hidden = outList.children.length > 0; }
    }

    function focusControl(item, preferred, fallback) {
      var b = item.querySelector('button[value="' + preferred + ":" + item.dataset.id + '"]');
      if (!b || b.disabled) { b = item.querySelector('button[value="' + fallback + ":" + item.dataset.id + '"]'); }
      if (b && !b.disabled) { b.focus(); } else { item.focus(); }
    }

    function move(action, item) {
      if (action === "up" && item.previousElementSibling) {
        orderList.insertBefore(item, item.previousElementSibling);
      } else if (action === "down" && item.nextElementSibling) {
        orderList.insertBefore(item.nextElementSibling, item);
      } else if (action === "out") {
        outList.appendChild(item);
        rebuild(item, false);
      } else if (action === "in") {
        orderList.appendChild(item);
        rebuild(item, true);
      } else {
        return;
      }
      refresh();
      if (action === "out") {
        say(label(item) + ": left out.");
        focusControl(item, "in", "in");
      } else if (action === "in") {
        say(label(item) + ": put back at " + position(item) + ".");
        focusControl(item, "out", "up");
      } else {
        say(label(item) + ": moved to " + position(item) + ".");
        focusControl(item, action, action === "up" ? "down" : "up");
      }
    }

    root.addEventListener("click", function (event) {
      var b = event.target.closest('button[name="move"]');
      if (!b || !root.contains(b)) { return; }
      event.preventDefault();
      var parts = b.value.split(":");
      var item = b.closest(".order-item");
      move(parts[0], item);
    });

    // Keyboard drag and drop on the cards themselves.
    orderList.addEventListener("keydown", function (event) {
      var item = event.target;
      if (!item.classList || !item.classList.contains("order-item")) { return; }
      if (event.key === " " || event.key === "Spacebar" || event.key === "Enter") {
        event.preventDefault();
        if (grabbed === item) {
          item.classList.remove("grabbed");
          grabbed = null;
          say(label(item) + ": dropped at " + position(item) + ".");
        } else {
          if (grabbed) { grabbed.classList.remove("grabbed"); }
          grabbed = item;
          grabbedFrom = item.nextElementSibling;
          item.classList.add("grabbed");
          say(label(item) + ": picked up at " + position(item) +
              ". Use the up and down arrow keys to move it, Space to drop it, Escape to cancel.");
        }
      } else if ((event.key === "ArrowUp" || event.key === "ArrowDown") && grabbed === item) {
        event.preventDefault();
        if (event.key === "ArrowUp" && item.previousElementSibling) {
          orderList.insertBefore(item, item.previousElementSibling);
        } else if (event.key === "ArrowDown" && item.nextElementSibling) {
          orderList.insertBefore(item.nextElementSibling, item);
        }
        refresh();
        item.focus();
        say(label(item) + ": " + position(item) + ".");
      } else if (event.key === "Escape" && grabbed === item) {
        event.preventDefault();
        orderList.insertBefore(item, grabbedFrom);
        item.classList.remove("grabbed");
        grabbed = null;
        refresh();
        item.focus();
        say("Move cancelled. " + label(item) + " is back at " + position(item) + ".");
      }
    });

    // Mouse drag and drop within the order.
    orderList.addEventListener("dragstart", function (event) {
      var item = event.target.closest(".order-item");
      if (!item) { return; }
      dragged = item;
      item.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", item.dataset.id);
    });
    orderList.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      var over = event.target.closest(".order-item");
      if (!over || over === dragged) { return; }
      var box = over.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      orderList.insertBefore(dragged, after ? over.nextElementSibling : over);
    });
    orderList.addEventListener("drop", function (event) { event.preventDefault(); });
    orderList.addEventListener("dragend", function () {
      if (!dragged) { return; }
      dragged.classList.remove("dragging");
      refresh();
      say(label(dragged) + ": moved to " + position(dragged) + ".");
      dragged = null;
    });

    refresh();
    // Dragging exists only with this script, so only now do the instructions mention it.
    var help = document.getElementById("ordering-help");
    if (help) {
      help.appendChild(document.createTextNode(" With a mouse you can also drag the cards; with a keyboard, focus a " +
        "card, press Space to pick it up, the arrow keys to move it and Space again to drop it."));
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-ordering]"), setup);
  });
}());

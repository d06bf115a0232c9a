// LTI Dynamic Registration: tell the LMS that opened this page that registration is done, so it closes its dialog.
// Without JavaScript the page says to close the dialog, and the button stays hidden.
(function () {
  "use strict";
  var button = document.getElementById("lti-close");
  if (!button || !window.parent || window.parent === window) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    window.parent.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  });
}());

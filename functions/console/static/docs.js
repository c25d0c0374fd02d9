// Starts swagger-ui on the page /docs serves (an external file: the pages allow no inline script).
(function () {
  "use strict";
  var ui = document.getElementById("ui");
  window.ui = window.SwaggerUIBundle({ url: ui.getAttribute("data-url"), dom_id: "#ui" });
})();

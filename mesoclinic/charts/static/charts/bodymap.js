/* The body and face map on the chart form (charts/_bodymap.html).

   Tapping an area writes where it was tapped, in the view's own coordinates (1 decimal), to
   the form's hidden inputs point_view, point_x and point_y, and presses the form's
   button[name=action][value=add_point]; tapping a point writes its key to remove_point and
   presses the remove_point button. Pressing the buttons lets htmx (or a plain submit
   without it) send the form as if the user had. Listeners sit on the document, so a map
   swapped in by htmx works at once; the server checks every point again. */
(function () {
  "use strict";

  // htmx runs this file again on every swap that includes it: listen once.
  if (window.mesoclinicBodymap) {
    return;
  }
  window.mesoclinicBodymap = true;

  function mapOf(element) {
    var svg = element.closest ? element.closest("svg.bodymap-svg[data-form]") : null;
    if (!svg) {
      return null;
    }
    var form = document.getElementById(svg.getAttribute("data-form"));
    return form ? { svg: svg, form: form } : null;
  }

  function setInput(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (input) {
      input.value = value;
    }
    return Boolean(input);
  }

  // The form's own button, or one outside it that names it with form="...".
  function press(form, action) {
    if (form.classList.contains("htmx-request")) {
      return; // the last tap is still on its way
    }
    var selector = 'button[name="action"][value="' + action + '"]';
    var button =
      form.querySelector(selector) ||
      document.querySelector(selector + '[form="' + CSS.escape(form.id) + '"]');
    if (button) {
      button.click();
    }
  }

  function round(value) {
    return (Math.round(value * 10) / 10).toFixed(1);
  }

  // From the screen to the view's coordinates, whatever the map's size on the page.
  function toView(svg, clientX, clientY) {
    var matrix = svg.getScreenCTM();
    if (!matrix) {
      return null;
    }
    var point = svg.createSVGPoint();
    point.x = clientX;
    point.y = clientY;
    return point.matrixTransform(matrix.inverse());
  }

  function addPoint(map, x, y) {
    var view = map.svg.getAttribute("data-view");
    setInput(map.form, "remove_point", "");
    if (
      setInput(map.form, "point_view", view) &&
      setInput(map.form, "point_x", round(x)) &&
      setInput(map.form, "point_y", round(y))
    ) {
      press(map.form, "add_point");
    }
  }

  function removePoint(map, key) {
    ["point_view", "point_x", "point_y"].forEach(function (name) {
      setInput(map.form, name, "");
    });
    if (setInput(map.form, "remove_point", key)) {
      press(map.form, "remove_point");
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var map = target instanceof Element ? mapOf(target) : null;
    if (!map) {
      return;
    }
    var point = target.closest("[data-key]");
    if (point) {
      event.preventDefault();
      removePoint(map, point.getAttribute("data-key"));
      return;
    }
    if (target.classList.contains("region")) {
      var at = toView(map.svg, event.clientX, event.clientY);
      if (at) {
        event.preventDefault();
        addPoint(map, at.x, at.y);
      }
    }
  });

  // After a keyboard user's change the map is drawn again: put the focus back on the same
  // area (or, for a removed point, on the map's first area) instead of losing it.
  var refocus = null;

  function remember(map, target) {
    refocus = {
      view: map.svg.getAttribute("data-view"),
      area: target.getAttribute("data-area") || "",
      side: target.getAttribute("data-side") || "",
    };
  }

  document.addEventListener("htmx:afterSettle", function () {
    if (!refocus) {
      return;
    }
    var svg = document.querySelector('svg.bodymap-svg[data-view="' + refocus.view + '"]');
    var regions = svg ? svg.querySelectorAll(".region") : [];
    var target = regions[0] || null;
    Array.prototype.forEach.call(regions, function (region) {
      if (
        region.getAttribute("data-area") === refocus.area &&
        region.getAttribute("data-side") === refocus.side
      ) {
        target = region;
      }
    });
    refocus = null;
    if (target) {
      target.focus();
    }
  });

  // Keyboard: Enter or Space on an area adds a point at its centre; on a point removes it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") {
      return;
    }
    var target = event.target;
    var map = target instanceof Element ? mapOf(target) : null;
    if (!map) {
      return;
    }
    if (target.hasAttribute("data-key")) {
      event.preventDefault();
      remember(map, target);
      removePoint(map, target.getAttribute("data-key"));
    } else if (target.classList.contains("region")) {
      event.preventDefault();
      remember(map, target);
      addPoint(map, Number(target.getAttribute("data-x")), Number(target.getAttribute("data-y")));
    }
  });
})();

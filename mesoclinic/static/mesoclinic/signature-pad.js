/* The consent signature pad: draw with a finger, a stylus or a mouse on a <canvas>
   (pointer events), clear, and send the drawing as a PNG data URL in a hidden field.
   A form sent without a stroke is stopped here; the server refuses an empty drawing too. */
(function () {
  "use strict";

  var canvas = document.getElementById("signature-pad");
  if (!canvas) {
    return;
  }
  var form = canvas.closest("form");
  var input = document.getElementById(canvas.dataset.input);
  var error = document.getElementById(canvas.dataset.error);
  var clear = document.getElementById("pad-clear");
  var context = canvas.getContext("2d");
  var INK = "#1c2430";
  var LINE_WIDTH = 2.5; // CSS pixels
  var MIN_LENGTH = 30; // CSS pixels of ink before a drawing counts as a signature

  var drawing = false;
  var last = null;
  var length = 0;

  // The bitmap matches the box's size in device pixels, so that strokes are sharp on a
  // high-density tablet screen.
  function fit() {
    var rect = canvas.getBoundingClientRect();
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(rect.width * ratio));
    canvas.height = Math.max(1, Math.round(rect.height * ratio));
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = INK;
    context.fillStyle = INK;
    context.lineWidth = LINE_WIDTH * ratio;
  }

  // Where the pointer is, in the bitmap's pixels (the box may have been resized by CSS
  // since the bitmap was made).
  function point(event) {
    var rect = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * canvas.width) / rect.width,
      y: ((event.clientY - rect.top) * canvas.height) / rect.height,
      scale: canvas.width / rect.width,
    };
  }

  function start(event) {
    if (event.button !== undefined && event.button > 0) {
      return;
    }
    event.preventDefault();
    drawing = true;
    last = point(event);
    if (canvas.setPointerCapture) {
      canvas.setPointerCapture(event.pointerId);
    }
    context.beginPath();
    context.arc(last.x, last.y, context.lineWidth / 2, 0, 2 * Math.PI);
    context.fill();
  }

  function move(event) {
    if (!drawing) {
      return;
    }
    event.preventDefault();
    var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    if (!events.length) {
      events = [event];
    }
    events.forEach(function (each) {
      var next = point(each);
      context.beginPath();
      context.moveTo(last.x, last.y);
      context.lineTo(next.x, next.y);
      context.stroke();
      length += Math.hypot(next.x - last.x, next.y - last.y) / next.scale;
      last = next;
    });
    if (length >= MIN_LENGTH) {
      error.hidden = true;
    }
  }

  function stop() {
    drawing = false;
    last = null;
  }

  function reset() {
    context.clearRect(0, 0, canvas.width, canvas.height);
    length = 0;
    input.value = "";
  }

  fit();
  canvas.addEventListener("pointerdown", start);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  canvas.addEventListener("lostpointercapture", stop);
  clear.addEventListener("click", reset);
  // A blank pad may follow the box's new size; a drawn one keeps its drawing (the CSS
  // scales it) rather than losing it to a rotation of the tablet.
  window.addEventListener("resize", function () {
    if (length === 0) {
      fit();
    }
  });
  form.addEventListener("submit", function (event) {
    if (length < MIN_LENGTH) {
      event.preventDefault();
      error.hidden = false;
      canvas.scrollIntoView({ block: "center" });
      return;
    }
    input.value = canvas.toDataURL("image/png");
  });
})();

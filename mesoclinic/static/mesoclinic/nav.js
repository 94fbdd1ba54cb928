// The main menu works without this script: its groups are <details> disclosures and the
// phone panel is a popover. This only closes an open group as a dropdown menu is expected to
// close: on Escape (focus returns to the group's button), when focus moves on past the
// group, and on a click elsewhere.
(() => {
  "use strict";
  const nav = document.querySelector(".mainnav");
  if (!nav) return;
  const openGroups = () => nav.querySelectorAll("details[open]");

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const group = document.activeElement && document.activeElement.closest(".mainnav details[open]");
    if (!group) return;
    group.open = false;
    group.querySelector("summary").focus();
    // Closing the group is all this Escape does: the phone panel stays open.
    event.preventDefault();
  });

  nav.addEventListener("focusout", (event) => {
    const group = event.target.closest("details[open]");
    if (group && event.relatedTarget && !group.contains(event.relatedTarget)) group.open = false;
  });

  document.addEventListener("click", (event) => {
    for (const group of openGroups()) {
      if (!group.contains(event.target)) group.open = false;
    }
  });
})();

// Tick or untick every order on the page at once (a checkbox marked data-select-all).
document.addEventListener("change", function (event) {
  if (!event.target.matches("[data-select-all]")) return;
  document.querySelectorAll("input[name=orders]").forEach(function (box) { box.checked = event.target.checked; });
});

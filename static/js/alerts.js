// The alert inbox: a refused action (409: the alert changed meanwhile) shows its reason in the row.
document.body.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.xhr.status !== 409) return;
  event.detail.shouldSwap = false;
  var row = event.detail.elt.closest("tr");
  var slot = row && row.querySelector("[data-alert-error]");
  if (slot) slot.textContent = event.detail.xhr.responseText;
});

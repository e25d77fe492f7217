// Keypad for gloved hands: taps fill whichever field has focus (employee number or PIN).
(function () {
  var pad = document.querySelector(".keypad");
  if (!pad) return;
  var target = document.getElementById(pad.dataset.target);
  document.querySelectorAll("#pin-form input.big-input").forEach(function (input) {
    input.addEventListener("focus", function () { target = input; });
  });
  pad.addEventListener("click", function (event) {
    var key = event.target.dataset.key;
    if (!key) return;
    target.value = key === "clear" ? "" : target.value + key;
    target.focus();
  });
})();

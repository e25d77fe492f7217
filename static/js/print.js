// The toolbar's Print button of the printable pages.
document.querySelector("[data-print]").addEventListener("click", function () { window.print(); });

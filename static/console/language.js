/* The language menu in the top bar. */

// Come back to the same conversation after the page reloads in the new language.
export function keepPlaceOnLanguageChange() {
  const form = document.querySelector("form.fd-langs");
  if (!form) return;
  form.addEventListener("submit", () => {
    if (location.pathname.indexOf("/console") === 0) form.elements.next.value = location.pathname + location.hash;
  });
}

/* The sites page: copy the embed snippet. */
import { t } from "./page.js";

export function setupCopyButtons() {
  document.querySelectorAll(".fd-copy").forEach((button) => {
    button.addEventListener("click", () => {
      const target = document.getElementById(button.dataset.copyTarget);
      const status = button.parentNode.querySelector(".fd-copy-status");
      if (!target) return;
      const done = (ok) => {
        if (status) status.textContent = ok ? button.dataset.copied || t("sites.copied") : button.dataset.failed || t("sites.copy_failed");
        if (!ok) {
          const range = document.createRange();
          range.selectNodeContents(target);
          const sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
        }
      };
      if (!navigator.clipboard || !navigator.clipboard.writeText) { done(false); return; }
      navigator.clipboard.writeText(target.textContent).then(() => done(true), () => done(false));
    });
  });
}

/* Frontdesk operator console: the entry module every console page loads.
 *
 * Native ES modules, no build step, no framework: one module per concern (page.js,
 * dates.js, http.js, socket.js; the inbox as inbox.js + list.js, thread.js, composer.js,
 * details.js, notify.js, lead-card.js + lead-pipeline.js, transcript.js; sites.js;
 * language.js; the board and lead pages' live updates, lead-pages.js). No innerHTML:
 * everything a visitor or operator typed is set with textContent, so it is shown as text
 * and never run.
 */
import { $ } from "./page.js";
import { Inbox } from "./inbox.js";
import { setupCopyButtons } from "./sites.js";
import { keepPlaceOnLanguageChange } from "./language.js";
import { startLeadPages } from "./lead-pages.js";
import { setupTranscriptLink } from "./transcript.js";

// Modules run after the document is parsed (and after the deferred /widget/plural.js).
if ($("fd-conv-list")) new Inbox().start();
setupCopyButtons();
startLeadPages();   // the board and a lead's page: live
keepPlaceOnLanguageChange();
setupTranscriptLink();

/* Frontdesk operator console: the entry module every console page loads.
 *
 * Native ES modules, no build step, no framework: one module per concern (page.js,
 * dates.js, http.js, socket.js; the inbox as inbox.js + list.js, thread.js, composer.js,
 * details.js, notify.js, transcript.js; sites.js; language.js). No innerHTML: everything a visitor or
 * operator typed is set with textContent, so it is shown as text and never run.
 */
import { $ } from "./page.js";
import { Inbox } from "./inbox.js";
import { setupCopyButtons } from "./sites.js";
import { keepPlaceOnLanguageChange } from "./language.js";
import { setupTranscriptLink } from "./transcript.js";

// Modules run after the document is parsed (and after the deferred /widget/plural.js).
if ($("fd-conv-list")) new Inbox().start();
setupCopyButtons();
keepPlaceOnLanguageChange();
setupTranscriptLink();

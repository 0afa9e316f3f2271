// Starts GOV.UK Frontend's components. An external module, not inline script: the
// Content-Security-Policy allows scripts from this site's own files only.
import { initAll } from "./govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

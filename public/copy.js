/* global document, navigator, setTimeout */
// Copy buttons on console pages: a button with data-copy="<element id>" copies that
// element's text. A file, not inline script, so the pages' CSP (script-src 'self') holds.
// Buttons stay hidden where the Clipboard API is missing (a page over plain http).
'use strict';
for (const button of document.querySelectorAll('button[data-copy]')) {
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) continue;
  button.hidden = false;
  const label = button.textContent;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(source.textContent);
      button.textContent = button.dataset.copied || '✓';
    } catch {
      button.textContent = '✗';
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });
}

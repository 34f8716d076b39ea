// Copy buttons beside the feed addresses: <button data-copy="ID"> copies the value of
// the field with that id, and says so in the element "ID-status". Without this script,
// or where a browser refuses the clipboard, the address stays a read-only field that
// a person selects and copies by hand; the buttons are hidden until this runs.
"use strict";

async function copyField(field) {
  try {
    await navigator.clipboard.writeText(field.value);
    return true;
  } catch {
    // No clipboard API (a page served over plain http from another machine).
    field.focus();
    field.select();
    return document.execCommand("copy");
  }
}

for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copy + "-status");
  if (!field) {
    continue;
  }
  button.hidden = false;
  button.addEventListener("click", async () => {
    const copied = await copyField(field);
    if (status) {
      status.textContent = copied ? "Copied." : "Select the address and copy it.";
    }
  });
}

// A fingerprinted asset: the demo serves it with "Cache-Control: public, max-age=31536000, immutable".
document.getElementById("out").textContent =
  "The script ran: " + new Date().toISOString() + " (app.3f9a2b1c.js, cached for a year)";

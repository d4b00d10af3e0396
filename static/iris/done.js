/* The last page: back to the recruitment site. Every response was acknowledged before this page was
 * served (the session is closed), so leaving is safe. */
setTimeout(() => window.location.replace(document.getElementById("return-link").href), 1500);

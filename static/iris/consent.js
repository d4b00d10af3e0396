/* The consent page: what the browser says about the screen goes with the answer (a static file, as
 * the Content-Security-Policy allows no inline script on participant pages). */
document.getElementById("screen").value = `${screen.width}x${screen.height}`;
document.getElementById("window").value = `${innerWidth}x${innerHeight}`;
document.getElementById("touch").value = String(navigator.maxTouchPoints || 0);
document.getElementById("timezone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";

// The example site's script: it shows that it ran, in a way a test can
// read (a data attribute) and a person can see (the status line).
document.body.dataset.scriptRan = "yes";
document.getElementById("script-status").textContent = "The script ran.";

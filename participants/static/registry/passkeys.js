// After a passkey is registered on the enrolment page, show the page again: it then shows the recovery codes
// (once) or continues to the console. django-otp-webauthn's script signals the end of its ceremony with this event.
document.addEventListener("otp_webauthn.register_complete", () => window.location.reload());

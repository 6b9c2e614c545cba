"""The vehicle-pass workflow: applications, review, issue and revocation."""

"""The HTTP apps: the tracker/check-in API and the enterprise registration desk."""

"""Getting passengers in: manifests, ID checks, import, pre-verification, registration, plans."""

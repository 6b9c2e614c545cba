"""The enterprise service desk: liaison officers, requests, staff-list checks, figures."""

"""`kuavo doctor`: environment checks, each a `Check(name, status, detail, fix)`; `api.diagnose()` runs them."""

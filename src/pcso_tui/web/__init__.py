"""The customer-facing web: the signed-in portal and the public, embeddable endpoints."""

"""Data subject rights (LGPD Art. 18, GDPR Art. 15-20): a copy of everything held about a
customer, and erasure of their account after a grace period."""

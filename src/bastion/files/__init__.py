"""Uploads: storage inside UPLOAD_DIR, type sniffing, and the per-user records."""

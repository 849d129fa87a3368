//! Loading hostile and hand-built models.

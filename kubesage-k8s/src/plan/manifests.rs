//! Placeholder; see [`super`].

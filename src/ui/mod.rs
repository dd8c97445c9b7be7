//! What hbuild shows on a terminal while it builds.

pub mod status;

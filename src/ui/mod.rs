//! What hbuild shows on a terminal while it builds.

pub mod debug;
pub mod status;

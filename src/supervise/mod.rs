//! The seccomp user-notification engine.

pub mod resolve;

//! The seccomp user-notification engine.

//! stockade: run a command and all its descendants under a path and network
//! policy, enforced with seccomp user notification.
//!
//! Data flows one way: rule text → [`policy`] → [`filter`] (BPF) and decision
//! tables → [`supervise`] → [`report`].
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod filter;
pub mod learn;
pub mod policy;
pub mod report;
pub mod supervise;
pub mod sys;

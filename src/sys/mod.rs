//! Small safe wrappers over the system calls stockade makes. The only module
//! with `unsafe`.
#![allow(unsafe_code)]

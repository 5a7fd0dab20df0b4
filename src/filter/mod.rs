//! The seccomp BPF program, generated from what the policy needs to see.

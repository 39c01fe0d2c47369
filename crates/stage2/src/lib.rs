//! Placeholder until written.
#![no_std]
